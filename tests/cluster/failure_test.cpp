// Failure detection (real nodes, loopback, a scratch database each): a member killed with SIGKILL
// under a steady write load is declared dead by the survivors, and the load goes on without
// losing or duplicating an acknowledged write; a frozen member (SIGSTOP) is declared dead and,
// thawed, rejoins as a new incarnation.

#include <csignal>
#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/cluster/cluster_support.hpp"

using namespace klerno::test;
using namespace klerno::test::cluster_tests;

TEST_CASE("a member killed under a steady write load is declared dead, and every acknowledged "
          "write is stored exactly once",
          "[cluster]") {
  test_cluster c;
  c.start_all({"n1", "n2", "n3"});
  auto& victim = c.at("n3");
  const auto picked = wallets_with_owner(c.at("n1"), victim.name(), 20, 3);
  const auto& wallets = picked.wallets;
  const auto& owners = picked.owners; // wallet -> owner before the kill

  // Clients write through the survivors only, for every wallet (the victim's included).
  write_load load{{&c.at("n1"), &c.at("n2")}, wallets, 3};
  load.wait_acknowledged(60);

  victim.process().signal(SIGKILL);
  REQUIRE(victim.process().wait_exit(node_exit_timeout) == 128 + SIGKILL);
  c.wait_status({"n1", "n2"}, "n3", "dead");
  auto detected = steady::now();
  c.wait_converged({"n1", "n2"});

  // The load goes on after the detection, also for the victim's wallets.
  auto victims_acked_after = [&] {
    std::size_t n = 0;
    for (const auto& r : load.records()) {
      n += r.acknowledged && r.first_try > detected && owners.at(r.wallet) == victim.name() ? 1 : 0;
    }
    return n;
  };
  load.wait_acknowledged(60);
  bool victims_continued = poll_until([&] { return victims_acked_after() >= 5; }, 20s);
  load.stop();

  auto records = load.records();
  auto failures = load.failures();
  std::size_t acked = 0;
  std::size_t retried = 0;
  std::size_t acked_after = 0;
  std::size_t unacknowledged = 0;
  for (const auto& r : records) {
    acked += r.acknowledged ? 1 : 0;
    retried += r.acknowledged && r.attempts > 1 ? 1 : 0;
    acked_after += r.acknowledged && r.first_try > detected ? 1 : 0;
    unacknowledged += r.acknowledged ? 0 : 1;
  }
  INFO(records.size() << " transactions, " << acked << " acknowledged (" << retried
                      << " after a retry), " << acked_after << " started after the detection; "
                      << describe(failures));
  // Every transaction was acknowledged in the end (the clients retry with the same tx_id).
  CHECK(unacknowledged == 0);
  // The failure window ends with the detection: no request sent afterwards failed.
  std::vector<failed_attempt> late;
  for (const auto& f : failures) {
    if (f.sent_at > detected) {
      late.push_back(f);
    }
  }
  INFO("after the detection: " << describe(late));
  CHECK(late.empty());
  CHECK(victims_continued);
  CHECK(victims_acked_after() >= 5);
  // Requests started after the detection are owned by the survivors.
  for (const auto& r : records) {
    if (r.acknowledged && r.first_try > detected) {
      INFO(r.tx_id << " for " << r.wallet);
      CHECK(r.owner != victim.name());
    }
  }
  // Exactly once in PostgreSQL: every acknowledged tx_id has one row.
  auto rows = stored_rows(c.database().primary_url());
  std::size_t missing = 0;
  std::size_t duplicated = 0;
  for (const auto& r : records) {
    if (!r.acknowledged) {
      continue;
    }
    auto i = rows.find(r.tx_id);
    missing += i == rows.end() ? 1 : 0;
    duplicated += i != rows.end() && i->second != 1 ? 1 : 0;
  }
  CHECK(missing == 0);
  CHECK(duplicated == 0);
  // The survivors counted the death.
  CHECK(c.at("n1").metric("klerno_cluster_members{status=\"dead\"}") == 1);
  CHECK(c.at("n1").metric("klerno_cluster_members{status=\"up\"}") == 2);
}

