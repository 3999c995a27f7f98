#pragma once

// The alert hub: one actor per node that hands every alert to the local clients watching the
// addresses it concerns (the WebSocket sessions of `WS /ws/alerts`), and is the meeting point
// with the cluster's fan-out.
//
//   wallet region --(publish_local)--> hub --> local subscribers watching from_addr or to_addr
//                                         \--(broadcast)--> fan-out actor (registry: alert_fan)
//   cluster layer --(publish_remote)--> hub --> local subscribers only (never forwarded again)
//
// Subscribers are local objects (a delivery sink plus the addresses they watch), indexed by
// address, so a publish costs O(watchers of its two addresses), whatever the number of
// subscribers. The hub never blocks: a sink only queues the alert for its own thread.
//
// If the hub restarts (supervised), its subscriptions are gone: subscribers notice the new
// instance in the registry and subscribe again (the WebSocket sessions check on every keep-alive
// tick). Alerts published in between reach no one on this node.
//
// For the cluster layer:
// - alerts raised on this node arrive at the actor registered under `alert_fan_name` (if one is
//   registered) as `(broadcast_atom, alert_ptr)`, with `origin_node` set to this node;
// - alerts received from other nodes go to the hub under `hub_name` as
//   `(publish_remote_atom, alert_ptr)`; the hub delivers them locally and does not forward them.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/typed_actor.hpp>

#include "actors/model/transaction.hpp"

namespace klerno::actors::alerts {

/// One alert: a stored transaction at or above RISK_THRESHOLD and the node that raised it.
struct alert {
  model::transaction tx;   ///< the row as stored, with its score
  std::string origin_node; ///< NODE_NAME of the node that raised it
};

/// Alerts travel as shared immutable objects: one copy however many subscribers get it.
using alert_ptr = std::shared_ptr<const alert>;

/// Returns an alert for `tx` raised on `origin_node` (empty: the hub fills in its own node).
alert_ptr make_alert(model::transaction tx, std::string origin_node = {});

/// Receives the alerts of one subscriber. Called on the hub's thread: it must not block (hand the
/// alert to the subscriber's own thread) and must be thread-safe.
class subscriber_sink {
public:
  virtual ~subscriber_sink() = default;

  /// Queues `a` for the subscriber; returns false once the subscriber is gone (the hub then
  /// drops the subscription).
  virtual bool deliver(const alert_ptr& a) = 0;
};

/// Identifies a subscriber; unique within the process (the subscriber picks it).
using subscriber_id = uint64_t;

/// A subscriber and the addresses it watches (from_addr or to_addr of an alert).
struct subscription {
  subscriber_id id = 0;                  ///< who
  std::shared_ptr<subscriber_sink> sink; ///< where its alerts go
  std::vector<std::string> watch;        ///< watched addresses (duplicates are ignored)
};

using subscribe_atom = caf::atom_constant<caf::atom("al_sub")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("al_unsub")>;
using publish_local_atom = caf::atom_constant<caf::atom("al_publoc")>;
using publish_remote_atom = caf::atom_constant<caf::atom("al_pubrem")>;
using broadcast_atom = caf::atom_constant<caf::atom("al_bcast")>;

/// The hub's messages:
/// - `(subscribe, subscription)` -> number of distinct addresses now watched: registers the
///   subscriber, or replaces its sink and its whole watch set when its id is known (a watch-set
///   update is a subscribe with the same id; an empty set unsubscribes). The reply means the
///   set is in effect: every alert published after it reaches the subscriber.
/// - `(unsubscribe, id)`: forgets the subscriber (unknown ids are ignored).
/// - `(publish_local, alert)`: an alert raised on this node (an empty origin_node becomes this
///   node's name): delivered to the local watchers and sent to the fan-out actor, if registered.
/// - `(publish_remote, alert)`: an alert raised on another node: delivered to the local watchers
///   only.
using hub_actor = caf::typed_actor<caf::replies_to<subscribe_atom, subscription>::with<uint64_t>,
                                   caf::reacts_to<unsubscribe_atom, subscriber_id>,
                                   caf::reacts_to<publish_local_atom, alert_ptr>,
                                   caf::reacts_to<publish_remote_atom, alert_ptr>>;

/// What the cluster's fan-out actor must accept: `(broadcast, alert)` for every alert raised on
/// this node, to be sent to the other nodes' hubs as `publish_remote`.
using fan_out_actor = caf::typed_actor<caf::reacts_to<broadcast_atom, alert_ptr>>;

/// Registry name of the node's hub.
constexpr caf::atom_value hub_name = caf::atom("alerts");

/// Registry name under which the cluster layer registers its fan-out actor (optional).
constexpr caf::atom_value alert_fan_name = caf::atom("alert_fan");

/// Settings of the hub.
struct hub_config {
  std::string node_name; ///< NODE_NAME: the origin of alerts published locally without one
};

/// Spawns a hub (as an untyped handle, for the supervisor).
caf::actor spawn_hub(caf::actor_system& sys, hub_config cfg);

/// Sends an alert about `tx`, raised on this node, to the hub in `sys`'s registry; does nothing
/// when no hub is running.
void publish_local(caf::actor_system& sys, model::transaction tx);

} // namespace klerno::actors::alerts

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::alerts::alert_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::alerts::subscription)
