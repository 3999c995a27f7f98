// The hiredis connection against a real redis-server: reply types, binary safety, pipelines,
// where callbacks run, AUTH and SELECT, and the failure modes (not connected, overloaded, command
// timeout, server killed and restarted, close). Outage tests use private servers (scripts/redis
// in a directory of their own); the others share the fixture's server with key prefixes.

#include "actors/cache/redis/connection.hpp"

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
using namespace klerno::cache::redis;
using namespace std::chrono_literals;
using namespace std::string_literals;
using klerno::cache::cache_metrics;

namespace {

/// Collects the result of one execute() and remembers whether it came inside the call.
struct outcome {
  std::optional<result> r;
  bool inside_call = false;
  int calls = 0;

  std::function<void(result)> callback(const bool& in_call) {
    return [this, &in_call](result x) {
      inside_call = inside_call || in_call;
      ++calls;
      r = std::move(x);
    };
  }
};

/// Runs `cmd` on `conn` and returns its result (the test fails when none comes in 10 s).
result run(boost::asio::io_context& ioc, connection& conn, command cmd) {
  std::optional<result> got;
  bool in_call = true;
  conn.execute(std::move(cmd), [&](result r) {
    CHECK_FALSE(in_call);
    got = std::move(r);
  });
  in_call = false;
  REQUIRE(test::run_until(ioc, [&] { return got.has_value(); }));
  return std::move(*got);
}

/// Value of `field` in the text of an INFO reply ("" when absent).
std::string info_field(const std::string& info, const std::string& field) {
  auto pos = info.find(field + ":");
  if (pos == std::string::npos) {
    return "";
  }
  auto start = pos + field.size() + 1;
  return info.substr(start, info.find_first_of("\r\n", start) - start);
}

std::string with_db(const std::string& url, unsigned db) {
  return url.substr(0, url.rfind('/')) + "/" + std::to_string(db);
}

struct metrics_fixture {
  runtime::metrics::registry registry;
  std::shared_ptr<cache_metrics> metrics = std::make_shared<cache_metrics>(registry);

  uint64_t failures(const std::string& reason) {
    return metrics->redis_command_failures.with({reason}).value();
  }
  double connections(const std::string& state) {
    return metrics->redis_connections.with({state}).value();
  }
};

} // namespace

TEST_CASE("commands get replies of every type") {
  boost::asio::io_context ioc;
  auto conn = test::connect(ioc, test::fixture_redis_url());
  auto p = test::unique_prefix();

  result set = run(ioc, *conn, {"SET", p + "s", "hello"});
  REQUIRE(set.ok);
  CHECK(set.value.type == reply::kind::status);
  CHECK(set.value.str == "OK");

  result get = run(ioc, *conn, {"GET", p + "s"});
  REQUIRE(get.ok);
  CHECK(get.value.type == reply::kind::string);
  CHECK(get.value.str == "hello");

  result missing = run(ioc, *conn, {"GET", p + "missing"});
  REQUIRE(missing.ok);
  CHECK(missing.value.is_nil());

  result incr = run(ioc, *conn, {"INCRBY", p + "n", "-42"});
  REQUIRE(incr.ok);
  CHECK(incr.value.type == reply::kind::integer);
  CHECK(incr.value.integer == -42);

  // An error reply is a reply: ok, with the server's message.
  result err = run(ioc, *conn, {"INCR", p + "s"});
  REQUIRE(err.ok);
  CHECK(err.value.is_error());
  CHECK_THAT(err.value.str, Catch::StartsWith("ERR"));

  result nested = run(ioc, *conn, {"EVAL", "return {1, 'two', {3, false}}", "0"});
  REQUIRE(nested.ok);
  REQUIRE(nested.value.type == reply::kind::array);
  REQUIRE(nested.value.elements.size() == 3);
  CHECK(nested.value.elements[0].integer == 1);
  CHECK(nested.value.elements[1].str == "two");
  REQUIRE(nested.value.elements[2].type == reply::kind::array);
  REQUIRE(nested.value.elements[2].elements.size() == 2);
  CHECK(nested.value.elements[2].elements[0].integer == 3);
  CHECK(nested.value.elements[2].elements[1].is_nil());

  result empty = run(ioc, *conn, {"LRANGE", p + "nolist", "0", "-1"});
  REQUIRE(empty.ok);
  CHECK(empty.value.type == reply::kind::array);
  CHECK(empty.value.elements.empty());
  conn->close();
}

