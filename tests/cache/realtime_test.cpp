// Real-time analytics on real nodes sharing one Redis: the per-minute counters that every store
// updates add up to exactly what was stored through both nodes (single stores and a batch),
// counting repeated tx_ids once.

#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/cache/cache_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using namespace klerno::test::cache_tests;
using nlohmann::json;

namespace {

/// What the API answered for the rows it stored.
struct stored_rows {
  std::set<std::string> ids;
  std::set<std::string> wallets;
  std::map<std::string, uint64_t> buckets;
  std::map<std::string, uint64_t> categories;
  uint64_t alerts = 0;
  double volume = 0;

  void add(const json& row) {
    INFO(row.dump());
    REQUIRE(ids.insert(row["tx_id"].get<std::string>()).second);
    wallets.insert(row["from_addr"].get<std::string>());
    wallets.insert(row["to_addr"].get<std::string>());
    ++buckets[row["risk_bucket"].get<std::string>()];
    ++categories[row["category"].get<std::string>()];
    alerts += row["risk_score"].get<double>() >= 0.75 ? 1 : 0;
    volume += std::stod(row["amount"].is_string() ? row["amount"].get<std::string>()
                                                  : row["amount"].dump());
  }
};

std::map<std::string, uint64_t> sum_counts(const json& series, const std::string& field) {
  std::map<std::string, uint64_t> sums;
  for (const auto& minute : series) {
    for (const auto& [name, n] : minute[field].items()) {
      if (n.get<uint64_t>() != 0) {
        sums[name] += n.get<uint64_t>();
      }
    }
  }
  return sums;
}

} // namespace

TEST_CASE("the real-time counters add up to the transactions stored through every node",
          "[cache][realtime]") {
  scratch_database db;
  const auto redis = shared_redis_url();
  const auto prefix = unique_prefix();
  test_node a{cache_settings(db.primary_url(), {}, redis, prefix)};
  test_node b{cache_settings(db.primary_url(), {}, redis, prefix)};

  // Fixed addresses: the unique-wallet count is a HyperLogLog estimate, exact for these few
  // (the keys of this test's prefix and its database hold nothing else).
  const std::vector<std::string> wallets = {"rRtAlpha", "rRtBravo",   "rRtCharlie", "rRtDelta",
                                            "rRtEcho",  "rRtFoxtrot", "rRtGolf"};
  stored_rows rows;
  std::vector<json> inputs;
  auto store = [&](const test_node& node, const json& tx) {
    auto out = require_status_json(post(node, "/transactions", tx), 201);
    rows.add(out);
    inputs.push_back(tx);
  };

  // Low, medium and high risk, several categories, some alerts, through both nodes.
  store(a, make_tx("cache-rt", wallets[0], wallets[1], 5));
  auto fee = make_tx("cache-rt", wallets[1], wallets[2], 3);
  fee["memo"] = "network fee";
  store(b, fee);
  auto trade = make_tx("cache-rt", wallets[2], wallets[3], 2000);
  trade["memo"] = "trade settlement";
  store(a, trade);
  store(b, make_alert_tx("cache-rt", wallets[3], wallets[4]));
  store(a, make_alert_tx("cache-rt", wallets[0], wallets[4]));
  auto incoming = make_tx("cache-rt", wallets[4], wallets[0], 70);
  incoming["direction"] = "in";
  store(b, incoming);

  // A batch through B: two new rows and a repeat of a row stored before.
  json batch = json::array({make_tx("cache-rt", wallets[5], wallets[6], 11),
                            make_alert_tx("cache-rt", wallets[6], wallets[1]), inputs[0]});
  auto out = require_status_json(post(b, "/transactions/batch", batch), 200);
  INFO(out.dump());
  REQUIRE(out["items"].size() == 3);
  CHECK(out["summary"]["stored"] == 2);
  CHECK(out["summary"]["duplicates"] == 1);
  for (std::size_t i = 0; i < 2; ++i) {
    REQUIRE(out["items"][i]["status"] == 201);
    rows.add(out["items"][i]["transaction"]);
  }
  CHECK(out["items"][2]["status"] == 200);

  // Repeats answer 200 and must not count again, on either node.
  for (const auto& tx : {inputs[1], inputs[3]}) {
    CHECK(post(a, "/transactions", tx).status == 200);
    CHECK(post(b, "/transactions", tx).status == 200);
  }

  REQUIRE(rows.alerts == 3);
  REQUIRE(rows.buckets.size() >= 2);
  REQUIRE(rows.categories.size() >= 3);
  for (const test_node* node : {&a, &b}) {
    INFO("node " << (node == &a ? "A" : "B"));
    auto rt = require_status_json(get(*node, "/analytics/realtime?minutes=5"), 200);
    INFO(rt.dump());
    CHECK(rt["minutes"] == 5);
    REQUIRE(rt["series"].size() == 5);
    const auto& totals = rt["totals"];
    CHECK(totals["transactions"] == rows.ids.size());
    CHECK(totals["alerts"] == rows.alerts);
    CHECK(totals["unique_wallets"] == rows.wallets.size());
    CHECK(totals["volume"].get<double>() == Approx(rows.volume));
    CHECK(sum_counts(rt["series"], "buckets") == rows.buckets);
    CHECK(sum_counts(rt["series"], "categories") == rows.categories);
    uint64_t per_minute = 0;
    for (const auto& m : rt["series"]) {
      per_minute += m["transactions"].get<uint64_t>();
    }
    CHECK(per_minute == rows.ids.size());
  }
}
