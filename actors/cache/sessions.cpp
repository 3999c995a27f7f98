#include "actors/cache/sessions.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "runtime/logging.hpp"
#include "runtime/text.hpp"

namespace klerno::cache {

namespace {

constexpr std::size_t token_bytes = 32;
constexpr std::size_t token_chars = 43; // ceil(32 * 8 / 6), no padding

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Splits "<key id>:<created unix seconds>"; false when the value has another shape.
bool parse_value(const std::string& v, std::string& key_id, int64_t& created) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
    return false;
  }
  const char* first = v.data() + colon + 1;
  const char* last = v.data() + v.size();
  auto [end, ec] = std::from_chars(first, last, created);
  if (ec != std::errc{} || end != last || created < 0) {
    return false;
  }
  key_id = v.substr(0, colon);
  return true;
}

} // namespace

std::string new_session_token() {
  std::array<unsigned char, token_bytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("session token: the CSPRNG failed");
  }
  return runtime::base64url_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

bool well_formed_session_token(std::string_view token) noexcept {
  if (token.size() != token_chars) {
    return false;
  }
  for (char c : token) {
    if (runtime::base64url_value(c) < 0) {
      return false;
    }
  }
  // 43 characters carry 258 bits for 256: the last one's two low bits are always zero.
  return (runtime::base64url_value(token.back()) & 3) == 0;
}

std::string session_token_hash(std::string_view token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest may be handed a null pointer for an empty input; give it a valid one anyway.
  const char* data = token.empty() ? "" : token.data();
  if (EVP_Digest(data, token.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
    throw std::runtime_error("session token: SHA-256 failed");
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

session_store::session_store(redis::connection& conn, session_settings cfg, metrics_ptr metrics,
                             std::string prefix)
    : conn_(conn), cfg_(cfg), metrics_(std::move(metrics)), prefix_(std::move(prefix)) {}

namespace {

void count(const metrics_ptr& m, std::string_view op) {
  if (m) {
    m->sessions.with({op}).inc();
  }
}

} // namespace

void session_store::create(std::string key_id,
                           std::function<void(std::optional<std::string> token)> done) {
  // The key expires after the idle TTL, but never later than the absolute limit.
  auto ttl = std::min(cfg_.ttl, cfg_.max_lifetime);
  if (ttl.count() < 1) {
    ttl = std::chrono::seconds{1};
  }
  auto set = [this, value = key_id + ":" + std::to_string(unix_now()),
              ex = std::to_string(ttl.count())](const std::string& token) {
    return redis::command{"SET", prefix_ + "sess:" + session_token_hash(token), value, "EX", ex,
                          "NX"};
  };
  auto done_ptr =
    std::make_shared<std::function<void(std::optional<std::string>)>>(std::move(done));
  // Answers from `r`; returns false (without answering) when SET NX found the key taken and
  // `may_retry`: a 2^-256 event, in practice a broken CSPRNG, so one more token is enough.
  auto finish = [this, done_ptr](const std::string& token, const redis::result& r, bool may_retry) {
    if (r.ok && r.value.type == redis::reply::kind::status) {
      count(metrics_, "created");
      (*done_ptr)(token);
      return true;
    }
    if (r.ok && r.value.is_nil() && may_retry) {
      return false;
    }
    if (r.ok) {
      runtime::logging::get("cache")->warn("sessions: create failed: {}",
                                           r.value.is_nil() ? std::string{"token collision"}
                                                            : r.value.str);
    }
    count(metrics_, "unavailable");
    (*done_ptr)(std::nullopt);
    return true;
  };
  std::string token;
  try {
    token = new_session_token();
  } catch (const std::exception& e) {
    // Answered like an outage (the caller answers 503), on a callback as always.
    runtime::logging::get("cache")->error("sessions: {}", e.what());
    conn_.execute({"PING"}, [done_ptr](redis::result) { (*done_ptr)(std::nullopt); });
    return;
  }
  auto cmd = set(token);
  conn_.execute(std::move(cmd), [this, token, set, finish](redis::result r) {
    if (finish(token, r, true)) {
      return;
    }
    std::string second;
    try {
      second = new_session_token();
    } catch (const std::exception& e) {
      runtime::logging::get("cache")->error("sessions: {}", e.what());
      finish(token, redis::result{}, false);
      return;
    }
    conn_.execute(set(second),
                  [second, finish](redis::result again) { finish(second, again, false); });
  });
}

void session_store::resolve(std::string_view token, std::function<void(session_lookup)> done) {
  if (!well_formed_session_token(token)) {
    // No token of that shape is ever stored: the answer is known, but `done` must not run inside
    // this call and the store has no io_context of its own, so the answer rides on the callback
    // of a PING (whatever becomes of it).
    conn_.execute({"PING"}, [this, done = std::move(done)](redis::result) {
      count(metrics_, "rejected");
      done(session_lookup{});
    });
    return;
  }
  auto hash = session_token_hash(token);
  auto key = prefix_ + "sess:" + hash;
  conn_.execute({"GETEX", key, "EX", std::to_string(std::max<int64_t>(1, cfg_.ttl.count()))},
                [this, key, hash, done = std::move(done)](redis::result r) {
                  session_lookup out;
                  if (!r.ok || r.value.is_error()) {
                    if (r.ok) {
                      runtime::logging::get("cache")->warn("sessions: GETEX failed: {}",
                                                           r.value.str);
                    }
                    out.result = session_lookup::outcome::unavailable;
                    count(metrics_, "unavailable");
                    done(std::move(out));
                    return;
                  }
                  if (r.value.is_nil()) {
                    count(metrics_, "rejected");
                    done(std::move(out));
                    return;
                  }
                  std::string key_id;
                  int64_t created = 0;
                  if (r.value.type != redis::reply::kind::string
                      || !parse_value(r.value.str, key_id, created)) {
                    // The hash identifies the session without revealing the token.
                    runtime::logging::get("cache")->warn(
                      "sessions: malformed session value under sess:{}", hash.substr(0, 12));
                    count(metrics_, "rejected");
                    done(std::move(out));
                    return;
                  }
                  if (unix_now() - created >= cfg_.max_lifetime.count()) {
                    conn_.execute({"DEL", key}, [](redis::result) {});
                    count(metrics_, "rejected");
                    done(std::move(out));
                    return;
                  }
                  out.result = session_lookup::outcome::valid;
                  out.key_id = std::move(key_id);
                  count(metrics_, "resolved");
                  done(std::move(out));
                });
}

void session_store::revoke(std::string_view token,
                           std::function<void(std::optional<bool> existed)> done) {
  if (!well_formed_session_token(token)) {
    // As in resolve: no such session can exist; answer on a callback of the connection.
    conn_.execute({"PING"}, [done = std::move(done)](redis::result) { done(false); });
    return;
  }
  conn_.execute({"DEL", prefix_ + "sess:" + session_token_hash(token)},
                [this, done = std::move(done)](redis::result r) {
                  if (!r.ok || r.value.type != redis::reply::kind::integer) {
                    if (r.ok) {
                      runtime::logging::get("cache")->warn("sessions: DEL failed: {}", r.value.str);
                    }
                    count(metrics_, "unavailable");
                    done(std::nullopt);
                    return;
                  }
                  bool existed = r.value.integer > 0;
                  if (existed) {
                    count(metrics_, "revoked");
                  }
                  done(existed);
                });
}

} // namespace klerno::cache
