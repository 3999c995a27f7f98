#pragma once

// The Redis monitor: the cache supervisor's actor that the health actor checks. On each check it
// asks the node's Redis (through `probe`, which runs PING and INFO on an io thread's connection)
// and answers with the round trip and a detail line (memory, clients), or with an `unavailable`
// error naming the failure; it keeps klerno_redis_up current. Redis is never required: a failing
// check makes /health say "degraded" and leaves /readiness alone.

#include <chrono>
#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include "actors/cache/metrics.hpp"

namespace klerno::cache {

/// Registry name of the monitor.
constexpr caf::atom_value redis_monitor_name = caf::atom("redis");

/// Outcome of one Redis check.
struct redis_probe {
  bool ok = false;
  std::chrono::microseconds latency{0};
  std::string detail; ///< "ping 0.120 ms, used_memory 1.2M, connected_clients 7", or the failure
};

/// Runs one check and calls its argument once, from any thread.
using probe_fn = std::function<void(std::function<void(redis_probe)>)>;

/// Spawns the monitor. It answers `(ping_atom, get_atom)` with `(caf::timespan latency,
/// std::string detail)`, or an `errc::unavailable` error whose context is the failure. Checks
/// not answered within `timeout` fail.
caf::actor spawn_redis_monitor(caf::actor_system& sys, probe_fn probe,
                               std::chrono::milliseconds timeout, metrics_ptr metrics);

} // namespace klerno::cache
