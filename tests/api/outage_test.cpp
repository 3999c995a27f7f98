// The database stops and comes back under a running node (a private cluster: the shared servers
// must keep running for the other tests): storage requests answer 503 with Retry-After at once
// instead of hanging, readiness turns 503 and /health names the failing check; when the database
// is back, the same node serves again without a restart.

#include <string>

#include <catch2/catch.hpp>

#include "tests/api/api_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using nlohmann::json;

namespace {

/// Checks a 503 envelope with a Retry-After of whole seconds >= 1.
void require_unavailable(const http_response& res) {
  require_error_envelope(res, 503, "service_unavailable");
  auto retry = res.header("Retry-After");
  INFO("Retry-After: \"" << retry << "\"");
  REQUIRE_FALSE(retry.empty());
  REQUIRE(retry.find_first_not_of("0123456789") == std::string::npos);
  CHECK(std::stoi(retry) >= 1);
}

/// Returns the /health document of `node`.
json health(const test_node& node) {
  auto res = node.get("/health", {{"X-API-Key", test_api_key}});
  auto j = json::parse(res.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

} // namespace

TEST_CASE("a node answers 503 while its database is down and recovers without a restart",
          "[api][outage]") {
  private_cluster db;
  test_node node{db_settings(db.url(), {},
                             {{"HEALTH_CHECK_INTERVAL", "200ms"},
                              {"DB_CIRCUIT_FAILURES", "2"},
                              {"DB_CIRCUIT_COOLDOWN", "500ms"},
                              {"DB_CONNECT_TIMEOUT", "1s"},
                              {"HTTP_REQUEST_TIMEOUT", "3s"}})};
  const auto pid = node.process().pid();
  const auto known = unique_id("rKnown"); // a wallet active before the outage
  auto before = make_tx("api-out", known, "rPeer", 10);
  require_status_json(post(node, "/transactions", before), 201);
  CHECK(health(node)["checks"]["database"]["status"] == "ok");

  db.stop_primary();

  // Every answer comes within the request timeout (a late one would be a 504, or the client's
  // deadline would throw): assert the status, not the time.
  auto during_known = make_tx("api-out", known, "rPeer", 11);
  require_unavailable(post(node, "/transactions", during_known));
  const auto fresh = unique_id("rFresh"); // a wallet that cannot load its history now
  auto during_fresh = make_tx("api-out", fresh, "rPeer", 12);
  require_unavailable(post(node, "/transactions", during_fresh));
  for (int i = 0; i < 3; ++i) {
    require_unavailable(post(node, "/transactions", make_tx("api-out", known, "rPeer", 20 + i)));
  }
  require_unavailable(get(node, "/transactions/" + before["tx_id"].get<std::string>()));
  require_unavailable(get(node, "/transactions?wallet=" + known));
  require_unavailable(api_request(node, "GET", "/export/csv?wallet=" + known));

  // In a batch, each item reports the outage.
  auto batch = require_status_json(
    post(node, "/transactions/batch", json::array({make_tx("api-out", known, "rPeer", 30)})), 200);
  INFO(batch.dump());
  CHECK(batch["items"][0]["status"] == 503);
  CHECK(batch["items"][0]["error"]["code"] == "service_unavailable");

  bool unready = poll_until([&] { return node.get("/readiness").status == 503; }, 10s);
  REQUIRE(unready);
  auto readiness = require_error_envelope(node.get("/readiness"), 503, "service_unavailable");
  CHECK(readiness["error"]["details"]["failing_checks"] == json({"database"}));
  json h;
  bool failing = poll_until(
    [&] {
      h = health(node);
      return h["checks"]["database"]["status"] == "failing";
    },
    10s);
  INFO(h.dump());
  CHECK(failing);
  CHECK(h["status"] == "unhealthy");
  CHECK(h["checks"]["database"]["required"] == true);
  CHECK(node.get("/liveness").status == 200); // alive: no restart wanted

  db.start_primary();

  // The same node stores again once it has reconnected: every answer until then is a 503.
  json stored;
  bool recovered = poll_until(
    [&] {
      auto res = post(node, "/transactions", make_tx("api-back", known, "rPeer", 40));
      INFO("while recovering: " << res.status << " " << res.body);
      REQUIRE((res.status == 201 || res.status == 503));
      if (res.status == 201) {
        stored = json::parse(res.body);
        return true;
      }
      return false;
    },
    30s);
  REQUIRE(recovered);
  bool ready = poll_until([&] { return node.get("/readiness").status == 200; }, 10s);
  CHECK(ready);
  CHECK(health(node)["checks"]["database"]["status"] == "ok");
  CHECK(node.process().running());
  CHECK(node.process().pid() == pid);

  // What was acknowledged before is there; what was refused is not; both wallets work.
  require_status_json(get(node, "/transactions/" + before["tx_id"].get<std::string>()), 200);
  require_error_envelope(get(node, "/transactions/" + during_known["tx_id"].get<std::string>()),
                         404, "not_found");
  require_error_envelope(get(node, "/transactions/" + during_fresh["tx_id"].get<std::string>()),
                         404, "not_found");
  require_status_json(post(node, "/transactions", during_known), 201);
  require_status_json(post(node, "/transactions", during_fresh), 201);
  auto page = require_status_json(get(node, "/transactions?wallet=" + known), 200);
  CHECK(page["items"].size() == 3); // before, the recovery probe, during_known
}
