#include "actors/cache/rate_limit.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace klerno::cache;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

/// A fixed start: every test drives time by adding to it.
const clock_type::time_point t0 = clock_type::time_point{} + 1000h;

bucket make_bucket(std::string key, double per_minute, double burst) {
  bucket b;
  b.key = std::move(key);
  b.per_minute = per_minute;
  b.burst = burst;
  return b;
}

} // namespace

TEST_CASE("a bucket allows its burst and then denies with the figures of a 429",
          "[local_limiter]") {
  local_limiter lim{100};
  std::vector<bucket> req{make_bucket("k", 60, 3)}; // one token per second

  auto first = lim.take(req, t0);
  CHECK(first.allowed);
  CHECK(first.limit == 60);
  CHECK(first.remaining == 2);
  CHECK(first.reset == 1s);
  CHECK(first.retry_after == 0s);
  CHECK_FALSE(first.local); // the caller sets it

  CHECK(lim.take(req, t0).remaining == 1);
  auto last = lim.take(req, t0);
  CHECK(last.allowed);
  CHECK(last.remaining == 0);
  CHECK(last.reset == 3s);

  auto denied = lim.take(req, t0);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.limit == 60);
  CHECK(denied.remaining == 0);
  CHECK(denied.reset == 3s);
  CHECK(denied.retry_after == 1s);
}

TEST_CASE("a bucket refills at per_minute / 60 tokens per second", "[local_limiter]") {
  local_limiter lim{100};
  std::vector<bucket> req{make_bucket("k", 6, 2)}; // one token per 10 s

  REQUIRE(lim.take(req, t0).allowed);
  REQUIRE(lim.take(req, t0).allowed);
  auto denied = lim.take(req, t0 + 4s);
  REQUIRE_FALSE(denied.allowed);
  CHECK(denied.retry_after == 6s); // 0.4 tokens there, 0.6 to go at 0.1/s
  CHECK(denied.reset == 16s);

  CHECK_FALSE(lim.take(req, t0 + 9900ms).allowed);
  auto again = lim.take(req, t0 + 10s);
  CHECK(again.allowed);
  CHECK(again.remaining == 0);

  // Idle for a long time: full, never more than the burst.
  auto later = lim.take(req, t0 + 1h);
  CHECK(later.allowed);
  CHECK(later.remaining == 1);
  CHECK(later.reset == 10s);
}

TEST_CASE("a denied retry_after is at least one second", "[local_limiter]") {
  local_limiter lim{100};
  std::vector<bucket> req{make_bucket("k", 600, 1)}; // one token per 100 ms
  REQUIRE(lim.take(req, t0).allowed);
  auto denied = lim.take(req, t0 + 50ms);
  REQUIRE_FALSE(denied.allowed);
  CHECK(denied.retry_after == 1s);
}

TEST_CASE("several buckets: all take a token or none does", "[local_limiter]") {
  local_limiter lim{100};
  auto key = make_bucket("key", 60, 5);
  auto ip = make_bucket("ip", 60, 2);

  auto both = lim.take({key, ip}, t0);
  REQUIRE(both.allowed);
  CHECK(both.remaining == 1); // the IP bucket is the most constrained
  REQUIRE(lim.take({key, ip}, t0).allowed);

  // The IP bucket is empty: denied, and the key bucket keeps its 3 tokens.
  auto denied = lim.take({key, ip}, t0);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after == 1s);
  CHECK(denied.limit == 60);
  for (int i = 0; i < 5; ++i) {
    REQUIRE_FALSE(lim.take({key, ip}, t0).allowed);
  }
  CHECK(lim.take({key}, t0).remaining == 2);
  CHECK(lim.take({key}, t0).remaining == 1);
  CHECK(lim.take({key}, t0).remaining == 0);
  CHECK_FALSE(lim.take({key}, t0).allowed);
}

