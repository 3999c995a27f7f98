#include "actors/storage/metrics.hpp"

namespace klerno::actors::storage {

namespace {

std::vector<double> batch_buckets() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
}

} // namespace

storage_metrics::storage_metrics(runtime::metrics::registry& reg)
    : pool_connections(reg.gauge("klerno_db_pool_connections",
                                 "Database connections of a pool, by state (in_use, idle).",
                                 {"pool", "state"})),
      pool_waiting(reg.gauge("klerno_db_pool_waiting",
                             "Requests waiting for a database connection.", {"pool"})),
      pool_wait(reg.histogram("klerno_db_pool_wait_seconds",
                              "Time requests waited for a database connection.", {"pool"})),
      query_duration(reg.histogram("klerno_db_query_duration_seconds",
                                   "Time spent in the database per operation.", {"operation"})),
      errors(reg.counter("klerno_db_errors_total",
                         "Failed database requests by kind (refusals included).", {"kind"})),
      circuit_state(reg.gauge("klerno_db_circuit_state",
                              "Circuit breaker of a pool: 0 closed, 1 half-open, 2 open.",
                              {"pool"})),
      circuit_opened(reg.counter("klerno_db_circuit_opened_total",
                                 "Times the circuit breaker of a pool opened.", {"pool"})),
      batch_rows(reg.histogram("klerno_db_writer_batch_rows", "Rows per group-commit batch.", {},
                               batch_buckets())),
      replica_fallbacks(
        reg.counter("klerno_db_replica_fallbacks_total",
                    "Reads sent to the primary because a replica was unavailable.")),
      replica_lag(reg.gauge("klerno_db_replica_lag_seconds",
                            "Replay delay of a replica behind the primary (0 when caught up), "
                            "read by its health check.",
                            {"pool"})),
      replica_lag_bytes(reg.gauge("klerno_db_replica_lag_bytes",
                                  "WAL a replica received and has not replayed yet, read by its "
                                  "health check.",
                                  {"pool"})) {}

} // namespace klerno::actors::storage
