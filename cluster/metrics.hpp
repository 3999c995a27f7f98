#pragma once

// The cluster's metrics, declared in one place.

#include "runtime/metrics.hpp"

namespace klerno::cluster {

/// References into the node's registry.
struct cluster_metrics {
  /// Registers (or finds) the cluster metrics in `reg`.
  explicit cluster_metrics(runtime::metrics::registry& reg);

  /// klerno_cluster_members{status}: members of the table by status (latest incarnations)
  runtime::metrics::gauge_family& members;
  /// klerno_cluster_heartbeat_rtt_seconds: round trip of heartbeats to peers
  runtime::metrics::histogram& heartbeat_rtt;
  /// klerno_cluster_remote_requests_total{outcome="ok|failed|retried"}: wallet work sent to peers
  runtime::metrics::counter_family& remote_requests;
  /// klerno_cluster_handoffs_total: ring partitions that changed owner
  runtime::metrics::counter& handoffs;
  /// klerno_cluster_refused_total{reason}: handshakes refused and messages from unauthenticated
  /// peers dropped
  runtime::metrics::counter_family& refused;
  /// klerno_cluster_view_changes_total: membership views published
  runtime::metrics::counter& view_changes;
  /// klerno_cluster_members_declared_dead_total: members this node declared dead
  runtime::metrics::counter& declared_dead;
};

} // namespace klerno::cluster
