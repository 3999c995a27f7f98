#pragma once

// The node's request guard (http/guard.hpp) over the cache layer (actors/cache/): sessions, rate
// limits and the response cache, in front of every authenticated API route.
//
// Each HTTP io thread owns one Redis connection (driven by the thread's own io_context, so the
// request path reaches Redis without a thread hop) with its rate limiter, session store, response
// cache and real-time counters; the in-process L1, the local fallback buckets and the cache's
// trust flag are shared by the threads of the node. Without REDIS_URL there is no connection:
// rate limits are per node, sessions and /analytics/realtime answer 503, nothing is cached.
//
// For one request, in order:
// 1. `Authorization: Bearer <token>` (no X-API-Key): the session store resolves the token
//    (401 when unknown or expired, 503 when Redis does not answer); the caller's scope is the
//    scope of the API key that created the session, which must still be the node's API key.
// 2. The route's rate-limit class (RATE_LIMIT_<CLASS>_*): one bucket per API key scope and one
//    per client IP (X-Forwarded-For only from TRUSTED_PROXIES); denied -> 429 with Retry-After,
//    every limited response carries X-RateLimit-Limit, -Remaining and -Reset.
// 3. Cacheable GET routes: GET /transactions/{tx_id} (immutable), GET /transactions?wallet=
//    (generation "w:<wallet>"), GET /alerts and GET /analytics/summary (generation "tx"; the
//    summary also by UTC day). A hit answers from L1 or Redis; a miss runs the handler (reading
//    from the primary) and fills the cache with its 200. Every such 200 carries an ETag and
//    `Cache-Control: private, no-cache`; a matching If-None-Match gets 304.
// Writes call `after_store` before they answer: the generations of what they stored are bumped
// (so no node serves a cached answer that misses the write) and the real-time counters updated.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/cache/metrics.hpp"
#include "actors/cache/monitor.hpp"
#include "actors/cache/rate_limit.hpp"
#include "actors/cache/realtime.hpp"
#include "actors/cache/redis/connection.hpp"
#include "actors/cache/response_cache.hpp"
#include "actors/cache/sessions.hpp"
#include "actors/model/transaction.hpp"
#include "config/settings.hpp"
#include "http/guard.hpp"

namespace klerno::http {
class server;
} // namespace klerno::http

namespace klerno::http::api {

/// What the guard needs from the node's configuration.
struct edge_config {
  config::cache_config cache;                   ///< the CACHE_*, RATE_LIMIT_*, SESSION_* keys
  std::optional<cache::redis::redis_url> redis; ///< REDIS_URL; nullopt: no Redis
  std::string api_key_scope;                    ///< api_key_scope(API_KEY)
  std::string node_name;                        ///< for CLIENT SETNAME
  int risk_threshold = 75;                      ///< RISK_THRESHOLD (alerts in the counters)
  std::size_t page_limit_default = 50;          ///< PAGE_LIMIT_DEFAULT (part of cache keys)
  /// Makes the Redis connection of an io thread (the node passes the hiredis implementation,
  /// tests may pass a fake).
  std::function<std::shared_ptr<cache::redis::connection>(boost::asio::io_context&,
                                                          cache::redis::connection_config)>
    connect;
};

/// Returns the scope of an API key: 16 hex digits of SHA-256("klerno-scope:" + key). It names
/// the key in cache and rate-limit keys without revealing it.
std::string api_key_scope(std::string_view api_key);

/// Returns the address a request comes from: the peer, or, when the peer is one of `trusted`,
/// the rightmost X-Forwarded-For address that is not a trusted proxy itself.
std::string client_address(const boost::asio::ip::tcp::endpoint& peer,
                           std::string_view x_forwarded_for,
                           const std::vector<config::ip_network>& trusted);

/// Returns whether `addr` lies in `net`.
bool in_network(const boost::asio::ip::address& addr, const config::ip_network& net) noexcept;

/// Returns `query` as a cache key: its parameters decoded, sorted by name and encoded again; or
/// nullopt when a name repeats (such a query is not cached).
std::optional<std::string> normalize_query(std::string_view query);

/// The request guard of a node (see the file comment).
class edge_guard final : public request_guard {
public:
  edge_guard(edge_config cfg, cache::metrics_ptr metrics);
  ~edge_guard() override;

  /// Creates the per-thread services on `srv`'s io threads. Call once, before `srv.start()`.
  void bind(server& srv);

  void admit(const guarded_request& r, responder done, run_handler run) override;
  bool accepts_bearer() const noexcept override;
  void close_worker(std::size_t worker, bool ran) override;

  /// Returns whether REDIS_URL is set.
  bool redis_configured() const noexcept {
    return cfg_.redis.has_value();
  }

  /// Returns the session settings.
  cache::session_settings session_config() const;

  /// Returns the session store of io thread `worker`, or null without Redis.
  cache::session_store* sessions(std::size_t worker);

  /// Returns the real-time counters of io thread `worker`, or null without Redis.
  cache::realtime_counters* realtime(std::size_t worker);

  /// Called on io thread `worker` after a store, before it is answered: bumps the generations
  /// of the `stored` rows and of the `repeated` ones (already stored: a retry after a lost
  /// answer must not leave caches that predate the first attempt), adds the `stored` ones to the
  /// real-time counters, then calls `then` (on the same thread; at once without Redis). A failed
  /// bump suspends the cache (see actors/cache/response_cache.hpp): the write is still answered.
  void after_store(std::size_t worker, const std::vector<const actors::model::transaction*>& stored,
                   const std::vector<const actors::model::transaction*>& repeated,
                   std::function<void()> then);

  /// Checks Redis (PING, INFO memory and clients) on the first io thread; `done` runs there.
  /// Callable from any thread.
  void probe(std::function<void(cache::redis_probe)> done);

private:
  struct worker;
  struct request_state;

  void check_rate(const std::shared_ptr<request_state>& st);
  void serve(const std::shared_ptr<request_state>& st);
  /// Runs the handler with a responder that adds the rate-limit headers and, for a cacheable
  /// route (`has_policy`), the ETag (304 on a match) and the cache fill of a miss.
  void run_intercepted(const std::shared_ptr<request_state>& st, bool has_policy,
                       std::string fill_key, bool fill, bool fresh_reads);

  edge_config cfg_;
  cache::metrics_ptr metrics_;
  cache::local_limiter local_;
  cache::l1_cache l1_;
  cache::cache_trust trust_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::mutex probe_mtx_;                             ///< guards first_context_
  boost::asio::io_context* first_context_ = nullptr; ///< null once the first io thread stopped
};

} // namespace klerno::http::api
