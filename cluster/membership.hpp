#pragma once

// The membership actor: this node's life in the cluster.
//
// Joining: the node authenticates with a seed (CLUSTER_SEEDS, a DNS name counting as all its
// addresses) or with any member that is up in the membership table, then adds itself to the table
// (joining) and marks itself up; peers learn of it at once through gossip (ViewChanged) and
// connect back. With no member up in the table, it forms a cluster only when CLUSTER_BOOTSTRAP
// is set (whether or not seeds answer: they may be nodes starting at the same moment);
// otherwise it keeps trying (its /startup answers 503).
//
// Failure detection: every CLUSTER_HEARTBEAT_INTERVAL it sends a heartbeat to every peer. A peer
// silent for CLUSTER_SUSPECT_TIMEOUT is suspected: this node writes its vote to the table, and the
// peer is declared dead there once a majority of the other up members voted within
// CLUSTER_VOTE_WINDOW -- members that cannot reach the database cannot vote, so a partitioned
// minority never evicts the majority. Rows whose heartbeat in the table is older than the vote
// window (their node stopped writing its own heartbeat) are declared dead by anyone.
//
// A node that finds itself dead in the table (after a freeze, say) rejoins with a new
// incarnation. Leaving gracefully: (m_leave) marks it leaving (the others stop routing to it),
// (m_exit) marks it exiting once it has drained.
//
// Autoscaling: heartbeats and their acks carry each member's utilization; once per heartbeat
// interval the up members' latest values are published on the autoscale board (a value older
// than CLUSTER_SUSPECT_TIMEOUT counts as unknown).
//
// Views are published on the view_board: the table, the ring of up members that own partitions,
// and the endpoints of authenticated peers.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "cluster/metrics.hpp"
#include "cluster/view.hpp"
#include "config/settings.hpp"
#include "runtime/autoscale.hpp"
#include "runtime/health_board.hpp"

namespace klerno::cluster {

/// How the membership actor runs.
struct membership_config {
  config::cluster_settings settings; ///< seeds, bootstrap, secret, timing
  std::string node_name;             ///< NODE_NAME
  uint64_t incarnation = 0;          ///< the first incarnation (ms since the epoch at start)
  std::string address;               ///< "host:port" other nodes reach our endpoint at
  std::string app_version;           ///< this build's version
  member_role role = member_role::both;
  caf::actor table;                         ///< the table actor (cluster/table_actor.hpp)
  caf::actor endpoint;                      ///< our endpoint (told about a new incarnation)
  view_board* board = nullptr;              ///< where views are published
  std::shared_ptr<cluster_metrics> metrics; ///< may be null (tests)
  /// This node's health board: its utilization goes into every Heartbeat (null: unknown).
  const runtime::health_board* health = nullptr;
  /// Where the up members' latest utilization (from heartbeats and their acks) is published once
  /// per heartbeat interval, for the autoscaling signal; may be null.
  runtime::autoscale_board* autoscale = nullptr;
  /// Called (in the actor's context) after a new view was published, with the previous one.
  std::function<void(const view& previous, const view& current)> on_view;
};

/// Spawns the membership actor.
caf::actor spawn_membership(caf::actor_system& sys, membership_config cfg);

} // namespace klerno::cluster
