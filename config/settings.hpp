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

/// What a node does in a cluster (`NODE_ROLE`).
enum class node_role {
  both,   ///< serves the API and owns wallets (the default)
  edge,   ///< serves the API, owns no wallets (routes all wallet work to workers)
  worker, ///< owns wallets, serves no API (only probes and metrics)
};

const char* to_string(node_role x) noexcept;

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
  double tolerance = 0.1; ///< AUTOSCALE_TOLERANCE: |utilization / target - 1| that changes nothing
};

/// Cluster membership (built out by the cluster issue).
struct cluster_settings {
  std::string node_name;                  ///< NODE_NAME (default: the host name)
  node_role role = node_role::both;       ///< NODE_ROLE
  std::string bind_address = "127.0.0.1"; ///< CLUSTER_BIND_ADDRESS: private address only
  uint16_t port = 4370;                   ///< CLUSTER_PORT (0: pick a free port)
  /// CLUSTER_ADVERTISE_HOST: the host other nodes use to reach this one (default: the bind
  /// address, or the host name when binding to all interfaces).
  std::string advertise_host;
  std::vector<host_port> seeds;                      ///< CLUSTER_SEEDS: comma-separated host:port
  bool bootstrap = false;                            ///< CLUSTER_BOOTSTRAP: may form a new cluster
  secret cluster_secret;                             ///< CLUSTER_SECRET
  std::chrono::milliseconds heartbeat_interval{500}; ///< CLUSTER_HEARTBEAT_INTERVAL
  std::chrono::milliseconds suspect_timeout{1'500};  ///< CLUSTER_SUSPECT_TIMEOUT
  std::chrono::milliseconds vote_window{10'000};     ///< CLUSTER_VOTE_WINDOW
  std::chrono::milliseconds refresh_interval{1'000}; ///< CLUSTER_REFRESH_INTERVAL
  bool tls = false;                                  ///< CLUSTER_TLS
  std::string tls_cert; ///< CLUSTER_TLS_CERT: PEM certificate of this node
  std::string tls_key;  ///< CLUSTER_TLS_KEY: PEM private key
  std::string tls_ca;   ///< CLUSTER_TLS_CA: PEM CA bundle to verify peers

  /// Returns whether the node runs as a cluster member (seeds given or bootstrap allowed).
  bool enabled() const noexcept {
    return bootstrap || !seeds.empty();
  }
};

/// External stores: PostgreSQL (system of record) and Redis (cache).
struct storage_settings {
  secret database_url;                    ///< DATABASE_URL (postgresql://...), may list hosts
  std::vector<secret> database_read_urls; ///< DATABASE_READ_URLS: replicas, comma-separated
  unsigned pool_min = 2;                  ///< DB_POOL_MIN (URL min_connections wins)
  unsigned pool_max = 8;                  ///< DB_POOL_MAX (URL max_connections wins)
  std::size_t pool_queue_max = 10'000;    ///< DB_POOL_QUEUE_MAX: waiting requests -> 503
  std::chrono::milliseconds pool_queue_timeout{5'000}; ///< DB_POOL_QUEUE_TIMEOUT -> 503
  std::chrono::milliseconds statement_timeout{5'000};  ///< DB_STATEMENT_TIMEOUT
  std::chrono::milliseconds connect_timeout{3'000};    ///< DB_CONNECT_TIMEOUT
  unsigned circuit_failures = 3;                       ///< DB_CIRCUIT_FAILURES
  std::chrono::milliseconds circuit_cooldown{2'000};   ///< DB_CIRCUIT_COOLDOWN
  std::size_t writer_batch_max_rows = 512;             ///< WRITER_BATCH_MAX_ROWS
  std::chrono::milliseconds writer_batch_max_delay{2}; ///< WRITER_BATCH_MAX_DELAY (0: none)
  unsigned writer_max_inflight = 4;                    ///< WRITER_MAX_INFLIGHT
  std::size_t writer_max_pending_rows = 65'536;        ///< WRITER_MAX_PENDING_ROWS -> 503
  secret redis_url; ///< REDIS_URL (redis://...), may carry a password
};

/// An IPv4 or IPv6 network (`TRUSTED_PROXIES` entry): `10.0.0.0/8`, `::1/128`, a bare address.
struct ip_network {
  std::string address;  ///< the network address as written (without the prefix length)
  unsigned prefix = 32; ///< prefix length (32 or 128 for a bare address)
};

/// A class of routes with a rate limit of its own (RATE_LIMIT_<CLASS>_*; 0: the defaults).
struct rate_class_limits {
  unsigned per_minute = 0; ///< tokens added per minute (0: RATE_LIMIT_PER_MINUTE)
  unsigned burst = 0;      ///< bucket capacity (0: RATE_LIMIT_BURST)
};

/// Redis and what the node keeps there: response cache, rate limits, sessions, real-time
/// counters. Redis is a cache: the node serves correctly without it.
struct cache_config {
  std::chrono::milliseconds redis_connect_timeout{1'000}; ///< REDIS_CONNECT_TIMEOUT
  std::chrono::milliseconds redis_command_timeout{500};   ///< REDIS_COMMAND_TIMEOUT
  std::chrono::milliseconds redis_reconnect_min{100};     ///< REDIS_RECONNECT_MIN
  std::chrono::milliseconds redis_reconnect_max{5'000};   ///< REDIS_RECONNECT_MAX
  std::size_t redis_max_pending = 10'000;                 ///< REDIS_MAX_PENDING (per connection)
  std::string redis_key_prefix = "klerno:";               ///< REDIS_KEY_PREFIX
  bool cache_enabled = true;                              ///< CACHE_ENABLED
  std::chrono::milliseconds cache_l1_ttl{5'000};          ///< CACHE_L1_TTL
  std::chrono::milliseconds cache_l2_ttl{300'000};        ///< CACHE_L2_TTL
  std::size_t cache_l1_max_bytes = 64 * 1024 * 1024;      ///< CACHE_L1_MAX_BYTES
  std::size_t cache_max_entry_bytes = 1024 * 1024;        ///< CACHE_MAX_ENTRY_BYTES
  bool rate_limit_enabled = false;                        ///< RATE_LIMIT_ENABLED
  unsigned rate_limit_per_minute = 6'000;                 ///< RATE_LIMIT_PER_MINUTE
  unsigned rate_limit_burst = 200;                        ///< RATE_LIMIT_BURST
  rate_class_limits rate_limit_read;                      ///< RATE_LIMIT_READ_*
  rate_class_limits rate_limit_write;                     ///< RATE_LIMIT_WRITE_*
  rate_class_limits rate_limit_analyze;                   ///< RATE_LIMIT_ANALYZE_*
  rate_class_limits rate_limit_auth;                      ///< RATE_LIMIT_AUTH_*
  std::size_t rate_limit_local_max_keys = 100'000;        ///< RATE_LIMIT_LOCAL_MAX_KEYS
  std::vector<ip_network> trusted_proxies;                ///< TRUSTED_PROXIES
  std::chrono::milliseconds session_ttl{1'800'000};       ///< SESSION_TTL (sliding)
  std::chrono::milliseconds session_max_lifetime{86'400'000}; ///< SESSION_MAX_LIFETIME
  std::chrono::milliseconds realtime_retention{10'800'000};   ///< REALTIME_RETENTION
};

/// Limits and defaults of the AML API.
struct api_settings {
  int risk_threshold = 75;                             ///< RISK_THRESHOLD in hundredths (0.75)
  std::size_t batch_max_items = 1'000;                 ///< BATCH_MAX_ITEMS per batch request
  std::size_t batch_max_body_bytes = 16 * 1024 * 1024; ///< HTTP_MAX_BATCH_BODY_BYTES
  std::size_t page_limit_default = 50;                 ///< PAGE_LIMIT_DEFAULT
  std::size_t page_limit_max = 500;                    ///< PAGE_LIMIT_MAX
  std::size_t max_memo_bytes = 1'024;                  ///< MAX_MEMO_BYTES
  std::string max_amount = "1000000000000000";  ///< MAX_AMOUNT: largest |amount| or fee accepted
  std::size_t export_chunk_rows = 1'000;        ///< EXPORT_CHUNK_ROWS: rows per database round trip
  unsigned analytics_max_days = 366;            ///< ANALYTICS_MAX_DAYS
  std::size_t ws_max_watch = 1'000;             ///< WS_MAX_WATCH: addresses per watch set
  std::size_t ws_max_message_bytes = 64 * 1024; ///< WS_MAX_MESSAGE_BYTES -> close 1009
  std::size_t ws_max_queue = 256;               ///< WS_MAX_QUEUE: frames waiting -> close 1013
  unsigned ws_message_rate = 5;                 ///< WS_MESSAGE_RATE: client messages per second
  unsigned ws_message_burst = 20;               ///< WS_MESSAGE_BURST -> close 1008
  std::chrono::milliseconds ws_ping_interval{30'000}; ///< WS_PING_INTERVAL
  std::chrono::milliseconds ws_pong_timeout{10'000};  ///< WS_PONG_TIMEOUT
};

/// The risk rules' word lists and the stateful signals of the per-wallet actors.
struct scoring_settings {
  std::vector<std::string> suspicious_words{
    "scam",      "phish", "hack",    "fraud",    "ransom", "malware",
    "blackmail", "mixer", "tornado", "sanction", "darknet"}; ///< SUSPICIOUS_MEMO_WORDS
  std::vector<std::string> income_keywords{"salary", "airdrop", "reward", "interest",
                                           "yield"};              ///< CATEGORY_KEYWORDS_INCOME
  std::vector<std::string> fee_keywords{"fee", "gas", "network"}; ///< CATEGORY_KEYWORDS_FEE
  std::vector<std::string> trade_keywords{"swap", "trade", "exchange"}; ///< CATEGORY_KEYWORDS_TRADE
  std::vector<std::string> transfer_keywords{"transfer", "send",
                                             "receive"};    ///< CATEGORY_KEYWORDS_TRANSFER
  std::size_t velocity_max_tx = 10;                         ///< VELOCITY_MAX_TX
  std::chrono::milliseconds velocity_window{3'600'000};     ///< VELOCITY_WINDOW
  std::size_t structuring_min_recipients = 3;               ///< STRUCTURING_MIN_RECIPIENTS
  std::chrono::milliseconds structuring_window{86'400'000}; ///< STRUCTURING_WINDOW
  unsigned anomaly_factor = 10;                             ///< ANOMALY_FACTOR
  std::size_t anomaly_min_history = 5;                      ///< ANOMALY_MIN_HISTORY
  std::size_t wallet_history_max = 256;                     ///< WALLET_HISTORY_MAX
  std::chrono::milliseconds wallet_idle_timeout{600'000};   ///< WALLET_IDLE_TIMEOUT
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
  cache_config cache;
  api_settings api;
  scoring_settings scoring;
  runtime_settings runtime;
};

} // namespace klerno::config
