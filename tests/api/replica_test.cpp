// Reads that may lag (lists, alerts, summary, export) go to a replica. While the replica is
// behind — here, it has not replayed the migration the node applied on the primary — they must
// still answer: stale data, the primary as a fallback, or a 503 to retry; never a 500. The lag is
// made certain by pausing WAL replay on the replica of a private cluster.

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/api/api_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using nlohmann::json;

TEST_CASE("lagging reads answer while the replica has not replayed the schema yet",
          "[api][replica]") {
  private_cluster cluster{private_cluster::replica::streaming};
  using server = private_cluster::replica;
  cluster.superuser_sql(server::streaming, "SELECT pg_wal_replay_pause()");
  bool paused = poll_until(
    [&] {
      return cluster.superuser_sql(server::streaming, "SELECT pg_get_wal_replay_pause_state()")
             == "paused";
    },
    10s);
  REQUIRE(paused);

  auto settings = db_settings(cluster.url(), cluster.replica_url());
  settings["HEALTH_CHECK_INTERVAL"] = "300ms"; // the replica's lag is read by its health check
  test_node node{settings};
  // The node migrated the primary and is ready; the replica has not seen the schema.
  REQUIRE_FALSE(psql_succeeds(cluster.replica_url(), "SELECT count(*) FROM txs"));
  const auto wallet = unique_id("rLag");
  auto tx = make_tx("api-lag", wallet, "rPeer", 10);
  require_status_json(post(node, "/transactions", tx), 201);

  const std::vector<std::string> reads = {"/transactions?wallet=" + wallet, "/alerts?min_score=0",
                                          "/analytics/summary?days=1",
                                          "/export/csv?wallet=" + wallet};
  for (int round = 0; round < 3; ++round) {
    for (const auto& target : reads) {
      auto res = api_request(node, "GET", target);
      INFO("replica paused, round " << round << ": GET " << target << " -> " << res.status << " "
                                    << res.body);
      CHECK((res.status == 200 || res.status == 503));
      if (res.status == 503) {
        CHECK_FALSE(res.header("Retry-After").empty());
      }
    }
  }

  // The replica reports that it is behind: it received WAL it has not replayed.
  const std::string lag_bytes = "klerno_db_replica_lag_bytes{pool=\"replica0\"}";
  const std::string lag_series = "klerno_db_replica_lag_seconds{pool=\"replica0\"}";
  CHECK(poll_until([&] { return metric(node, lag_bytes) > 0; }, 10s));

  cluster.superuser_sql(server::streaming, "SELECT pg_wal_replay_resume()");
  // ... and that it caught up once replay resumes.
  CHECK(poll_until(
    [&] {
      auto text = node.get("/metrics").body;
      auto seconds = metric_sample(text, lag_series);
      auto bytes = metric_sample(text, lag_bytes);
      return seconds && *seconds == 0 && bytes && *bytes == 0;
    },
    30s));
  // Once the replica has caught up, the reads answer with the stored row.
  for (const auto& target : reads) {
    http_response res;
    bool answered = poll_until(
      [&] {
        res = api_request(node, "GET", target);
        if (res.status != 200) {
          return false;
        }
        if (target.rfind("/analytics", 0) == 0) {
          return json::parse(res.body)["total"] == 1;
        }
        return res.body.find(tx["tx_id"].get<std::string>()) != std::string::npos;
      },
      30s);
    INFO("replica resumed: GET " << target << " -> " << res.status << " " << res.body);
    CHECK(answered);
  }
}
