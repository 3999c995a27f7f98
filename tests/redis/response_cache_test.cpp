#include "actors/cache/response_cache.hpp"

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
using outcome = cache_lookup::outcome;

namespace {

response_ptr make_response(std::string body) {
  auto r = std::make_shared<cached_response>();
  r->status = 200;
  r->content_type = "application/json";
  r->etag = make_etag(body);
  r->body = std::move(body);
  return r;
}

// One node's cache on one io thread: its own connection, L1, trust and metrics.
struct node {
  node(boost::asio::io_context& ioc, const std::string& url, const std::string& prefix,
       cache_settings cfg = {})
      : ioc(ioc),
        metrics(std::make_shared<cache_metrics>(registry)),
        conn(test::connect(ioc, url)),
        l1(cfg.l1_max_bytes, 4, metrics),
        cache(*conn, l1, trust, cfg, metrics, prefix) {}

  ~node() {
    conn->close();
  }

  // Runs a lookup to its end.
  cache_lookup lookup(const std::string& key, std::vector<std::string> generations) {
    std::optional<cache_lookup> out;
    cache.lookup(key, std::move(generations), [&](cache_lookup r) { out = std::move(r); });
    REQUIRE(test::run_until(ioc, [&] { return out.has_value(); }));
    return std::move(*out);
  }

  // Runs an invalidation to its end; returns its `ok`.
  bool invalidate(std::vector<std::string> generations) {
    std::optional<bool> out;
    bool inside = true;
    cache.invalidate(std::move(generations), [&](bool ok) {
      CHECK_FALSE(inside);
      out = ok;
    });
    inside = false;
    REQUIRE(test::run_until(ioc, [&] { return out.has_value(); }));
    return *out;
  }

  // Fills and waits until the L2 write has been answered (commands of one connection are
  // answered in order).
  void fill(const std::string& fill_key, response_ptr value) {
    cache.fill(fill_key, std::move(value));
    test::sync_command(ioc, *conn, {"PING"});
  }

  // Runs until the connection is up and the cache trusted again. A generational lookup retries
  // an epoch bump that a later suspension made void, as the next request would.
  bool wait_trusted(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return test::run_until(
      ioc,
      [&] {
        if (conn->connected() && trust.suspended()) {
          cache.lookup("probe", {"probe"}, [](cache_lookup) {});
        }
        return conn->connected() && !trust.suspended();
      },
      timeout);
  }

  uint64_t requests(std::string_view level, std::string_view result) {
    return metrics->cache_requests.with({level, result}).value();
  }
  uint64_t bypassed(std::string_view reason) {
    return metrics->cache_bypassed.with({reason}).value();
  }
  uint64_t invalidations(std::string_view result) {
    return metrics->cache_invalidations.with({result}).value();
  }

  boost::asio::io_context& ioc;
  runtime::metrics::registry registry;
  metrics_ptr metrics;
  std::shared_ptr<redis::connection> conn;
  l1_cache l1;
  cache_trust trust;
  response_cache cache;
};

void check_same(const response_ptr& got, const response_ptr& want) {
  REQUIRE(got);
  CHECK(got->status == want->status);
  CHECK(got->content_type == want->content_type);
  CHECK(got->etag == want->etag);
  CHECK(got->body == want->body);
}

} // namespace

TEST_CASE("an immutable entry is served by L1 after its fill, and by L2 on another node",
          "[response_cache]") {
  boost::asio::io_context ioc;
  auto url = test::fixture_redis_url();
  auto prefix = test::unique_prefix();
  node a{ioc, url, prefix};
  node b{ioc, url, prefix};
  // Binary body: L2 must keep every byte.
  auto value = make_response(std::string{"{\"tx\":\"a\0b\xff\"}", 14});

  auto first = a.lookup("/tx/1", {});
  REQUIRE(first.result == outcome::miss);
  CHECK(first.fill_key == "/tx/1");
  a.fill(first.fill_key, value);

  bool inside = false;
  a.cache.lookup("/tx/1", {}, [&](cache_lookup r) {
    inside = true;
    CHECK(r.result == outcome::hit);
    CHECK(std::string{r.level} == "l1");
    check_same(r.response, value);
  });
  CHECK(inside); // an L1 hit of an immutable entry needs no round trip

  auto other = b.lookup("/tx/1", {});
  REQUIRE(other.result == outcome::hit);
  CHECK(std::string{other.level} == "l2");
  check_same(other.response, value);
  auto again = b.lookup("/tx/1", {});
  CHECK(std::string{again.level} == "l1");

  auto ttl = test::sync_command(ioc, *a.conn, {"PTTL", prefix + "c:/tx/1"});
  CHECK(ttl.integer > 0);
  CHECK(ttl.integer <= cache_settings{}.l2_ttl.count());

  CHECK(a.requests("l1", "miss") == 1);
  CHECK(a.requests("l2", "miss") == 1);
  CHECK(a.requests("l1", "hit") == 1);
  CHECK(b.requests("l1", "miss") == 1);
  CHECK(b.requests("l2", "hit") == 1);
  CHECK(b.requests("l1", "hit") == 1);
}

