# Included by CTest after the cases of integration_cache are discovered (and after
# ctest_environment.cmake, written by CMakeLists.txt): gives them their three labels, both fixtures
# and the env files of both. (klerno_test passes its PROPERTIES to catch_discover_tests as one flat
# list, where a list value such as "cache;pg;redis" would split into separate arguments and shift
# every property after it.)
if(integration_cache_TESTS)
  set_tests_properties(${integration_cache_TESTS} PROPERTIES
    LABELS "cache;pg;redis"
    FIXTURES_REQUIRED "pg;redis"
    ENVIRONMENT "${integration_cache_ENVIRONMENT}")
endif()
