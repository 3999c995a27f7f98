#include "actors/cache/sessions.hpp"

#include <algorithm>
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
using outcome = session_lookup::outcome;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// One node's session store on one io thread: its own connection and metrics.
struct node {
  node(boost::asio::io_context& ioc, const std::string& url, const std::string& prefix,
       session_settings cfg = {})
      : ioc(ioc),
        prefix(prefix),
        metrics(std::make_shared<cache_metrics>(registry)),
        conn(test::connect(ioc, url)),
        store(*conn, cfg, metrics, prefix) {}

  ~node() {
    conn->close();
  }

  // Each operation runs to its end; the test fails if `done` ran inside the call.
  std::optional<std::string> create(const std::string& key_id) {
    std::optional<std::optional<std::string>> out;
    bool inside = true;
    store.create(key_id, [&](std::optional<std::string> token) {
      CHECK_FALSE(inside);
      out = std::move(token);
    });
    inside = false;
    REQUIRE(test::run_until(ioc, [&] { return out.has_value(); }));
    return *out;
  }

  session_lookup resolve(const std::string& token) {
    std::optional<session_lookup> out;
    bool inside = true;
    store.resolve(token, [&](session_lookup r) {
      CHECK_FALSE(inside);
      out = std::move(r);
    });
    inside = false;
    REQUIRE(test::run_until(ioc, [&] { return out.has_value(); }));
    return *out;
  }

  std::optional<bool> revoke(const std::string& token) {
    std::optional<std::optional<bool>> out;
    bool inside = true;
    store.revoke(token, [&](std::optional<bool> existed) {
      CHECK_FALSE(inside);
      out = existed;
    });
    inside = false;
    REQUIRE(test::run_until(ioc, [&] { return out.has_value(); }));
    return *out;
  }

  redis::reply command(redis::command cmd) {
    return test::sync_command(ioc, *conn, std::move(cmd));
  }

  std::string key_of(const std::string& token) const {
    return prefix + "sess:" + session_token_hash(token);
  }

  uint64_t ops(std::string_view op) {
    return metrics->sessions.with({op}).value();
  }

  boost::asio::io_context& ioc;
  std::string prefix;
  runtime::metrics::registry registry;
  metrics_ptr metrics;
  std::shared_ptr<redis::connection> conn;
  session_store store;
};

} // namespace

TEST_CASE("a session is created, resolved to its key and revoked", "[redis][sessions]") {
  boost::asio::io_context ioc;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix()};

  auto token = n.create("key-1");
  REQUIRE(token);
  CHECK(well_formed_session_token(*token));

  auto found = n.resolve(*token);
  CHECK(found.result == outcome::valid);
  CHECK(found.key_id == "key-1");

  CHECK(n.revoke(*token) == std::optional<bool>{true});
  CHECK(n.resolve(*token).result == outcome::invalid);
  CHECK(n.revoke(*token) == std::optional<bool>{false});

  CHECK(n.ops("created") == 1);
  CHECK(n.ops("resolved") == 1);
  CHECK(n.ops("rejected") == 1);
  CHECK(n.ops("revoked") == 1);
  CHECK(n.ops("unavailable") == 0);
}

TEST_CASE("unknown and malformed tokens are invalid", "[redis][sessions]") {
  boost::asio::io_context ioc;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix()};

  CHECK(n.resolve(new_session_token()).result == outcome::invalid);
  CHECK(n.resolve("").result == outcome::invalid);
  CHECK(n.resolve("not a token").result == outcome::invalid);
  CHECK(n.revoke("not a token") == std::optional<bool>{false});
  CHECK(n.ops("rejected") == 3);
}

TEST_CASE("a key id containing colons survives the stored value", "[redis][sessions]") {
  boost::asio::io_context ioc;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix()};
  auto token = n.create("tenant:a:key:7");
  REQUIRE(token);
  auto found = n.resolve(*token);
  CHECK(found.result == outcome::valid);
  CHECK(found.key_id == "tenant:a:key:7");
}

TEST_CASE("a revoked session is refused by another node at once", "[redis][sessions]") {
  auto url = test::fixture_redis_url();
  auto prefix = test::unique_prefix();
  boost::asio::io_context ioc1;
  boost::asio::io_context ioc2;
  node a{ioc1, url, prefix};
  node b{ioc2, url, prefix};

  auto token = a.create("key-1");
  REQUIRE(token);
  REQUIRE(b.resolve(*token).result == outcome::valid);
  REQUIRE(a.revoke(*token) == std::optional<bool>{true});
  CHECK(b.resolve(*token).result == outcome::invalid);
}