TEST_CASE("a generational entry is served until its generation is bumped, on every node",
          "[response_cache]") {
  boost::asio::io_context ioc;
  auto url = test::fixture_redis_url();
  auto prefix = test::unique_prefix();
  node a{ioc, url, prefix};
  node b{ioc, url, prefix};
  const std::vector<std::string> gens{"tx", "w:rAlice"};
  auto old_value = make_response("[\"old\"]");

  auto first = a.lookup("/wallets/rAlice/tx", gens);
  REQUIRE(first.result == outcome::miss);
  CHECK(first.fill_key.rfind("/wallets/rAlice/tx", 0) == 0);
  a.fill(first.fill_key, old_value);

  auto hit_a = a.lookup("/wallets/rAlice/tx", gens);
  REQUIRE(hit_a.result == outcome::hit);
  CHECK(std::string{hit_a.level} == "l1");
  auto hit_b = b.lookup("/wallets/rAlice/tx", gens);
  REQUIRE(hit_b.result == outcome::hit);
  CHECK(std::string{hit_b.level} == "l2");
  check_same(hit_b.response, old_value);

  // An entry of other generations is untouched by the bump.
  auto bob = a.lookup("/wallets/rBob/tx", {"w:rBob"});
  REQUIRE(bob.result == outcome::miss);
  a.fill(bob.fill_key, make_response("[\"bob\"]"));

  REQUIRE(a.invalidate({"w:rAlice"}));
  CHECK(a.invalidations("ok") == 1);

  auto after_a = a.lookup("/wallets/rAlice/tx", gens);
  auto after_b = b.lookup("/wallets/rAlice/tx", gens);
  CHECK(after_a.result == outcome::miss);
  CHECK(after_b.result == outcome::miss);
  CHECK(after_a.fill_key != first.fill_key);
  CHECK(after_a.fill_key == after_b.fill_key);
  CHECK(a.lookup("/wallets/rBob/tx", {"w:rBob"}).result == outcome::hit);
  CHECK(b.lookup("/wallets/rBob/tx", {"w:rBob"}).result == outcome::hit);

  // The new answer is served from then on.
  auto new_value = make_response("[\"new\"]");
  b.fill(after_b.fill_key, new_value);
  auto fresh = a.lookup("/wallets/rAlice/tx", gens);
  REQUIRE(fresh.result == outcome::hit);
  check_same(fresh.response, new_value);
}

TEST_CASE("a fill whose generations were read before an invalidation is never served",
          "[response_cache]") {
  boost::asio::io_context ioc;
  auto url = test::fixture_redis_url();
  auto prefix = test::unique_prefix();
  node a{ioc, url, prefix};
  node b{ioc, url, prefix};
  const std::vector<std::string> gens{"tx"};

  auto before = a.lookup("/analytics/summary", gens);
  REQUIRE(before.result == outcome::miss);
  REQUIRE(b.invalidate({"tx"})); // a write lands while the old answer is being computed
  a.fill(before.fill_key, make_response("{\"count\":1}"));

  CHECK(a.lookup("/analytics/summary", gens).result == outcome::miss);
  CHECK(b.lookup("/analytics/summary", gens).result == outcome::miss);
}

TEST_CASE("a lost connection suspends the generational cache until the epoch is bumped",
          "[response_cache]") {
  boost::asio::io_context ioc;
  auto url = test::fixture_redis_url();
  auto prefix = test::unique_prefix();
  node a{ioc, url, prefix};
  node b{ioc, url, prefix}; // keeps its connection (and the data stays in Redis)
  const std::vector<std::string> gens{"tx", "w:rAlice"};
  auto old_value = make_response("[\"old\"]");

  auto first = a.lookup("/wallets/rAlice/tx", gens);
  REQUIRE(first.result == outcome::miss);
  a.fill(first.fill_key, old_value);
  auto immutable = a.lookup("/tx/1", {});
  a.fill(immutable.fill_key, make_response("{\"tx\":1}"));
  REQUIRE(a.lookup("/wallets/rAlice/tx", gens).result == outcome::hit);
  auto epoch_before = test::sync_command(ioc, *b.conn, {"GET", prefix + "c:epoch"});

  auto id = test::sync_command(ioc, *a.conn, {"CLIENT", "ID"});
  REQUIRE(id.type == redis::reply::kind::integer);
  test::sync_command(ioc, *b.conn, {"CLIENT", "KILL", "ID", std::to_string(id.integer)});
  REQUIRE(test::run_until(ioc, [&] { return a.trust.suspended(); }));

  // Down: generational lookups bypass, an invalidation fails (commands fail at once while the
  // connection is down); immutable entries stay in L1.
  REQUIRE_FALSE(a.conn->connected());
  bool bypassed = false;
  a.cache.lookup("/wallets/rAlice/tx", gens, [&](cache_lookup r) {
    bypassed = r.result == outcome::bypass && r.response == nullptr;
  });
  CHECK(bypassed);
  CHECK(a.bypassed("redis_down") == 1);
  CHECK_FALSE(a.invalidate({"w:rAlice"}));
  CHECK(a.invalidations("failed") == 1);
  CHECK(a.lookup("/tx/1", {}).result == outcome::hit);

  // Back: the epoch is bumped, which orphans every entry cached before, on every node.
  REQUIRE(a.wait_trusted());
  auto epoch_after = test::sync_command(ioc, *b.conn, {"GET", prefix + "c:epoch"});
  REQUIRE(epoch_after.type == redis::reply::kind::string);
  CHECK(std::stoll(epoch_after.str) > (epoch_before.is_nil() ? 0 : std::stoll(epoch_before.str)));
  auto after_a = a.lookup("/wallets/rAlice/tx", gens);
  auto after_b = b.lookup("/wallets/rAlice/tx", gens);
  CHECK(after_a.result == outcome::miss);
  CHECK(after_b.result == outcome::miss);
  CHECK(after_a.fill_key != first.fill_key);
}

