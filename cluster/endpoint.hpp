#pragma once

// The endpoint: the one actor a node publishes on CLUSTER_PORT. It answers the join handshake
// (HMAC challenge-response on CLUSTER_SECRET, cluster/auth.hpp) and, for peers that passed it,
// heartbeats, gossip, alerts and wallet work. CAF's BASP layer trusts any peer that connects, so
// every message is checked against the set of authenticated peer processes (CAF node ids): a
// message from any other process is refused and logged, whatever actor it names.

#include <memory>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "cluster/membership_db.hpp"
#include "cluster/metrics.hpp"
#include "config/secret.hpp"
#include "runtime/health_board.hpp"

namespace klerno::cluster {

/// Who this node is and whom the endpoint hands its messages to.
struct endpoint_config {
  config::secret secret;    ///< CLUSTER_SECRET
  std::string node_name;    ///< NODE_NAME
  uint64_t incarnation = 0; ///< this process's incarnation
  member_role role = member_role::both;
  /// Gets (k_viewchg) and (k_leaving) from peers; when invalid, the actor registered as
  /// `membership_name` does (the node publishes its endpoint before it starts membership).
  caf::actor membership;
  /// The node's services for peers: answers (k_store, StoreRequest) with a StoreReply and takes
  /// (k_alert, Alert). Invalid when the node serves no wallet work (then stores are refused).
  caf::actor services;
  std::shared_ptr<cluster_metrics> metrics; ///< may be null (tests)
  /// This node's health board: its utilization goes into every HeartbeatAck (null: unknown).
  const runtime::health_board* health = nullptr;
};

/// Spawns an endpoint (publishing it on a port is the caller's job).
caf::actor spawn_endpoint(caf::actor_system& sys, endpoint_config cfg);

/// Converts between the table's roles and the wire's.
int to_wire(member_role r) noexcept;
std::optional<member_role> from_wire(int r) noexcept;

} // namespace klerno::cluster
