#pragma once

// Support of the multi-process cluster tests: real klerno-node processes forming a cluster over
// loopback (CLUSTER_PORT=0, reported in PORTS_FILE) on a scratch database of the shared
// PostgreSQL of the fixture "pg" (one per test case, so the membership table starts empty).
//
// - `member`: one node of the cluster (its name, ports, probes and /cluster/members);
// - `test_cluster`: the scratch database and the members of one test case, started in order
//   (the first forms the cluster with CLUSTER_BOOTSTRAP, the others join through a seed);
// - `write_load`: client threads storing unique transactions continuously through chosen entry
//   nodes, retrying a failed request with the SAME tx_id until it is acknowledged, and keeping
//   every attempt for the assertions.
//
// Nothing waits without a deadline: a cluster that does not converge fails the test.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/api/api_support.hpp"
#include "tests/integration/node_fixture.hpp"

namespace klerno::test::cluster_tests {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// CLUSTER_SECRET of the test clusters.
inline const std::string test_cluster_secret = "cluster-test-secret-0123456789";

/// Deadline for a cluster to converge (members up, views agreeing, readiness): a failure
/// deadline only; on loopback it takes a few seconds.
constexpr std::chrono::milliseconds converge_timeout{20'000};

/// Deadline for the survivors to declare a crashed or frozen member dead (the defaults detect it
/// in about 2 s: CLUSTER_SUSPECT_TIMEOUT 1.5 s plus a vote).
constexpr std::chrono::milliseconds detect_timeout{15'000};

/// Client deadline of one API request: longer than the node's HTTP_REQUEST_TIMEOUT (10 s), so a
/// request the node is still retrying gets the node's answer rather than a client timeout.
constexpr std::chrono::milliseconds request_timeout{15'000};

/// The row of one member in a /cluster/members answer.
struct member_info {
  std::string name;
  std::string status;
  std::string role;
  uint64_t incarnation = 0;
  std::size_t partitions = 0;
  bool connected = false;
};

/// A parsed /cluster/members answer.
struct members_view {
  std::string self;
  uint64_t table_version = 0;
  std::map<std::string, member_info> members; ///< by name (the latest incarnation of each)

  /// Returns the status of `name` ("" when absent).
  std::string status_of(const std::string& name) const;

  /// Returns the names whose status is `status`.
  std::set<std::string> with_status(const std::string& status) const;
};

/// One cluster member: a klerno-node started with the cluster settings.
class member {
public:
  /// Starts node `name` with `settings` (the complete cluster settings; see test_cluster) and
  /// waits for its ports and /healthz (not for readiness: a member is ready only once it is up).
  member(std::string name, const node_process::env_map& settings);

  member(const member&) = delete;
  member& operator=(const member&) = delete;

  /// Returns NODE_NAME.
  const std::string& name() const noexcept {
    return name_;
  }

  /// Returns the API port.
  uint16_t port() const noexcept {
    return node_.port();
  }

  /// Returns the cluster port (reported in PORTS_FILE).
  uint16_t cluster_port() const noexcept {
    return cluster_port_;
  }

  /// Returns "127.0.0.1:<cluster port>", a seed for CLUSTER_SEEDS.
  std::string seed() const {
    return "127.0.0.1:" + std::to_string(cluster_port_);
  }

  /// Returns the node (for api_support's requests).
  const test_node& node() const noexcept {
    return node_;
  }

  /// Returns the process (signals, exit, logs).
  node_process& process() noexcept {
    return node_.process();
  }

  /// Returns the status of GET /readiness (0 when the request fails: not listening, reset).
  unsigned readiness() const;

  /// Returns whether GET /readiness answers 200.
  bool ready() const {
    return readiness() == 200;
  }

  /// Returns GET /cluster/members, or nullopt when the request fails or is not 200.
  std::optional<members_view> members() const;

  /// Returns the value of the Prometheus `series` in /metrics (0 when absent).
  double metric(const std::string& series) const;

private:
  std::string name_;
  test_node node_;
  uint16_t cluster_port_ = 0;
};

/// The settings every member of a test cluster gets: the database, NODE_NAME, the cluster port
/// on loopback, the secret, fast health checks, fixed-size pools; `extra` adds or overrides
/// (CLUSTER_BOOTSTRAP, CLUSTER_SEEDS, NODE_ROLE, ...).
node_process::env_map member_settings(const std::string& database_url, const std::string& name,
                                      const node_process::env_map& extra = {});

/// The scratch database and the members of one test case. Members are stopped (SIGKILL) before
/// the database is dropped.
class test_cluster {
public:
  test_cluster() = default;
  ~test_cluster();

  test_cluster(const test_cluster&) = delete;
  test_cluster& operator=(const test_cluster&) = delete;

  /// Returns the database (DATABASE_URL of every member).
  const api::scratch_database& database() const noexcept {
    return db_;
  }

  /// Starts member `name`: the first one with CLUSTER_BOOTSTRAP=true, the others with the first
  /// running member as their seed; `extra` adds settings. Does not wait for readiness.
  member& start(const std::string& name, const node_process::env_map& extra = {});

  /// Starts `names` and waits until they and every member started before have converged.
  void start_all(const std::vector<std::string>& names);

  /// Starts `names` at the same moment (one thread each), all with the first running member as
  /// their seed; does not wait for readiness.
  void start_together(const std::vector<std::string>& names);

  /// Returns the members in start order (stopped ones included).
  std::vector<member*> members() const;

  /// Returns member `name`; fails the test when there is none.
  member& at(const std::string& name) const;

  /// Waits until every member in `names` is ready and every one of them lists exactly `names` as
  /// `up` and connected, with the same table_version; fails the test (with the last views) at
  /// the deadline.
  void wait_converged(const std::vector<std::string>& names,
                      std::chrono::milliseconds timeout = converge_timeout);

  /// Waits until every member in `observers` reports `name` with `status` (e.g. "dead"); fails
  /// the test at the deadline.
  void wait_status(const std::vector<std::string>& observers, const std::string& name,
                   const std::string& status, std::chrono::milliseconds timeout = detect_timeout);

private:
  /// The settings of a new member `name`: CLUSTER_BOOTSTRAP for the first, else the first
  /// running member as its seed; then `extra`.
  node_process::env_map join_settings(const std::string& name, const node_process::env_map& extra);

  api::scratch_database db_;
  std::vector<std::unique_ptr<member>> members_;
};

/// The answer to one POST /transactions.
struct store_result {
  unsigned status = 0; ///< 0 when the request failed (connection refused, reset, timeout)
  std::string owner;   ///< X-Klerno-Owner
  std::string error;   ///< the exception text or the body of a non-2xx answer
};

/// POSTs `tx` to /transactions of `m` (with the API key), waiting at most request_timeout.
store_result store(const member& m, const nlohmann::json& tx);

/// A low-risk transaction (incoming 50) from `wallet` with a fresh tx_id "<prefix>-...".
nlohmann::json quiet_tx(const std::string& prefix, const std::string& wallet);

/// Returns `n` fresh wallet addresses "<prefix>-...".
std::vector<std::string> make_wallets(const std::string& prefix, std::size_t n);

/// Stores one quiet transaction per wallet through `entry` and returns each wallet's owner
/// (X-Klerno-Owner); fails the test on any other answer than 201.
std::map<std::string, std::string> owners_of(const member& entry,
                                             const std::vector<std::string>& wallets);

/// Wallets for a load: at least `n` fresh ones, of which at least `min_owned` are owned by
/// `owner` (owners probed through `entry` with one quiet transaction each).
struct wallet_set {
  std::vector<std::string> wallets;
  std::map<std::string, std::string> owners; ///< wallet -> owner when probed
};
wallet_set wallets_with_owner(const member& entry, const std::string& owner, std::size_t n,
                              std::size_t min_owned);

/// One transaction a load client tried to store.
struct write_record {
  std::string tx_id;
  std::string wallet;
  int attempts = 0;             ///< requests sent (the same tx_id each time)
  bool acknowledged = false;    ///< got 201 or 200
  unsigned status = 0;          ///< the acknowledging status
  std::string owner;            ///< X-Klerno-Owner of the acknowledgement
  steady::time_point first_try; ///< when the first request was sent
  steady::time_point acked_at;  ///< when the acknowledgement arrived
};

/// A failed attempt (anything but 201/200).
struct failed_attempt {
  std::string tx_id;
  std::string entry;                 ///< the node it was sent to
  steady::time_point sent_at;        ///< when the request was sent
  std::chrono::milliseconds took{0}; ///< until the answer (or the error)
  unsigned status = 0;               ///< 0: no HTTP answer
  std::string error;
};

/// Client threads writing unique transactions continuously through entry nodes (round robin),
/// for wallets chosen round robin, each client pausing `pace` between two transactions (a steady
/// load that leaves the nodes' heartbeats some CPU). A failed request is retried with the same
/// tx_id (through the next entry node, after 50 ms) until it is acknowledged or `give_up_after`
/// has passed since its first try.
class write_load {
public:
  write_load(std::vector<const member*> entries, std::vector<std::string> wallets,
             std::size_t threads, std::chrono::milliseconds pace = 10ms,
             std::chrono::milliseconds give_up_after = 30s);

  /// Stops the clients (see stop()).
  ~write_load();

  write_load(const write_load&) = delete;
  write_load& operator=(const write_load&) = delete;

  /// Stops starting new transactions, lets each client finish (or give up on) the one it is
  /// storing, and joins the threads. Idempotent.
  void stop();

  /// Waits until at least `n` more transactions have been acknowledged than when called, or
  /// fails the test after `timeout`.
  void wait_acknowledged(std::size_t n, std::chrono::milliseconds timeout = 20s);

  /// Returns the number of transactions acknowledged so far.
  std::size_t acknowledged() const {
    return acked_.load();
  }

  /// Returns every transaction tried (after stop(): complete).
  std::vector<write_record> records() const;

  /// Returns every failed attempt.
  std::vector<failed_attempt> failures() const;

private:
  void run(std::size_t client, const std::string& token);

  std::vector<const member*> entries_;
  std::vector<std::string> wallets_;
  std::chrono::milliseconds pace_;
  std::chrono::milliseconds give_up_after_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> acked_{0};
  mutable std::mutex mtx_;
  std::vector<write_record> records_;
  std::vector<failed_attempt> failures_;
  std::vector<std::thread> threads_;
};

/// Describes up to `max` failed attempts (for INFO).
std::string describe(const std::vector<failed_attempt>& failures, std::size_t max = 10);

/// Returns how many rows each tx_id has in the txs table of `database_url`.
std::map<std::string, int> stored_rows(const std::string& database_url);

/// Returns whether process `pid` is stopped (SIGSTOP took effect: state T in /proc/PID/stat).
bool process_stopped(pid_t pid);

} // namespace klerno::test::cluster_tests
