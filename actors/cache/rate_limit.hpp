#pragma once

// Token-bucket rate limiting shared by every node through Redis, with a per-node fallback.
//
// A bucket holds at most `burst` tokens and refills at `per_minute / 60` tokens per second; a
// request takes one token from each of its buckets (e.g. one per API key and one per client IP)
// and is allowed only when every bucket has a token (then all are taken, atomically). In Redis
// the check is one Lua script (loaded once per connection with SCRIPT LOAD, run with EVALSHA,
// reloaded on NOSCRIPT) that reads the clock with TIME, so every node uses the server's clock and
// the buckets are shared cluster-wide. When Redis does not answer (down, timed out, overloaded),
// the decision comes from `local_limiter`, a bucket per key in this process: the limit then
// holds per node instead of cluster-wide (counted in klerno_rate_limit_fallback_total).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/cache/metrics.hpp"
#include "actors/cache/redis/connection.hpp"

namespace klerno::cache {

/// One token bucket of a request.
struct bucket {
  std::string key;       ///< e.g. "rl:write:k:<key id>" (prefixed by the limiter)
  double per_minute = 0; ///< refill rate (> 0)
  double burst = 0;      ///< capacity (>= 1)
};

/// The outcome of a check: what the 429 and the X-RateLimit-* headers report. When several
/// buckets apply, the figures are those of the most constrained one (fewest tokens left).
struct rate_decision {
  bool allowed = true;
  uint64_t limit = 0;     ///< X-RateLimit-Limit: that bucket's per-minute rate
  uint64_t remaining = 0; ///< X-RateLimit-Remaining: whole tokens left after this request
  /// X-RateLimit-Reset: seconds until that bucket is full again (rounded up).
  std::chrono::seconds reset{0};
  /// Retry-After when denied: seconds until it holds one token (rounded up, at least 1).
  std::chrono::seconds retry_after{0};
  bool local = false; ///< decided by the per-node fallback
};

/// Per-node token buckets: the fallback while Redis is unavailable. Thread-safe. At most
/// `max_keys` buckets are kept; when full, full (idle) buckets are dropped first, then the
/// least recently used.
class local_limiter {
public:
  explicit local_limiter(std::size_t max_keys);

  /// Takes one token from each bucket when all have one; `now` is a monotonic time.
  rate_decision take(const std::vector<bucket>& buckets, std::chrono::steady_clock::time_point now);

  /// Returns the number of buckets kept.
  std::size_t size() const;

private:
  struct state {
    double tokens = 0;
    std::chrono::steady_clock::time_point updated;
    uint64_t used = 0; ///< recency stamp
  };
  void evict_locked(std::chrono::steady_clock::time_point now);

  mutable std::mutex mtx_;
  std::unordered_map<std::string, state> buckets_;
  std::size_t max_keys_;
  uint64_t clock_ = 0;
};

/// The Redis limiter of one io thread.
class rate_limiter {
public:
  /// `conn` and `fallback` must outlive the limiter; `prefix` starts every key (e.g. "klerno:").
  /// Registers a ready handler on `conn` that loads the script.
  rate_limiter(redis::connection& conn, local_limiter& fallback, metrics_ptr metrics,
               std::string prefix);

  /// Decides for `buckets` (1 or more); `done` runs once on the io thread, never inside this
  /// call. Never fails: without Redis the local limiter decides.
  void check(std::vector<bucket> buckets, std::function<void(rate_decision)> done);

private:
  redis::connection& conn_;
  local_limiter& fallback_;
  metrics_ptr metrics_;
  std::string prefix_;
  std::string sha_; ///< SHA1 of the loaded script (empty until loaded)
};

} // namespace klerno::cache
