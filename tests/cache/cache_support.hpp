#pragma once

// Support of the cache tests: real klerno-node processes with the Redis cache layer (sessions,
// rate limits, response cache, real-time counters) on real PostgreSQL and a real redis-server.
//
// - the shared redis-server of the CTest fixture "redis" (KLERNO_REDIS_ENV_FILE), with a key
//   prefix of its own per test (tests run in parallel against it);
// - private redis-servers (scripts/redis in <build>/redis-<name>) for the test that kills Redis;
// - node settings, requests with extra headers, the cache metrics of a node.

#include <cstdint>
#include <string>
#include <string_view>

#include "tests/api/api_support.hpp"
#include "tests/integration/node_fixture.hpp"
#include "tests/support/private_redis.hpp"

namespace klerno::test::cache_tests {

using namespace std::chrono_literals;

/// The header that says where a cacheable GET was answered from (l1, l2, miss, bypass).
inline const std::string cache_header = "X-Klerno-Cache";

/// REDIS_URL of the fixture "redis" (from the file named by KLERNO_REDIS_ENV_FILE); fails the
/// test when it is missing.
std::string shared_redis_url();

/// Returns a REDIS_KEY_PREFIX no other test uses ("kc-<16 hex>:").
std::string unique_prefix();

/// Settings of a node on the database `db_url` (and `replica_url` when not empty) and Redis
/// `redis_url` with the key prefix `prefix`: fast health checks, an L1 TTL of 60 s (entries do not
/// expire during a test); `extra` overrides.
node_process::env_map cache_settings(const std::string& db_url, const std::string& replica_url,
                                     const std::string& redis_url, const std::string& prefix,
                                     const node_process::env_map& extra = {});

/// GETs `target` with the API key and `extra` headers.
http_response api_get(const test_node& node, std::string_view target,
                      const header_list& extra = {});

/// Returns klerno_cache_requests_total{level=<level>,result=<result>} of `node`.
double cache_requests(const test_node& node, const std::string& level, const std::string& result);

/// A redis-server of the test's own (tests/support/private_redis.hpp).
using klerno::test::private_redis;

} // namespace klerno::test::cache_tests
