#pragma once

// The node's services for its peers (the endpoint hands authenticated peers' work here):
// - (k_store, StoreRequest) -> StoreReply: stores transactions whose wallets this node owns in its
//   current view, through the local wallet region (one region request per StoreRequest); an item
//   whose wallet another node owns is answered `not_owner`, so the sender re-reads its view and
//   retries on the owner;
// - (k_alert, Alert): an alert raised on another node, handed to the local hub (publish_remote);
// - (al_bcast, alert) from the local hub: an alert raised here, sent to every peer (through the
//   membership actor, which knows the peers).
// It is published in the registry as the hub's fan-out actor (alerts::alert_fan_name).

#include <chrono>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "cluster/view.hpp"

namespace klerno::actors::remote {

/// How the services actor runs.
struct services_config {
  const cluster::view_board* board = nullptr; ///< ownership checks
  std::string node_name;                      ///< origin of alerts raised here
  std::chrono::milliseconds timeout{10'000};  ///< bound of a local region request
};

/// Spawns the services actor.
caf::actor spawn_services(caf::actor_system& sys, services_config cfg);

} // namespace klerno::actors::remote
