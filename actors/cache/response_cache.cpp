#include "actors/cache/response_cache.hpp"
#include "runtime/text.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include <openssl/evp.h>

namespace klerno::cache {

namespace {

// Accounted per L1 entry besides its strings: the list node, the index slot, the shared
// response and the strings' own headers. An estimate, so the byte budget errs on the safe side.
constexpr std::size_t entry_overhead = 256;

// First byte of an L2 value; a value of another version is a miss (and is overwritten by the
// fill that follows).
constexpr char l2_format_version = 1;

void count_request(const metrics_ptr& m, std::string_view level, std::string_view result) {
  if (m) {
    m->cache_requests.with({level, result}).inc();
  }
}

void count_bypass(const metrics_ptr& m, std::string_view reason) {
  if (m) {
    m->cache_bypassed.with({reason}).inc();
  }
}

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

bool get_u32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) {
    return false;
  }
  v = 0;
  for (int i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  }
  in.remove_prefix(4);
  return true;
}

void put_field(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

bool get_field(std::string_view& in, std::string& out) {
  uint32_t n = 0;
  if (!get_u32(in, n) || in.size() < n) {
    return false;
  }
  out.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

// L2 value: version, status (u32), then content type, ETag and body, each a u32 length (big
// endian) and its bytes.
std::string serialize(const cached_response& r) {
  std::string out;
  out.reserve(1 + 4 * 4 + r.content_type.size() + r.etag.size() + r.body.size());
  out.push_back(l2_format_version);
  put_u32(out, r.status);
  put_field(out, r.content_type);
  put_field(out, r.etag);
  put_field(out, r.body);
  return out;
}

response_ptr deserialize(std::string_view in) {
  if (in.empty() || in[0] != l2_format_version) {
    return nullptr;
  }
  in.remove_prefix(1);
  auto r = std::make_shared<cached_response>();
  uint32_t status = 0;
  if (!get_u32(in, status) || !get_field(in, r->content_type) || !get_field(in, r->etag)
      || !get_field(in, r->body) || !in.empty()) {
    return nullptr;
  }
  r->status = status;
  return r;
}

std::size_t entry_bytes(const std::string& key, const cached_response& r) {
  return key.size() + r.body.size() + r.content_type.size() + r.etag.size() + entry_overhead;
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view strip_weak(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') {
    tag.remove_prefix(2);
  }
  return tag;
}

// A generation counter as read by MGET: a missing one reads as 0.
std::optional<std::string> counter_value(const redis::reply& r) {
  if (r.is_nil()) {
    return std::string{"0"};
  }
  if (r.type == redis::reply::kind::string) {
    return r.str;
  }
  if (r.type == redis::reply::kind::integer) {
    return std::to_string(r.integer);
  }
  return std::nullopt;
}

} // namespace

std::string make_etag(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(34);
  out.push_back('"');
  for (unsigned i = 0; i < 16 && i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xf]);
  }
  out.push_back('"');
  return out;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept {
  auto value = runtime::trim_ows(if_none_match);
  if (value == "*") {
    return true;
  }
  auto want = strip_weak(etag);
  // An entity tag may itself contain commas, so the list is scanned tag by tag rather than split.
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (is_ows(value[i]) || value[i] == ',')) {
      ++i;
    }
    if (i >= value.size()) {
      break;
    }
    auto start = i;
    if (value.compare(i, 2, "W/") == 0) {
      i += 2;
    }
    if (i < value.size() && value[i] == '"') {
      auto close = value.find('"', i + 1);
      if (close == std::string_view::npos) {
        return false;
      }
      if (strip_weak(value.substr(start, close + 1 - start)) == want) {
        return true;
      }
      i = close + 1;
    } else {
      // Not an entity tag: skip this member.
      auto comma = value.find(',', i);
      i = comma == std::string_view::npos ? value.size() : comma + 1;
    }
  }
  return false;
}

// --- l1_cache ---------------------------------------------------------------------------------

l1_cache::l1_cache(std::size_t max_bytes, std::size_t shards, metrics_ptr metrics)
    : shard_budget_(max_bytes / std::max<std::size_t>(shards, 1)), metrics_(std::move(metrics)) {
  shards = std::max<std::size_t>(shards, 1);
  shards_.reserve(shards);
  for (std::size_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<shard>());
  }
}

l1_cache::shard& l1_cache::shard_for(const std::string& key) {
  return *shards_[std::hash<std::string>{}(key) % shards_.size()];
}

