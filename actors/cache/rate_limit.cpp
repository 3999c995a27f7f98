#include "actors/cache/rate_limit.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include <openssl/evp.h>

#include "runtime/logging.hpp"

namespace klerno::cache {

namespace {

// KEYS[i]: a bucket; ARGV[2i-1], ARGV[2i]: its refill per minute and its capacity. A bucket is a
// hash {t = tokens, ts = server time of the last take in microseconds} that expires when it would
// be full again (a missing bucket is a full one). The reply is integers only (Lua numbers are
// truncated in replies): {allowed, index of the reported bucket (1-based), its per-minute limit,
// its whole tokens left, ms until it is full, ms until it holds one token}.
constexpr const char* script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local left, rate, burst = {}, {}, {}
local allowed = true
for i = 1, n do
  rate[i] = tonumber(ARGV[2 * i - 1]) / 60000000
  burst[i] = tonumber(ARGV[2 * i])
  left[i] = burst[i]
  local s = redis.call('HMGET', KEYS[i], 't', 'ts')
  local saved, last = tonumber(s[1]), tonumber(s[2])
  if saved and last then
    left[i] = math.min(burst[i], saved + math.max(0, now - last) * rate[i])
  end
  if left[i] < 1 then
    allowed = false
  end
end
local pick, pick_left, pick_full, pick_one = 0, math.huge, 0, -1
for i = 1, n do
  if allowed then
    left[i] = left[i] - 1
  end
  local full = math.ceil((burst[i] - left[i]) / rate[i] / 1000 - 1e-6)
  local one = 0
  if left[i] < 1 then
    one = math.ceil((1 - left[i]) / rate[i] / 1000 - 1e-6)
  end
  if allowed then
    redis.call('HSET', KEYS[i], 't', string.format('%.17g', left[i]), 'ts',
               string.format('%d', now))
    redis.call('PEXPIRE', KEYS[i], full + 1000)
    local whole = math.floor(left[i])
    if whole < pick_left or (whole == pick_left and full > pick_full) then
      pick, pick_left, pick_full, pick_one = i, whole, full, one
    end
  elseif one > pick_one then
    pick, pick_left, pick_full, pick_one = i, math.floor(left[i]), full, one
  end
end
if pick == 0 then
  return {1, 0, 0, 0, 0, 0}
end
return {allowed and 1 or 0, pick, math.floor(tonumber(ARGV[2 * pick - 1]) + 0.5),
        math.max(0, pick_left), pick_full, pick_one}
)lua";

/// Returns the lower-case hex SHA1 of the script (what SCRIPT LOAD answers).
const std::string& script_sha1() {
  static const std::string sha = [] {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    std::string text = script;
    if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr) != 1) {
      return std::string{};
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out += hex[md[i] >> 4];
      out += hex[md[i] & 0xf];
    }
    return out;
  }();
  return sha;
}

/// Clamps `x` into [lo, hi]; NaN becomes `lo`. Keeps the script's arithmetic (and PEXPIRE) in
/// range whatever the configuration says.
double sane(double x, double lo, double hi) {
  if (!(x >= lo)) {
    return lo;
  }
  return std::min(x, hi);
}

constexpr double min_rate = 1e-3; // per minute
constexpr double max_rate = 1e9;
constexpr double max_burst = 1e9;

/// Formats a double so that the script reads back the same value.
std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

/// Rounds a duration in milliseconds up, ignoring floating-point noise below a nanosecond (6000
/// must not become 6001 because 0.6 / 0.1 is not exactly 6).
int64_t ceil_ms(double ms) {
  return static_cast<int64_t>(std::ceil(ms - 1e-6));
}

/// Returns ceil(ms / 1000) seconds.
std::chrono::seconds ceil_seconds(int64_t ms) {
  return std::chrono::seconds{ms <= 0 ? 0 : (ms + 999) / 1000};
}

/// Builds a decision from the figures of the reported bucket.
rate_decision make_decision(bool allowed, double per_minute, int64_t remaining, int64_t full_ms,
                            int64_t one_ms) {
  rate_decision d;
  d.allowed = allowed;
  d.limit = static_cast<uint64_t>(std::llround(std::max(0.0, per_minute)));
  d.remaining = static_cast<uint64_t>(std::max<int64_t>(0, remaining));
  d.reset = ceil_seconds(full_ms);
  if (!allowed) {
    d.retry_after = std::max(std::chrono::seconds{1}, ceil_seconds(one_ms));
  }
  return d;
}

/// Logs the first of a kind of unexpected event and then every 1000th, so a broken script or
/// server cannot flood the log from the request path.
bool should_log(std::atomic<uint64_t>& count) {
  return count.fetch_add(1, std::memory_order_relaxed) % 1000 == 0;
}

std::atomic<uint64_t> unexpected_replies{0};

} // namespace

// --- local_limiter ----------------------------------------------------------------------------
//
// A bucket is kept as `updated` = the time at which it is full again (then it is idle and may be
// dropped first) and `tokens` = what it held right after its last take. Its tokens at `now` are
// burst - (updated - now) * rate: the same refill as the script (min(burst, tokens + elapsed *
// rate)) for a constant rate, but fullness can be told without knowing the bucket's rate, which
// the eviction needs.

