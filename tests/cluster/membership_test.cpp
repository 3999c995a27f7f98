// Forming a cluster from configuration (real nodes, loopback, a scratch database each): three
// nodes become one cluster whose views agree; a node without a reachable seed and without
// CLUSTER_BOOTSTRAP never becomes ready; a node with the wrong CLUSTER_SECRET is never admitted.

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "cluster/ring.hpp"
#include "tests/cluster/cluster_support.hpp"

using namespace klerno::test;
using namespace klerno::test::cluster_tests;

namespace {

/// A loopback port that refuses connections: bound (so nothing else gets it) but not listening.
class refusing_port {
public:
  refusing_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }

  ~refusing_port() {
    ::close(fd_);
  }

  refusing_port(const refusing_port&) = delete;
  refusing_port& operator=(const refusing_port&) = delete;

  uint16_t port() const noexcept {
    return port_;
  }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

/// Calls `check` every 50 ms for `window` (a state that must hold throughout, e.g. "not ready");
/// returns false as soon as it does not hold.
bool holds_for(std::chrono::milliseconds window, const std::function<bool()>& check) {
  auto until = steady::now() + window;
  while (steady::now() < until) {
    if (!check()) {
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
  return check();
}

} // namespace

TEST_CASE("three nodes configured with a bootstrap node and a seed form one cluster whose views "
          "agree",
          "[cluster]") {
  test_cluster c;
  c.start_all({"n1", "n2", "n3"}); // every node ready, lists the three up and connected, with the
                                   // same table_version
  const std::set<std::string> names{"n1", "n2", "n3"};
  std::map<std::string, std::size_t> first_partitions;
  for (auto* m : c.members()) {
    INFO("the view of " << m->name());
    CHECK(m->ready());
    auto v = m->members();
    REQUIRE(v);
    CHECK(v->self == m->name());
    REQUIRE(v->members.size() == 3);
    std::size_t sum = 0;
    std::map<std::string, std::size_t> partitions;
    for (const auto& [name, info] : v->members) {
      CHECK(names.count(name) == 1);
      CHECK(info.status == "up");
      CHECK(info.role == "both");
      CHECK(info.incarnation > 0);
      CHECK(info.partitions > 0);
      sum += info.partitions;
      partitions[name] = info.partitions;
    }
    CHECK(sum == klerno::cluster::partition_count);
    // The placement is a pure function of the members: every node computes the same.
    if (first_partitions.empty()) {
      first_partitions = partitions;
    }
    CHECK(partitions == first_partitions);
    CHECK(m->metric("klerno_cluster_members{status=\"up\"}") == 3);
    CHECK(m->metric("klerno_cluster_members{status=\"dead\"}") == 0);
  }
  // The exact shape of GET /cluster/members, and each member's advertised cluster address.
  std::map<std::string, std::string> addresses;
  for (auto* m : c.members()) {
    addresses[m->name()] = m->seed();
  }
  for (auto* m : c.members()) {
    auto body = api::require_status_json(api::get(m->node(), "/cluster/members"), 200);
    INFO("GET /cluster/members of " << m->name() << ": " << body.dump());
    CHECK(body.size() == 4);
    CHECK(body["cluster"] == true);
    CHECK(body["self"] == m->name());
    CHECK(body["table_version"].is_number_unsigned());
    REQUIRE(body["members"].is_array());
    for (const auto& row : body["members"]) {
      CHECK(row.size() == 9);
      CHECK(row["name"].is_string());
      CHECK(row["address"] == addresses[row["name"].get<std::string>()]);
      CHECK(row["status"].is_string());
      CHECK(row["role"].is_string());
      CHECK(row["incarnation"].is_number_unsigned());
      CHECK(row["heartbeat_age_ms"].is_number_integer());
      CHECK(row["version"].is_string());
      CHECK(row["partitions"].is_number_unsigned());
      CHECK(row["connected"] == true);
    }
  }
  // The membership table holds one row per member, all up.
  auto rows = api::psql(c.database().primary_url(),
                        "SELECT string_agg(name || ':' || status, ',' ORDER BY name) "
                        "FROM cluster_members");
  CHECK(rows == "n1:up,n2:up,n3:up");
}

TEST_CASE("a node whose seeds do not answer and that may not bootstrap never becomes ready, and "
          "says why",
          "[cluster]") {
  api::scratch_database db;
  refusing_port nobody;
  const auto seed = "127.0.0.1:" + std::to_string(nobody.port());
  member lonely{"lonely", member_settings(db.primary_url(), "lonely", {{"CLUSTER_SEEDS", seed}})};

  // It keeps trying: readiness (and startup) answer 503 all along.
  bool unready = holds_for(4s, [&] {
    auto r = lonely.readiness();
    INFO("readiness " << r);
    return r == 503 && lonely.node().get("/startup").status == 503;
  });
  CHECK(unready);
  CHECK(lonely.process().running());
  // It never added itself to the membership table.
  CHECK(api::psql(db.primary_url(), "SELECT count(*) FROM cluster_members") == "0");
  // The log says why: no seed answered, no member is up, and bootstrapping is not allowed.
  bool explained = poll_until(
    [&] {
      auto log = lonely.process().log();
      return log.find("cannot reach " + seed) != std::string::npos
             && log.find("no member is up in the membership table") != std::string::npos
             && log.find("CLUSTER_BOOTSTRAP") != std::string::npos;
    },
    10s);
  INFO(lonely.process().log());
  CHECK(explained);
}

TEST_CASE("a node with the wrong CLUSTER_SECRET is refused: it never becomes ready nor a member",
          "[cluster]") {
  test_cluster c;
  c.start_all({"n1", "n2"});
  auto& intruder = c.start("intruder", {{"CLUSTER_SECRET", "not-the-cluster-secret-42"}});
  const std::string refused = "klerno_cluster_refused_total{reason=\"authentication\"}";

  // The handshake fails (n1 cannot prove the intruder's secret, nor the intruder n1's), the
  // intruder never joins: not ready, never listed by the members, never in the table.
  bool kept_out = holds_for(4s, [&] {
    if (intruder.readiness() != 503) {
      return false;
    }
    for (const auto* m : {&c.at("n1"), &c.at("n2")}) {
      auto v = m->members();
      if (!v || v->members.count("intruder") != 0 || v->with_status("up").size() != 2) {
        return false;
      }
    }
    return true;
  });
  CHECK(kept_out);
  CHECK(api::psql(c.database().primary_url(),
                  "SELECT count(*) FROM cluster_members WHERE name = 'intruder'")
        == "0");
  // The refusal is counted and logged where the secret did not match.
  CHECK(intruder.metric(refused) > 0);
  auto log = intruder.process().log();
  INFO(log);
  CHECK(log.find("could not prove CLUSTER_SECRET") != std::string::npos);
  // The cluster is unharmed.
  c.wait_converged({"n1", "n2"});
}

// The responder proves the secret first; a joiner that finds the proof wrong still sends its
// own, so the members a wrong-secret node reaches log and count the refusal too.
TEST_CASE("the members a wrong-secret node tries to join count and log the refusal", "[cluster]") {
  test_cluster c;
  c.start_all({"n1", "n2"});
  auto& intruder = c.start("intruder", {{"CLUSTER_SECRET", "not-the-cluster-secret-42"}});
  auto& n1 = c.at("n1");
  bool counted = poll_until(
    [&] {
      auto res = http_get(n1.port(), "/metrics");
      return res.body.find("klerno_cluster_refused_total{") != std::string::npos
             && n1.metric("klerno_cluster_refused_total{reason=\"authentication\"}") > 0;
    },
    10s);
  CHECK(counted);
  auto log = n1.process().log();
  INFO(log);
  CHECK(log.find("refused") != std::string::npos);
  CHECK(log.find("intruder") != std::string::npos);
  CHECK_FALSE(intruder.ready());
}

// Nodes that join at the same moment all become up: a joiner's change to `up` names the table
// version it read, and when another joiner changed the table in between it re-reads and retries.
TEST_CASE("nodes joining at the same moment all become up", "[cluster]") {
  test_cluster c;
  c.start_all({"n1"});
  c.start_together({"n2", "n3", "n4", "n5"});
  c.wait_converged({"n1", "n2", "n3", "n4", "n5"});
}

// A bootstrap node whose seeds answer but are not members (nodes starting at the same moment, as
// on `docker compose up` or a StatefulSet starting its pods in parallel) forms the cluster: the
// membership table, not the seeds, says whether one exists. The others were waiting for it.
TEST_CASE("a bootstrap node whose seeds are starting nodes forms the cluster they join",
          "[cluster]") {
  test_cluster c;
  // n2 starts first, may not bootstrap, and has no seed that answers: it waits.
  auto& n2 = c.start("n2", {{"CLUSTER_BOOTSTRAP", "false"}, {"CLUSTER_SEEDS", "127.0.0.1:1"}});
  CHECK_FALSE(n2.ready());
  // n1 may bootstrap, and its seed is n2, which answers the handshake but is no member.
  c.start("n1", {{"CLUSTER_BOOTSTRAP", "true"}, {"CLUSTER_SEEDS", n2.seed()}});
  c.wait_converged({"n1", "n2"});
}

TEST_CASE("the members of a two-node cluster count each other for the autoscaling signal",
          "[cluster]") {
  test_cluster c;
  c.start("n1");
  c.start("n2");
  c.wait_converged({"n1", "n2"});
  // Each node recomputes the signal on its next health sample (HEALTH_CHECK_INTERVAL 200 ms).
  for (const auto& name : {"n1", "n2"}) {
    auto& m = c.at(name);
    INFO(name);
    CHECK(poll_until([&] { return m.metric("klerno_autoscale_current_replicas") == 2.0; }));
    auto desired = m.metric("klerno_desired_replicas");
    CHECK(desired >= 2); // MIN_REPLICAS .. MAX_REPLICAS (defaults)
    CHECK(desired <= 10);
    auto memory = m.metric("klerno_memory_utilization_ratio");
    CHECK(memory > 0);
    CHECK(memory < 1);
  }
}
