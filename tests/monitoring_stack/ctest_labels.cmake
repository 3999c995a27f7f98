# Included by CTest after the cases of integration_monitoring_stack are discovered (and after
# ctest_environment.cmake, written by CMakeLists.txt): gives them their labels, both fixtures, the
# env files of both, and RUN_SERIAL. (klerno_test passes its PROPERTIES to catch_discover_tests as
# one flat list, where a list value such as "monitoring;pg;redis" would split into separate
# arguments.)
if(integration_monitoring_stack_TESTS)
  set_tests_properties(${integration_monitoring_stack_TESTS} PROPERTIES
    LABELS "monitoring;pg;redis"
    FIXTURES_REQUIRED "pg;redis"
    RUN_SERIAL TRUE
    TIMEOUT 120
    ENVIRONMENT "${integration_monitoring_stack_ENVIRONMENT}")
endif()