local_limiter::local_limiter(std::size_t max_keys)
    : max_keys_(std::max<std::size_t>(1, max_keys)) {}

rate_decision local_limiter::take(const std::vector<bucket>& buckets,
                                  std::chrono::steady_clock::time_point now) {
  using seconds_d = std::chrono::duration<double>;
  struct view {
    state* s;          // null: not kept yet (full)
    double per_minute; // sanitized
    double rate;       // tokens per second
    double burst;
    double left;
  };
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<view> views;
  views.reserve(buckets.size());
  bool allowed = true;
  std::size_t missing = 0;
  for (const auto& b : buckets) {
    view v{};
    v.per_minute = sane(b.per_minute, min_rate, max_rate);
    v.rate = v.per_minute / 60;
    v.burst = sane(b.burst, 1, max_burst);
    v.left = v.burst;
    if (auto it = buckets_.find(b.key); it != buckets_.end()) {
      v.s = &it->second;
      if (v.s->updated > now) {
        v.left = v.burst - seconds_d{v.s->updated - now}.count() * v.rate;
      }
    } else {
      ++missing;
    }
    allowed = allowed && v.left >= 1;
    views.push_back(v);
  }
  ++clock_;
  if (allowed && missing > 0 && buckets_.size() + missing > max_keys_) {
    // This request's buckets are the most recent, so the LRU pass spares them; a full one may go
    // (it is written again below), hence the recount. Pointers into the map do not survive
    // erasure: look the buckets up again afterwards.
    for (auto& v : views) {
      if (v.s != nullptr) {
        v.s->used = clock_;
      }
    }
    while (!buckets_.empty() && buckets_.size() + missing > max_keys_) {
      evict_locked(now);
      missing = 0;
      for (const auto& b : buckets) {
        missing += buckets_.count(b.key) == 0 ? 1 : 0;
      }
    }
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      auto it = buckets_.find(buckets[i].key);
      views[i].s = it == buckets_.end() ? nullptr : &it->second;
    }
  }
  std::size_t pick = buckets.size();
  double pick_left = std::numeric_limits<double>::infinity();
  int64_t pick_full = 0;
  int64_t pick_one = -1;
  for (std::size_t i = 0; i < views.size(); ++i) {
    auto& v = views[i];
    if (allowed) {
      v.left -= 1;
    }
    auto full_ms = ceil_ms((v.burst - v.left) / v.rate * 1000);
    int64_t one_ms = v.left < 1 ? ceil_ms((1 - v.left) / v.rate * 1000) : 0;
    if (allowed) {
      state& s = v.s != nullptr ? *v.s : buckets_[buckets[i].key];
      s.tokens = v.left;
      s.updated = now
                  + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    seconds_d{(v.burst - v.left) / v.rate});
      s.used = clock_;
      double whole = std::floor(v.left);
      if (whole < pick_left || (whole == pick_left && full_ms > pick_full)) {
        pick = i, pick_left = whole, pick_full = full_ms, pick_one = one_ms;
      }
    } else {
      if (v.s != nullptr) {
        v.s->used = clock_;
      }
      if (one_ms > pick_one) {
        pick = i, pick_left = std::floor(v.left), pick_full = full_ms, pick_one = one_ms;
      }
    }
  }
  if (pick == buckets.size()) {
    return rate_decision{};
  }
  return make_decision(allowed, views[pick].per_minute, static_cast<int64_t>(pick_left), pick_full,
                       pick_one);
}

std::size_t local_limiter::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return buckets_.size();
}

void local_limiter::evict_locked(std::chrono::steady_clock::time_point now) {
  // Full buckets carry no state (a missing bucket is a full one): dropping them loses nothing.
  // The caller calls again while it needs room; only when no bucket is full are used ones lost.
  const std::size_t before = buckets_.size();
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (it->second.updated <= now) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  if (buckets_.size() < before || buckets_.empty()) {
    return;
  }
  // Then the least recently used, a sixteenth of the capacity at a time, so that a stream of new
  // keys (the case that fills the table) costs one scan per batch instead of one per request.
  std::size_t drop = std::max<std::size_t>(1, max_keys_ / 16);
  if (buckets_.size() >= max_keys_) {
    drop += buckets_.size() - max_keys_;
  }
  drop = std::min(drop, buckets_.size());
  std::vector<std::pair<uint64_t, std::string>> by_use;
  by_use.reserve(buckets_.size());
  for (const auto& [key, s] : buckets_) {
    by_use.emplace_back(s.used, key);
  }
  std::nth_element(by_use.begin(), by_use.begin() + static_cast<std::ptrdiff_t>(drop - 1),
                   by_use.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < drop; ++i) {
    buckets_.erase(by_use[i].second);
  }
}

// --- rate_limiter -----------------------------------------------------------------------------

