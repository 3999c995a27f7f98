#pragma once

// The health actor: keeps the node's health snapshot. Every `sample_interval` it samples the
// process (memory, CPU, and both as utilization of the capacity available to it; from them it
// updates the autoscaling signal of runtime/autoscale.hpp), measures how late its own timer fired
// (a starved scheduler shows up here first) and pings its dependencies (database pools), then
// publishes a snapshot to the health board, from which the probes answer without calling anything
// inline. It also answers the liveness ping (proof that the actor system schedules work) and
// requests for the current snapshot.

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/typed_actor.hpp>

#include "runtime/autoscale.hpp"
#include "runtime/health_board.hpp"
#include "runtime/metrics.hpp"

namespace klerno::actors {

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// Checks the dependencies again (sooner than the next tick while one of them fails).
using recheck_atom = caf::atom_constant<caf::atom("recheck")>;

/// The registry name under which the node's supervisor publishes the health actor.
constexpr caf::atom_value health_name = caf::atom("health");

/// A published snapshot (shared, immutable; local messages only).
using snapshot_ptr = std::shared_ptr<const runtime::health_snapshot>;

/// Messages of the health actor:
/// - `ping` -> `pong`: liveness (answered from the actor's own context);
/// - `get` -> snapshot_ptr: samples the process now and returns the fresh snapshot;
/// - `tick`: internal, the periodic sample.
using health_actor = caf::typed_actor<caf::replies_to<ping_atom>::with<pong_atom>,
                                      caf::replies_to<caf::get_atom>::with<snapshot_ptr>,
                                      caf::reacts_to<tick_atom>, caf::reacts_to<recheck_atom>>;

/// A dependency the health actor checks every `sample_interval`: an actor found in the registry
/// (a database pool, pinged with one trivial query; the Redis monitor), asked with a timeout.
struct dependency_check {
  std::string name;      ///< "database", "database_replica_0", ...
  caf::atom_value actor; ///< registry name of the pool (storage::primary_name, ...)
  bool required = true;  ///< a failing required check makes /readiness answer 503
  /// Asked with `(ping_atom, get_atom)` instead, answering `(caf::timespan, std::string detail)`
  /// (the Redis monitor: latency plus memory and clients).
  bool detailed = false;
};

/// Settings of the health actor.
struct health_config {
  runtime::health_board* board = nullptr;             ///< where snapshots are published
  std::chrono::milliseconds sample_interval{1'000};   ///< process sampling and check period
  std::chrono::milliseconds max_scheduler_lag{1'000}; ///< a later tick marks "scheduler" failed
  std::chrono::milliseconds check_timeout{2'000};     ///< a dependency slower than this fails
  std::vector<dependency_check> dependencies;         ///< checked in this order
  /// Registry names of the actors whose mailbox depth is sampled every `sample_interval` into
  /// `mailbox_depth{actor=<label>}` (see runtime/mailbox_probe.hpp); absent actors are skipped.
  std::vector<std::pair<std::string, caf::atom_value>> mailbox_probes;
  runtime::metrics::gauge_family* mailbox_depth = nullptr; ///< klerno_actor_mailbox_depth{actor}
  /// The autoscaling signal, updated on every sample from this node's utilization and the up
  /// members' on `autoscale_board` (runtime/autoscale.hpp); null: not computed (tests).
  std::shared_ptr<runtime::autoscale_metrics> autoscale;
  const runtime::autoscale_board* autoscale_board = nullptr; ///< null: a node outside a cluster
  runtime::autoscale_policy autoscale_policy;                ///< MIN_/MAX_REPLICAS, targets
};

/// Spawns a health actor (as an untyped handle, for the supervisor).
caf::actor spawn_health(caf::actor_system& sys, health_config cfg);

} // namespace klerno::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::snapshot_ptr)
