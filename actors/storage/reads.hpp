#pragma once

// The reads router: the one actor the HTTP layer asks for stored data. Routing:
// - `get` and `history` go to the primary (read-your-writes: a row acknowledged by the writer
//   is found at once; a wallet actor rebuilds its state from committed rows);
// - `list`, `alerts`, `summary` and `export` may lag: they go to the replica pools round robin,
//   and to the primary when no replica is configured or when the chosen replica answers
//   `errc::unavailable` (unreachable, circuit open, queue full). Other errors are final.
// Answers come from the pools (see messages.hpp for the errors).

#include <vector>

#include <caf/actor_system.hpp>

#include "actors/storage/messages.hpp"
#include "actors/storage/metrics.hpp"

namespace klerno::actors::storage {

/// Settings of the reads router.
struct reads_config {
  reads_actor primary;               ///< the primary pool
  std::vector<reads_actor> replicas; ///< replica pools (may be empty)
  metrics_ptr metrics;               ///< may be null
};

/// Spawns a reads router.
reads_actor spawn_reads(caf::actor_system& sys, reads_config cfg);

} // namespace klerno::actors::storage
