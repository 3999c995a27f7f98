#include "actors/cache/metrics.hpp"

namespace klerno::cache {

namespace {

/// Redis round trips on loopback take tens of microseconds; a slow network or server, more.
std::vector<double> redis_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
          0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1};
}

} // namespace

cache_metrics::cache_metrics(runtime::metrics::registry& reg)
    : redis_up(reg.gauge("klerno_redis_up", "1 when the last Redis health check passed.").with({})),
      redis_connections(reg.gauge("klerno_redis_connections",
                                  "Redis connections of this node, by state (up, down).",
                                  {"state"})),
      redis_command_duration(reg
                               .histogram("klerno_redis_command_duration_seconds",
                                          "Round trip of Redis commands that got a reply.", {},
                                          redis_buckets())
                               .with({})),
      redis_command_failures(reg.counter(
        "klerno_redis_command_failures_total",
        "Redis commands without a reply, by reason (not_connected, timeout, lost, overloaded, "
        "closed).",
        {"reason"})),
      redis_reconnects(
        reg.counter("klerno_redis_reconnects_total", "Redis connections re-established.").with({})),
      cache_requests(reg.counter("klerno_cache_requests_total",
                                 "Response cache lookups by level (l1, l2) and result (hit, miss).",
                                 {"level", "result"})),
      cache_bypassed(reg.counter("klerno_cache_bypassed_total",
                                 "Cacheable responses served without the cache, by reason "
                                 "(redis_down, too_large).",
                                 {"reason"})),
      cache_invalidations(reg.counter("klerno_cache_invalidations_total",
                                      "Generation bumps after writes, by result (ok, failed).",
                                      {"result"})),
      l1_entries(
        reg.gauge("klerno_cache_l1_entries", "Entries in the in-process response cache.").with({})),
      l1_bytes(reg.gauge("klerno_cache_l1_bytes", "Bytes held by the in-process response cache.")
                 .with({})),
      l1_evictions(reg
                     .counter("klerno_cache_l1_evictions_total",
                              "Entries evicted from the in-process cache to stay in bounds.")
                     .with({})),
      rate_limit_requests(reg.counter("klerno_rate_limit_requests_total",
                                      "Rate limit decisions by result (allowed, denied) and "
                                      "source (redis, local).",
                                      {"result", "source"})),
      rate_limit_fallback(
        reg
          .counter("klerno_rate_limit_fallback_total",
                   "Rate limit decisions taken by the per-node bucket because Redis did not "
                   "answer.")
          .with({})),
      sessions(reg.counter("klerno_sessions_total",
                           "Session operations by outcome (created, resolved, rejected, revoked, "
                           "unavailable).",
                           {"op"})),
      realtime_updates(reg.counter("klerno_realtime_updates_total",
                                   "Pipelined real-time counter updates by result (ok, failed).",
                                   {"result"})) {}

} // namespace klerno::cache
