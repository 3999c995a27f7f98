#pragma once

// The effective configuration of a klerno-node, as plain structs handed to each component by
// value. Only the node assembly reads raw configuration (see config/loader.hpp); components are
// constructed from these structs, so a test can build any component from a literal.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/secret.hpp"

namespace klerno::config {

/// Deployment environment (`APP_ENV`). `production` enforces non-default secrets.
enum class app_env { development, test, staging, production };

/// Returns the lower-case name of an environment, as accepted by `APP_ENV`.
const char* to_string(app_env x) noexcept;

/// Log line format (`LOG_FORMAT`).
enum class log_format { text, json };

/// Minimum severity that is logged (`LOG_LEVEL`).
enum class log_level { trace, debug, info, warn, error, critical, off };

const char* to_string(log_format x) noexcept;
const char* to_string(log_level x) noexcept;

/// A `host:port` pair, e.g. one entry of `CLUSTER_SEEDS`.
struct host_port {
  std::string host; ///< DNS name, IPv4 address or bracketed IPv6 address without brackets.
  uint16_t port = 0;

  friend bool operator==(const host_port& a, const host_port& b) {
    return a.host == b.host && a.port == b.port;
  }
};

/// The HTTP edge: listener, io threads, limits and timeouts.
struct http_settings {
  std::string bind_address = "0.0.0.0";              ///< BIND_ADDRESS
  uint16_t port = 8000;                              ///< PORT (0: pick a free port)
  unsigned workers = 2;                              ///< WORKERS: io threads
  std::size_t max_header_bytes = 8 * 1024;           ///< HTTP_MAX_HEADER_BYTES -> 431
  std::size_t max_body_bytes = 1024 * 1024;          ///< HTTP_MAX_BODY_BYTES -> 413
  std::chrono::milliseconds read_timeout{15'000};    ///< HTTP_READ_TIMEOUT: whole request
  std::chrono::milliseconds idle_timeout{75'000};    ///< HTTP_IDLE_TIMEOUT: keep-alive idle
  std::chrono::milliseconds write_timeout{15'000};   ///< HTTP_WRITE_TIMEOUT: whole response
  std::chrono::milliseconds request_timeout{10'000}; ///< HTTP_REQUEST_TIMEOUT: handler -> 504
  std::chrono::milliseconds linger_timeout{2'000};   ///< HTTP_LINGER_TIMEOUT: discard before close
  std::size_t pipeline_limit = 16;                   ///< HTTP_PIPELINE_LIMIT: queued requests
  std::size_t max_connections = 10'000;              ///< HTTP_MAX_CONNECTIONS: more -> 503
  bool access_log = true;                            ///< ACCESS_LOG
  bool prometheus_enabled = true;                    ///< PROMETHEUS_ENABLED: serve /metrics
  /// METRICS_PORT: when set and different from `port`, /metrics (and /healthz) are also
  /// served on a separate listener on this port (0: pick a free port).
  std::optional<uint16_t> metrics_port;
};

/// Credentials of the API. Compared in constant time by their users, never logged.
struct auth_settings {
  secret api_key;    ///< API_KEY: expected in `X-API-Key`
  secret secret_key; ///< SECRET_KEY: signs tokens (sessions, later issues)
};

/// Health supervision.
struct health_settings {
  std::chrono::milliseconds check_interval{10'000};  ///< HEALTH_CHECK_INTERVAL
  std::chrono::milliseconds liveness_timeout{2'000}; ///< LIVENESS_TIMEOUT: actor round trip
};

/// Graceful shutdown: SIGTERM -> readiness 503 -> grace -> stop accepting -> drain -> stop.
struct lifecycle_settings {
  std::chrono::milliseconds shutdown_grace{5'000}; ///< SHUTDOWN_GRACE
  std::chrono::milliseconds drain_timeout{20'000}; ///< SHUTDOWN_DRAIN_TIMEOUT
  std::chrono::milliseconds stop_timeout{5'000};   ///< SHUTDOWN_STOP_TIMEOUT: per actor
};

/// Logging.
struct log_settings {
  log_format format = log_format::text; ///< LOG_FORMAT
  log_level level = log_level::info;    ///< LOG_LEVEL
};

/// Autoscaling targets (the seed's HPA / ECS figures).
struct scaling_settings {
  unsigned min_replicas = 2;             ///< MIN_REPLICAS
  unsigned max_replicas = 10;            ///< MAX_REPLICAS
  double target_cpu_utilization = 70;    ///< TARGET_CPU_UTILIZATION, percent (0, 100]
  double target_memory_utilization = 80; ///< TARGET_MEMORY_UTILIZATION, percent (0, 100]
};

/// Cluster membership (built out by the cluster issue).
struct cluster_settings {
  std::string node_name;                  ///< NODE_NAME (default: the host name)
  std::string bind_address = "127.0.0.1"; ///< CLUSTER_BIND_ADDRESS: private address only
  uint16_t port = 4370;                   ///< CLUSTER_PORT
  std::vector<host_port> seeds;           ///< CLUSTER_SEEDS: comma-separated host:port
  secret cluster_secret;                  ///< CLUSTER_SECRET
};

/// External stores (used by the storage and cache issues).
struct storage_settings {
  secret database_url; ///< DATABASE_URL (postgresql://...), may carry a password
  secret redis_url;    ///< REDIS_URL (redis://...), may carry a password
};

/// The actor runtime.
struct runtime_settings {
  unsigned actor_threads = 2; ///< ACTOR_THREADS: CAF scheduler threads
  /// PORTS_FILE: when set, the node writes the ports it bound as JSON
  /// (`{"http":8000,"metrics":null,"cluster":null}`) once it is ready to serve.
  std::string ports_file;
  /// CHAOS_ENDPOINTS: serve `POST /chaos/actors/{name}/kill` (API key) to kill a named actor,
  /// for resilience tests. Refused when APP_ENV=production.
  bool chaos_endpoints = false;
};

/// Everything a node needs, as loaded by `config::load`.
struct settings {
  app_env env = app_env::development; ///< APP_ENV
  http_settings http;
  auth_settings auth;
  health_settings health;
  lifecycle_settings lifecycle;
  log_settings log;
  scaling_settings scaling;
  cluster_settings cluster;
  storage_settings storage;
  runtime_settings runtime;
};

} // namespace klerno::config
