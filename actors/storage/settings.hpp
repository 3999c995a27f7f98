#pragma once

// Settings of the storage layer: a plain struct the node fills from its configuration (only
// runtime/node code reads raw config). The comments name the configuration key each field is
// meant to come from; the defaults are the suggested defaults of those keys.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/secret.hpp"

namespace klerno::actors::storage {

/// Settings of the pools, connections, circuit breakers and the writer.
struct settings {
  /// DATABASE_URL: the primary. May list several hosts
  /// (`postgresql://h1,h2/db?target_session_attrs=read-write`; read-write is added when several
  /// hosts are listed and the URL does not say), and the seed's pool parameters
  /// `min_connections` / `max_connections` (stripped before libpq sees the URL).
  config::secret primary_url;
  /// DATABASE_READ_URLS: replicas for reads that may lag (one pool each, used round robin).
  /// Empty: every read goes to the primary.
  std::vector<config::secret> replica_urls;

  /// DB_POOL_MIN: connections each pool starts with. Unset: the URL's `min_connections`, else 2.
  std::optional<std::size_t> pool_min;
  /// DB_POOL_MAX: most connections of each pool. Unset: the URL's `max_connections`, else 10.
  std::optional<std::size_t> pool_max;
  /// DB_POOL_QUEUE_MAX: requests a pool queues while every connection is busy; beyond it a
  /// request fails at once with `errc::unavailable`.
  std::size_t queue_max = 1'000;
  /// DB_POOL_QUEUE_TIMEOUT: a queued request still waiting for a connection after this fails
  /// with `errc::unavailable` instead of running late.
  std::chrono::milliseconds queue_timeout{5'000};

  /// DB_STATEMENT_TIMEOUT: PostgreSQL statement_timeout of every connection (0: none).
  /// Migrations run without it.
  std::chrono::milliseconds statement_timeout{5'000};
  /// DB_CONNECT_TIMEOUT: libpq connect_timeout (whole seconds, rounded up; at least 1 s).
  std::chrono::milliseconds connect_timeout{3'000};
  /// After a failed connect, a connection waits this long before trying again (doubling up to
  /// the maximum); requests arriving meanwhile fail at once with `errc::unavailable`.
  std::chrono::milliseconds reconnect_backoff_min{100};
  std::chrono::milliseconds reconnect_backoff_max{2'000};

  /// DB_CIRCUIT_FAILURES: consecutive `unavailable` failures that open a pool's circuit
  /// (0: no circuit breaker).
  std::size_t circuit_failures = 5;
  /// DB_CIRCUIT_COOLDOWN: an open circuit fails requests at once for this long, then lets one
  /// probe request through (half-open); its success closes the circuit, its failure re-opens it.
  std::chrono::milliseconds circuit_cooldown{5'000};

  /// WRITER_BATCH_MAX_ROWS: a group-commit batch is sent once it holds this many rows (a request
  /// is never split; one larger than this goes alone). 1 with a zero delay: one INSERT per
  /// request.
  std::size_t writer_batch_max_rows = 512;
  /// WRITER_BATCH_MAX_DELAY: longest time the first request of a batch waits for others while
  /// other batches are in flight. With nothing in flight a batch goes out at once.
  std::chrono::microseconds writer_batch_max_delay{2'000};
  /// WRITER_MAX_INFLIGHT: batches sent to the primary and not yet committed. While all are in
  /// flight, the next batch keeps gathering rows (up to WRITER_BATCH_MAX_ROWS).
  std::size_t writer_max_inflight = 4;
  /// WRITER_MAX_PENDING_ROWS: rows waiting in the writer (not yet sent); beyond it a request
  /// fails at once with `errc::unavailable`.
  std::size_t writer_max_pending_rows = 65'536;
};

/// Default pool bounds when neither the settings nor the URL give them.
constexpr std::size_t default_pool_min = 2;
constexpr std::size_t default_pool_max = 10;

/// Pool bounds for one URL: the settings win, then the URL's pool parameters, then the defaults;
/// max is at least 1 and min at most max.
struct pool_bounds {
  std::size_t min = default_pool_min;
  std::size_t max = default_pool_max;
};

/// Resolves the pool bounds for `url` (throws `std::invalid_argument` on bad URL parameters).
pool_bounds resolve_pool_bounds(const settings& cfg, const std::string& url);

} // namespace klerno::actors::storage
