// The response cache across real nodes sharing one database and one Redis: a repeated GET is
// answered from the node's memory (L1), another node answers it from Redis (L2) with the same
// body and ETag; a write is never hidden by a cached answer on any node; If-None-Match gets 304,
// with or without the cache.

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

std::set<std::string> ids_of(const json& items) {
  std::set<std::string> ids;
  for (const auto& it : items) {
    ids.insert(it["tx_id"].get<std::string>());
  }
  return ids;
}

std::string id_of(const json& tx) {
  return tx["tx_id"].get<std::string>();
}

} // namespace

TEST_CASE("a repeated GET is answered from L1, and another node answers it from L2 with the same "
          "body and ETag",
          "[cache]") {
  scratch_database db;
  const auto redis = shared_redis_url();
  const auto prefix = unique_prefix();
  // One io thread on A: its Redis commands go over one connection, in order (see below).
  test_node a{cache_settings(db.primary_url(), {}, redis, prefix, {{"WORKERS", "1"}})};
  test_node b{cache_settings(db.primary_url(), {}, redis, prefix)};

  auto tx = make_tx("cache-l1", unique_id("rFrom"), unique_id("rTo"), 42);
  require_status_json(post(a, "/transactions", tx), 201);
  const auto target = "/transactions/" + id_of(tx);

  auto first = get(a, target);
  require_status_json(first, 200);
  CHECK(first.header(cache_header) == "miss");
  const auto etag = first.header("ETag");
  REQUIRE_FALSE(etag.empty());
  CHECK(first.header("Cache-Control") == "private, no-cache");

  const auto l1_hits = cache_requests(a, "l1", "hit");
  auto second = get(a, target);
  REQUIRE(second.status == 200);
  CHECK(second.header(cache_header) == "l1");
  CHECK(second.body == first.body);
  CHECK(second.header("ETag") == etag);
  CHECK(cache_requests(a, "l1", "hit") == l1_hits + 1);

  // A's fill wrote the entry to Redis without waiting for the reply. A lookup of a generational
  // route on A goes over the same connection after it, so once it is answered Redis holds it.
  REQUIRE(get(a, "/alerts").status == 200);

  const auto l2_hits = cache_requests(b, "l2", "hit");
  auto on_b = get(b, target);
  REQUIRE(on_b.status == 200);
  CHECK(on_b.header(cache_header) == "l2");
  CHECK(on_b.body == first.body);
  CHECK(on_b.header("ETag") == etag);
  CHECK(cache_requests(b, "l2", "hit") == l2_hits + 1);
}

TEST_CASE("after a write, no node answers a list, the alerts or the summary without it",
          "[cache]") {
  scratch_database db;
  const auto redis = shared_redis_url();
  const auto prefix = unique_prefix();
  // Reads that are not cache fills go to the replica; fills must read the primary.
  test_node a{cache_settings(db.primary_url(), db.replica_url(), redis, prefix)};
  test_node b{cache_settings(db.primary_url(), db.replica_url(), redis, prefix)};
  if (!db.replica_url().empty()) {
    bool replayed =
      poll_until([&] { return psql_succeeds(db.replica_url(), "SELECT count(*) FROM txs"); }, 30s);
    REQUIRE(replayed);
  }
  const auto wallet = unique_id("rFresh");
  const std::string list = "/transactions?wallet=" + wallet;
  const std::string alerts = "/alerts";
  const std::string summary = "/analytics/summary?days=7";
  std::set<std::string> stored;
  std::set<std::string> alerted;

  // Each route's answer on each node must hold everything stored so far.
  auto check_fresh = [&](const test_node& node, const std::string& who) {
    INFO("node " << who);
    auto l = require_status_json(get(node, list), 200);
    INFO("list: " << l.dump());
    CHECK(ids_of(l["items"]) == stored);
    auto al = require_status_json(get(node, alerts), 200);
    INFO("alerts: " << al.dump());
    CHECK(ids_of(al["items"]) == alerted);
    auto s = require_status_json(get(node, summary), 200);
    INFO("summary: " << s.dump());
    CHECK(s["total"] == stored.size());
    CHECK(s["alerts"] == alerted.size());
  };
  // Reads every route twice: the second answer comes from the cache.
  auto fill = [&](const test_node& node, const std::string& who) {
    for (const auto& target : {list, alerts, summary}) {
      INFO("node " << who << ", " << target);
      REQUIRE(get(node, target).status == 200);
      auto again = get(node, target);
      REQUIRE(again.status == 200);
      CHECK(again.header(cache_header) == "l1");
    }
  };

  for (int round = 0; round < 4; ++round) {
    INFO("round " << round);
    fill(a, "A");
    fill(b, "B");
    check_fresh(a, "A");
    check_fresh(b, "B");

    const bool on_a = round % 2 == 0;
    const test_node& writer = on_a ? a : b;
    auto plain = make_tx("cache-fresh", wallet, unique_id("rTo"), 10 + round);
    require_status_json(post(writer, "/transactions", plain), 201);
    stored.insert(id_of(plain));
    auto alert = make_alert_tx("cache-fresh", wallet, unique_id("rTo"));
    auto out = require_status_json(post(writer, "/transactions", alert), 201);
    REQUIRE(out["risk_score"].get<double>() >= 0.75);
    stored.insert(id_of(alert));
    alerted.insert(id_of(alert));

    // At once, on the other node first, then on the writer.
    check_fresh(on_a ? b : a, on_a ? "B" : "A");
    check_fresh(writer, on_a ? "A" : "B");
  }
}

