#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "actors/scoring/rules.hpp"

using namespace klerno::actors;
using model::decimal;
using model::transaction;
using scoring::assess;
using scoring::rules_config;
using strings = std::vector<std::string>;

namespace {

decimal dec(const char* text) {
  auto d = decimal::parse(text);
  REQUIRE(d);
  return *d;
}

transaction tx_of(const char* direction, const char* amount, const char* fee = "0") {
  transaction tx;
  tx.tx_id = "t1";
  tx.direction = direction;
  tx.amount = dec(amount);
  tx.fee = dec(fee);
  return tx;
}

const rules_config defaults{};

} // namespace

TEST_CASE("the base score is 0.10 for a transaction no rule matches") {
  auto a = assess(tx_of("", "5"), defaults);
  CHECK(a.score == 10);
  CHECK(a.flags.empty());
  a = assess(tx_of("sideways", "50000"), defaults);
  CHECK(a.score == 10);
  CHECK(a.flags.empty());
}

TEST_CASE("an outgoing zero amount gets only the outgoing flag") {
  auto a = assess(tx_of("out", "0"), defaults);
  CHECK(a.score == 10);
  CHECK(a.flags == strings{"outgoing"});
}

TEST_CASE("outgoing steps are cumulative with strict thresholds") {
  CHECK(assess(tx_of("out", "0.000001"), defaults).score == 20);
  CHECK(assess(tx_of("out", "100"), defaults).score == 20);
  CHECK(assess(tx_of("out", "100"), defaults).flags == strings{"outgoing"});
  auto a = assess(tx_of("out", "100.000001"), defaults);
  CHECK(a.score == 30);
  CHECK(a.flags == strings{"outgoing", "medium_outgoing"});
  CHECK(assess(tx_of("out", "1000"), defaults).score == 30);
  a = assess(tx_of("out", "1000.000001"), defaults);
  CHECK(a.score == 45);
  CHECK(a.flags == strings{"outgoing", "medium_outgoing", "large_outgoing"});
  CHECK(assess(tx_of("out", "10000"), defaults).score == 45);
  a = assess(tx_of("out", "20000"), defaults);
  CHECK(a.score == 60);
  CHECK(a.flags == strings{"outgoing", "medium_outgoing", "large_outgoing", "very_large_outgoing"});
}

TEST_CASE("0.10 + 0.10 + 0.10 + 0.15 is exactly 0.45 and renders as 0.45") {
  auto tx = tx_of("out", "5000");
  scoring::score_static(tx, defaults);
  CHECK(tx.risk_score == 10 + 10 + 10 + 15);
  CHECK(tx.risk_score == 45);
  CHECK(model::format_score(tx.risk_score) == "0.45");
  CHECK(tx.risk_bucket == "medium");
}

TEST_CASE("outgoing magnitude uses the absolute amount of a negative debit") {
  auto a = assess(tx_of("debit", "-1500"), defaults);
  CHECK(a.score == 45);
  CHECK(a.flags == strings{"outgoing", "medium_outgoing", "large_outgoing"});
}

TEST_CASE("directions match ignoring case and surrounding whitespace") {
  for (const char* d : {"out", "OUT", " Outgoing ", "debit", "\tDEBIT\n"}) {
    INFO(d);
    CHECK(scoring::is_outgoing(d));
    CHECK(assess(tx_of(d, "1"), defaults).flags == strings{"outgoing"});
  }
  for (const char* d : {"in", "IN", " incoming", "Credit "}) {
    INFO(d);
    CHECK(scoring::is_incoming(d));
    auto a = assess(tx_of(d, "50000"), defaults);
    CHECK(a.score == 5);
    CHECK(a.flags == strings{"incoming"});
  }
  CHECK_FALSE(scoring::is_outgoing("o u t"));
  CHECK_FALSE(scoring::is_outgoing("outbound"));
  CHECK_FALSE(scoring::is_incoming("inn"));
}