TEST_CASE("each use of a session slides its expiry", "[redis][sessions]") {
  boost::asio::io_context ioc;
  session_settings cfg;
  cfg.ttl = 100s;
  cfg.max_lifetime = 1000s;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix(), cfg};

  auto token = n.create("key-1");
  REQUIRE(token);
  auto key = n.key_of(*token);
  auto ttl = n.command({"TTL", key});
  REQUIRE(ttl.type == redis::reply::kind::integer);
  CHECK(ttl.integer > 50);
  CHECK(ttl.integer <= 100);

  REQUIRE(n.command({"EXPIRE", key, "5"}).integer == 1);
  REQUIRE(n.command({"TTL", key}).integer <= 5);
  REQUIRE(n.resolve(*token).result == outcome::valid);
  CHECK(n.command({"TTL", key}).integer > 50);
}

TEST_CASE("a new session never outlives max_lifetime", "[redis][sessions]") {
  boost::asio::io_context ioc;
  session_settings cfg;
  cfg.ttl = 100s;
  cfg.max_lifetime = 30s;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix(), cfg};

  auto token = n.create("key-1");
  REQUIRE(token);
  auto ttl = n.command({"TTL", n.key_of(*token)}).integer;
  CHECK(ttl > 0);
  CHECK(ttl <= 30);
}

TEST_CASE("a session older than max_lifetime is refused and deleted", "[redis][sessions]") {
  boost::asio::io_context ioc;
  session_settings cfg;
  cfg.ttl = 100s;
  cfg.max_lifetime = 500s;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix(), cfg};

  // Written by hand as create() would have done 1000 s ago (and 100 s ago for the young one).
  auto old_token = new_session_token();
  auto young_token = new_session_token();
  REQUIRE(n.command({"SET", n.key_of(old_token), "key-1:" + std::to_string(unix_now() - 1000), "EX",
                     "100"})
            .str
          == "OK");
  REQUIRE(n.command({"SET", n.key_of(young_token), "key-2:" + std::to_string(unix_now() - 100),
                     "EX", "100"})
            .str
          == "OK");

  CHECK(n.resolve(old_token).result == outcome::invalid);
  CHECK(n.command({"EXISTS", n.key_of(old_token)}).integer == 0);

  auto young = n.resolve(young_token);
  CHECK(young.result == outcome::valid);
  CHECK(young.key_id == "key-2");
}

TEST_CASE("a stored value of another shape makes the session invalid", "[redis][sessions]") {
  boost::asio::io_context ioc;
  node n{ioc, test::fixture_redis_url(), test::unique_prefix()};
  for (std::string value : {"no-colon", "key-1:", ":123", "key-1:12x", "key-1:-5"}) {
    auto token = new_session_token();
    REQUIRE(n.command({"SET", n.key_of(token), value, "EX", "100"}).str == "OK");
    CHECK(n.resolve(token).result == outcome::invalid);
  }
}

TEST_CASE("only the hash of a token is stored", "[redis][sessions]") {
  boost::asio::io_context ioc;
  auto prefix = test::unique_prefix();
  node n{ioc, test::fixture_redis_url(), prefix};

  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    auto t = n.create("key-" + std::to_string(i));
    REQUIRE(t);
    tokens.push_back(*t);
  }

  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto page = n.command({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
    REQUIRE(page.type == redis::reply::kind::array);
    REQUIRE(page.elements.size() == 2);
    cursor = page.elements[0].str;
    for (const auto& k : page.elements[1].elements) {
      keys.push_back(k.str);
    }
  } while (cursor != "0");

  REQUIRE(keys.size() == tokens.size());
  for (const auto& key : keys) {
    auto value = n.command({"GET", key});
    REQUIRE(value.type == redis::reply::kind::string);
    for (const auto& t : tokens) {
      CHECK(key.find(t) == std::string::npos);
      CHECK(value.str.find(t) == std::string::npos);
    }
  }
  for (const auto& t : tokens) {
    CHECK(std::find(keys.begin(), keys.end(), n.key_of(t)) != keys.end());
  }
}

TEST_CASE("without Redis sessions are unavailable", "[redis][sessions]") {
  test::private_redis server{"sessions-down"};
  boost::asio::io_context ioc;
  node n{ioc, server.url(), test::unique_prefix()};
  auto token = n.create("key-1");
  REQUIRE(token);

  server.kill();
  CHECK(n.resolve(*token).result == outcome::unavailable);
  CHECK(n.revoke(*token) == std::nullopt);
  CHECK(n.create("key-1") == std::nullopt);
  CHECK(n.ops("unavailable") == 3);
}
