#pragma once

// Every metric of the storage layer, declared in one place. The actors receive a shared pointer
// (null: no metrics, e.g. in unit tests) and cache the label children they update.
//
// - klerno_db_pool_connections{pool,state="in_use"|"idle"}  gauge
// - klerno_db_pool_waiting{pool}                            gauge: requests queued for a connection
// - klerno_db_pool_wait_seconds{pool}                       histogram: time queued
// - klerno_db_query_duration_seconds{operation}             histogram: time in the database
// - klerno_db_errors_total{kind}                            counter: unavailable, timeout,
//       conflict, invalid, internal (from the database), circuit_open, queue_full,
//       queue_timeout, writer_full (refused without trying)
// - klerno_db_circuit_state{pool}                           gauge: 0 closed, 1 half-open, 2 open
// - klerno_db_circuit_opened_total{pool}                    counter
// - klerno_db_writer_batch_rows                             histogram: rows per group commit
// - klerno_db_replica_fallbacks_total                       counter: reads retried on the primary
// - klerno_db_replica_lag_seconds{pool}                     gauge: a replica's replay delay, read
//       by its health check (0 when caught up; absent until known)
// - klerno_db_replica_lag_bytes{pool}                       gauge: WAL it received, not replayed

#include <memory>

#include "runtime/metrics.hpp"

namespace klerno::actors::storage {

/// The metric families of the storage layer.
struct storage_metrics {
  /// Declares the families in `reg` (idempotent: a second call returns the same families).
  explicit storage_metrics(runtime::metrics::registry& reg);

  runtime::metrics::gauge_family& pool_connections;
  runtime::metrics::gauge_family& pool_waiting;
  runtime::metrics::histogram_family& pool_wait;
  runtime::metrics::histogram_family& query_duration;
  runtime::metrics::counter_family& errors;
  runtime::metrics::gauge_family& circuit_state;
  runtime::metrics::counter_family& circuit_opened;
  runtime::metrics::histogram_family& batch_rows;
  runtime::metrics::counter_family& replica_fallbacks;
  runtime::metrics::gauge_family& replica_lag;
  runtime::metrics::gauge_family& replica_lag_bytes;
};

/// Shared by the storage actors of a node.
using metrics_ptr = std::shared_ptr<storage_metrics>;

} // namespace klerno::actors::storage
