// Redis killed under a mixed read/write load (a redis-server of the test's own: the shared one
// must keep running for the other tests). Redis is a cache: the node keeps answering every
// request (rate limits per node meanwhile), reports itself degraded but ready, reconnects by
// itself once Redis is back, and caches again.

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/cache/cache_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using namespace klerno::test::cache_tests;
using nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

/// A client thread that writes transactions and reads them back (by id, twice; the wallet's
/// list; the alerts) until stopped, recording every answer that is not the expected one and
/// every connection error. Stopped and joined by the destructor, also when the test fails.
class mixed_load {
public:
  /// `id_base` and `wallets` are made up front: the thread never calls the test helpers, which
  /// are not thread-safe.
  mixed_load(const test_node& node, std::string id_base, std::vector<std::string> wallets)
      : port_(node.port()),
        id_base_(std::move(id_base)),
        wallets_(std::move(wallets)),
        thread_([this] { run(); }) {}

  ~mixed_load() {
    stop();
  }

  mixed_load(const mixed_load&) = delete;
  mixed_load& operator=(const mixed_load&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  /// Returns the number of acknowledged writes so far.
  std::size_t acknowledged() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return acked_.size();
  }

  /// Returns the tx_ids of the acknowledged writes.
  std::vector<std::string> acknowledged_ids() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return acked_;
  }

  /// Returns the unexpected answers and connection errors.
  std::vector<std::string> failures() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return failures_;
  }

  /// Returns the number of requests sent.
  std::size_t requests() const {
    return requests_;
  }

private:
  /// Sends one request; records it unless it answers `expected`. Returns whether it did.
  bool send(std::string_view method, const std::string& target, unsigned expected,
            const std::string& body = {}) {
    ++requests_;
    header_list headers{{"X-API-Key", test_api_key}};
    if (!body.empty()) {
      headers.emplace_back("Content-Type", "application/json");
    }
    std::string failure;
    try {
      auto res = http_request(port_, method, target, headers, body);
      if (res.status == expected) {
        return true;
      }
      failure = std::to_string(res.status) + " " + res.body.substr(0, 300);
    } catch (const std::exception& e) {
      failure = std::string{"connection error: "} + e.what();
    }
    std::lock_guard<std::mutex> guard{mtx_};
    failures_.push_back(std::string{method} + " " + target + ": " + failure);
    return false;
  }

  void run() {
    for (std::size_t i = 0; !stop_; ++i) {
      const auto& wallet = wallets_[i % wallets_.size()];
      const auto tx_id = id_base_ + "-" + std::to_string(i);
      json tx{{"tx_id", tx_id},
              {"from_addr", wallet},
              {"to_addr", "rOutagePeer"},
              {"amount", 10 + static_cast<int>(i % 50)},
              {"direction", "out"}};
      if (i % 5 == 0) { // an alert now and then, so the alerts change too
        tx["amount"] = "20000";
        tx["memo"] = "scam fraud ransom payout";
        tx["tags"] = {"sanctioned"};
      }
      if (send("POST", "/transactions", 201, tx.dump())) {
        std::lock_guard<std::mutex> guard{mtx_};
        acked_.push_back(tx_id);
      }
      send("GET", "/transactions/" + tx_id, 200);
      send("GET", "/transactions/" + tx_id, 200);
      send("GET", "/transactions?wallet=" + wallet, 200);
      send("GET", "/alerts", 200);
    }
  }

  uint16_t port_;
  std::string id_base_;
  std::vector<std::string> wallets_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> requests_{0};
  mutable std::mutex mtx_;
  std::vector<std::string> acked_;
  std::vector<std::string> failures_;
  std::thread thread_; ///< last: starts once the rest is initialized
};

json health(const test_node& node) {
  auto res = node.get("/health", {{"X-API-Key", test_api_key}});
  auto j = json::parse(res.body, nullptr, false);
  INFO("/health: " << res.status << " " << res.body);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

/// Whether /health says `status` overall and `redis` for its Redis check.
bool health_is(const test_node& node, const std::string& status, const std::string& redis) {
  auto h = health(node);
  return h["status"] == status && h["checks"].contains("redis")
         && h["checks"]["redis"]["status"] == redis;
}

double cache_hits(const test_node& node) {
  return cache_requests(node, "l1", "hit") + cache_requests(node, "l2", "hit");
}

} // namespace