TEST_CASE("keys and values are binary safe") {
  boost::asio::io_context ioc;
  auto conn = test::connect(ioc, test::fixture_redis_url());
  const std::string key = test::unique_prefix() + "k\0ey\r\n"s;
  const std::string value = "a\0b\r\n$3\r\n\xff\x00 end"s;
  REQUIRE(value.size() == 15);
  std::string big(200'000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<char>(i * 7);
  }

  REQUIRE(run(ioc, *conn, {"SET", key, value}).value.str == "OK");
  result got = run(ioc, *conn, {"GET", key});
  REQUIRE(got.ok);
  CHECK(got.value.str == value);
  CHECK(run(ioc, *conn, {"STRLEN", key}).value.integer == 15);

  // Larger than hiredis' 16 KiB read size: the rest of the reply must be read too.
  REQUIRE(run(ioc, *conn, {"SET", key, big}).value.str == "OK");
  got = run(ioc, *conn, {"GET", key});
  REQUIRE(got.ok);
  CHECK(got.value.str.size() == big.size());
  CHECK(got.value.str == big);
  run(ioc, *conn, {"DEL", key});
  conn->close();
}

TEST_CASE("a reply that is already buffered in full is read to its end") {
  // hiredis reads 16 KiB per call and Asio registers sockets edge-triggered: the rest of a
  // reply that arrived in full before the first read must still be read without new data.
  boost::asio::io_context ioc;
  boost::asio::io_context admin_ioc;
  auto url = test::fixture_redis_url();
  auto conn = test::connect(ioc, url);
  auto admin = test::connect(admin_ioc, url);
  const std::string key = test::unique_prefix() + "big";
  REQUIRE(run(ioc, *conn, {"SET", key, std::string(100'000, 'x'), "EX", "60"}).ok);
  auto id = std::to_string(run(ioc, *conn, {"CLIENT", "ID"}).value.integer);

  std::optional<result> got;
  conn->execute({"GET", key}, [&](result r) { got = std::move(r); });
  // Drive only the request out, then let the server write the whole reply before reading.
  REQUIRE(test::run_until(admin_ioc, [&] {
    auto client = test::sync_command(admin_ioc, *admin, {"CLIENT", "LIST", "ID", id}).str;
    if (client.find(" cmd=get ") != std::string::npos
        && client.find(" omem=0 ") != std::string::npos) {
      return true;
    }
    ioc.poll_one();
    return false;
  }));
  REQUIRE(test::run_until(ioc, [&] { return got.has_value(); }));
  REQUIRE(got->ok);
  CHECK(got->value.str.size() == 100'000);
  conn->close();
  admin->close();
}

TEST_CASE("a pipeline returns one result per command, in order") {
  boost::asio::io_context ioc;
  auto conn = test::connect(ioc, test::fixture_redis_url());
  auto p = test::unique_prefix();

  std::vector<command> cmds;
  for (int i = 0; i < 2000; ++i) {
    cmds.push_back({"INCR", p + "counter"});
    if (i % 100 == 0) {
      cmds.push_back({"SET", p + "v" + std::to_string(i), std::to_string(i)});
      cmds.push_back({"GET", p + "v" + std::to_string(i)});
    }
  }
  std::optional<std::vector<result>> got;
  int calls = 0;
  bool in_call = true;
  conn->pipeline(cmds, [&](std::vector<result> r) {
    CHECK_FALSE(in_call);
    ++calls;
    got = std::move(r);
  });
  in_call = false;
  REQUIRE(test::run_until(ioc, [&] { return got.has_value(); }));
  REQUIRE(got->size() == cmds.size());
  int64_t expected = 0;
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    INFO("command " << i << ": " << cmds[i][0]);
    const result& r = (*got)[i];
    REQUIRE(r.ok);
    if (cmds[i][0] == "INCR") {
      CHECK(r.value.integer == ++expected);
    } else if (cmds[i][0] == "SET") {
      CHECK(r.value.str == "OK");
    } else {
      CHECK(r.value.str == cmds[i][1].substr(cmds[i][1].rfind('v') + 1));
    }
  }
  REQUIRE(test::run_until(
            ioc, [&] { return calls > 1; }, 50ms)
          == false);
  CHECK(calls == 1);

  // Single commands issued back to back are answered in order as well.
  std::vector<int64_t> order;
  for (int i = 0; i < 500; ++i) {
    conn->execute({"INCR", p + "counter"}, [&](result r) { order.push_back(r.value.integer); });
  }
  REQUIRE(test::run_until(ioc, [&] { return order.size() == 500; }));
  for (std::size_t i = 0; i < order.size(); ++i) {
    CHECK(order[i] == expected + 1 + static_cast<int64_t>(i));
  }
  conn->close();
}

TEST_CASE("callbacks never run inside execute, pipeline or close") {
  boost::asio::io_context ioc;
  auto cfg = test::test_connection_config(test::fixture_redis_url());
  cfg.max_pending = 1;
  auto conn = make_hiredis_connection(ioc, cfg, nullptr);
  bool in_call = false;
  int inside = 0;
  int called = 0;
  auto cb = [&](result) {
    ++called;
    inside += in_call ? 1 : 0;
  };
  auto pcb = [&](std::vector<result>) {
    ++called;
    inside += in_call ? 1 : 0;
  };

  // Not connected yet: the failure is posted.
  in_call = true;
  conn->execute({"PING"}, cb);
  conn->pipeline({{"PING"}, {"PING"}}, pcb);
  conn->pipeline({}, pcb);
  in_call = false;
  REQUIRE(test::run_until(ioc, [&] { return called == 3; }));

  REQUIRE(test::run_until(ioc, [&] { return conn->connected(); }));
  // A reply, an overload failure (max_pending 1), a refused command, then close() with one
  // command pending: every callback comes later.
  in_call = true;
  conn->execute({"PING"}, cb);
  conn->execute({"PING"}, cb);
  conn->execute({"SUBSCRIBE", "x"}, cb);
  in_call = false;
  REQUIRE(test::run_until(ioc, [&] { return called == 6; }));
  in_call = true;
  conn->execute({"PING"}, cb);
  conn->close();
  conn->execute({"PING"}, cb);
  in_call = false;
  REQUIRE(test::run_until(ioc, [&] { return called == 8; }));
  CHECK(inside == 0);
}

TEST_CASE("a connection that is not ready fails commands at once with not connected") {
  metrics_fixture m;
  boost::asio::io_context ioc;
  test::private_redis server{"notconnected"};
  std::string url = server.url();
  server.stop(); // nothing listens on its port now
  auto conn = make_hiredis_connection(ioc, test::test_connection_config(url), m.metrics);
  CHECK(m.connections("down") == 1);

  int lost = 0;
  conn->on_lost([&] { ++lost; });
  CHECK_FALSE(conn->connected());

  bool in_call = true;
  outcome one;
  conn->execute({"PING"}, one.callback(in_call));
  std::optional<std::vector<result>> many;
  conn->pipeline({{"PING"}, {"GET", "x"}}, [&](std::vector<result> r) { many = std::move(r); });
  in_call = false;
  // Nothing waits for Redis: both fail on the next turn of the loop.
  ioc.restart();
  ioc.poll();
  REQUIRE(one.r.has_value());
  CHECK_FALSE(one.inside_call);
  CHECK_FALSE(one.r->ok);
  CHECK(one.r->failure == "not connected");
  REQUIRE(many.has_value());
  REQUIRE(many->size() == 2);
  for (const auto& r : *many) {
    CHECK_FALSE(r.ok);
    CHECK(r.failure == "not connected");
  }
  CHECK(m.failures("not_connected") == 3);
  CHECK(lost == 0); // it never was up
  conn->close();
  CHECK(m.connections("down") == 0);
  CHECK(m.connections("up") == 0);
}

TEST_CASE("a password or an ACL user logs in and a wrong password never gets ready") {
  boost::asio::io_context ioc;
  test::private_redis server{"auth"};
  // The admin connection set the password, so it stays logged in.
  auto admin = test::connect(ioc, server.url());
  REQUIRE(test::sync_command(ioc, *admin, {"CONFIG", "SET", "requirepass", "p@ss:w/rd"}).str
          == "OK");
  REQUIRE(
    test::sync_command(ioc, *admin, {"ACL", "SETUSER", "app", "on", ">app-secret", "~*", "+@all"})
      .str
    == "OK");
  const std::string hostport = "127.0.0.1:" + std::to_string(server.port());

  SECTION("the default user with a percent-encoded password") {
    auto conn = test::connect(ioc, "redis://:p%40ss%3Aw%2Frd@" + hostport + "/0");
    CHECK(run(ioc, *conn, {"ACL", "WHOAMI"}).value.str == "default");
    conn->close();
  }
  SECTION("an ACL user") {
    auto conn = test::connect(ioc, "redis://app:app-secret@" + hostport + "/0");
    CHECK(run(ioc, *conn, {"ACL", "WHOAMI"}).value.str == "app");
    conn->close();
  }
  SECTION("a wrong password or none at all") {
    std::string url = GENERATE(std::string{":wrong@"}, std::string{"app:wrong@"}, std::string{});
    INFO("credentials: " << url);
    auto connections_seen = [&] {
      return std::stoll(info_field(test::sync_command(ioc, *admin, {"INFO", "stats"}).str,
                                   "total_connections_received"));
    };
    auto before = connections_seen();
    int ready = 0;
    auto conn = make_hiredis_connection(
      ioc, test::test_connection_config("redis://" + url + hostport + "/0"), nullptr);
    conn->on_ready([&](bool) { ++ready; });
    // It keeps trying (three connections seen by the server) and never gets ready.
    REQUIRE(test::run_until(ioc, [&] { return connections_seen() >= before + 3; }));
    CHECK(ready == 0);
    CHECK_FALSE(conn->connected());
    result r = run(ioc, *conn, {"PING"});
    CHECK_FALSE(r.ok);
    CHECK(r.failure == "not connected");
    conn->close();
  }
  admin->close();
}

TEST_CASE("the database of the URL is selected and the client is named") {
  boost::asio::io_context ioc;
  auto url = test::fixture_redis_url();
  auto cfg = test::test_connection_config(with_db(url, 7));
  cfg.name = "klerno:test:db7";
  auto db7 = make_hiredis_connection(ioc, cfg, nullptr);
  REQUIRE(test::run_until(ioc, [&] { return db7->connected(); }));
  auto db0 = test::connect(ioc, with_db(url, 0));
  auto key = test::unique_prefix() + "db";

  REQUIRE(run(ioc, *db7, {"SET", key, "seven", "EX", "60"}).ok);
  CHECK(run(ioc, *db7, {"GET", key}).value.str == "seven");
  CHECK(run(ioc, *db0, {"GET", key}).value.is_nil());
  CHECK_THAT(run(ioc, *db7, {"CLIENT", "INFO"}).value.str, Catch::Contains(" db=7 "));
  CHECK(run(ioc, *db7, {"CLIENT", "GETNAME"}).value.str == "klerno:test:db7");

  // SELECT would be undone by a reconnect: it is refused.
  result sel = run(ioc, *db7, {"select", "0"});
  CHECK_FALSE(sel.ok);
  CHECK_THAT(sel.failure, Catch::Contains("unsupported command"));
  run(ioc, *db7, {"DEL", key});
  db7->close();
  db0->close();
}

TEST_CASE("commands beyond max_pending fail with overloaded") {
  metrics_fixture m;
  boost::asio::io_context ioc;
  auto cfg = test::test_connection_config(test::fixture_redis_url());
  cfg.max_pending = 3;
  auto conn = make_hiredis_connection(ioc, cfg, m.metrics);
  REQUIRE(test::run_until(ioc, [&] { return conn->connected(); }));

  std::vector<result> results;
  for (int i = 0; i < 5; ++i) {
    conn->execute({"PING"}, [&](result r) { results.push_back(std::move(r)); });
  }
  std::optional<std::vector<result>> piped;
  conn->pipeline({{"PING"}}, [&](std::vector<result> r) { piped = std::move(r); });
  REQUIRE(test::run_until(ioc, [&] { return results.size() == 5 && piped; }));
  int ok = 0;
  int overloaded = 0;
  for (const auto& r : results) {
    ok += r.ok ? 1 : 0;
    overloaded += !r.ok && r.failure == "overloaded" ? 1 : 0;
  }
  CHECK(ok == 3);
  CHECK(overloaded == 2);
  REQUIRE(piped->size() == 1);
  CHECK((*piped)[0].failure == "overloaded");
  CHECK(m.failures("overloaded") == 3);

  // Once answered, the room is back.
  CHECK(run(ioc, *conn, {"PING"}).ok);
  conn->close();
}

TEST_CASE("a command without a reply in time fails with timed out and the connection recovers") {
  metrics_fixture m;
  boost::asio::io_context ioc;
  test::private_redis server{"timeout"};
  auto cfg = test::test_connection_config(server.url());
  cfg.command_timeout = 200ms;
  auto conn = make_hiredis_connection(ioc, cfg, m.metrics);
  std::vector<bool> readies;
  int lost = 0;
  conn->on_ready([&](bool reconnected) { readies.push_back(reconnected); });
  conn->on_lost([&] { ++lost; });
  REQUIRE(test::run_until(ioc, [&] { return conn->connected(); }));
  REQUIRE(readies == std::vector<bool>{false});

  std::optional<result> slow;
  std::optional<result> behind;
  conn->execute({"DEBUG", "SLEEP", "2"}, [&](result r) { slow = std::move(r); });
  conn->execute({"PING"}, [&](result r) { behind = std::move(r); });
  REQUIRE(test::run_until(ioc, [&] { return slow && behind; }));
  CHECK_FALSE(slow->ok);
  CHECK(slow->failure == "timed out");
  CHECK_FALSE(behind->ok);
  CHECK((behind->failure == "timed out" || behind->failure == "connection lost"));
  CHECK(m.failures("timeout") >= 1);
  CHECK(lost == 1);

  // It reconnects by itself once the server answers again.
  REQUIRE(test::run_until(
    ioc, [&] { return readies.size() == 2; }, 15s));
  CHECK(readies[1] == true);
  CHECK(run(ioc, *conn, {"PING"}).value.str == "PONG");
  CHECK(m.metrics->redis_reconnects.value() == 1);
  conn->close();
}

TEST_CASE(
  "a killed server fires on_lost and fails commands fast until a restart makes it ready again") {
  metrics_fixture m;
  boost::asio::io_context ioc;
  test::private_redis server{"outage"};
  auto admin = test::connect(ioc, server.url());
  auto cfg = test::test_connection_config(server.url());
  cfg.command_timeout = 60s; // the in-flight command must fail because of the loss, not a timeout
  auto conn = make_hiredis_connection(ioc, cfg, m.metrics);
  std::vector<bool> readies;
  int lost = 0;
  conn->on_ready([&](bool reconnected) { readies.push_back(reconnected); });
  conn->on_lost([&] { ++lost; });
  REQUIRE(test::run_until(ioc, [&] { return conn->connected(); }));
  CHECK(m.connections("up") == 1);
  CHECK(m.connections("down") == 0);

  // A command in flight (blocked on the server) when the server dies.
  std::optional<result> blocked;
  conn->execute({"BLPOP", "nothing", "0"}, [&](result r) { blocked = std::move(r); });
  REQUIRE(test::run_until(ioc, [&] {
    return info_field(test::sync_command(ioc, *admin, {"INFO", "clients"}).str, "blocked_clients")
           == "1";
  }));
  admin->close();
  server.kill();

  REQUIRE(test::run_until(ioc, [&] { return lost == 1 && blocked.has_value(); }));
  CHECK_FALSE(blocked->ok);
  CHECK(blocked->failure == "connection lost");
  CHECK_FALSE(conn->connected());
  CHECK(m.connections("up") == 0);
  CHECK(m.connections("down") == 1);
  CHECK(m.failures("lost") == 1);
  result down = run(ioc, *conn, {"PING"});
  CHECK(down.failure == "not connected");

  server.start();
  REQUIRE(test::run_until(
    ioc, [&] { return readies.size() == 2; }, 15s));
  CHECK(readies == std::vector<bool>{false, true});
  CHECK(conn->connected());
  CHECK(run(ioc, *conn, {"SET", "k", "v"}).value.str == "OK");
  CHECK(run(ioc, *conn, {"GET", "k"}).value.str == "v");
  CHECK(lost == 1);
  CHECK(m.metrics->redis_reconnects.value() == 1);
  CHECK(m.connections("up") == 1);
  CHECK(m.connections("down") == 0);
  conn->close();
}

TEST_CASE("close fails pending commands with closed and later ones at once") {
  metrics_fixture m;
  boost::asio::io_context ioc;
  auto conn = test::connect(ioc, test::fixture_redis_url(), m.metrics);
  int lost = 0;
  conn->on_lost([&] { ++lost; });
  auto key = test::unique_prefix() + "never";

  std::optional<result> pending;
  conn->execute({"BLPOP", key, "0"}, [&](result r) { pending = std::move(r); });
  conn->close();
  conn->close(); // idempotent
  CHECK_FALSE(conn->connected());
  std::optional<result> later;
  conn->execute({"PING"}, [&](result r) { later = std::move(r); });
  REQUIRE(test::run_until(ioc, [&] { return pending && later; }));
  CHECK_FALSE(pending->ok);
  CHECK(pending->failure == "closed");
  CHECK_FALSE(later->ok);
  CHECK(later->failure == "closed");
  CHECK(m.failures("closed") == 2);
  CHECK(lost == 0);
  CHECK(m.connections("up") == 0);
  CHECK(m.connections("down") == 0);
}

TEST_CASE("destroying a connection without close still answers its pending commands") {
  boost::asio::io_context ioc;
  auto conn = test::connect(ioc, test::fixture_redis_url());
  std::optional<result> pending;
  conn->execute({"BLPOP", test::unique_prefix() + "never", "0"},
                [&](result r) { pending = std::move(r); });
  conn.reset();
  REQUIRE(test::run_until(ioc, [&] { return pending.has_value(); }));
  CHECK(pending->failure == "closed");
}

TEST_CASE("push-style commands are refused instead of breaking the reply order") {
  boost::asio::io_context ioc;
  auto conn = test::connect(ioc, test::fixture_redis_url());
  for (const char* name : {"SUBSCRIBE", "psubscribe", "MONITOR", "HELLO"}) {
    INFO(name);
    result r = run(ioc, *conn, {name, "x"});
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.failure, Catch::StartsWith("unsupported command"));
  }
  CHECK(run(ioc, *conn, {}).failure == "empty command");
  CHECK(run(ioc, *conn, {"PING"}).value.str == "PONG");
  conn->close();
}
