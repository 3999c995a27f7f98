# Included by CTest after the cases of integration_api are discovered: gives them both labels.
# (klerno_test passes LABELS inside catch_discover_tests' flat PROPERTIES list, where a list
# value such as "api;pg" would split into separate arguments and shift every property after it.)
if(integration_api_TESTS)
  set_tests_properties(${integration_api_TESTS} PROPERTIES LABELS "api;pg")
endif()
