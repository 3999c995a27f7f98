#pragma once

// The autoscaling signal: how many replicas the cluster should run, computed by every node from
// the CPU and memory utilization of the up members (its own included) with the Kubernetes HPA's
// formula, and exported as `klerno_desired_replicas` for an external autoscaler (HPA external
// metric through prometheus-adapter, ECS target tracking, `scripts/up --autoscale`).
//
// Members exchange their utilization on the cluster heartbeats; the membership actor publishes
// the latest values of the up members on an `autoscale_board`, and the health actor, on every
// process sample, adds its own and updates the gauges (`autoscale_metrics`). Nothing here is
// computed per request or per message.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "runtime/metrics.hpp"

namespace klerno::runtime {

/// The utilization of one member, as ratios in [0, 1]; nullopt: unknown (a peer of an older
/// protocol minor, or one whose sample is not in yet).
struct member_utilization {
  std::optional<double> cpu;    ///< process CPU time rate / CPU capacity
  std::optional<double> memory; ///< resident memory / memory limit
};

/// The settings of the formula (from MIN_REPLICAS, MAX_REPLICAS, TARGET_*_UTILIZATION and
/// AUTOSCALE_TOLERANCE).
struct autoscale_policy {
  unsigned min_replicas = 2;  ///< the smallest desired count
  unsigned max_replicas = 10; ///< the largest desired count (at least min_replicas)
  double target_cpu = 0.7;    ///< target CPU utilization, ratio in (0, 1]
  double target_memory = 0.8; ///< target memory utilization, ratio in (0, 1]
  double tolerance = 0.1;     ///< |ratio - 1| within this keeps the current count
};

/// What the formula saw and decided.
struct autoscale_decision {
  unsigned current = 0;                   ///< members counted (the up members, at least 1)
  unsigned desired = 0;                   ///< the clamped desired replica count
  std::optional<double> cpu_average;      ///< mean CPU utilization of the members that reported it
  std::optional<double> memory_average;   ///< mean memory utilization of those that reported it
  std::optional<unsigned> cpu_desired;    ///< the CPU metric's proposal (before clamping)
  std::optional<unsigned> memory_desired; ///< the memory metric's proposal (before clamping)
};

/// Computes the desired replica count like the Kubernetes HPA, for each metric (CPU against
/// `target_cpu`, memory against `target_memory`):
///   ratio = average utilization of the members that report the metric / target;
///   proposal = current when |ratio - 1| <= tolerance, else ceil(current * ratio);
/// and takes the larger proposal of the two, clamped to [min_replicas, max_replicas].
/// `current` is `members.size()` (at least 1). Members with an unknown value are left out of that
/// metric's average (they neither pull it up nor down); a metric no member reports proposes
/// nothing, and with no proposal at all the desired count is `current` (clamped).
autoscale_decision desired_replicas(const std::vector<member_utilization>& members,
                                    const autoscale_policy& policy);

/// The up members' utilization as the membership actor last saw it. Thread-safe: the membership
/// actor publishes once per heartbeat interval, the health actor reads once per sample.
class autoscale_board {
public:
  /// What was published.
  struct members {
    bool self_up = false;                  ///< this node is up in the membership table
    std::vector<member_utilization> peers; ///< every other up member (unknown when stale)
  };

  /// Publishes the up members (membership actor only).
  void publish(members m) {
    std::lock_guard<std::mutex> guard{mtx_};
    current_ = std::move(m);
  }

  /// Returns the latest publication, or nullopt when none was made (not in a cluster, or not
  /// joined yet).
  std::optional<members> current() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return current_;
  }

private:
  mutable std::mutex mtx_;
  std::optional<members> current_;
};

/// Returns the members the formula counts: the published peers plus this node when it is up;
/// only this node when nothing was published or no member is up (a node outside a cluster, or
/// still joining).
std::vector<member_utilization> counted_members(const std::optional<autoscale_board::members>& m,
                                                const member_utilization& self);

/// The autoscaling metrics, declared in one place.
struct autoscale_metrics {
  /// Registers (or finds) the autoscaling metrics in `reg`.
  explicit autoscale_metrics(metrics::registry& reg);

  /// Sets the gauges from this node's utilization and the formula's decision (an unknown
  /// utilization sets NaN, which no comparison matches).
  void update(const member_utilization& self, const autoscale_decision& d) noexcept;

  /// klerno_cpu_utilization_ratio: this node's CPU utilization, 0..1
  metrics::gauge& cpu_utilization;
  /// klerno_memory_utilization_ratio: this node's memory utilization, 0..1
  metrics::gauge& memory_utilization;
  /// klerno_desired_replicas: the replica count the formula asks for
  metrics::gauge& desired_replicas;
  /// klerno_autoscale_current_replicas: the members the formula counted
  metrics::gauge& current_replicas;
};

} // namespace klerno::runtime