TEST_CASE("the figures are those of the bucket that allows the fewest requests",
          "[local_limiter]") {
  local_limiter lim{100};
  auto fast = make_bucket("fast", 600, 10);
  auto slow = make_bucket("slow", 6, 4);

  auto d = lim.take({fast, slow}, t0);
  REQUIRE(d.allowed);
  CHECK(d.limit == 6);
  CHECK(d.remaining == 3);
  CHECK(d.reset == 10s);

  // Both empty when denied: Retry-After is the longer wait (the slow bucket's), so the request
  // can pass once it is over.
  auto a = make_bucket("a", 600, 1);
  auto b = make_bucket("b", 6, 1);
  REQUIRE(lim.take({a, b}, t0).allowed);
  auto denied = lim.take({a, b}, t0);
  REQUIRE_FALSE(denied.allowed);
  CHECK(denied.limit == 6);
  CHECK(denied.retry_after == 10s);
}

TEST_CASE("limits are rounded to whole requests per minute", "[local_limiter]") {
  local_limiter lim{100};
  auto d = lim.take({make_bucket("k", 99.6, 1.5)}, t0);
  CHECK(d.allowed);
  CHECK(d.limit == 100);
  CHECK(d.remaining == 0); // 0.5 tokens left: no whole request
}

TEST_CASE("at most max_keys buckets are kept", "[local_limiter]") {
  local_limiter lim{32};
  for (int i = 0; i < 500; ++i) {
    REQUIRE(lim.take({make_bucket("k" + std::to_string(i), 60, 5)}, t0 + i * 1ms).allowed);
    REQUIRE(lim.size() <= 32);
  }
  CHECK(lim.size() > 0);
}

TEST_CASE("eviction drops full buckets before used ones", "[local_limiter]") {
  local_limiter lim{2};
  auto slow = make_bucket("slow", 1, 1); // empty for a minute after one request
  auto fast = make_bucket("fast", 600, 1);
  REQUIRE(lim.take({slow}, t0).allowed);
  REQUIRE(lim.take({fast}, t0).allowed);
  REQUIRE(lim.size() == 2);

  // At t0 + 1 s the fast bucket is full again, the slow one (used less recently) is not.
  REQUIRE(lim.take({make_bucket("new", 60, 5)}, t0 + 1s).allowed);
  CHECK(lim.size() == 2);
  CHECK_FALSE(lim.take({slow}, t0 + 1s).allowed); // its state was kept
}

TEST_CASE("without full buckets the least recently used one is dropped", "[local_limiter]") {
  local_limiter lim{2};
  auto a = make_bucket("a", 1, 2);
  auto b = make_bucket("b", 1, 2);
  REQUIRE(lim.take({a}, t0).allowed);
  REQUIRE(lim.take({b}, t0).allowed);
  REQUIRE(lim.take({a}, t0).allowed); // a used last; both are not full

  REQUIRE(lim.take({make_bucket("c", 1, 2)}, t0).allowed);
  CHECK(lim.size() == 2);
  CHECK_FALSE(lim.take({a}, t0).allowed);  // a kept: empty
  CHECK(lim.take({b}, t0).remaining == 1); // b dropped: a fresh, full bucket
}

TEST_CASE("a denied check of a new key keeps nothing", "[local_limiter]") {
  local_limiter lim{100};
  auto empty = make_bucket("empty", 1, 1);
  REQUIRE(lim.take({empty}, t0).allowed);
  REQUIRE(lim.size() == 1);
  REQUIRE_FALSE(lim.take({empty, make_bucket("other", 60, 5)}, t0).allowed);
  CHECK(lim.size() == 1);
}

TEST_CASE("eviction for a request spares the request's own buckets", "[local_limiter]") {
  local_limiter lim{3};
  auto a = make_bucket("a", 1, 2);
  auto b = make_bucket("b", 1, 2);
  auto c = make_bucket("c", 1, 2);
  REQUIRE(lim.take({c}, t0).allowed); // c is the least recently used
  REQUIRE(lim.take({a}, t0).allowed);
  REQUIRE(lim.take({b}, t0).allowed);

  auto d = lim.take({c, make_bucket("d", 1, 2)}, t0);
  REQUIRE(d.allowed);
  CHECK(d.remaining == 0); // c's second token
  CHECK(lim.size() == 3);
  CHECK(lim.take({a}, t0).remaining == 1); // a was dropped: a fresh bucket
  CHECK(lim.size() == 3);
}
