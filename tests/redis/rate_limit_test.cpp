#include "actors/cache/rate_limit.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include "runtime/metrics.hpp"
#include "tests/redis/redis_support.hpp"

using namespace klerno;
using namespace klerno::cache;
using namespace std::chrono_literals;

namespace {

bucket make_bucket(std::string key, double per_minute, double burst) {
  bucket b;
  b.key = std::move(key);
  b.per_minute = per_minute;
  b.burst = burst;
  return b;
}

// One node's limiter on one io thread: its own connection, local buckets and metrics.
struct node {
  node(boost::asio::io_context& ioc, const std::string& url, const std::string& prefix)
      : ioc(ioc),
        metrics(std::make_shared<cache_metrics>(registry)),
        conn(test::connect(ioc, url)),
        fallback(1000),
        limiter(*conn, fallback, metrics, prefix) {}

  ~node() {
    conn->close();
  }

  // Runs a check to its end; fails the test if `done` ran inside check().
  rate_decision check(std::vector<bucket> buckets) {
    std::optional<rate_decision> out;
    bool inside = true;
    limiter.check(std::move(buckets), [&](rate_decision d) {
      CHECK_FALSE(inside);
      out = d;
    });
    inside = false;
    REQUIRE(test::run_until(ioc, [&] { return out.has_value(); }));
    return *out;
  }

  uint64_t requests(std::string_view result, std::string_view source) {
    return metrics->rate_limit_requests.with({result, source}).value();
  }

  boost::asio::io_context& ioc;
  runtime::metrics::registry registry;
  metrics_ptr metrics;
  std::shared_ptr<redis::connection> conn;
  local_limiter fallback;
  rate_limiter limiter;
};

/// Returns the count of error replies `prefix` (e.g. "NOSCRIPT") the server has sent, from INFO
/// errorstats ("errorstat_NOSCRIPT:count=2").
int64_t error_count(boost::asio::io_context& ioc, redis::connection& conn,
                    const std::string& prefix) {
  auto info = test::sync_command(ioc, conn, {"INFO", "errorstats"}).str;
  auto at = info.find("errorstat_" + prefix + ":count=");
  if (at == std::string::npos) {
    return 0;
  }
  return std::stoll(info.substr(at + prefix.size() + 17));
}

/// Returns whether the server has run `cmd` (lower case) since it started, from INFO
/// commandstats ("cmdstat_eval:calls=1,...").
bool ran(boost::asio::io_context& ioc, redis::connection& conn, const std::string& cmd) {
  auto info = test::sync_command(ioc, conn, {"INFO", "commandstats"}).str;
  return info.find("cmdstat_" + cmd + ":") != std::string::npos;
}

} // namespace

TEST_CASE("the limiter loads its script each time the connection becomes ready",
          "[redis][rate_limit]") {
  test::private_redis server{"rate-limit-ready"};
  boost::asio::io_context ioc;
  auto conn =
    redis::make_hiredis_connection(ioc, test::test_connection_config(server.url()), nullptr);
  local_limiter fallback{100};
  rate_limiter limiter{*conn, fallback, nullptr, test::unique_prefix()};
  auto check = [&] {
    std::optional<rate_decision> out;
    limiter.check({make_bucket("rl:k:1", 1, 10)}, [&](rate_decision d) { out = d; });
    REQUIRE(test::run_until(ioc, [&] { return out.has_value(); }));
    return *out;
  };

  REQUIRE(test::run_until(ioc, [&] { return conn->connected(); }));
  test::sync_command(ioc, *conn, {"PING"}); // after the SCRIPT LOAD sent on ready
  CHECK_FALSE(check().local);
  CHECK(ran(ioc, *conn, "script|load"));
  CHECK(ran(ioc, *conn, "evalsha"));
  CHECK_FALSE(ran(ioc, *conn, "eval")); // never needed the script's text
  CHECK(error_count(ioc, *conn, "NOSCRIPT") == 0);

  // A restarted server has no scripts: the reconnection loads it again.
  server.stop();
  REQUIRE(test::run_until(ioc, [&] { return !conn->connected(); }));
  server.start();
  REQUIRE(test::run_until(ioc, [&] { return conn->connected(); }));
  test::sync_command(ioc, *conn, {"PING"});
  CHECK_FALSE(check().local);
  CHECK(ran(ioc, *conn, "evalsha"));
  CHECK_FALSE(ran(ioc, *conn, "eval"));
  CHECK(error_count(ioc, *conn, "NOSCRIPT") == 0);
  conn->close();
}

TEST_CASE("the Redis limiter allows the burst and then denies with the figures of a 429",
          "[redis][rate_limit]") {
  boost::asio::io_context ioc;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix()};
  std::vector<bucket> req{make_bucket("rl:k:1", 60, 3)}; // one token per second

  for (uint64_t left : {2, 1, 0}) {
    auto d = n.check(req);
    REQUIRE(d.allowed);
    CHECK_FALSE(d.local);
    CHECK(d.limit == 60);
    CHECK(d.remaining == left);
    CHECK(d.retry_after == 0s);
  }
  auto denied = n.check(req);
  CHECK_FALSE(denied.allowed);
  CHECK_FALSE(denied.local);
  CHECK(denied.limit == 60);
  CHECK(denied.remaining == 0);
  CHECK(denied.retry_after == 1s);
  CHECK(denied.reset == 3s); // about 3 s of refill missing, rounded up
  CHECK(n.requests("allowed", "redis") == 3);
  CHECK(n.requests("denied", "redis") == 1);
  CHECK(n.metrics->rate_limit_fallback.value() == 0);
}