TEST_CASE("a node whose invalidation failed bumps the epoch on its next lookup",
          "[response_cache]") {
  boost::asio::io_context ioc;
  auto url = test::fixture_redis_url();
  auto prefix = test::unique_prefix();
  node a{ioc, url, prefix};
  const std::vector<std::string> gens{"tx"};
  auto first = a.lookup("/analytics/summary", gens);
  REQUIRE(first.result == outcome::miss);
  a.fill(first.fill_key, make_response("{}"));

  a.trust.suspend(); // as another io thread's failed invalidation does
  CHECK(a.lookup("/analytics/summary", gens).result == outcome::bypass);
  REQUIRE(test::run_until(ioc, [&] { return !a.trust.suspended(); }));
  auto after = a.lookup("/analytics/summary", gens);
  CHECK(after.result == outcome::miss);
  CHECK(after.fill_key != first.fill_key);
}

TEST_CASE(
  "Redis down: generational lookups bypass, invalidations fail, the restart bumps the epoch",
  "[response_cache][outage]") {
  boost::asio::io_context ioc;
  test::private_redis server{"response-cache-outage"};
  auto prefix = test::unique_prefix();
  node a{ioc, server.url(), prefix};
  auto first = a.lookup("/tx/9", {});
  a.fill(first.fill_key, make_response("{\"tx\":9}"));

  server.kill();
  REQUIRE(test::run_until(ioc, [&] { return !a.conn->connected(); }));
  CHECK(a.trust.suspended());
  CHECK(a.lookup("/wallets/rAlice/tx", {"w:rAlice"}).result == outcome::bypass);
  CHECK(a.lookup("/tx/9", {}).result == outcome::hit); // L1 needs no Redis
  CHECK_FALSE(a.invalidate({"w:rAlice"}));
  CHECK(a.invalidations("failed") == 1);

  server.start();
  REQUIRE(a.wait_trusted(std::chrono::seconds{20}));
  auto epoch = test::sync_command(ioc, *a.conn, {"GET", prefix + "c:epoch"});
  CHECK(epoch.str == "1");
  CHECK(a.lookup("/wallets/rAlice/tx", {"w:rAlice"}).result == outcome::miss);
}

TEST_CASE("a body over max_entry_bytes is not cached", "[response_cache]") {
  boost::asio::io_context ioc;
  auto prefix = test::unique_prefix();
  cache_settings cfg;
  cfg.max_entry_bytes = 10;
  node a{ioc, test::fixture_redis_url(), prefix, cfg};

  auto first = a.lookup("/tx/big", {});
  REQUIRE(first.result == outcome::miss);
  a.fill(first.fill_key, make_response("01234567890"));
  CHECK(a.bypassed("too_large") == 1);
  CHECK(a.l1.entries() == 0);
  CHECK(test::sync_command(ioc, *a.conn, {"EXISTS", prefix + "c:/tx/big"}).integer == 0);
  CHECK(a.lookup("/tx/big", {}).result == outcome::miss);

  a.fill(first.fill_key, make_response("0123456789"));
  CHECK(a.lookup("/tx/big", {}).result == outcome::hit);
}

TEST_CASE("a disabled cache bypasses every lookup and stores nothing", "[response_cache]") {
  boost::asio::io_context ioc;
  auto prefix = test::unique_prefix();
  cache_settings cfg;
  cfg.enabled = false;
  node a{ioc, test::fixture_redis_url(), prefix, cfg};
  CHECK(a.lookup("/tx/1", {}).result == outcome::bypass);
  CHECK(a.lookup("/wallets/rA/tx", {"w:rA"}).result == outcome::bypass);
  a.fill("/tx/1", make_response("{}"));
  CHECK(a.l1.entries() == 0);
  CHECK(test::sync_command(ioc, *a.conn, {"EXISTS", prefix + "c:/tx/1"}).integer == 0);
}