TEST_CASE("a positive fee adds 0.05 and the ratio steps fire strictly above 0.01 and 0.05") {
  auto a = assess(tx_of("", "100", "0.5"), defaults);
  CHECK(a.score == 15);
  CHECK(a.flags == strings{"fee_present"});
  a = assess(tx_of("", "100", "1"), defaults); // exactly 0.01
  CHECK(a.score == 15);
  CHECK(a.flags == strings{"fee_present"});
  a = assess(tx_of("", "100", "1.000001"), defaults);
  CHECK(a.score == 20);
  CHECK(a.flags == strings{"fee_present", "high_fee_ratio"});
  a = assess(tx_of("", "100", "5"), defaults); // exactly 0.05
  CHECK(a.score == 20);
  CHECK(a.flags == strings{"fee_present", "high_fee_ratio"});
  a = assess(tx_of("", "100", "5.000001"), defaults);
  CHECK(a.score == 30);
  CHECK(a.flags == strings{"fee_present", "high_fee_ratio", "very_high_fee_ratio"});
  a = assess(tx_of("", "-100", "10"), defaults); // ratio 0.1, negative amount
  CHECK(a.score == 10 + 5 + 5 + 10);
}

TEST_CASE("no fee ratio is taken for a zero amount and a zero fee adds nothing") {
  auto a = assess(tx_of("", "0", "3"), defaults);
  CHECK(a.score == 15);
  CHECK(a.flags == strings{"fee_present"});
  a = assess(tx_of("", "100", "0"), defaults);
  CHECK(a.score == 10);
  CHECK(a.flags.empty());
}

TEST_CASE("suspicious memo words add 0.20 plus 0.05 per distinct word") {
  auto tx = tx_of("", "1");
  tx.memo = "  Totally not a SCAM  ";
  auto a = assess(tx, defaults);
  CHECK(a.score == 10 + 20 + 5);
  CHECK(a.flags == strings{"suspicious_memo"});
  tx.memo = "scam scam scam";
  CHECK(assess(tx, defaults).score == 35);
  tx.memo = "phishing via tornado mixer, darknet";
  a = assess(tx, defaults);
  CHECK(a.score == 10 + 20 + 4 * 5);
  CHECK(a.flags == strings{"suspicious_memo"});
  tx.memo = "hackathon prize"; // substring match, as in Klerno
  CHECK(assess(tx, defaults).score == 35);
  tx.memo = "rent for march";
  CHECK(assess(tx, defaults).flags.empty());
}

TEST_CASE("the suspicious word list is configurable") {
  rules_config config;
  config.suspicious_words = {"Casino", "casino", ""};
  auto tx = tx_of("", "1");
  tx.memo = "online CASINO scam";
  auto a = assess(tx, config);
  CHECK(a.score == 10 + 20 + 5); // "scam" is no longer listed; duplicates count once
  CHECK(a.flags == strings{"suspicious_memo"});
  config.suspicious_words.clear();
  CHECK(assess(tx, config).flags.empty());
}

TEST_CASE("a sanctioned or mixer tag adds 0.20 once, ignoring case and whitespace") {
  auto tx = tx_of("", "1");
  tx.tags = {"exchange", " Sanctioned "};
  auto a = assess(tx, defaults);
  CHECK(a.score == 30);
  CHECK(a.flags == strings{"sanctioned_or_mixer"});
  tx.tags = {"MIXER", "sanctioned", "mixer"};
  a = assess(tx, defaults);
  CHECK(a.score == 30);
  CHECK(a.flags == strings{"sanctioned_or_mixer"});
  tx.tags = {"sanctioned-list", "mixers", "not sanctioned"};
  CHECK(assess(tx, defaults).flags.empty());
}

TEST_CASE("an internal transfer subtracts 0.25 and clamps at 0") {
  auto tx = tx_of("in", "1");
  tx.is_internal = true;
  auto a = assess(tx, defaults);
  CHECK(a.score == 10 - 5 - 25);
  CHECK(a.flags == strings{"incoming", "internal_transfer"});
  scoring::apply(tx, a);
  CHECK(tx.risk_score == 0);
  CHECK(tx.risk_bucket == "low");
  CHECK(tx.risk_flags == strings{"incoming", "internal_transfer"});
}

TEST_CASE("the score clamps at 1.00 and flags keep the table order") {
  auto tx = tx_of(" OUT ", "50000", "5000");
  tx.memo = "scam phish hack fraud ransom";
  tx.tags = {"mixer"};
  auto a = assess(tx, defaults);
  CHECK(a.score == 60 + 5 + 5 + 10 + 20 + 25 + 20);
  CHECK(a.flags
        == strings{"outgoing", "medium_outgoing", "large_outgoing", "very_large_outgoing",
                   "fee_present", "high_fee_ratio", "very_high_fee_ratio", "suspicious_memo",
                   "sanctioned_or_mixer"});
  scoring::apply(tx, a);
  CHECK(tx.risk_score == 100);
  CHECK(model::format_score(tx.risk_score) == "1.00");
  CHECK(tx.risk_bucket == "high");
}

