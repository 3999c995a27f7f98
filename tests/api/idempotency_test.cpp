// Storing is idempotent on tx_id: a repeated POST answers 200 with the row stored first, one row
// exists, and an alert is raised once per tx_id (klerno_alerts_raised_total).

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/api/api_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using nlohmann::json;

namespace {

const std::string alerts_series = "klerno_alerts_raised_total";
const std::string duplicates_series = "klerno_transactions_duplicate_total";
const std::string stored_series = "klerno_transactions_stored_total";

/// Counts the CSV lines of the export of `wallet` that start with `tx_id,`.
int export_occurrences(const test_node& node, const std::string& wallet, const std::string& tx_id) {
  auto res = api_request(node, "GET", "/export/csv?wallet=" + wallet);
  REQUIRE(res.status == 200);
  int n = 0;
  std::size_t pos = 0;
  while (pos < res.body.size()) {
    auto eol = res.body.find("\r\n", pos);
    if (eol == std::string::npos) {
      break;
    }
    if (res.body.compare(pos, tx_id.size() + 1, tx_id + ",") == 0) {
      ++n;
    }
    pos = eol + 2;
  }
  return n;
}

} // namespace

TEST_CASE("a repeated tx_id answers 200 with the first stored row and stores one row", "[api]") {
  auto pg = shared_pg();
  // No replica: lists and exports read the primary, so they see the writes at once.
  test_node node{db_settings(pg.primary_url)};
  const auto wallet = unique_id("rIdem");
  auto first = make_tx("api-idem", wallet, "rTo1", 150);
  first["fee"] = 2;
  first["memo"] = "first attempt";
  first["timestamp"] = "2026-03-01T12:00:00Z";
  auto second = first;
  second["amount"] = 99999;
  const auto other_recipient = unique_id("rTo2");
  second["to_addr"] = other_recipient;
  second["memo"] = "scam retry with other fields";
  second["timestamp"] = "2026-03-02T12:00:00Z";
  const auto tx_id = first["tx_id"].get<std::string>();

  auto created = post(node, "/transactions", first);
  auto stored = require_status_json(created, 201);
  auto again = post(node, "/transactions", second);
  auto repeated = require_status_json(again, 200);
  CHECK(repeated == stored);
  CHECK(repeated["amount"] == 150);
  CHECK(repeated["to_addr"] == "rTo1");
  CHECK(repeated["memo"] == "first attempt");
  CHECK(repeated["timestamp"] == "2026-03-01T12:00:00Z");
  CHECK(again.header("Location") == created.header("Location"));

  auto by_id = require_status_json(get(node, "/transactions/" + tx_id), 200);
  CHECK(by_id == stored);
  auto page = require_status_json(get(node, "/transactions?wallet=" + wallet), 200);
  REQUIRE(page["items"].size() == 1);
  CHECK(page["items"][0] == stored);
  // The second attempt's recipient never received it.
  auto other = require_status_json(get(node, "/transactions?wallet=" + other_recipient), 200);
  for (const auto& it : other["items"]) {
    CHECK(it["tx_id"] != tx_id);
  }
  CHECK(export_occurrences(node, wallet, tx_id) == 1);

  // In a batch, a repeat is a 200 item and counted as a duplicate.
  auto batch = require_status_json(post(node, "/transactions/batch", json::array({second})), 200);
  CHECK(batch["items"][0]["status"] == 200);
  CHECK(batch["items"][0]["transaction"] == stored);
  CHECK(batch["summary"]["stored"] == 0);
  CHECK(batch["summary"]["duplicates"] == 1);
  CHECK(export_occurrences(node, wallet, tx_id) == 1);
}

TEST_CASE("a high-risk transaction stored twice raises one alert", "[api]") {
  auto pg = shared_pg();
  test_node node{db_settings(pg.primary_url)};
  const auto wallet = unique_id("rAlert");
  auto tx = make_tx("api-alert", wallet, "rMixer", 20000);
  tx["memo"] = "ransom";
  tx["tags"] = {"sanctioned"};
  const auto alerts_before = metric(node, alerts_series);
  const auto stored_before = metric(node, stored_series);
  const auto duplicates_before = metric(node, duplicates_series);

  auto first = require_status_json(post(node, "/transactions", tx), 201);
  CHECK(first["risk_score"].get<double>() >= 0.75); // RISK_THRESHOLD
  CHECK(first["risk_bucket"] == "high");
  auto second = require_status_json(post(node, "/transactions", tx), 200);
  CHECK(second == first);

  // Counted before each answer is sent; polled all the same (no assumption on the order).
  bool counted = poll_until(
    [&] {
      return metric(node, duplicates_series) >= duplicates_before + 1
             && metric(node, alerts_series) >= alerts_before + 1;
    },
    10s);
  CHECK(counted);
  CHECK(metric(node, alerts_series) == alerts_before + 1);
  CHECK(metric(node, stored_series) == stored_before + 1);
  CHECK(metric(node, duplicates_series) == duplicates_before + 1);
}

TEST_CASE("concurrent stores of one tx_id create exactly one row", "[api]") {
  auto pg = shared_pg();
  test_node node{db_settings(pg.primary_url, {}, {{"WORKERS", "4"}})};
  const auto tx_id = unique_id("api-race");
  const auto same_sender = unique_id("rRaceSame");
  const auto recipient = unique_id("rRaceTo");
  // Half the attempts come from one wallet (one wallet actor), half from others (several actors
  // racing in the database): exactly one INSERT wins either way.
  constexpr int attempts = 12;
  std::vector<json> bodies;
  for (int i = 0; i < attempts; ++i) {
    auto tx =
      make_tx("unused", i % 2 == 0 ? same_sender : unique_id("rRaceOther"), recipient, 100 + i);
    tx["tx_id"] = tx_id;
    bodies.push_back(tx);
  }
  std::vector<http_response> answers(attempts);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < attempts; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) {
        std::this_thread::yield();
      }
      try {
        answers[static_cast<std::size_t>(i)] = post(node, "/transactions", bodies[i]);
      } catch (const std::exception&) {
        // status stays 0: reported below
      }
    });
  }
  go = true;
  for (auto& t : threads) {
    t.join();
  }
  int created = 0;
  json row;
  for (const auto& a : answers) {
    INFO("status " << a.status << ": " << a.body);
    REQUIRE((a.status == 201 || a.status == 200));
    created += a.status == 201 ? 1 : 0;
    auto j = json::parse(a.body);
    if (row.is_null()) {
      row = j;
    }
    CHECK(j == row);
  }
  CHECK(created == 1);
  CHECK(require_status_json(get(node, "/transactions/" + tx_id), 200) == row);
  auto page = require_status_json(get(node, "/transactions?wallet=" + recipient), 200);
  int seen = 0;
  for (const auto& it : page["items"]) {
    seen += it["tx_id"] == tx_id ? 1 : 0;
  }
  CHECK(seen == 1);
}
