#pragma once

// The connection actor: one detached actor (its own thread) owning one `session`, so the
// blocking database client never runs on a scheduler or io thread. It executes one request at a
// time, in arrival order, and answers with the result or a caf::error (see messages.hpp).
//
// Connecting is lazy (at the first request) and repeated after a lost connection: a request that
// finds the connection broken reconnects at once and is retried once (unless a COMMIT was in
// doubt). A failed connect starts a backoff (reconnect_backoff_min, doubling up to the maximum)
// during which requests fail at once with `errc::unavailable`, without touching the network.
// Serialization failures and deadlocks are retried twice. The pool (pool.hpp) spawns these.

#include <chrono>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include "actors/storage/messages.hpp"
#include "actors/storage/metrics.hpp"
#include "actors/storage/session.hpp"

namespace klerno::actors::storage {

/// Settings of one connection actor.
struct connection_config {
  session_factory factory;                      ///< called once, on the actor's thread
  std::string pool = "primary";                 ///< pool name (logs)
  std::chrono::milliseconds backoff_min{100};   ///< first wait after a failed connect
  std::chrono::milliseconds backoff_max{2'000}; ///< longest wait between connects
  int conflict_retries = 2;                     ///< extra attempts after 40001 / 40P01
  metrics_ptr metrics;                          ///< may be null
};

/// Spawns a detached connection actor.
db_actor spawn_connection(caf::actor_system& sys, connection_config cfg);

/// Maps a database error to the caf::error an actor answers with (see messages.hpp); the
/// context holds the message of `e`.
caf::error to_error(const db_error& e);

} // namespace klerno::actors::storage
