#include "actors/cache/response_cache.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/metrics.hpp"

using namespace klerno::cache;
using std::chrono::seconds;
using std::chrono::steady_clock;

namespace {

response_ptr make_response(std::string body, std::string content_type = "application/json") {
  auto r = std::make_shared<cached_response>();
  r->etag = make_etag(body);
  r->body = std::move(body);
  r->content_type = std::move(content_type);
  return r;
}

// Bytes one entry of `key` with `body` takes in a cache (measured, so the overhead the cache
// accounts is not repeated here).
std::size_t measure(const std::string& key, const std::string& body) {
  l1_cache c{1 << 20, 1, nullptr};
  c.put(key, make_response(body), steady_clock::now() + seconds{60});
  return c.bytes();
}

} // namespace

TEST_CASE("l1 returns what was put and null for unknown keys", "[l1]") {
  l1_cache c{1 << 20, 4, nullptr};
  auto now = steady_clock::now();
  c.put("a", make_response("alpha"), now + seconds{5});
  auto hit = c.get("a", now);
  REQUIRE(hit);
  CHECK(hit->body == "alpha");
  CHECK(hit->content_type == "application/json");
  CHECK(c.get("b", now) == nullptr);
  CHECK(c.entries() == 1);
}

TEST_CASE("l1 put replaces an entry and its bytes", "[l1]") {
  l1_cache c{1 << 20, 1, nullptr};
  auto now = steady_clock::now();
  c.put("a", make_response("short"), now + seconds{5});
  auto before = c.bytes();
  c.put("a", make_response("a much longer body"), now + seconds{5});
  REQUIRE(c.get("a", now));
  CHECK(c.get("a", now)->body == "a much longer body");
  CHECK(c.entries() == 1);
  CHECK(c.bytes() == before + (std::string{"a much longer body"}.size() - 5));
}

TEST_CASE("l1 entries expire at their own time and are removed when read", "[l1]") {
  l1_cache c{1 << 20, 2, nullptr};
  auto now = steady_clock::now();
  c.put("short", make_response("s"), now + seconds{1});
  c.put("long", make_response("l"), now + seconds{10});
  CHECK(c.get("short", now));
  CHECK(c.get("short", now + seconds{2}) == nullptr);
  CHECK(c.entries() == 1);
  CHECK(c.bytes() == measure("long", "l"));
  CHECK(c.get("long", now + seconds{2}));
  CHECK(c.get("long", now + seconds{10}) == nullptr);
  CHECK(c.entries() == 0);
  CHECK(c.bytes() == 0);
}

TEST_CASE("l1 evicts the least recently used entries to stay within its budget", "[l1]") {
  const std::string body(100, 'x');
  auto size = measure("k1", body);
  klerno::runtime::metrics::registry reg;
  auto m = std::make_shared<cache_metrics>(reg);
  l1_cache c{3 * size + size / 2, 1, m};
  auto now = steady_clock::now();
  auto later = now + seconds{60};
  c.put("k1", make_response(body), later);
  c.put("k2", make_response(body), later);
  c.put("k3", make_response(body), later);
  REQUIRE(c.entries() == 3);
  REQUIRE(c.get("k1", now)); // k2 is now the least recently used
  c.put("k4", make_response(body), later);

  CHECK(c.get("k2", now) == nullptr);
  CHECK(c.get("k1", now));
  CHECK(c.get("k3", now));
  CHECK(c.get("k4", now));
  CHECK(c.entries() == 3);
  CHECK(c.bytes() == 3 * size);
  CHECK(m->l1_evictions.value() == 1);
  CHECK(m->l1_entries.value() == 3);
  CHECK(m->l1_bytes.value() == static_cast<double>(3 * size));
}

TEST_CASE("l1 does not keep an entry larger than a shard's budget", "[l1]") {
  auto size = measure("big", std::string(1000, 'x'));
  l1_cache c{size - 1, 1, nullptr};
  auto now = steady_clock::now();
  c.put("small", make_response("s"), now + seconds{5});
  c.put("big", make_response(std::string(1000, 'x')), now + seconds{5});
  CHECK(c.get("big", now) == nullptr);
  CHECK(c.get("small", now));
  CHECK(c.entries() == 1);

  SECTION("and drops the entry it would have replaced") {
    c.put("small", make_response(std::string(1000, 'y')), now + seconds{5});
    CHECK(c.get("small", now) == nullptr);
    CHECK(c.entries() == 0);
    CHECK(c.bytes() == 0);
  }
}

