// Wallet placement and what crosses nodes (real nodes, loopback, a scratch database each): a
// wallet's writes land on one owner whichever node receives them; an alert raised on one node
// reaches a WebSocket client of another; edge and worker roles split the API from the wallets.

#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cluster/ring.hpp"
#include "tests/cluster/cluster_support.hpp"
#include "tests/support/ws_client.hpp"

using namespace klerno::test;
using namespace klerno::test::cluster_tests;
using nlohmann::json;

namespace {

const header_list key_header{{"X-API-Key", test_api_key}};

/// An alert-worthy transaction (risk 1.00).
json high_tx(const std::string& from, const std::string& to) {
  return api::make_alert_tx("cl-high", from, to);
}

json read_json(ws_client& ws, std::chrono::milliseconds timeout = 10s) {
  auto text = ws.read(timeout);
  INFO("frame: " << text);
  auto j = json::parse(text, nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

/// Returns a fresh wallet that `entry` reports as owned by `owner` (probing with quiet
/// transactions; a wallet is owned by each of N nodes with probability about 1/N).
std::string wallet_owned_by(const member& entry, const std::string& owner) {
  for (int i = 0; i < 200; ++i) {
    auto w = api::unique_id("rOwnedBy" + owner);
    if (owners_of(entry, {w}).at(w) == owner) {
      return w;
    }
  }
  FAIL("no wallet owned by " << owner << " in 200 tries");
  return {};
}

} // namespace

TEST_CASE("a wallet's writes land on one owner whichever node receives them", "[cluster]") {
  test_cluster c;
  c.start_all({"n1", "n2", "n3"});
  const auto wallets = make_wallets("rRouted", 20);
  std::set<std::string> owners_seen;
  for (const auto& w : wallets) {
    std::map<std::string, std::string> owner_by_entry;
    for (auto* entry : c.members()) {
      auto r = store(*entry, quiet_tx("routed", w));
      INFO("wallet " << w << " through " << entry->name() << ": " << r.status << " " << r.error);
      REQUIRE(r.status == 201);
      owner_by_entry[entry->name()] = r.owner;
    }
    INFO("wallet " << w);
    CHECK(owner_by_entry["n1"] == owner_by_entry["n2"]);
    CHECK(owner_by_entry["n1"] == owner_by_entry["n3"]);
    CHECK(std::set<std::string>{"n1", "n2", "n3"}.count(owner_by_entry["n1"]) == 1);
    owners_seen.insert(owner_by_entry["n1"]);
  }
  CHECK(owners_seen.size() > 1);

  // The same tx_id through another node is the same stored row (200), from the same owner.
  auto tx = quiet_tx("routed-again", wallets.front());
  auto first = store(c.at("n1"), tx);
  REQUIRE(first.status == 201);
  auto again = store(c.at("n3"), tx);
  CHECK(again.status == 200);
  CHECK(again.owner == first.owner);
  CHECK(api::psql(c.database().primary_url(),
                  "SELECT count(*) FROM txs WHERE tx_id = '" + tx["tx_id"].get<std::string>() + "'")
        == "1");
}

TEST_CASE("an alert raised on one node reaches a WebSocket client connected to another",
          "[cluster]") {
  test_cluster c;
  c.start_all({"n1", "n2", "n3"});
  auto& a = c.at("n1"); // the client's node
  auto& b = c.at("n2"); // the node the transactions are sent to
  // One wallet owned by B (the alert is raised on B) and one owned by C (B routes the write to
  // C, which raises the alert): neither alert is raised on A.
  const auto on_b = wallet_owned_by(b, "n2");
  const auto on_c = wallet_owned_by(b, "n3");
  const auto peer = api::unique_id("rAlertPeer");

  ws_client ws{a.port(), "/ws/alerts", key_header};
  ws.send(json{{"watch", {on_b, on_c}}}.dump());
  REQUIRE(read_json(ws) == json{{"type", "watching"}, {"addresses", 2}});

  std::map<std::string, std::string> expected_origin; // tx_id -> node that raised the alert
  std::map<std::string, json> stored;
  for (const auto& [wallet, owner] :
       std::vector<std::pair<std::string, std::string>>{{on_b, "n2"}, {on_c, "n3"}}) {
    auto tx = high_tx(wallet, peer);
    auto res = api::post(b.node(), "/transactions", tx);
    auto row = api::require_status_json(res, 201);
    CHECK(res.header("X-Klerno-Owner") == owner);
    REQUIRE(row["risk_score"] == 1.0);
    expected_origin[row["tx_id"].get<std::string>()] = owner;
    stored[row["tx_id"].get<std::string>()] = row;
  }
  std::map<std::string, std::string> received; // tx_id -> node of the frame
  while (received.size() < expected_origin.size()) {
    auto frame = read_json(ws);
    INFO("frame: " << frame.dump());
    REQUIRE(frame["type"] == "alert");
    auto id = frame["transaction"]["tx_id"].get<std::string>();
    REQUIRE(expected_origin.count(id) == 1);
    CHECK(received.count(id) == 0); // each alert once
    received[id] = frame["node"].get<std::string>();
    CHECK(frame["transaction"] == stored[id]);
  }
  CHECK(received == expected_origin);
  ws.close();
}

TEST_CASE("an edge node owns no wallets and routes every write to the worker, which serves no "
          "API",
          "[cluster]") {
  test_cluster c;
  auto& edge = c.start("edge", {{"NODE_ROLE", "edge"}}); // bootstraps the cluster
  auto& worker = c.start("worker", {{"NODE_ROLE", "worker"}});
  // The worker serves only the probes and /metrics, so the edge's view is the one to watch.
  bool formed = poll_until(
    [&] {
      auto v = edge.members();
      return edge.ready() && worker.ready() && v && v->status_of("edge") == "up"
             && v->status_of("worker") == "up" && v->members.at("worker").connected;
    },
    converge_timeout);
  auto v = edge.members();
  REQUIRE(v);
  INFO("edge's view: table_version " << v->table_version);
  REQUIRE(formed);
  CHECK(v->members.at("edge").role == "edge");
  CHECK(v->members.at("edge").partitions == 0);
  CHECK(v->members.at("worker").role == "worker");
  CHECK(v->members.at("worker").partitions == klerno::cluster::partition_count);

  // The worker: probes yes, API no.
  CHECK(worker.node().get("/healthz").status == 200);
  CHECK(worker.readiness() == 200);
  auto tx = quiet_tx("role", api::unique_id("rRole"));
  auto refused = store(worker, tx);
  CHECK(refused.status == 404);
  CHECK(api::get(worker.node(), "/cluster/members").status == 404);

  // The edge: every wallet's work goes to the worker.
  for (const auto& w : make_wallets("rThroughEdge", 10)) {
    auto r = store(edge, quiet_tx("edge", w));
    INFO("wallet " << w << ": " << r.status << " " << r.error);
    CHECK(r.status == 201);
    CHECK(r.owner == "worker");
  }
  // The transaction the worker refused was not stored; the edge's were.
  CHECK(api::psql(c.database().primary_url(),
                  "SELECT count(*) FROM txs WHERE tx_id = '" + tx["tx_id"].get<std::string>() + "'")
        == "0");
  CHECK(api::psql(c.database().primary_url(),
                  "SELECT count(*) FROM txs WHERE from_addr LIKE 'rThroughEdge-%'")
        == "10");
}
