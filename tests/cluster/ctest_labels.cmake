# Included by CTest after the cases of integration_cluster are discovered: gives them both labels.
# (klerno_test passes LABELS inside catch_discover_tests' flat PROPERTIES list, where a list
# value such as "cluster;pg" would split into separate arguments and shift every property after
# it.)
if(integration_cluster_TESTS)
  set_tests_properties(${integration_cluster_TESTS} PROPERTIES LABELS "cluster;pg")
endif()
