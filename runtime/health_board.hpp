#pragma once

// The health board: where the node's lifecycle phase and the health actor's latest snapshot are
// published for the probes. Writers are the lifecycle (phase) and the health actor (snapshot);
// readers are HTTP io threads, which only load an atomic or a shared pointer and never wait on a
// dependency. The board outlives the health actor, so a restarted health actor finds the phase
// where the lifecycle left it.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/process_stats.hpp"

namespace klerno::runtime {

/// Lifecycle phase of a node.
enum class phase {
  starting, ///< components are starting; /startup and /readiness answer 503
  serving,  ///< started; /readiness follows the required checks
  draining, ///< SIGTERM received: /readiness answers 503, requests are still served
  stopping, ///< no longer accepting; finishing in-flight requests and stopping actors
};

/// Returns "starting", "serving", "draining" or "stopping".
const char* to_string(phase x) noexcept;

/// The outcome of one dependency check.
struct check_status {
  std::string name;                     ///< e.g. "scheduler", "database", "redis"
  bool ok = false;                      ///< the dependency answered in time and healthy
  bool required = true;                 ///< a failing required check makes the node unready
  std::chrono::microseconds latency{0}; ///< how long the check took
  std::string detail;                   ///< short human-readable detail (no secrets)
  std::chrono::system_clock::time_point checked_at;
};

/// What the health actor last observed.
struct health_snapshot {
  std::vector<check_status> checks; ///< one entry per check, in registration order
  process_stats process;            ///< sampled from /proc
  double cpu_percent = 0;           ///< process CPU since the previous sample (100 = 1 core)
  /// cpu_percent as a fraction of the CPUs available to the process (runtime/utilization.hpp),
  /// in [0, 1]; nullopt when the capacity is unknown
  std::optional<double> cpu_utilization;
  /// resident memory as a fraction of the process's memory limit, in [0, 1]; nullopt: unknown
  std::optional<double> memory_utilization;
  std::chrono::system_clock::time_point sampled_at;
  uint64_t sequence = 0; ///< increments with every published snapshot
};

/// Shared between the lifecycle, the health actor and the probes. Thread-safe.
class health_board {
public:
  health_board();

  /// Sets the lifecycle phase (readiness reacts at once).
  void set_phase(phase x) noexcept {
    phase_.store(x, std::memory_order_release);
  }

  /// Returns the lifecycle phase.
  phase current_phase() const noexcept {
    return phase_.load(std::memory_order_acquire);
  }

  /// Publishes a new snapshot (health actor only).
  void publish(health_snapshot x);

  /// Returns the latest snapshot (never null; empty before the first publish).
  std::shared_ptr<const health_snapshot> snapshot() const;

  /// Returns `true` once startup completed (serving, draining or stopping).
  bool started() const noexcept {
    return current_phase() != phase::starting;
  }

  /// Returns `true` when serving and every required check of the latest snapshot passed.
  bool ready() const noexcept;

  /// Returns the time this board (the node) was created.
  std::chrono::system_clock::time_point started_at() const noexcept {
    return started_at_;
  }

private:
  std::atomic<phase> phase_{phase::starting};
  std::atomic<bool> checks_ok_{true};
  std::chrono::system_clock::time_point started_at_;
  mutable std::mutex mtx_;
  std::shared_ptr<const health_snapshot> snapshot_;
};

} // namespace klerno::runtime
