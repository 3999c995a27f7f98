// Planned membership changes under a write load (real nodes, loopback, a scratch database each):
// a member that leaves gracefully (SIGTERM) and a member that joins hand wallets over without a
// single failed request.

#include <csignal>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/cluster/cluster_support.hpp"

using namespace klerno::test;
using namespace klerno::test::cluster_tests;

namespace {

/// Checks that no request failed and that each transaction was acknowledged on its first try.
void require_no_failure(const write_load& load) {
  auto records = load.records();
  auto failures = load.failures();
  std::size_t retried = 0;
  std::size_t unacknowledged = 0;
  for (const auto& r : records) {
    retried += r.attempts > 1 ? 1 : 0;
    unacknowledged += r.acknowledged ? 0 : 1;
  }
  INFO(records.size() << " transactions; " << describe(failures));
  CHECK(failures.empty());
  CHECK(retried == 0);
  CHECK(unacknowledged == 0);
}

/// Checks that every acknowledged transaction of `load` has exactly one row.
void require_stored_once(const write_load& load, const std::string& database_url) {
  auto rows = stored_rows(database_url);
  std::size_t missing = 0;
  std::size_t duplicated = 0;
  for (const auto& r : load.records()) {
    if (r.acknowledged) {
      auto i = rows.find(r.tx_id);
      missing += i == rows.end() ? 1 : 0;
      duplicated += i != rows.end() && i->second != 1 ? 1 : 0;
    }
  }
  CHECK(missing == 0);
  CHECK(duplicated == 0);
}

} // namespace

TEST_CASE("a member leaving gracefully under load hands its wallets over without a failed "
          "request, and exits 0",
          "[cluster]") {
  test_cluster c;
  // The leaver serves out a grace period after SIGTERM (readiness 503 meanwhile).
  c.start("n1");
  c.start("n2");
  auto& leaver = c.start("n3", {{"SHUTDOWN_GRACE", "3s"}});
  c.wait_converged({"n1", "n2", "n3"});

  // Wallets, some owned by the leaver.
  const auto picked = wallets_with_owner(c.at("n1"), leaver.name(), 20, 3);
  const auto& wallets = picked.wallets;
  const auto& owners = picked.owners; // wallet -> owner before the leave

  // Clients write through the other nodes.
  write_load load{{&c.at("n1"), &c.at("n2")}, wallets, 3};
  load.wait_acknowledged(60);

  leaver.process().signal(SIGTERM);
  CHECK(poll_until([&] { return leaver.readiness() == 503; }, 2s));
  // The others see it leaving (it takes no new wallet work) during its grace period.
  bool seen_leaving = poll_until(
    [&] {
      for (const auto* m : {&c.at("n1"), &c.at("n2")}) {
        auto v = m->members();
        if (!v || v->status_of("n3") != "leaving" || v->members.at("n3").partitions != 0) {
          return false;
        }
      }
      return true;
    },
    3s);
  CHECK(seen_leaving);
  CHECK(leaver.process().wait_exit(node_exit_timeout) == 0);
  auto exited = steady::now();
  // Its row ends `exiting` (drained, then exited); the others sweep it to `dead` once its own
  // heartbeat is older than CLUSTER_VOTE_WINDOW.
  auto row =
    api::psql(c.database().primary_url(), "SELECT status FROM cluster_members WHERE name = 'n3'");
  CHECK((row == "exiting" || row == "dead"));
  c.wait_converged({"n1", "n2"});

  // The load goes on; the leaver's wallets are served by the others.
  load.wait_acknowledged(60);
  auto leavers_after = [&] {
    std::size_t n = 0;
    for (const auto& r : load.records()) {
      n += r.acknowledged && r.first_try > exited && owners.at(r.wallet) == "n3" ? 1 : 0;
    }
    return n;
  };
  CHECK(poll_until([&] { return leavers_after() >= 5; }, 20s));
  load.stop();

  require_no_failure(load);
  for (const auto& r : load.records()) {
    if (r.acknowledged && r.first_try > exited) {
      INFO(r.tx_id << " for " << r.wallet);
      CHECK((r.owner == "n1" || r.owner == "n2"));
    }
  }
  require_stored_once(load, c.database().primary_url());
  for (const auto* m : {&c.at("n1"), &c.at("n2")}) {
    auto v = m->members();
    REQUIRE(v);
    auto status = v->status_of("n3");
    CHECK((status == "exiting" || status == "dead"));
    CHECK(v->members.at("n3").partitions == 0);
  }
  INFO(leaver.process().log());
  CHECK(leaver.process().log().find("marked exiting in the membership table") != std::string::npos);
}

