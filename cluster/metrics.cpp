#include "cluster/metrics.hpp"

namespace klerno::cluster {

cluster_metrics::cluster_metrics(runtime::metrics::registry& reg)
    : members(reg.gauge("klerno_cluster_members", "Members of the cluster by status.", {"status"})),
      heartbeat_rtt(reg
                      .histogram("klerno_cluster_heartbeat_rtt_seconds",
                                 "Round trip of heartbeats to peers.", {})
                      .with({})),
      remote_requests(reg.counter("klerno_cluster_remote_requests_total",
                                  "Wallet work sent to the owner node, by outcome.", {"outcome"})),
      handoffs(reg.counter("klerno_cluster_handoffs_total", "Ring partitions that changed owner.")
                 .with({})),
      refused(reg.counter("klerno_cluster_refused_total",
                          "Handshakes refused and messages from unauthenticated peers dropped.",
                          {"reason"})),
      view_changes(
        reg.counter("klerno_cluster_view_changes_total", "Membership views published.").with({})),
      declared_dead(reg
                      .counter("klerno_cluster_members_declared_dead_total",
                               "Members this node declared dead (with enough votes).")
                      .with({})) {
  for (auto st : {"joining", "up", "leaving", "exiting", "dead"}) {
    members.with({st});
  }
  for (auto outcome : {"ok", "failed", "retried"}) {
    remote_requests.with({outcome});
  }
}

} // namespace klerno::cluster
