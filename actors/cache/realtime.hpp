#pragma once

// Real-time analytics in Redis: per-minute counters updated on every stored transaction and read
// back as a series, summed over the whole cluster (every node adds into the same keys).
//
// Per UTC minute m (unix seconds of its start):
//   <prefix>rt:<m>    hash: tx, alerts, volume (HINCRBYFLOAT of |amount|), b:<bucket>,
//                     c:<category>
//   <prefix>rt:u:<m>  HyperLogLog of the wallets (from_addr and to_addr) seen in that minute
// Both expire `retention` after the end of their minute. An update is one pipeline per batch of
// events; a lost update (Redis down) is counted, never retried: these are counters, not records.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/cache/metrics.hpp"
#include "actors/cache/redis/connection.hpp"

namespace klerno::cache {

/// One stored transaction, as the counters see it.
struct realtime_event {
  std::chrono::system_clock::time_point at; ///< when it was stored (minute of the counters)
  std::string bucket;                       ///< low, medium, high
  std::string category;
  double amount = 0; ///< |amount|
  bool alert = false;
  std::string from_addr; ///< may be empty
  std::string to_addr;   ///< may be empty
};

/// One minute of the series.
struct realtime_minute {
  int64_t start = 0; ///< unix seconds of the minute's start (UTC)
  uint64_t transactions = 0;
  uint64_t alerts = 0;
  double volume = 0;
  std::map<std::string, uint64_t> buckets;    ///< every bucket seen, by name
  std::map<std::string, uint64_t> categories; ///< every category seen, by name
  uint64_t unique_wallets = 0;                ///< HyperLogLog estimate
};

/// The answer of GET /analytics/realtime.
struct realtime_series {
  unsigned minutes = 0;                ///< length of the window asked for
  std::vector<realtime_minute> series; ///< oldest first, one per minute (zeros included)
  uint64_t transactions = 0;           ///< totals over the window
  uint64_t alerts = 0;
  double volume = 0;
  uint64_t unique_wallets = 0; ///< estimate over the whole window (merged HyperLogLogs)
};

/// Returns `{"minutes":N,"from":"<ISO 8601>","to":"<ISO 8601>","totals":{...},"series":[{"minute":
/// "<ISO 8601>","start":..,...}]}`: `from` is the start of the first minute, `to` the end of the
/// last (UTC, whole seconds); volumes are numbers rounded to 8 decimals.
std::string to_json(const realtime_series& s);

/// Settings (REALTIME_* keys).
struct realtime_settings {
  std::chrono::minutes retention{180}; ///< REALTIME_RETENTION: how long a minute is kept
};

/// The real-time counters of one io thread.
class realtime_counters {
public:
  realtime_counters(redis::connection& conn, realtime_settings cfg, metrics_ptr metrics,
                    std::string prefix);

  /// Adds `events` (one pipeline); `done(ok)` runs once, never inside this call. May be null.
  void record(const std::vector<realtime_event>& events, std::function<void(bool ok)> done);

  /// Reads the last `minutes` minutes up to the minute of `now` (included). `done` runs once with
  /// the series, or nullopt when Redis is unavailable.
  void query(unsigned minutes, std::chrono::system_clock::time_point now,
             std::function<void(std::optional<realtime_series>)> done);

private:
  redis::connection& conn_;
  realtime_settings cfg_;
  metrics_ptr metrics_;
  std::string prefix_;
};

} // namespace klerno::cache
