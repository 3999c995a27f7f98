#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "actors/scoring/signals.hpp"

using namespace klerno::actors;
using namespace std::chrono_literals;
using model::decimal;
using model::timestamp;
using model::transaction;
using scoring::history_entry;
using scoring::signal_config;
using scoring::wallet_history;
using strings = std::vector<std::string>;

namespace {

const timestamp t0 = timestamp(std::chrono::hours(24 * 365 * 50));

decimal dec(const char* text) {
  auto d = decimal::parse(text);
  REQUIRE(d);
  return *d;
}

history_entry entry(std::string id, timestamp t, const char* amount, std::string to = "rDest") {
  return {std::move(id), t, dec(amount), std::move(to)};
}

transaction tx_at(std::string id, timestamp t, const char* amount, std::string to = "rDest") {
  transaction tx;
  tx.tx_id = std::move(id);
  tx.time = t;
  tx.amount = dec(amount);
  tx.to_addr = std::move(to);
  tx.direction = "out";
  return tx;
}

} // namespace

TEST_CASE("signal_config has the documented defaults") {
  signal_config c;
  CHECK(c.velocity_max_tx == 10);
  CHECK(c.velocity_window == std::chrono::hours(1));
  CHECK(c.structuring_min_recipients == 3);
  CHECK(c.structuring_window == std::chrono::hours(24));
  CHECK(c.anomaly_factor == 10);
  CHECK(c.anomaly_min_history == 5);
  CHECK(c.history_max == 256);
}

TEST_CASE("velocity fires above velocity_max_tx transactions in the window, this one included") {
  signal_config c;
  wallet_history h;
  // 9 earlier transactions + this one = 10: not more than 10.
  for (int i = 0; i < 9; ++i) {
    h.add(entry("e" + std::to_string(i), t0 - std::chrono::minutes(5 * i),
                std::to_string(i + 1).c_str(), "r" + std::to_string(i)));
  }
  auto tx = tx_at("new", t0, "3", "rX");
  CHECK(scoring::evaluate(h, tx, c).flags.empty());
  // An 11th, exactly at the window's edge (one hour before), counts.
  h.add(entry("edge", t0 - 1h, "2", "rY"));
  auto a = scoring::evaluate(h, tx, c);
  CHECK(a.flags == strings{"high_velocity"});
  CHECK(a.score == 15);
}

TEST_CASE("velocity ignores entries outside the window, later ones and the transaction itself") {
  signal_config c;
  c.velocity_max_tx = 2;
  wallet_history h;
  h.add(entry("old", t0 - 1h - 1us, "1"));
  h.add(entry("later", t0 + 1s, "1"));
  h.add(entry("self", t0, "1"));
  auto tx = tx_at("self", t0, "1");
  CHECK(scoring::evaluate(h, tx, c).score == 0);
  h.add(entry("recent", t0 - 10min, "1"));
  h.add(entry("recent2", t0 - 20min, "1"));
  CHECK(scoring::evaluate(h, tx, c).flags == strings{"high_velocity"});
}

TEST_CASE("structuring fires for the same amount to three distinct recipients in the window") {
  signal_config c;
  wallet_history h;
  h.add(entry("a", t0 - 2h, "9500", "rA"));
  auto tx = tx_at("c", t0, "9500", "rC");
  CHECK(scoring::evaluate(h, tx, c).flags.empty()); // 2 recipients
  h.add(entry("b", t0 - 23h, "9500", "rB"));
  auto a = scoring::evaluate(h, tx, c);
  CHECK(a.flags == strings{"structuring"});
  CHECK(a.score == 20);
}

TEST_CASE("structuring needs distinct recipients, the same amount and the window") {
  signal_config c;
  wallet_history h;
  h.add(entry("a", t0 - 1h, "9500", "rA"));
  h.add(entry("a2", t0 - 2h, "9500", "rA"));       // same recipient again
  h.add(entry("b", t0 - 24h - 1s, "9500", "rB"));  // outside the window
  h.add(entry("d", t0 - 1h, "9500.000001", "rD")); // another amount
  h.add(entry("e", t0 - 1h, "9500", ""));          // no recipient
  auto tx = tx_at("c", t0, "9500", "rC");
  CHECK(scoring::evaluate(h, tx, c).flags.empty());
  h.add(entry("b2", t0 - 24h, "-9500", "rB")); // at the window's edge, same magnitude
  CHECK(scoring::evaluate(h, tx, c).flags == strings{"structuring"});
  c.structuring_min_recipients = 4;
  CHECK(scoring::evaluate(h, tx, c).flags.empty());
}

TEST_CASE("anomaly fires above factor times the median once the history is long enough") {
  signal_config c;
  wallet_history h;
  for (int i = 0; i < 4; ++i) {
    h.add(entry("e" + std::to_string(i), t0 - std::chrono::hours(10 + i), "100",
                "r" + std::to_string(i)));
  }
  auto tx = tx_at("big", t0, "5000", "rZ");
  CHECK(scoring::evaluate(h, tx, c).flags.empty()); // 4 < anomaly_min_history
  h.add(entry("e4", t0 - 20h, "100", "r4"));
  auto a = scoring::evaluate(h, tx, c);
  CHECK(a.flags == strings{"amount_anomaly"});
  CHECK(a.score == 15);
  // Exactly 10 x the median does not fire.
  CHECK(scoring::evaluate(h, tx_at("ten", t0, "1000", "rZ"), c).flags.empty());
  CHECK(scoring::evaluate(h, tx_at("ten", t0, "1000.000001", "rZ"), c).flags
        == strings{"amount_anomaly"});
  CHECK(scoring::evaluate(h, tx_at("neg", t0, "-1000.000001", "rZ"), c).flags
        == strings{"amount_anomaly"});
}