TEST_CASE("with Redis killed under load the node answers every request, degraded but ready, and "
          "reconnects and caches again once Redis is back",
          "[cache][outage]") {
  private_redis redis{"out"};
  scratch_database db;
  test_node node{cache_settings(db.primary_url(), {}, redis.url(), unique_prefix(),
                                {{"HEALTH_CHECK_INTERVAL", "500ms"},
                                 {"REDIS_CONNECT_TIMEOUT", "500ms"},
                                 {"REDIS_COMMAND_TIMEOUT", "500ms"},
                                 {"REDIS_RECONNECT_MIN", "100ms"},
                                 {"REDIS_RECONNECT_MAX", "500ms"},
                                 {"RATE_LIMIT_ENABLED", "true"},
                                 {"RATE_LIMIT_PER_MINUTE", "6000000"},
                                 {"RATE_LIMIT_BURST", "1000000"}})};
  const auto fallback_series = std::string{"klerno_rate_limit_fallback_total"};
  const auto reconnects_series = std::string{"klerno_redis_reconnects_total"};

  // A wallet the load never writes: its list stays cacheable, a probe of the cache.
  const auto quiet = unique_id("rQuiet");
  require_status_json(post(node, "/transactions", make_tx("cache-out", quiet, "rPeer", 1)), 201);
  const auto quiet_list = "/transactions?wallet=" + quiet;
  auto cached_twice = [&] {
    auto first = get(node, quiet_list);
    auto second = get(node, quiet_list);
    REQUIRE(first.status == 200);
    REQUIRE(second.status == 200);
    return second.header(cache_header);
  };
  REQUIRE(poll_until([&] { return health_is(node, "ok", "ok"); }, 10s));
  CHECK(cached_twice() == "l1");

  mixed_load load{
    node, unique_id("cache-out"), {unique_id("rLoad"), unique_id("rLoad"), unique_id("rLoad")}};
  REQUIRE(poll_until([&] { return load.acknowledged() >= 10; }, 20s));
  const auto fallback_before = metric(node, fallback_series);
  const auto reconnects_before = metric(node, reconnects_series);
  CHECK(fallback_before == 0);

  redis.kill();
  const auto killed_at = steady::now();
  const auto acked_before = load.acknowledged();
  std::vector<unsigned> readiness; // every /readiness status seen while Redis is away
  auto ready = [&] {
    readiness.push_back(node.get("/readiness").status);
    return readiness.back() == 200;
  };
  bool degraded =
    poll_until([&] { return ready() && health_is(node, "degraded", "failing"); }, 10s);
  INFO("/health: " << health(node).dump());
  CHECK(degraded);
  // The rate limiter decides locally meanwhile (the load's requests pass through it).
  bool fell_back = poll_until([&] { return metric(node, fallback_series) > fallback_before; }, 10s);
  CHECK(fell_back);
  // Generational entries are not trusted while Redis is away: the probe is read from the database.
  CHECK(cached_twice() == "bypass");
  // Keep Redis away for two seconds under the load (the length of the outage, not a wait for a
  // state).
  while (steady::now() < killed_at + 2s) {
    ready();
    std::this_thread::sleep_for(100ms);
  }
  const auto acked_during = load.acknowledged();
  CHECK(acked_during > acked_before); // the writes went on without Redis

  redis.start();
  bool reconnected =
    poll_until([&] { return metric(node, reconnects_series) > reconnects_before; }, 15s);
  CHECK(reconnected);
  bool healthy = poll_until([&] { return ready() && health_is(node, "ok", "ok"); }, 15s);
  INFO("/health: " << health(node).dump());
  CHECK(healthy);
  // The cache resumes by itself (after the epoch bump that orphans what the outage may have left
  // stale).
  const auto hits_after_restart = cache_hits(node);
  std::string level;
  bool caching = poll_until(
    [&] {
      level = cached_twice();
      return level == "l1" || level == "l2";
    },
    15s);
  INFO("last X-Klerno-Cache of the repeated GET: " << level);
  CHECK(caching);
  CHECK(cache_hits(node) > hits_after_restart);

  // The load goes on for a while after the recovery.
  const auto acked_recovered = load.acknowledged();
  REQUIRE(poll_until([&] { return load.acknowledged() >= acked_recovered + 20; }, 20s));
  load.stop();

  const auto failures = load.failures();
  std::string first_failures;
  for (std::size_t i = 0; i < failures.size() && i < 10; ++i) {
    first_failures += "\n  " + failures[i];
  }
  INFO(load.requests() << " requests, " << load.acknowledged() << " writes acknowledged ("
                       << acked_during << " when Redis came back), " << failures.size()
                       << " failed; first failures:" << first_failures);
  CHECK(failures.empty());
  std::size_t unready = 0;
  for (auto status : readiness) {
    unready += status == 200 ? 0 : 1;
  }
  INFO(readiness.size() << " readiness probes while Redis was away or reconnecting");
  CHECK(unready == 0);
  // Every acknowledged write is readable.
  std::size_t unreadable = 0;
  for (const auto& id : load.acknowledged_ids()) {
    unreadable += get(node, "/transactions/" + id).status == 200 ? 0 : 1;
  }
  CHECK(unreadable == 0);
}