TEST_CASE("the Redis bucket expires when it would be full again", "[redis][rate_limit]") {
  boost::asio::io_context ioc;
  auto prefix = test::unique_prefix();
  node n{ioc, test::fixture_redis_url(), prefix};
  REQUIRE(n.check({make_bucket("rl:k:1", 60, 10)}).allowed); // 1 s of refill missing

  auto pttl = test::sync_command(ioc, *n.conn, {"PTTL", prefix + "rl:k:1"});
  REQUIRE(pttl.type == redis::reply::kind::integer);
  CHECK(pttl.integer > 0);
  CHECK(pttl.integer <= 2000); // refill time plus a margin, not forever
}

TEST_CASE("a Redis bucket refills: a denied request passes after the wait", "[redis][rate_limit]") {
  boost::asio::io_context ioc;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix()};
  std::vector<bucket> req{make_bucket("rl:k:1", 1200, 1)}; // one token per 50 ms

  REQUIRE(n.check(req).allowed);
  auto denied = n.check(req);
  REQUIRE_FALSE(denied.allowed);
  CHECK(denied.retry_after == 1s);

  auto deadline = std::chrono::steady_clock::now() + 10s;
  bool allowed = false;
  while (!allowed && std::chrono::steady_clock::now() < deadline) {
    auto d = n.check(req);
    CHECK_FALSE(d.local);
    allowed = d.allowed;
  }
  CHECK(allowed);
}

TEST_CASE("Redis buckets of one request take a token all together or not at all",
          "[redis][rate_limit]") {
  boost::asio::io_context ioc;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix()};
  auto key = make_bucket("rl:k:1", 1, 5); // refill negligible during the test
  auto ip = make_bucket("rl:ip:127.0.0.1", 1, 1);

  auto first = n.check({key, ip});
  REQUIRE(first.allowed);
  CHECK(first.remaining == 0); // the IP bucket is the most constrained
  CHECK(first.limit == 1);

  for (int i = 0; i < 3; ++i) {
    auto denied = n.check({key, ip});
    REQUIRE_FALSE(denied.allowed);
    CHECK_FALSE(denied.local);
    CHECK(denied.retry_after == 60s);
  }
  // Only the first request took a token from the key bucket.
  auto alone = n.check({key});
  CHECK(alone.allowed);
  CHECK(alone.remaining == 3);
}

TEST_CASE("two nodes share one Redis bucket", "[redis][rate_limit]") {
  auto url = test::fixture_redis_url();
  auto prefix = test::unique_prefix();
  boost::asio::io_context ioc1;
  boost::asio::io_context ioc2;
  node a{ioc1, url, prefix};
  node b{ioc2, url, prefix};
  std::vector<bucket> req{make_bucket("rl:k:shared", 1, 3)};

  REQUIRE(a.check(req).allowed);
  auto second = b.check(req);
  REQUIRE(second.allowed);
  CHECK(second.remaining == 1);
  REQUIRE(a.check(req).allowed);

  auto denied = b.check(req);
  CHECK_FALSE(denied.allowed);
  CHECK_FALSE(denied.local);
  CHECK(a.metrics->rate_limit_fallback.value() == 0);
  CHECK(b.metrics->rate_limit_fallback.value() == 0);
}

TEST_CASE("after SCRIPT FLUSH the limiter reloads its script and still decides in Redis",
          "[redis][rate_limit]") {
  // A server of its own: flushing the fixture's scripts would disturb the other tests.
  test::private_redis server{"rate-limit-noscript"};
  boost::asio::io_context ioc;
  node n{ioc, server.url(), test::unique_prefix()};
  std::vector<bucket> req{make_bucket("rl:k:1", 1, 10)};

  REQUIRE(n.check(req).allowed);
  REQUIRE(n.check(req).allowed); // by SHA now
  REQUIRE(error_count(ioc, *n.conn, "NOSCRIPT") == 0);

  REQUIRE(test::sync_command(ioc, *n.conn, {"SCRIPT", "FLUSH"}).str == "OK");
  auto d = n.check(req);
  CHECK(d.allowed);
  CHECK_FALSE(d.local);
  CHECK(d.remaining == 7); // the same bucket: the flush lost the script, not the tokens
  CHECK(error_count(ioc, *n.conn, "NOSCRIPT") == 1);

  auto next = n.check(req);
  CHECK_FALSE(next.local);
  CHECK(next.remaining == 6);
  CHECK(error_count(ioc, *n.conn, "NOSCRIPT") == 1); // loaded again: by SHA once more
  CHECK(n.metrics->rate_limit_fallback.value() == 0);
  CHECK(n.requests("allowed", "redis") == 4);
}

TEST_CASE("without Redis the local buckets decide and the fallback is counted",
          "[redis][rate_limit]") {
  test::private_redis server{"rate-limit-down"};
  boost::asio::io_context ioc;
  node n{ioc, server.url(), test::unique_prefix()};
  std::vector<bucket> req{make_bucket("rl:k:1", 1, 2)};
  REQUIRE(n.check(req).allowed); // Redis: its token is not the local bucket's
  REQUIRE(n.metrics->rate_limit_fallback.value() == 0);

  server.kill();
  auto a = n.check(req);
  CHECK(a.allowed);
  CHECK(a.local);
  CHECK(a.remaining == 1);
  CHECK(a.limit == 1);
  auto b = n.check(req);
  CHECK(b.allowed);
  CHECK(b.local);
  auto denied = n.check(req);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.local);
  CHECK(denied.retry_after == 60s);

  CHECK(n.metrics->rate_limit_fallback.value() == 3);
  CHECK(n.requests("allowed", "local") == 2);
  CHECK(n.requests("denied", "local") == 1);
  CHECK(n.requests("allowed", "redis") == 1);
}
