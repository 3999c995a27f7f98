#include "tests/cache/cache_support.hpp"

#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/support/env_file.hpp"

namespace klerno::test::cache_tests {

std::string shared_redis_url() {
  const char* file = std::getenv("KLERNO_REDIS_ENV_FILE");
  if (file == nullptr || *file == 0) {
    FAIL("KLERNO_REDIS_ENV_FILE is not set: run these tests through ctest (fixture redis)");
  }
  auto url = env_file_value(file, "REDIS_URL");
  if (url.empty()) {
    FAIL("no Redis for the cache tests: " << file
                                          << " is missing or has no REDIS_URL (CTest "
                                             "fixture redis)");
  }
  return url;
}

std::string unique_prefix() {
  return api::unique_id("kc") + ":";
}

node_process::env_map cache_settings(const std::string& db_url, const std::string& replica_url,
                                     const std::string& redis_url, const std::string& prefix,
                                     const node_process::env_map& extra) {
  node_process::env_map env{
    {"REDIS_URL", redis_url},
    {"REDIS_KEY_PREFIX", prefix},
    {"CACHE_L1_TTL", "60s"},
  };
  for (const auto& [k, v] : extra) {
    env[k] = v;
  }
  return api::db_settings(db_url, replica_url, env);
}

http_response api_get(const test_node& node, std::string_view target, const header_list& extra) {
  header_list headers{{"X-API-Key", test_api_key}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  return node.request("GET", target, headers);
}

double cache_requests(const test_node& node, const std::string& level, const std::string& result) {
  return api::metric(node, "klerno_cache_requests_total{level=\"" + level + "\",result=\"" + result
                             + "\"}");
}

} // namespace klerno::test::cache_tests