rate_limiter::rate_limiter(redis::connection& conn, local_limiter& fallback, metrics_ptr metrics,
                           std::string prefix)
    : conn_(conn), fallback_(fallback), metrics_(std::move(metrics)), prefix_(std::move(prefix)) {
  // The connection keeps this handler for its lifetime: the limiter must live as long as its
  // connection runs (both belong to one io thread and go together).
  conn_.on_ready([this](bool) {
    conn_.execute({"SCRIPT", "LOAD", script}, [this](redis::result r) {
      if (r.ok && r.value.type == redis::reply::kind::string && !r.value.str.empty()) {
        sha_ = r.value.str;
      } else if (r.ok && should_log(unexpected_replies)) {
        runtime::logging::get("cache")->warn("rate limiter: SCRIPT LOAD failed: {}", r.value.str);
      }
    });
  });
}

namespace {

/// Returns the script's arguments after the script (or its SHA): numkeys, keys, rates/bursts.
redis::command script_command(const std::string& head, const std::string& body_or_sha,
                              const std::string& prefix, const std::vector<bucket>& buckets) {
  redis::command cmd;
  cmd.reserve(3 + buckets.size() * 3);
  cmd.push_back(head);
  cmd.push_back(body_or_sha);
  cmd.push_back(std::to_string(buckets.size()));
  for (const auto& b : buckets) {
    cmd.push_back(prefix + b.key);
  }
  for (const auto& b : buckets) {
    cmd.push_back(number(sane(b.per_minute, min_rate, max_rate)));
    cmd.push_back(number(sane(b.burst, 1, max_burst)));
  }
  return cmd;
}

/// Reads the script's reply; false when it is not the six integers the script returns.
bool parse(const redis::reply& r, const std::vector<bucket>& buckets, rate_decision& out) {
  if (r.type != redis::reply::kind::array || r.elements.size() != 6) {
    return false;
  }
  for (const auto& e : r.elements) {
    if (e.type != redis::reply::kind::integer) {
      return false;
    }
  }
  const auto& e = r.elements;
  bool allowed = e[0].integer == 1;
  auto index = e[1].integer;
  if (index == 0 && buckets.empty()) {
    out = rate_decision{};
    return true;
  }
  if (index < 1 || static_cast<std::size_t>(index) > buckets.size()) {
    return false;
  }
  out = make_decision(allowed, static_cast<double>(e[2].integer), e[3].integer, e[4].integer,
                      e[5].integer);
  return true;
}

} // namespace

void rate_limiter::check(std::vector<bucket> buckets, std::function<void(rate_decision)> done) {
  // `done` is only ever called from a callback of the connection, which never runs inside
  // execute(): also the local decision waits for the failure of the command (immediate when the
  // connection is down), so `done` is asynchronous on every path without an io_context here.
  struct attempt {
    std::vector<bucket> buckets;
    std::function<void(rate_decision)> done;
  };
  auto a = std::make_shared<attempt>(attempt{std::move(buckets), std::move(done)});

  // Decides from `r`; returns false (without calling `done`) when the script must be sent again
  // with EVAL because the server does not know it (NOSCRIPT) and `may_retry`.
  auto finish = [this, a](const redis::result& r, bool was_eval, bool may_retry) {
    rate_decision d;
    bool from_redis = false;
    if (r.ok && r.value.is_error() && r.value.str.rfind("NOSCRIPT", 0) == 0 && may_retry) {
      return false;
    }
    if (!r.ok) {
      // Not connected, timed out, lost: the connection logs and counts those.
    } else if (r.value.is_error()) {
      if (should_log(unexpected_replies)) {
        runtime::logging::get("cache")->warn("rate limiter: script failed: {}", r.value.str);
      }
    } else if (!parse(r.value, a->buckets, d)) {
      if (should_log(unexpected_replies)) {
        runtime::logging::get("cache")->warn("rate limiter: unexpected script reply");
      }
    } else {
      from_redis = true;
    }
    if (from_redis) {
      if (was_eval) {
        sha_ = script_sha1();
      }
    } else {
      d = fallback_.take(a->buckets, std::chrono::steady_clock::now());
      d.local = true;
      if (metrics_) {
        metrics_->rate_limit_fallback.inc();
      }
    }
    if (metrics_) {
      metrics_->rate_limit_requests
        .with({d.allowed ? "allowed" : "denied", from_redis ? "redis" : "local"})
        .inc();
    }
    a->done(d);
    return true;
  };

  // EVALSHA while the script is known to be loaded; EVAL (which also caches the script) before
  // the first SCRIPT LOAD answered, and once after NOSCRIPT (Redis restarted, SCRIPT FLUSH).
  bool eval = sha_.empty();
  auto cmd = script_command(eval ? "EVAL" : "EVALSHA", eval ? std::string{script} : sha_, prefix_,
                            a->buckets);
  conn_.execute(std::move(cmd), [this, a, eval, finish](redis::result r) {
    if (finish(r, eval, !eval)) {
      return;
    }
    sha_.clear();
    conn_.execute(script_command("EVAL", script, prefix_, a->buckets),
                  [finish](redis::result again) { finish(again, true, false); });
  });
}

} // namespace klerno::cache
