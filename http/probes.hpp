#pragma once

// The orchestrator probes and the metrics endpoints:
//   GET /healthz           200 {"status":"ok"} (the process serves HTTP)
//   GET /liveness          200 once the health actor answers a ping within LIVENESS_TIMEOUT
//   GET /startup           200 once startup completed, 503 before
//   GET /readiness         200 when serving and every required check passed; 503 while
//                          starting, draining or when a required check fails
//   GET /health            (X-API-Key) JSON detail from the health actor
//   GET /metrics-detailed  (X-API-Key) JSON view of the metrics registry plus health detail
//   GET /metrics           Prometheus text format (when PROMETHEUS_ENABLED)
// Answers come from the health board's snapshot or from the health actor; nothing here calls a
// dependency inline.

#include <chrono>
#include <memory>
#include <string>

#include "cluster/identity.hpp"
#include "http/router.hpp"
#include "runtime/health_board.hpp"
#include "runtime/metrics.hpp"

namespace klerno::http {

/// What the probes report about the node.
struct probe_context {
  runtime::health_board* board = nullptr;
  runtime::metrics::registry* metrics = nullptr;
  cluster::identity identity;
  std::string version;
  std::string environment;
  std::chrono::milliseconds liveness_timeout{2'000};
  std::chrono::milliseconds health_timeout{2'000};
};

/// Adds GET /healthz (200 {"status":"ok"}) to `r`.
void add_healthz_route(router& r);

/// Adds the probe routes (/healthz, /liveness, /startup, /readiness, /health,
/// /metrics-detailed) to `r`.
void add_probe_routes(router& r, std::shared_ptr<const probe_context> ctx);

/// Adds GET /metrics (Prometheus text format) to `r`.
void add_metrics_route(router& r, std::shared_ptr<const probe_context> ctx);

} // namespace klerno::http
