// Rate limits on real nodes sharing one Redis: a client over its burst gets the 429 envelope with
// Retry-After and the X-RateLimit-* headers, and is served again once tokens have refilled;
// probes and /metrics are never limited; the buckets are the cluster's, not a node's.

#include <string>

#include <catch2/catch.hpp>

#include "tests/cache/cache_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using namespace klerno::test::cache_tests;
using nlohmann::json;

namespace {

/// Returns the value of header `name` of `res` as a number; fails unless it is whole digits.
long long numeric_header(const http_response& res, const std::string& name) {
  auto value = res.header(name);
  INFO(name << ": \"" << value << "\"");
  REQUIRE_FALSE(value.empty());
  REQUIRE(value.find_first_not_of("0123456789") == std::string::npos);
  return std::stoll(value);
}

} // namespace

TEST_CASE("a client over its burst gets 429 with Retry-After and is served again after the refill",
          "[cache][rate_limit]") {
  scratch_database db;
  const auto prefix = unique_prefix();
  // Reads: 3 at once, then 2 per second.
  test_node node{cache_settings(db.primary_url(), {}, shared_redis_url(), prefix,
                                {{"RATE_LIMIT_ENABLED", "true"},
                                 {"RATE_LIMIT_READ_BURST", "3"},
                                 {"RATE_LIMIT_READ_PER_MINUTE", "120"}})};

  // Requests take milliseconds, the refill half a second per token: the burst runs out within a
  // few more requests than it holds.
  http_response denied;
  int allowed = 0;
  for (int i = 0; i < 20; ++i) {
    auto res = get(node, "/alerts");
    if (res.status == 429) {
      denied = res;
      break;
    }
    INFO("request " << i << ": " << res.status << " " << res.body);
    REQUIRE(res.status == 200);
    CHECK(res.header("X-RateLimit-Limit") == "120");
    CHECK(numeric_header(res, "X-RateLimit-Remaining") < 3);
    ++allowed;
  }
  INFO("allowed before the 429: " << allowed);
  REQUIRE(denied.status == 429);
  CHECK(allowed >= 3);
  CHECK(allowed < 20);
  auto envelope = require_error_envelope(denied, 429, "too_many_requests");
  CHECK(envelope["error"]["details"]["limit_per_minute"] == 120);
  CHECK(envelope["error"]["details"]["scope"] == "cluster");
  CHECK(numeric_header(denied, "Retry-After") >= 1);
  CHECK(denied.header("X-RateLimit-Limit") == "120");
  CHECK(denied.header("X-RateLimit-Remaining") == "0");
  CHECK(numeric_header(denied, "X-RateLimit-Reset") >= 1);

  // Probes and /metrics are never limited, even right after a 429.
  for (int i = 0; i < 10; ++i) {
    for (const char* probe : {"/healthz", "/readiness", "/metrics"}) {
      auto res = node.get(probe);
      INFO(probe << " #" << i << ": " << res.status);
      CHECK(res.status == 200);
      CHECK(res.header("X-RateLimit-Limit").empty());
    }
  }

  // The bucket refills: the client is served again without anyone resetting anything.
  http_response again;
  bool served = poll_until(
    [&] {
      again = get(node, "/alerts");
      return again.status != 429;
    },
    10s);
  INFO("last answer: " << again.status << " " << again.body);
  REQUIRE(served);
  CHECK(again.status == 200);
  CHECK(metric(node, "klerno_rate_limit_requests_total{result=\"denied\",source=\"redis\"}") >= 1);
}

TEST_CASE("a burst spent half on one node and half on another is spent on both",
          "[cache][rate_limit]") {
  scratch_database db;
  const auto redis = shared_redis_url();
  const auto prefix = unique_prefix();
  // Analyses: a burst of 4 that refills one token per minute (none during the test).
  const node_process::env_map limits{{"RATE_LIMIT_ENABLED", "true"},
                                     {"RATE_LIMIT_ANALYZE_BURST", "4"},
                                     {"RATE_LIMIT_ANALYZE_PER_MINUTE", "1"}};
  test_node a{cache_settings(db.primary_url(), {}, redis, prefix, limits)};
  test_node b{cache_settings(db.primary_url(), {}, redis, prefix, limits)};
  auto analyze = [](const test_node& node) {
    return post(node, "/analyze/tx", make_tx("cache-rl", "rRateFrom", "rRateTo", 5));
  };

  for (const test_node* node : {&a, &b}) {
    for (int i = 0; i < 2; ++i) {
      auto res = analyze(*node);
      INFO((node == &a ? "A" : "B") << " #" << i << ": " << res.status << " " << res.body);
      REQUIRE(res.status == 200);
    }
  }
  for (const test_node* node : {&a, &b}) {
    auto res = analyze(*node);
    INFO((node == &a ? "A" : "B"));
    auto envelope = require_error_envelope(res, 429, "too_many_requests");
    CHECK(envelope["error"]["details"]["scope"] == "cluster");
    CHECK(res.header("X-RateLimit-Limit") == "1");
    CHECK(res.header("X-RateLimit-Remaining") == "0");
    CHECK(numeric_header(res, "Retry-After") >= 1);
  }
  // Another class has buckets of its own: reads are not limited by the spent analyses.
  CHECK(get(a, "/alerts").status == 200);
  CHECK(get(b, "/alerts").status == 200);
}