response_ptr l1_cache::get(const std::string& key, std::chrono::steady_clock::time_point now) {
  auto& s = shard_for(key);
  std::size_t freed = 0;
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    auto i = s.index.find(key);
    if (i == s.index.end()) {
      return nullptr;
    }
    auto node = i->second;
    if (node->expires > now) {
      s.lru.splice(s.lru.begin(), s.lru, node);
      return node->value;
    }
    // The index key views the node's string: erase it before the node.
    freed = node->bytes;
    s.index.erase(i);
    s.bytes -= freed;
    s.lru.erase(node);
  }
  entries_.fetch_sub(1, std::memory_order_relaxed);
  bytes_.fetch_sub(freed, std::memory_order_relaxed);
  if (metrics_) {
    metrics_->l1_entries.dec();
    metrics_->l1_bytes.add(-static_cast<double>(freed));
  }
  return nullptr;
}

void l1_cache::put(const std::string& key, response_ptr value,
                   std::chrono::steady_clock::time_point expires) {
  if (!value) {
    return;
  }
  auto& s = shard_for(key);
  auto size = entry_bytes(key, *value);
  long entries_delta = 0;
  long bytes_delta = 0;
  uint64_t evicted = 0;
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    // A replaced entry goes first (also when the new one is too large: the old value is stale).
    if (auto i = s.index.find(key); i != s.index.end()) {
      auto node = i->second;
      s.index.erase(i);
      s.bytes -= node->bytes;
      bytes_delta -= static_cast<long>(node->bytes);
      --entries_delta;
      s.lru.erase(node);
    }
    if (size <= shard_budget_) {
      while (s.bytes + size > shard_budget_ && !s.lru.empty()) {
        auto& last = s.lru.back();
        s.index.erase(std::string_view{last.key});
        s.bytes -= last.bytes;
        bytes_delta -= static_cast<long>(last.bytes);
        --entries_delta;
        ++evicted;
        s.lru.pop_back();
      }
      s.lru.push_front(entry{key, std::move(value), expires, size});
      s.index.emplace(std::string_view{s.lru.front().key}, s.lru.begin());
      s.bytes += size;
      bytes_delta += static_cast<long>(size);
      ++entries_delta;
    }
  }
  entries_.fetch_add(static_cast<std::size_t>(entries_delta), std::memory_order_relaxed);
  bytes_.fetch_add(static_cast<std::size_t>(bytes_delta), std::memory_order_relaxed);
  if (metrics_) {
    metrics_->l1_entries.add(static_cast<double>(entries_delta));
    metrics_->l1_bytes.add(static_cast<double>(bytes_delta));
    if (evicted > 0) {
      metrics_->l1_evictions.inc(evicted);
    }
  }
}

std::size_t l1_cache::entries() const {
  return entries_.load(std::memory_order_relaxed);
}

std::size_t l1_cache::bytes() const {
  return bytes_.load(std::memory_order_relaxed);
}

// --- response_cache ---------------------------------------------------------------------------

response_cache::response_cache(redis::connection& conn, l1_cache& l1, cache_trust& trust,
                               cache_settings cfg, metrics_ptr metrics, std::string prefix)
    : conn_(conn),
      l1_(l1),
      trust_(trust),
      cfg_(cfg),
      metrics_(std::move(metrics)),
      prefix_(std::move(prefix)) {
  conn_.on_lost([this] { trust_.suspend(); });
  conn_.on_ready([this](bool reconnected) {
    // A first connection has nothing to distrust unless an invalidation already failed.
    if (reconnected || trust_.suspended()) {
      bump_epoch();
    }
  });
}

