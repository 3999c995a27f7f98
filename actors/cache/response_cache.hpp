#pragma once

// The multi-level response cache of GET routes that are safe to cache.
//
// L1 is in process (bounded bytes, short TTL, shared by the node's io threads), L2 is Redis
// (longer TTL, shared by the cluster). An entry's key is route + normalized query + API key scope,
// plus, for entries that a write can change, the current values of their *generations*: counters
// in Redis ("tx" for every stored transaction, "w:<address>" per wallet) that writes bump
// (INCR, before the write is acknowledged). A lookup reads the generations first (one MGET), so a
// write makes every entry it may have changed unreachable on every node at once, and a client never
// reads its own write stale. Entries without generations are immutable (a stored transaction never
// changes) and need no Redis round trip in L1.
//
// Every generation read also reads an *epoch* counter that is part of every generational key.
// When an invalidation fails or a connection to Redis is lost, the node stops trusting the cache
// (generational lookups bypass it) until it has bumped the epoch, which orphans every generational
// entry of every node: a write whose invalidation could not reach Redis can never be hidden by an
// entry cached before it once Redis is back. (A node that kept its connection while another lost
// its own may serve such an entry until the epoch bump, at most a reconnect interval later.)

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/cache/metrics.hpp"
#include "actors/cache/redis/connection.hpp"

namespace klerno::cache {

/// A cached response (body and what is needed to answer with it).
struct cached_response {
  unsigned status = 200;
  std::string content_type;
  std::string body;
  std::string etag; ///< strong validator, quoted: "\"<32 hex digits>\""
};

using response_ptr = std::shared_ptr<const cached_response>;

/// Returns the strong ETag of `body`: the first 16 bytes of its SHA-256, hex, in quotes.
std::string make_etag(std::string_view body);

/// Returns whether an `If-None-Match` header value matches `etag`: `*`, or a comma-separated list
/// of entity tags of which one equals `etag` under the weak comparison (`W/` ignored).
bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept;

/// Settings of the response cache (CACHE_* keys).
struct cache_settings {
  bool enabled = true;                         ///< CACHE_ENABLED
  std::chrono::milliseconds l1_ttl{5'000};     ///< CACHE_L1_TTL
  std::chrono::milliseconds l2_ttl{300'000};   ///< CACHE_L2_TTL
  std::size_t l1_max_bytes = 64 * 1024 * 1024; ///< CACHE_L1_MAX_BYTES
  std::size_t max_entry_bytes = 1024 * 1024;   ///< CACHE_MAX_ENTRY_BYTES: larger not cached
};

/// The in-process level: an LRU bounded by bytes (key + body + headers) with a TTL per entry.
/// Thread-safe (sharded by key hash, one mutex per shard).
class l1_cache {
public:
  /// `max_bytes` is split evenly over `shards` (>= 1).
  l1_cache(std::size_t max_bytes, std::size_t shards, metrics_ptr metrics);

  /// Returns the entry, or null when absent or expired (an expired entry is removed).
  response_ptr get(const std::string& key, std::chrono::steady_clock::time_point now);

  /// Inserts or replaces; evicts least recently used entries of the shard to stay in bounds. An
  /// entry larger than a shard's budget is not kept.
  void put(const std::string& key, response_ptr value,
           std::chrono::steady_clock::time_point expires);

  std::size_t entries() const;
  std::size_t bytes() const;

private:
  struct entry {
    std::string key;
    response_ptr value;
    std::chrono::steady_clock::time_point expires;
    std::size_t bytes = 0;
  };
  struct shard {
    mutable std::mutex mtx;
    std::list<entry> lru; ///< most recent first
    std::unordered_map<std::string_view, std::list<entry>::iterator> index;
    std::size_t bytes = 0;
  };
  shard& shard_for(const std::string& key);

  std::vector<std::unique_ptr<shard>> shards_;
  std::size_t shard_budget_;
  metrics_ptr metrics_;
  std::atomic<std::size_t> entries_{0};
  std::atomic<std::size_t> bytes_{0};
};

/// Whether a node may trust its generational cache entries (shared by its io threads).
///
/// Every suspension is numbered, so an epoch bump that was issued before a later suspension
/// cannot lift it (`resume_if`): only a bump sent after the last failure orphans the entries that
/// failure may have left stale.
class cache_trust {
public:
  /// The cache is not trusted from now on (a failed invalidation, a lost connection).
  void suspend() noexcept {
    auto s = state_.load(std::memory_order_acquire);
    while (!state_.compare_exchange_weak(s, (((s >> 1) + 1) << 1) | 1, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
    }
  }
  /// An epoch bump succeeded after the last suspension.
  void resume() noexcept {
    state_.fetch_and(~uint64_t{1}, std::memory_order_acq_rel);
  }
  /// Resumes only if no suspension happened since `suspensions()` returned `seen` (call it before
  /// sending the epoch bump); returns whether the cache is trusted now.
  bool resume_if(uint64_t seen) noexcept {
    auto s = state_.load(std::memory_order_acquire);
    while ((s >> 1) == seen) {
      if (state_.compare_exchange_weak(s, s & ~uint64_t{1}, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return true;
      }
    }
    return !suspended();
  }
  /// Returns how many times the cache was suspended so far.
  uint64_t suspensions() const noexcept {
    return state_.load(std::memory_order_acquire) >> 1;
  }
  bool suspended() const noexcept {
    return (state_.load(std::memory_order_acquire) & 1) != 0;
  }

private:
  std::atomic<uint64_t> state_{0}; ///< suspensions << 1 | suspended
};

/// What a lookup found.
struct cache_lookup {
  enum class outcome {
    hit,   ///< `response` is the cached answer
    miss,  ///< not cached: answer, then `fill(fill_key, ...)`
    bypass ///< the cache cannot be used now (Redis down for a generational entry): do not fill
  };
  outcome result = outcome::bypass;
  response_ptr response;  ///< hit
  const char* level = ""; ///< hit: "l1" or "l2"
  std::string fill_key;   ///< miss: the key to fill (includes the epoch and generations read)
};

/// The response cache of one io thread.
class response_cache {
public:
  /// Registers handlers on `conn`: on every (re)connection and loss the node's trust is updated
  /// (see the file comment). All references must outlive the cache.
  response_cache(redis::connection& conn, l1_cache& l1, cache_trust& trust, cache_settings cfg,
                 metrics_ptr metrics, std::string prefix);

  /// Looks `key` up. `generations` empty: an immutable entry (L1 answers without Redis; L2 is
  /// asked when Redis is up). Otherwise the generations (and the epoch) are read first. `done`
  /// runs once on the io thread, possibly inside this call (an L1 hit of an immutable entry, a
  /// bypass because the cache is disabled or not trusted).
  void lookup(std::string key, std::vector<std::string> generations,
              std::function<void(cache_lookup)> done);

  /// Stores `value` under `fill_key` in L1 and (fire and forget) in L2. Does nothing for bodies
  /// over `max_entry_bytes` (counted as bypassed, too_large).
  void fill(const std::string& fill_key, response_ptr value);

  /// Bumps `generations` (one pipelined INCR each) and calls `done(ok)` once, never inside this
  /// call. On failure the node's cache is suspended until the epoch is bumped.
  void invalidate(std::vector<std::string> generations, std::function<void(bool ok)> done);

private:
  void bump_epoch();

  redis::connection& conn_;
  l1_cache& l1_;
  cache_trust& trust_;
  cache_settings cfg_;
  metrics_ptr metrics_;
  std::string prefix_;
  bool epoch_bump_pending_ = false;
};

} // namespace klerno::cache