TEST_CASE("a batch that names more wallets than one Redis pipeline holds invalidates every one "
          "of their lists",
          "[cache]") {
  scratch_database db;
  const auto redis = shared_redis_url();
  const auto prefix = unique_prefix();
  // REDIS_MAX_PENDING=20: the guard bumps generations 10 at a time; 30 wallets take 4 pipelines.
  test_node a{cache_settings(db.primary_url(), {}, redis, prefix, {{"REDIS_MAX_PENDING", "20"}})};
  test_node b{cache_settings(db.primary_url(), {}, redis, prefix)};
  std::vector<std::string> wallets;
  for (int i = 0; i < 15; ++i) {
    wallets.push_back(unique_id("rBatchFrom"));
    wallets.push_back(unique_id("rBatchTo"));
  }
  // Every list is cached (on B) while empty.
  for (const auto& w : wallets) {
    INFO(w);
    REQUIRE(get(b, "/transactions?wallet=" + w).status == 200);
    CHECK(get(b, "/transactions?wallet=" + w).header(cache_header) == "l1");
  }
  json batch = json::array();
  for (std::size_t i = 0; i < wallets.size(); i += 2) {
    batch.push_back(make_tx("cache-batch", wallets[i], wallets[i + 1], 5));
  }
  auto out = require_status_json(post(a, "/transactions/batch", batch), 200);
  REQUIRE(out["summary"]["stored"] == wallets.size() / 2);
  // Every bump reached Redis (one pipeline of 31 would have been refused as overloaded, and the
  // cache suspended).
  CHECK(metric(a, "klerno_cache_invalidations_total{result=\"failed\"}") == 0);
  CHECK(metric(a, "klerno_cache_invalidations_total{result=\"ok\"}") >= 4);
  // Every wallet's list now holds its transaction, on the writer and on the other node.
  for (const auto& w : wallets) {
    INFO(w);
    for (const test_node* node : {&a, &b}) {
      auto l = require_status_json(get(*node, "/transactions?wallet=" + w), 200);
      CHECK(l["items"].size() == 1);
    }
  }
}