TEST_CASE("a fourth member joining under load takes a share of the wallets without a failed "
          "request",
          "[cluster]") {
  test_cluster c;
  c.start_all({"n1", "n2", "n3"});
  const auto wallets = make_wallets("rJoin", 40);
  write_load load{{&c.at("n1"), &c.at("n2"), &c.at("n3")}, wallets, 3};
  load.wait_acknowledged(60);

  c.start("n4");
  c.wait_converged({"n1", "n2", "n3", "n4"});
  auto joined = steady::now();
  for (auto* m : c.members()) {
    INFO("the view of " << m->name());
    auto v = m->members();
    REQUIRE(v);
    CHECK(v->members.at("n4").partitions > 0);
  }

  // Writes started after the join: some wallets are now the new member's.
  auto owned_by_new = [&] {
    std::set<std::string> w;
    for (const auto& r : load.records()) {
      if (r.acknowledged && r.first_try > joined && r.owner == "n4") {
        w.insert(r.wallet);
      }
    }
    return w.size();
  };
  load.wait_acknowledged(80);
  CHECK(poll_until([&] { return owned_by_new() > 0; }, 20s));
  load.stop();

  require_no_failure(load);
  require_stored_once(load, c.database().primary_url());
  // Whichever node receives a request, it agrees with the others on the new owner.
  for (const auto& w : {wallets[0], wallets[1], wallets[2]}) {
    std::set<std::string> seen;
    for (auto* m : c.members()) {
      auto r = store(*m, quiet_tx("joined", w));
      INFO("wallet " << w << " through " << m->name() << ": " << r.status << " " << r.error);
      CHECK(r.status == 201);
      seen.insert(r.owner);
    }
    CHECK(seen.size() == 1);
  }
}

// Two members that receive SIGTERM at the same moment are both marked leaving at once and
// exiting at the end (README, "Graceful leave"): their status changes race on the table version,
// and the loser re-reads the table and tries again.
TEST_CASE("two members leaving at the same moment are both marked leaving, then exiting",
          "[cluster]") {
  test_cluster c;
  c.start("n1");
  c.start("n2", {{"SHUTDOWN_GRACE", "2s"}});
  c.start("n3", {{"SHUTDOWN_GRACE", "2s"}});
  c.wait_converged({"n1", "n2", "n3"});
  c.at("n2").process().signal(SIGTERM);
  c.at("n3").process().signal(SIGTERM);
  bool both_leaving = poll_until(
    [&] {
      auto v = c.at("n1").members();
      return v && v->status_of("n2") == "leaving" && v->status_of("n3") == "leaving";
    },
    2s);
  CHECK(both_leaving);
  CHECK(c.at("n2").process().wait_exit(node_exit_timeout) == 0);
  CHECK(c.at("n3").process().wait_exit(node_exit_timeout) == 0);
  auto rows = api::psql(c.database().primary_url(),
                        "SELECT string_agg(name || ':' || status, ',' ORDER BY name) "
                        "FROM cluster_members WHERE name <> 'n1'");
  INFO("rows after both exited: " << rows);
  CHECK((rows == "n2:exiting,n3:exiting" || rows == "n2:dead,n3:dead"
         || rows == "n2:dead,n3:exiting" || rows == "n2:exiting,n3:dead"));
  INFO(c.at("n2").process().log() << c.at("n3").process().log());
  CHECK(c.at("n2").process().log().find("marked exiting in the membership table")
        != std::string::npos);
  CHECK(c.at("n3").process().log().find("marked exiting in the membership table")
        != std::string::npos);
}