void response_cache::lookup(std::string key, std::vector<std::string> generations,
                            std::function<void(cache_lookup)> done) {
  auto bypass = [](std::function<void(cache_lookup)>& f) {
    cache_lookup r;
    r.result = cache_lookup::outcome::bypass;
    f(std::move(r));
  };
  if (!cfg_.enabled) {
    bypass(done);
    return;
  }

  // Looks the final key up in L2 (L1 missed) and answers.
  auto ask_l2 = [this](std::string fill_key, std::function<void(cache_lookup)> done) {
    auto redis_key = prefix_ + "c:" + fill_key;
    conn_.execute({"GET", std::move(redis_key)},
                  [this, fill_key = std::move(fill_key), done = std::move(done)](redis::result r) {
                    cache_lookup out;
                    if (r.ok && r.value.type == redis::reply::kind::string) {
                      if (auto hit = deserialize(r.value.str)) {
                        l1_.put(fill_key, hit, std::chrono::steady_clock::now() + cfg_.l1_ttl);
                        count_request(metrics_, "l2", "hit");
                        out.result = cache_lookup::outcome::hit;
                        out.response = std::move(hit);
                        out.level = "l2";
                        done(std::move(out));
                        return;
                      }
                    }
                    if (r.ok) {
                      count_request(metrics_, "l2", "miss");
                    }
                    out.result = cache_lookup::outcome::miss;
                    out.fill_key = fill_key;
                    done(std::move(out));
                  });
  };

  // Answers from L1 if it holds `fill_key`; returns whether it did.
  auto from_l1 = [this](const std::string& fill_key, std::function<void(cache_lookup)>& done) {
    if (auto hit = l1_.get(fill_key, std::chrono::steady_clock::now())) {
      count_request(metrics_, "l1", "hit");
      cache_lookup out;
      out.result = cache_lookup::outcome::hit;
      out.response = std::move(hit);
      out.level = "l1";
      done(std::move(out));
      return true;
    }
    count_request(metrics_, "l1", "miss");
    return false;
  };

  if (generations.empty()) {
    if (from_l1(key, done)) {
      return;
    }
    if (!conn_.connected()) {
      cache_lookup out;
      out.result = cache_lookup::outcome::miss;
      out.fill_key = std::move(key);
      done(std::move(out));
      return;
    }
    ask_l2(std::move(key), std::move(done));
    return;
  }

  if (trust_.suspended() || !conn_.connected()) {
    if (trust_.suspended() && conn_.connected()) {
      bump_epoch();
    }
    count_bypass(metrics_, "redis_down");
    bypass(done);
    return;
  }

  redis::command mget;
  mget.reserve(generations.size() + 2);
  mget.push_back("MGET");
  mget.push_back(prefix_ + "c:epoch");
  for (const auto& g : generations) {
    mget.push_back(prefix_ + "g:" + g);
  }
  conn_.execute(std::move(mget),
                [this, key = std::move(key), n = generations.size(), ask_l2, from_l1, bypass,
                 done = std::move(done)](redis::result r) mutable {
                  // Trust may have been lost while the read was in flight.
                  if (!r.ok || r.value.type != redis::reply::kind::array
                      || r.value.elements.size() != n + 1 || trust_.suspended()) {
                    count_bypass(metrics_, "redis_down");
                    bypass(done);
                    return;
                  }
                  auto fill_key = std::move(key);
                  for (std::size_t i = 0; i <= n; ++i) {
                    auto v = counter_value(r.value.elements[i]);
                    if (!v) {
                      count_bypass(metrics_, "redis_down");
                      bypass(done);
                      return;
                    }
                    fill_key += i == 0 ? "|e" : (i == 1 ? "|" : ",");
                    fill_key += *v;
                  }
                  if (from_l1(fill_key, done)) {
                    return;
                  }
                  ask_l2(std::move(fill_key), std::move(done));
                });
}

void response_cache::fill(const std::string& fill_key, response_ptr value) {
  if (!cfg_.enabled || !value) {
    return;
  }
  if (value->body.size() > cfg_.max_entry_bytes) {
    count_bypass(metrics_, "too_large");
    return;
  }
  l1_.put(fill_key, value, std::chrono::steady_clock::now() + cfg_.l1_ttl);
  if (conn_.connected()) {
    conn_.execute({"SET", prefix_ + "c:" + fill_key, serialize(*value), "PX",
                   std::to_string(cfg_.l2_ttl.count())},
                  [](redis::result) {});
  }
}

void response_cache::invalidate(std::vector<std::string> generations,
                                std::function<void(bool ok)> done) {
  if (generations.empty()) {
    // Nothing to bump, but `done` must not run inside this call: one round trip.
    conn_.execute({"PING"}, [done = std::move(done)](redis::result) { done(true); });
    return;
  }
  std::vector<redis::command> cmds;
  cmds.reserve(generations.size());
  for (const auto& g : generations) {
    cmds.push_back({"INCR", prefix_ + "g:" + g});
  }
  conn_.pipeline(std::move(cmds), [this, done = std::move(done)](std::vector<redis::result> rs) {
    bool ok = !rs.empty();
    for (const auto& r : rs) {
      ok = ok && r.ok && r.value.type == redis::reply::kind::integer;
    }
    if (!ok) {
      trust_.suspend();
      // Orphan every generational entry now (the connection may still be up: an overloaded
      // or refused command), not only at this node's next lookup or reconnection.
      if (conn_.connected()) {
        bump_epoch();
      }
    }
    if (metrics_) {
      metrics_->cache_invalidations.with({ok ? "ok" : "failed"}).inc();
    }
    done(ok);
  });
}

void response_cache::bump_epoch() {
  if (epoch_bump_pending_) {
    return;
  }
  epoch_bump_pending_ = true;
  // Only a bump sent after the last suspension may lift it.
  auto seen = trust_.suspensions();
  conn_.execute({"INCR", prefix_ + "c:epoch"}, [this, seen](redis::result r) {
    epoch_bump_pending_ = false;
    if (r.ok && r.value.type == redis::reply::kind::integer) {
      trust_.resume_if(seen);
    }
  });
}

} // namespace klerno::cache