TEST_CASE("a frozen member is declared dead and, thawed, rejoins as a new incarnation",
          "[cluster]") {
  test_cluster c;
  c.start_all({"n1", "n2", "n3"});
  auto& frozen = c.at("n3");
  auto before = c.at("n1").members();
  REQUIRE(before);
  const auto old_incarnation = before->members.at("n3").incarnation;

  frozen.process().signal(SIGSTOP);
  c.wait_status({"n1", "n2"}, "n3", "dead");
  frozen.process().signal(SIGCONT);

  // It finds itself dead in the table and comes back: up in every view, ready.
  c.wait_converged({"n1", "n2", "n3"});
  for (auto* m : c.members()) {
    INFO("the view of " << m->name());
    auto v = m->members();
    REQUIRE(v);
    CHECK(v->members.at("n3").status == "up");
    CHECK(v->members.at("n3").incarnation > old_incarnation);
    CHECK(v->members.at("n3").partitions > 0);
  }
  CHECK(frozen.ready());
  // The old incarnation's row stays dead; the new one is up.
  auto rows = api::psql(c.database().primary_url(),
                        "SELECT string_agg(status, ',' ORDER BY incarnation) FROM cluster_members "
                        "WHERE name = 'n3'");
  CHECK(rows == "dead,up");
  CHECK(api::psql(c.database().primary_url(),
                  "SELECT status FROM cluster_members WHERE name = 'n3' AND incarnation = "
                    + std::to_string(old_incarnation))
        == "dead");
  // It serves writes again, and owns some of them.
  std::set<std::string> owners;
  for (const auto& w : make_wallets("rThawed", 12)) {
    auto r = store(frozen, quiet_tx("thawed", w));
    INFO("wallet " << w << ": " << r.status << " " << r.error);
    CHECK(r.status == 201);
    owners.insert(r.owner);
  }
  CHECK(owners.size() > 1);
}

// The gateway gives up on an owner as soon as the view no longer lists it up and sends the
// write to the new owner. The entry node's request deadline is long (60 s): a gateway that
// waited for it before retrying would answer 503 (the deadline passed), not 201.
TEST_CASE("a write in flight to an owner that dies is retried on the new owner", "[cluster]") {
  test_cluster c;
  c.start("n1", {{"HTTP_REQUEST_TIMEOUT", "60s"}});
  c.start_all({"n2", "n3"});
  auto& entry = c.at("n1");
  auto& owner = c.at("n3");
  const auto picked = wallets_with_owner(entry, owner.name(), 1, 1);
  std::string wallet;
  for (const auto& [w, o] : picked.owners) {
    wallet = o == owner.name() ? w : wallet;
  }
  // The owner freezes (all its threads stopped before the write is sent), so the next write for
  // its wallet stays in flight; then it dies.
  owner.process().signal(SIGSTOP);
  REQUIRE(poll_until([&] { return process_stopped(owner.process().pid()); }, 5s));
  std::chrono::milliseconds took{0};
  // (The future's destructor waits for the request, also when an assertion below throws.)
  auto answer = std::async(std::launch::async, [&] {
    auto t0 = steady::now();
    auto r = store(entry, quiet_tx("inflight", wallet));
    took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
    return r;
  });
  // (The /metrics request that reads the gauge counts itself.)
  bool in_flight =
    poll_until([&] { return entry.metric("klerno_http_requests_in_flight") >= 2; }, 5s);
  owner.process().signal(SIGKILL);
  c.wait_status({"n1", "n2"}, "n3", "dead");
  auto result = answer.get();
  REQUIRE(in_flight);
  INFO("answered " << result.status << " after " << took.count() << " ms: " << result.error);
  CHECK(result.status == 201);
  CHECK(result.owner != owner.name());
}
