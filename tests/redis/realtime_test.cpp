#include "actors/cache/realtime.hpp"

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
using std::chrono::system_clock;

namespace {

realtime_event event(system_clock::time_point at, std::string bucket, std::string category,
                     double amount, bool alert, std::string from, std::string to) {
  realtime_event e;
  e.at = at;
  e.bucket = std::move(bucket);
  e.category = std::move(category);
  e.amount = amount;
  e.alert = alert;
  e.from_addr = std::move(from);
  e.to_addr = std::move(to);
  return e;
}

// The start of the current minute, minus `minutes_ago` minutes (recent, so that the keys'
// expiry is in the future).
system_clock::time_point minute_start(int minutes_ago) {
  auto now = std::chrono::time_point_cast<std::chrono::minutes>(system_clock::now());
  return system_clock::time_point{now - std::chrono::minutes{minutes_ago}};
}

int64_t unix_seconds(system_clock::time_point tp) {
  return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

bool record(boost::asio::io_context& ioc, realtime_counters& rt,
            const std::vector<realtime_event>& events) {
  std::optional<bool> out;
  rt.record(events, [&](bool ok) { out = ok; });
  REQUIRE(test::run_until(ioc, [&] { return out.has_value(); }));
  return *out;
}

std::optional<realtime_series> query(boost::asio::io_context& ioc, realtime_counters& rt,
                                     unsigned minutes, system_clock::time_point now) {
  std::optional<std::optional<realtime_series>> out;
  rt.query(minutes, now, [&](std::optional<realtime_series> s) { out = std::move(s); });
  REQUIRE(test::run_until(ioc, [&] { return out.has_value(); }));
  return std::move(*out);
}

} // namespace

TEST_CASE("recorded events are read back per minute, with zeros for empty minutes", "[realtime]") {
  boost::asio::io_context ioc;
  auto prefix = test::unique_prefix();
  auto conn = test::connect(ioc, test::fixture_redis_url());
  runtime::metrics::registry reg;
  auto metrics = std::make_shared<cache_metrics>(reg);
  realtime_counters rt{*conn, {}, metrics, prefix};

  auto m1 = minute_start(1);
  auto m0 = m1 - 2min;
  REQUIRE(record(ioc, rt,
                 {
                   event(m0 + 1s, "low", "transfer", 1.5, false, "rA", "rB"),
                   event(m0 + 20s, "low", "transfer", -2.25, true, "rA", "rC"),
                   event(m0 + 59s, "high", "swap", 10, false, "rD", ""),
                   event(m1 + 5s, "medium", "swap", 0.1, false, "rA", "rE"),
                 }));
  REQUIRE(record(ioc, rt, {event(m1 + 30s, "medium", "swap", 0.2, false, "rF", "rE")}));
  CHECK(metrics->realtime_updates.with({"ok"}).value() == 2);

  auto s = query(ioc, rt, 4, m1 + 45s);
  REQUIRE(s);
  CHECK(s->minutes == 4);
  REQUIRE(s->series.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(s->series[i].start == unix_seconds(m0) + (static_cast<int64_t>(i) - 1) * 60);
  }

  const auto& before = s->series[0];
  CHECK(before.transactions == 0);
  CHECK(before.volume == 0);
  CHECK(before.unique_wallets == 0);
  CHECK(before.buckets.empty());

  const auto& first = s->series[1];
  CHECK(first.transactions == 3);
  CHECK(first.alerts == 1);
  CHECK(first.volume == Approx(13.75));
  CHECK(first.buckets == std::map<std::string, uint64_t>{{"low", 2}, {"high", 1}});
  CHECK(first.categories == std::map<std::string, uint64_t>{{"transfer", 2}, {"swap", 1}});
  CHECK(first.unique_wallets == 4);

  const auto& gap = s->series[2];
  CHECK(gap.transactions == 0);
  CHECK(gap.alerts == 0);
  CHECK(gap.unique_wallets == 0);
  CHECK(gap.categories.empty());

  const auto& second = s->series[3];
  CHECK(second.transactions == 2);
  CHECK(second.alerts == 0);
  CHECK(second.volume == Approx(0.3));
  CHECK(second.buckets == std::map<std::string, uint64_t>{{"medium", 2}});
  CHECK(second.categories == std::map<std::string, uint64_t>{{"swap", 2}});
  CHECK(second.unique_wallets == 3);

  CHECK(s->transactions == 5);
  CHECK(s->alerts == 1);
  CHECK(s->volume == Approx(14.05));
  CHECK(s->unique_wallets == 6); // rA counted once over the window

  auto json = to_json(*s);
  CHECK(json.find("\"minutes\":4") != std::string::npos);
  CHECK(json.find("\"totals\":{\"transactions\":5,\"alerts\":1,\"volume\":14.05,"
                  "\"unique_wallets\":6}")
        != std::string::npos);
  CHECK(json.find("\"volume\":0.3,") != std::string::npos); // no float noise
  CHECK(json.find("\"buckets\":{\"high\":1,\"low\":2}") != std::string::npos);

  SECTION("a window reaching past the events starts later") {
    auto last = query(ioc, rt, 1, m1 + 45s);
    REQUIRE(last);
    REQUIRE(last->series.size() == 1);
    CHECK(last->transactions == 2);
    CHECK(last->unique_wallets == 3);
  }
}

TEST_CASE("the counters of a minute expire after the retention", "[realtime]") {
  boost::asio::io_context ioc;
  auto prefix = test::unique_prefix();
  auto conn = test::connect(ioc, test::fixture_redis_url());
  realtime_settings cfg;
  cfg.retention = std::chrono::minutes{30};
  realtime_counters rt{*conn, cfg, nullptr, prefix};
  auto m = minute_start(0);
  REQUIRE(record(ioc, rt, {event(m + 1s, "low", "transfer", 1, false, "rA", "rB")}));

  auto limit = unix_seconds(m) + 60 + 30 * 60 - unix_seconds(system_clock::now()) + 1;
  for (auto key : {prefix + "rt:" + std::to_string(unix_seconds(m)),
                   prefix + "rt:u:" + std::to_string(unix_seconds(m))}) {
    auto ttl = test::sync_command(ioc, *conn, {"TTL", key});
    CHECK(ttl.integer > 0);
    CHECK(ttl.integer <= limit);
  }
}

TEST_CASE("two connections add into the same counters", "[realtime]") {
  boost::asio::io_context ioc;
  auto prefix = test::unique_prefix();
  auto url = test::fixture_redis_url();
  auto conn_a = test::connect(ioc, url);
  auto conn_b = test::connect(ioc, url);
  realtime_counters a{*conn_a, {}, nullptr, prefix};
  realtime_counters b{*conn_b, {}, nullptr, prefix};
  auto m = minute_start(1);
  REQUIRE(record(ioc, a, {event(m + 1s, "low", "transfer", 1, true, "rA", "rB")}));
  REQUIRE(record(ioc, b,
                 {event(m + 2s, "low", "transfer", 2, false, "rB", "rC"),
                  event(m + 3s, "high", "swap", 3, true, "rD", "rA")}));

  auto s = query(ioc, b, 2, m + 10s);
  REQUIRE(s);
  REQUIRE(s->series.size() == 2);
  const auto& minute = s->series[1];
  CHECK(minute.transactions == 3);
  CHECK(minute.alerts == 2);
  CHECK(minute.volume == Approx(6));
  CHECK(minute.buckets == std::map<std::string, uint64_t>{{"low", 2}, {"high", 1}});
  CHECK(minute.unique_wallets == 4);
  CHECK(s->transactions == 3);
}

TEST_CASE("a window is clamped to the retention", "[realtime]") {
  boost::asio::io_context ioc;
  auto conn = test::connect(ioc, test::fixture_redis_url());
  realtime_settings cfg;
  cfg.retention = std::chrono::minutes{5};
  realtime_counters rt{*conn, cfg, nullptr, test::unique_prefix()};
  auto now = system_clock::now();
  auto wide = query(ioc, rt, 1000, now);
  REQUIRE(wide);
  CHECK(wide->minutes == 5);
  CHECK(wide->series.size() == 5);
  auto none = query(ioc, rt, 0, now);
  REQUIRE(none);
  CHECK(none->series.size() == 1);
}

TEST_CASE("without Redis an update is counted as failed and a query has no answer", "[realtime]") {
  boost::asio::io_context ioc;
  auto conn = test::connect(ioc, test::fixture_redis_url());
  runtime::metrics::registry reg;
  auto metrics = std::make_shared<cache_metrics>(reg);
  realtime_counters rt{*conn, {}, metrics, test::unique_prefix()};
  conn->close();

  CHECK_FALSE(record(ioc, rt, {event(system_clock::now(), "low", "x", 1, false, "rA", "")}));
  CHECK(metrics->realtime_updates.with({"failed"}).value() == 1);
  CHECK(metrics->realtime_updates.with({"ok"}).value() == 0);
  CHECK_FALSE(query(ioc, rt, 5, system_clock::now()).has_value());

  // A caller that does not wait for the outcome passes no callback.
  rt.record({event(system_clock::now(), "low", "x", 1, false, "rA", "")}, nullptr);
  REQUIRE(
    test::run_until(ioc, [&] { return metrics->realtime_updates.with({"failed"}).value() == 2; }));
}

TEST_CASE("to_json writes the window, the totals and every minute", "[realtime]") {
  realtime_series s;
  s.minutes = 2;
  realtime_minute a;
  a.start = 1'795'914'120; // 2026-11-29T01:02:00Z
  a.transactions = 2;
  a.alerts = 1;
  a.volume = 0.1 + 0.2;
  a.buckets = {{"low", 2}};
  a.categories = {{"pay\"ment", 2}};
  a.unique_wallets = 3;
  realtime_minute b;
  b.start = a.start + 60;
  s.series = {a, b};
  s.transactions = 2;
  s.alerts = 1;
  s.volume = a.volume;
  s.unique_wallets = 3;
  CHECK(to_json(s)
        == "{\"minutes\":2,\"from\":\"2026-11-29T01:02:00Z\",\"to\":\"2026-11-29T01:04:00Z\","
           "\"totals\":{\"transactions\":2,\"alerts\":1,\"volume\":0.3,\"unique_wallets\":3},"
           "\"series\":["
           "{\"minute\":\"2026-11-29T01:02:00Z\",\"start\":1795914120,\"transactions\":2,"
           "\"alerts\":1,\"volume\":0.3,\"unique_wallets\":3,\"buckets\":{\"low\":2},"
           "\"categories\":{\"pay\\\"ment\":2}},"
           "{\"minute\":\"2026-11-29T01:03:00Z\",\"start\":1795914180,\"transactions\":0,"
           "\"alerts\":0,\"volume\":0,\"unique_wallets\":0,\"buckets\":{},\"categories\":{}}]}");
}
