#pragma once

// The pool actor: an event-based actor (it never blocks its scheduler thread) in front of
// `min..max` connection actors. It accepts every session operation (messages.hpp) and
// dispatches each request to an idle connection; when all are busy it spawns another one (up to
// `max`), else it queues the request (up to `queue_max`; beyond it, and for requests queued
// longer than `queue_timeout`, it answers `errc::unavailable` at once).
//
// Circuit breaker: after `circuit_failures` consecutive `errc::unavailable` answers from its
// connections the circuit opens: queued and new requests fail at once with `errc::unavailable`
// (context: text and the remaining cooldown in ms, see `retry_after`). After `circuit_cooldown`
// the next request is let through as a probe (half-open) while others still fail fast; the
// probe's success (any answer but `unavailable`) closes the circuit, its failure re-opens it.
// Health checks use `(ping)` like any request, so an open circuit shows as a failed check at
// once and a recovered database closes it at the next check after the cooldown.
//
// Time comes from the actor clock, so tests on CAF's test_coordinator control it. Connections
// are linked to the pool: they stop with it; one that dies is replaced on demand (its request
// fails with `errc::unavailable`). On an exit message from anyone else the pool fails what it
// holds with `errc::shutting_down` and stops.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include <caf/actor_system.hpp>

#include "actors/storage/messages.hpp"
#include "actors/storage/metrics.hpp"

namespace klerno::actors::storage {

/// Spawns one connection actor for the pool (from the pool's context; must not block).
using connection_spawner = std::function<db_actor(caf::actor_system&)>;

/// Settings of one pool.
struct pool_config {
  std::string name = "primary";                      ///< metrics label and logs
  std::size_t min = 2;                               ///< connections spawned at start
  std::size_t max = 10;                              ///< most connections (at least 1)
  std::size_t queue_max = 1'000;                     ///< queued requests
  std::chrono::milliseconds queue_timeout{5'000};    ///< longest wait in the queue
  std::size_t circuit_failures = 5;                  ///< 0: no circuit breaker
  std::chrono::milliseconds circuit_cooldown{5'000}; ///< open -> half-open
  connection_spawner spawn;                          ///< makes connections
  metrics_ptr metrics;                               ///< may be null
};

/// Spawns a pool.
pool_actor spawn_pool(caf::actor_system& sys, pool_config cfg);

} // namespace klerno::actors::storage