TEST_CASE("anomaly leaves the transaction's own entry out of the history") {
  signal_config c;
  wallet_history h;
  const char* amounts[] = {"1", "1", "1", "100", "100", "100"};
  for (int i = 0; i < 6; ++i) {
    h.add(entry("e" + std::to_string(i), t0 - std::chrono::hours(10 + i), amounts[i],
                "r" + std::to_string(i)));
  }
  // The median of the others is (1 + 100) / 2 = 50.5, and 600 > 505. Counting the transaction
  // itself would make the median 100 and hide the anomaly.
  auto tx = tx_at("big", t0, "600", "rZ");
  CHECK(scoring::evaluate(h, tx, c).flags == strings{"amount_anomaly"});
  h.add(scoring::entry_of(tx));
  CHECK(h.size() == 7);
  CHECK(*h.median_abs_amount() == dec("100"));
  CHECK(scoring::evaluate(h, tx, c).flags == strings{"amount_anomaly"});
  c.anomaly_min_history = 7; // only 6 entries besides the transaction itself
  CHECK(scoring::evaluate(h, tx, c).flags.empty());
}

TEST_CASE("the median is exact for odd and even counts") {
  wallet_history h;
  CHECK_FALSE(h.median_abs_amount());
  h.add(entry("a", t0, "5"));
  CHECK(*h.median_abs_amount() == dec("5"));
  h.add(entry("b", t0 + 1s, "-1"));
  CHECK(*h.median_abs_amount() == dec("3"));
  h.add(entry("c", t0 + 2s, "100"));
  CHECK(*h.median_abs_amount() == dec("5"));
  h.add(entry("d", t0 - 1s, "2"));
  CHECK(*h.median_abs_amount() == dec("3.5")); // 1, 2, 5, 100
  h.add(entry("e", t0 - 2s, "0.000000000000000001"));
  h.add(entry("f", t0 - 3s, "0.000000000000000002"));
  // 1e-18, 2e-18, 1, 2, 5, 100
  CHECK(*h.median_abs_amount() == dec("1.5"));
  // Even count: |x| > 10 x 3.5 is checked without rounding the mean.
  wallet_history g;
  g.add(entry("a", t0, "0.000000000000000001"));
  g.add(entry("b", t0, "0.000000000000000002"));
  CHECK(g.median_abs_amount()->units() == 1); // 1.5e-18 rounded toward zero
  CHECK_FALSE(g.exceeds_median(dec("0.000000000000000015"), 10));
  CHECK(g.exceeds_median(dec("0.000000000000000016"), 10));
}

TEST_CASE("the history is bounded and drops the oldest entry") {
  wallet_history h(3);
  CHECK(h.max_size() == 3);
  CHECK(h.add(entry("b", t0 + 2s, "2")));
  CHECK(h.add(entry("a", t0 + 1s, "1")));
  CHECK(h.add(entry("c", t0 + 3s, "3")));
  CHECK(h.add(entry("d", t0 + 4s, "4")));
  CHECK(h.size() == 3);
  CHECK_FALSE(h.contains("a"));
  CHECK(h.contains("b"));
  CHECK(h.entries().front().tx_id == "b");
  CHECK(h.entries().back().tx_id == "d");
  CHECK(*h.median_abs_amount() == dec("3"));
  // An entry older than everything in a full history is dropped at once.
  CHECK(h.add(entry("z", t0, "1000")));
  CHECK_FALSE(h.contains("z"));
  CHECK(*h.median_abs_amount() == dec("3"));
}

TEST_CASE("the history refuses duplicates and removes entries by tx_id") {
  wallet_history h;
  CHECK(h.add(entry("a", t0, "1")));
  CHECK_FALSE(h.add(entry("a", t0 + 1s, "99")));
  CHECK(h.size() == 1);
  CHECK(h.add(entry("b", t0, "7")));
  CHECK(h.remove("a"));
  CHECK_FALSE(h.remove("a"));
  CHECK_FALSE(h.contains("a"));
  CHECK(*h.median_abs_amount() == dec("7"));
  CHECK(h.remove("b"));
  CHECK(h.empty());
  CHECK_FALSE(h.median_abs_amount());
}

TEST_CASE("signals add to the static score before the clamp") {
  scoring::rules_config rules;
  signal_config c;
  c.velocity_max_tx = 1;
  wallet_history h;
  h.add(entry("prev", t0 - 1min, "5"));
  auto tx = tx_at("now", t0, "5");
  tx.direction = "in";
  tx.is_internal = true;
  auto a = scoring::assess(tx, rules); // 10 - 5 - 25 = -20
  scoring::merge(a, scoring::evaluate(h, tx, c));
  CHECK(a.score == -5);
  CHECK(a.flags == strings{"incoming", "internal_transfer", "high_velocity"});
  scoring::apply(tx, a);
  CHECK(tx.risk_score == 0);
  CHECK(tx.risk_bucket == "low");
}

TEST_CASE("all three signals fire together in their order") {
  signal_config c;
  c.velocity_max_tx = 5;
  wallet_history h;
  for (int i = 0; i < 5; ++i) {
    h.add(entry("e" + std::to_string(i), t0 - std::chrono::minutes(i + 1), "700",
                "r" + std::to_string(i)));
  }
  auto a = scoring::evaluate(h, tx_at("now", t0, "70000", "rZ"), c);
  CHECK(a.flags == strings{"high_velocity", "amount_anomaly"});
  a = scoring::evaluate(h, tx_at("now", t0, "700", "rZ"), c);
  CHECK(a.flags == strings{"high_velocity", "structuring"});
  CHECK(a.score == 35);
}