TEST_CASE("l1 accounts bytes of key, body and headers and mirrors them in its gauges", "[l1]") {
  klerno::runtime::metrics::registry reg;
  auto m = std::make_shared<cache_metrics>(reg);
  l1_cache c{1 << 20, 4, m};
  auto now = steady_clock::now();
  auto base = measure("k", "");
  c.put("k", make_response(std::string(500, 'b'), "text/plain"), now + seconds{5});
  // Content types differ by 6 bytes ("application/json" vs "text/plain").
  CHECK(c.bytes() == base + 500 - 6);
  c.put("key2", make_response(""), now + seconds{5});
  CHECK(c.bytes() == base + 500 - 6 + base + 3);
  CHECK(c.entries() == 2);
  CHECK(m->l1_entries.value() == 2);
  CHECK(m->l1_bytes.value() == static_cast<double>(c.bytes()));
  CHECK(c.get("k", now + seconds{6}) == nullptr);
  CHECK(m->l1_entries.value() == 1);
  CHECK(m->l1_bytes.value() == static_cast<double>(base + 3));
  CHECK(m->l1_evictions.value() == 0);
}

TEST_CASE("l1 stays within bounds when four threads use it at once", "[l1]") {
  const std::string body(200, 'z');
  auto size = measure("t0-000", body);
  const std::size_t shards = 4;
  const std::size_t budget = shards * 10 * size; // about 10 entries per shard
  klerno::runtime::metrics::registry reg;
  auto m = std::make_shared<cache_metrics>(reg);
  l1_cache c{budget, shards, m};
  auto now = steady_clock::now();
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto key = "t" + std::to_string(t) + "-" + std::to_string(i % 100);
        c.put(key, make_response(body + key), now + seconds{60});
        auto other = "t" + std::to_string((t + 1) % 4) + "-" + std::to_string(i % 100);
        if (auto hit = c.get(other, now); hit && hit->body != body + other) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK(wrong == 0);
  CHECK(c.bytes() <= budget);
  CHECK(c.entries() > 0);
  CHECK(m->l1_bytes.value() == static_cast<double>(c.bytes()));
  CHECK(m->l1_entries.value() == static_cast<double>(c.entries()));
  CHECK(m->l1_evictions.value() > 0);
}

TEST_CASE("make_etag is the first 16 bytes of SHA-256 in hex, quoted", "[etag]") {
  CHECK(make_etag("") == "\"e3b0c44298fc1c149afbf4c8996fb924\"");
  CHECK(make_etag("abc") == "\"ba7816bf8f01cfea414140de5dae2223\"");
  CHECK(make_etag(std::string{"a\0b", 3}) != make_etag("a"));
}

TEST_CASE("etag_matches compares If-None-Match weakly", "[etag]") {
  const std::string tag = "\"0123abcd\"";
  CHECK(etag_matches("\"0123abcd\"", tag));
  CHECK(etag_matches("*", tag));
  CHECK(etag_matches("  *  ", tag));
  CHECK(etag_matches("W/\"0123abcd\"", tag));
  CHECK(etag_matches("\"0123abcd\"", "W/\"0123abcd\""));
  CHECK(etag_matches("\"other\", \"0123abcd\"", tag));
  CHECK(etag_matches("\"other\",W/\"0123abcd\"", tag));
  CHECK(etag_matches("\t\"other\" ,\t \"0123abcd\"\t", tag));
  CHECK(etag_matches("\"a,b\", \"0123abcd\"", tag));
  CHECK(etag_matches("\"a,b\"", "\"a,b\""));

  CHECK_FALSE(etag_matches("", tag));
  CHECK_FALSE(etag_matches("\"other\"", tag));
  CHECK_FALSE(etag_matches("0123abcd", tag));
  CHECK_FALSE(etag_matches("\"0123abcd", tag));
  CHECK_FALSE(etag_matches("\"0123abc\", \"123abcd\"", tag));
  CHECK_FALSE(etag_matches("\"*\"", tag));
  CHECK_FALSE(etag_matches("w/\"0123abcd\"", tag));
}

TEST_CASE("cache_trust is lifted only by a bump sent after the last suspension", "[trust]") {
  cache_trust trust;
  CHECK_FALSE(trust.suspended());
  trust.suspend();
  auto seen = trust.suspensions();
  trust.suspend(); // fails again while the bump is in flight
  CHECK_FALSE(trust.resume_if(seen));
  CHECK(trust.suspended());
  CHECK(trust.resume_if(trust.suspensions()));
  CHECK_FALSE(trust.suspended());
}