TEST_CASE("a repeated store invalidates what its first attempt may not have", "[cache]") {
  scratch_database db;
  const auto redis = shared_redis_url();
  const auto prefix = unique_prefix();
  test_node a{cache_settings(db.primary_url(), {}, redis, prefix)};
  // A node of the same database that invalidates nothing (no Redis): its store stands for a
  // first attempt that committed but whose answer (and invalidation) was lost.
  test_node lost{db_settings(db.primary_url())};
  const auto wallet = unique_id("rRetry");
  const std::string list = "/transactions?wallet=" + wallet;
  REQUIRE(get(a, list).status == 200);
  auto cached = get(a, list);
  REQUIRE(cached.header(cache_header) == "l1");

  auto tx = make_tx("cache-retry", wallet, unique_id("rTo"), 12);
  require_status_json(post(lost, "/transactions", tx), 201);
  // The precondition: A's cache does not know about that commit.
  auto stale = require_status_json(get(a, list), 200);
  REQUIRE(stale["items"].empty());

  // The client retries through A: a repeat (200), and from now on no node hides the row.
  require_status_json(post(a, "/transactions", tx), 200);
  auto fresh = require_status_json(get(a, list), 200);
  REQUIRE(fresh["items"].size() == 1);
  CHECK(fresh["items"][0]["tx_id"] == tx["tx_id"]);
}

TEST_CASE("If-None-Match with the current ETag gets 304 without a body, with or without the cache",
          "[cache]") {
  scratch_database db;
  const auto redis = shared_redis_url();
  const auto prefix = unique_prefix();
  test_node cached{cache_settings(db.primary_url(), {}, redis, prefix)};
  test_node uncached{
    cache_settings(db.primary_url(), {}, redis, prefix, {{"CACHE_ENABLED", "false"}})};
  const auto wallet = unique_id("rEtag");
  auto tx = make_tx("cache-etag", wallet, unique_id("rTo"), 7);
  require_status_json(post(cached, "/transactions", tx), 201);

  auto check_conditional = [&](const test_node& node, const std::string& target,
                               const std::string& level_of_repeat) {
    INFO(target << " (repeat answered from " << level_of_repeat << ")");
    auto full = get(node, target);
    REQUIRE(full.status == 200);
    const auto etag = full.header("ETag");
    REQUIRE(etag.size() > 2);
    CHECK(etag.front() == '"');
    CHECK(etag.back() == '"');

    auto not_modified = api_get(node, target, {{"If-None-Match", etag}});
    CHECK(not_modified.status == 304);
    CHECK(not_modified.body.empty());
    CHECK(not_modified.header("ETag") == etag);
    CHECK(not_modified.header(cache_header) == level_of_repeat);

    auto in_list = api_get(node, target, {{"If-None-Match", "\"0000\", " + etag}});
    CHECK(in_list.status == 304);

    auto other = api_get(node, target, {{"If-None-Match", "\"00000000000000000000000000000000\""}});
    CHECK(other.status == 200);
    CHECK(other.body == full.body);
    CHECK(other.header("ETag") == etag);
  };

  {
    INFO("cached routes");
    check_conditional(cached, "/transactions/" + id_of(tx), "l1");
    check_conditional(cached, "/transactions?wallet=" + wallet, "l1");
    // After a write that changes an answer, its old ETag gets the new body.
    auto before = get(cached, "/alerts?min_score=0");
    REQUIRE(before.status == 200);
    auto tx2 = make_tx("cache-etag", wallet, unique_id("rTo"), 8);
    require_status_json(post(cached, "/transactions", tx2), 201);
    auto changed =
      api_get(cached, "/alerts?min_score=0", {{"If-None-Match", before.header("ETag")}});
    auto changed_json = require_status_json(changed, 200);
    CHECK(changed.header(cache_header) == "miss");
    CHECK(changed.header("ETag") != before.header("ETag"));
    CHECK(ids_of(changed_json["items"]).count(id_of(tx2)) == 1);
    // A write that does not change an answer (no alert) makes it a miss with the same body: the
    // filled answer is a 304 too.
    auto alerts = get(cached, "/alerts");
    REQUIRE(alerts.status == 200);
    require_status_json(post(cached, "/transactions", make_tx("cache-etag", wallet, "rX", 9)), 201);
    auto same = api_get(cached, "/alerts", {{"If-None-Match", alerts.header("ETag")}});
    CHECK(same.status == 304);
    CHECK(same.body.empty());
    CHECK(same.header(cache_header) == "miss");
    CHECK(same.header("ETag") == alerts.header("ETag"));
  }

  {
    INFO("CACHE_ENABLED=false");
    check_conditional(uncached, "/transactions/" + id_of(tx), "bypass");
    check_conditional(uncached, "/transactions?wallet=" + wallet, "bypass");
  }
}
