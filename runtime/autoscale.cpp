#include "runtime/autoscale.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace klerno::runtime {

namespace {

/// One metric's proposal, or nullopt when no member reports it.
std::optional<unsigned> propose(const std::vector<member_utilization>& members,
                                std::optional<double> member_utilization::*field, double target,
                                unsigned current, double tolerance,
                                std::optional<double>& average) {
  double sum = 0;
  unsigned n = 0;
  for (const auto& m : members) {
    if (auto v = m.*field; v && std::isfinite(*v)) {
      sum += *v;
      ++n;
    }
  }
  if (n == 0 || !(target > 0)) {
    return std::nullopt;
  }
  average = sum / n;
  auto ratio = *average / target;
  if (std::fabs(ratio - 1.0) <= tolerance) {
    return current;
  }
  auto desired = std::ceil(static_cast<double>(current) * ratio);
  constexpr auto cap = static_cast<double>(std::numeric_limits<unsigned>::max());
  return static_cast<unsigned>(std::clamp(desired, 0.0, cap));
}

} // namespace

autoscale_decision desired_replicas(const std::vector<member_utilization>& members,
                                    const autoscale_policy& policy) {
  autoscale_decision d;
  d.current = std::max<unsigned>(1, static_cast<unsigned>(members.size()));
  d.cpu_desired = propose(members, &member_utilization::cpu, policy.target_cpu, d.current,
                          policy.tolerance, d.cpu_average);
  d.memory_desired = propose(members, &member_utilization::memory, policy.target_memory, d.current,
                             policy.tolerance, d.memory_average);
  unsigned desired = d.current;
  if (d.cpu_desired || d.memory_desired) {
    desired = std::max(d.cpu_desired.value_or(0), d.memory_desired.value_or(0));
  }
  auto hi = std::max(policy.min_replicas, policy.max_replicas);
  d.desired = std::clamp(desired, policy.min_replicas, hi);
  return d;
}

std::vector<member_utilization> counted_members(const std::optional<autoscale_board::members>& m,
                                                const member_utilization& self) {
  if (!m || (m->peers.empty() && !m->self_up)) {
    return {self};
  }
  auto out = m->peers;
  if (m->self_up) {
    out.push_back(self);
  }
  return out;
}

autoscale_metrics::autoscale_metrics(metrics::registry& reg)
    : cpu_utilization(reg
                        .gauge("klerno_cpu_utilization_ratio",
                               "CPU time used by this node over the last sample interval, as a "
                               "fraction of the CPUs available to it (cgroup quota or CPUs).")
                        .with({})),
      memory_utilization(reg
                           .gauge("klerno_memory_utilization_ratio",
                                  "Resident memory of this node as a fraction of its memory "
                                  "limit (cgroup memory.max or MemTotal).")
                           .with({})),
      desired_replicas(reg
                         .gauge("klerno_desired_replicas",
                                "Replicas the cluster should run by the HPA formula over the up "
                                "members' CPU and memory utilization.")
                         .with({})),
      current_replicas(reg
                         .gauge("klerno_autoscale_current_replicas",
                                "Members counted by the autoscaling formula (up members, 1 "
                                "outside a cluster).")
                         .with({})) {
  // Unknown until the health actor's first sample: a 0 would read as an idle node (and a desired
  // count of 0) to an autoscaler scraping a node that just started.
  constexpr auto nan = std::numeric_limits<double>::quiet_NaN();
  cpu_utilization.set(nan);
  memory_utilization.set(nan);
  desired_replicas.set(nan);
  current_replicas.set(nan);
}

void autoscale_metrics::update(const member_utilization& self,
                               const autoscale_decision& d) noexcept {
  constexpr auto nan = std::numeric_limits<double>::quiet_NaN();
  cpu_utilization.set(self.cpu.value_or(nan));
  memory_utilization.set(self.memory.value_or(nan));
  desired_replicas.set(d.desired);
  current_replicas.set(d.current);
}

} // namespace klerno::runtime
