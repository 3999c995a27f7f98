#pragma once

// Utilization on the wire: the optional `cpu_utilization` / `memory_utilization` fields that
// Heartbeat and HeartbeatAck carry since protocol minor 2 (proto/cluster.proto), for the
// autoscaling signal (runtime/autoscale.hpp). A field that is absent (a peer of minor 1, or a
// value not measured yet) reads as unknown, never as 0.

#include <cmath>
#include <optional>

#include "runtime/autoscale.hpp"
#include "runtime/health_board.hpp"

namespace klerno::cluster {

/// Returns this node's latest utilization from the health board (`board` may be null: unknown).
inline runtime::member_utilization own_utilization(const runtime::health_board* board) {
  if (board == nullptr) {
    return {};
  }
  auto snap = board->snapshot();
  return {snap->cpu_utilization, snap->memory_utilization};
}

/// Sets the utilization fields of a Heartbeat or HeartbeatAck; unknown values stay absent.
template <class Message>
void set_utilization(Message& m, const runtime::member_utilization& u) {
  if (u.cpu && std::isfinite(*u.cpu)) {
    m.set_cpu_utilization(*u.cpu);
  }
  if (u.memory && std::isfinite(*u.memory)) {
    m.set_memory_utilization(*u.memory);
  }
}

/// Reads the utilization fields of a Heartbeat or HeartbeatAck: absent or out-of-range values
/// (not in [0, 1]) read as unknown.
template <class Message>
runtime::member_utilization utilization_of(const Message& m) {
  auto valid = [](double x) -> std::optional<double> {
    return x >= 0 && x <= 1 ? std::optional<double>{x} : std::nullopt;
  };
  runtime::member_utilization u;
  if (m.has_cpu_utilization()) {
    u.cpu = valid(m.cpu_utilization());
  }
  if (m.has_memory_utilization()) {
    u.memory = valid(m.memory_utilization());
  }
  return u;
}

} // namespace klerno::cluster