TEST_CASE("buckets follow the clamped score at the 0.33 and 0.66 edges") {
  transaction tx;
  scoring::apply(tx, {32, {}});
  CHECK(tx.risk_bucket == "low");
  scoring::apply(tx, {33, {}});
  CHECK(tx.risk_bucket == "medium");
  scoring::apply(tx, {65, {}});
  CHECK(tx.risk_bucket == "medium");
  scoring::apply(tx, {66, {}});
  CHECK(tx.risk_bucket == "high");
  // Reached through the rules: out 1000.5 (0.45) + fee ratio > 0.05 (0.05 + 0.05 + 0.10) = 0.65.
  auto t = tx_of("out", "1000.5", "60");
  scoring::score_static(t, defaults);
  CHECK(t.risk_score == 65);
  CHECK(t.risk_bucket == "medium");
  // out 200 (0.30) + fee 3 (ratio 0.015: 0.05 + 0.05) = 0.40; minus internal 0.25 = 0.15.
  t = tx_of("out", "200", "3");
  t.is_internal = true;
  scoring::score_static(t, defaults);
  CHECK(t.risk_score == 15);
}

TEST_CASE("merge adds scores and appends flags") {
  scoring::assessment a{45, {"outgoing"}};
  scoring::merge(a, {15, {"high_velocity"}});
  CHECK(a.score == 60);
  CHECK(a.flags == strings{"outgoing", "high_velocity"});
}

TEST_CASE("categories match whole words in memo, notes and tags") {
  const scoring::category_keywords k;
  auto tx = tx_of("in", "1");
  tx.memo = "monthly SALARY";
  CHECK(scoring::categorize(tx, k) == "income");
  tx.memo = "feed the cat";
  CHECK(scoring::categorize(tx, k) == "unknown");
  tx.memo = "network-fee";
  CHECK(scoring::categorize(tx, k) == "fee");
  tx.memo = "";
  tx.notes = "token swap";
  CHECK(scoring::categorize(tx, k) == "trade");
  tx.notes = "";
  tx.tags = {"internal", "Transfer"};
  CHECK(scoring::categorize(tx, k) == "transfer");
  tx.tags = {"transferred"};
  CHECK(scoring::categorize(tx, k) == "unknown");
}

TEST_CASE("category priority is fee, trade, income, transfer") {
  const scoring::category_keywords k;
  auto tx = tx_of("out", "1");
  tx.memo = "send salary after the swap, gas included";
  CHECK(scoring::categorize(tx, k) == "fee");
  tx.memo = "send salary after the swap";
  CHECK(scoring::categorize(tx, k) == "trade");
  tx.memo = "send salary";
  CHECK(scoring::categorize(tx, k) == "income");
  tx.memo = "send it";
  CHECK(scoring::categorize(tx, k) == "transfer");
}

TEST_CASE("without a keyword an outgoing transaction is an expense, anything else unknown") {
  const scoring::category_keywords k;
  CHECK(scoring::categorize(tx_of("out", "1"), k) == "expense");
  CHECK(scoring::categorize(tx_of(" Debit", "1"), k) == "expense");
  CHECK(scoring::categorize(tx_of("in", "1"), k) == "unknown");
  CHECK(scoring::categorize(tx_of("", "1"), k) == "unknown");
}

TEST_CASE("category keywords are configurable") {
  scoring::category_keywords k;
  k.income = {"Dividend"};
  k.fee = {};
  auto tx = tx_of("in", "1");
  tx.memo = "dividend and fee";
  CHECK(scoring::categorize(tx, k) == "income");
  tx.memo = "salary";
  CHECK(scoring::categorize(tx, k) == "unknown");
  rules_config config;
  config.categories.trade = {"otc"};
  auto t = tx_of("in", "1");
  t.notes = "OTC desk";
  scoring::score_static(t, config);
  CHECK(t.category == "trade");
}

TEST_CASE("score_static sets category, score, flags and bucket") {
  auto tx = tx_of("out", "150", "0.1");
  tx.memo = "exchange deposit";
  scoring::score_static(tx, defaults);
  CHECK(tx.category == "trade");
  CHECK(tx.risk_score == 35);
  CHECK(tx.risk_flags == strings{"outgoing", "medium_outgoing", "fee_present"});
  CHECK(tx.risk_bucket == "medium");
}
