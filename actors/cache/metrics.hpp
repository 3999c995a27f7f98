#pragma once

// Every metric of the cache layer (Redis connections, response cache, rate limiter, sessions,
// real-time counters), declared in one place. Components receive a shared pointer (null: no
// metrics, e.g. in unit tests) and cache the label children they update.
//
// Redis:
// - klerno_redis_up                                   gauge: 1 when the last health check passed
// - klerno_redis_connections{state="up"|"down"}       gauge: this node's connections
// - klerno_redis_command_duration_seconds             histogram: command round trip (per reply)
// - klerno_redis_command_failures_total{reason}       counter: not_connected, timeout, lost,
//                                                     overloaded, closed
// - klerno_redis_reconnects_total                     counter: connections re-established
// Response cache:
// - klerno_cache_requests_total{level="l1"|"l2",result="hit"|"miss"}  counter
// - klerno_cache_bypassed_total{reason}               counter: redis_down (cache not trusted),
//                                                     too_large (entry over CACHE_MAX_ENTRY_BYTES)
// - klerno_cache_invalidations_total{result="ok"|"failed"}  counter: generation bumps
// - klerno_cache_l1_entries, klerno_cache_l1_bytes    gauges
// - klerno_cache_l1_evictions_total                   counter
// Rate limiting:
// - klerno_rate_limit_requests_total{result="allowed"|"denied",source="redis"|"local"}  counter
// - klerno_rate_limit_fallback_total                  counter: decisions taken by the local
//                                                     bucket because Redis did not answer
// Sessions and real-time analytics:
// - klerno_sessions_total{op="created"|"resolved"|"rejected"|"revoked"|"unavailable"}  counter
// - klerno_realtime_updates_total{result="ok"|"failed"}  counter: pipelined counter updates

#include <memory>

#include "runtime/metrics.hpp"

namespace klerno::cache {

/// The metric families of the cache layer.
struct cache_metrics {
  /// Declares the families in `reg` (idempotent: a second call returns the same families).
  explicit cache_metrics(runtime::metrics::registry& reg);

  runtime::metrics::gauge& redis_up;
  runtime::metrics::gauge_family& redis_connections;
  runtime::metrics::histogram& redis_command_duration;
  runtime::metrics::counter_family& redis_command_failures;
  runtime::metrics::counter& redis_reconnects;

  runtime::metrics::counter_family& cache_requests;
  runtime::metrics::counter_family& cache_bypassed;
  runtime::metrics::counter_family& cache_invalidations;
  runtime::metrics::gauge& l1_entries;
  runtime::metrics::gauge& l1_bytes;
  runtime::metrics::counter& l1_evictions;

  runtime::metrics::counter_family& rate_limit_requests;
  runtime::metrics::counter& rate_limit_fallback;

  runtime::metrics::counter_family& sessions;
  runtime::metrics::counter_family& realtime_updates;
};

using metrics_ptr = std::shared_ptr<cache_metrics>;

} // namespace klerno::cache
