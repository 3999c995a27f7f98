#pragma once

// The cluster part of a node: the actors of cluster/ and actors/remote/ wired to the node's
// configuration, in the order a node needs them.
//
//   configure()  before the actor system exists: loads CAF's middleman (and, with CLUSTER_TLS,
//                its OpenSSL module with the node's certificate, key and CA) and turns on BASP's
//                own heartbeats so a silent connection is closed.
//   open()       spawns the table actor (membership table in PostgreSQL), the services actor
//                (peers' wallet work, alert fan-out) and the endpoint, and publishes the endpoint
//                on CLUSTER_BIND_ADDRESS:CLUSTER_PORT. Peers may authenticate from then on.
//   join()       after the migrations: spawns the membership actor, which joins the cluster.
//   leave()      on SIGTERM: marks this member leaving (peers stop routing to it at once).
//   exit()       after the HTTP edge drained: marks it exiting (bounded wait).
//   stop()       stops every cluster actor and closes the port.
//
// The cluster actors are critical: if one of them dies (it never should), `on_failure` is called
// and the node shuts down with exit code 1; its orchestrator starts it again and it rejoins as a
// new incarnation.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "cluster/identity.hpp"
#include "cluster/metrics.hpp"
#include "cluster/view.hpp"
#include "config/settings.hpp"
#include "runtime/autoscale.hpp"
#include "runtime/health_board.hpp"
#include "runtime/metrics.hpp"

namespace klerno::node {

/// The running cluster actors of one node.
class cluster_node {
public:
  /// Called (on an actor thread) with a description when a cluster actor died unexpectedly.
  using failure_handler = std::function<void(const std::string& what)>;

  /// Called (in the membership actor) after every published view.
  using view_handler =
    std::function<void(const cluster::view& previous, const cluster::view& current)>;

  /// `health` (this node's utilization for the heartbeats) and `autoscale` (where the up
  /// members' utilization is published) must outlive the cluster node.
  cluster_node(const config::settings& cfg, cluster::identity id, runtime::metrics::registry& reg,
               const runtime::health_board& health, runtime::autoscale_board& autoscale);
  ~cluster_node();

  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  /// Loads the modules and sets the options the cluster needs into `caf_cfg`.
  static void configure(caf::actor_system_config& caf_cfg, const config::settings& cfg);

  /// Spawns the table, services and endpoint actors and publishes the endpoint; returns the
  /// bound cluster port. Throws std::runtime_error when the port cannot be opened.
  uint16_t open(caf::actor_system& sys, failure_handler on_failure);

  /// Spawns the membership actor (call once the membership table's migration is applied).
  void join(view_handler on_view);

  /// Marks this member leaving (asynchronous; no-op before join()).
  void leave();

  /// Marks this member exiting, waiting at most `budget` for the table; call from a thread that
  /// may block (the main thread). Returns whether the table recorded it.
  bool exit(std::chrono::milliseconds budget);

  /// Stops every cluster actor and closes the cluster port.
  void stop();

  /// The views published by the membership actor (empty until it joined).
  const cluster::view_board& board() const noexcept {
    return board_;
  }

  /// The cluster metrics (registered in the node's registry).
  cluster::cluster_metrics& metrics() noexcept {
    return *metrics_;
  }

  /// Returns "host:port", the address peers reach this node's endpoint at.
  const std::string& address() const noexcept {
    return address_;
  }

private:
  void watch(const caf::actor& a, const char* what);

  const config::settings& cfg_;
  cluster::identity id_;
  std::shared_ptr<cluster::cluster_metrics> metrics_;
  cluster::view_board board_;
  const runtime::health_board& health_;
  runtime::autoscale_board& autoscale_;
  caf::actor_system* sys_ = nullptr;
  failure_handler on_failure_;
  std::shared_ptr<std::atomic<bool>> stopping_; ///< set by stop(): exits are expected then
  caf::actor table_;
  caf::actor services_;
  caf::actor endpoint_;
  caf::actor membership_;
  uint16_t port_ = 0;
  std::string address_;
};

/// Returns the host other nodes use to reach this one: CLUSTER_ADVERTISE_HOST, else the bind
/// address, else (binding to every interface) the host name.
std::string advertised_host(const config::cluster_settings& c);

} // namespace klerno::node
