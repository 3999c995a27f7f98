#pragma once

// Session tokens kept in Redis. `POST /auth/session` (with a valid API key) creates an opaque
// token: 32 bytes from OpenSSL's CSPRNG, base64url without padding. Only the SHA-256 of the token
// is stored (key "<prefix>sess:<hex sha256>", value "<key id>:<created unix seconds>") with a TTL
// of `ttl`; every successful use slides the expiry (GETEX ... EX ttl) until `max_lifetime` after
// creation, when the token is refused and deleted. Revoking deletes the key, so it takes effect
// on every node at once (no node caches sessions). Without Redis a token cannot be checked: the
// store answers `unavailable` (the caller answers 503; API keys keep working).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "actors/cache/metrics.hpp"
#include "actors/cache/redis/connection.hpp"

namespace klerno::cache {

/// Returns a new token (43 characters of base64url). Throws std::runtime_error when the CSPRNG
/// fails.
std::string new_session_token();

/// Returns whether `token` has the shape of a token made by `new_session_token`.
bool well_formed_session_token(std::string_view token) noexcept;

/// Returns the lower-case hex SHA-256 of `token` (what is stored).
std::string session_token_hash(std::string_view token);

/// What a token resolves to.
struct session_lookup {
  enum class outcome { valid, invalid, unavailable };
  outcome result = outcome::invalid;
  std::string key_id; ///< valid: the scope of the API key that created the session
};

/// Settings of the session store (SESSION_* keys).
struct session_settings {
  std::chrono::seconds ttl{1'800};           ///< SESSION_TTL: idle expiry, slid on each use
  std::chrono::seconds max_lifetime{86'400}; ///< SESSION_MAX_LIFETIME: absolute limit
};

/// The session store of one io thread.
class session_store {
public:
  session_store(redis::connection& conn, session_settings cfg, metrics_ptr metrics,
                std::string prefix);

  /// Creates a session for `key_id`. `done` runs once (never inside this call) with the token,
  /// or with nullopt when Redis is unavailable.
  void create(std::string key_id, std::function<void(std::optional<std::string> token)> done);

  /// Resolves `token` and slides its expiry.
  void resolve(std::string_view token, std::function<void(session_lookup)> done);

  /// Revokes `token`. `done(existed)`: true when a session was deleted, false when none
  /// existed, nullopt when Redis is unavailable.
  void revoke(std::string_view token, std::function<void(std::optional<bool> existed)> done);

private:
  redis::connection& conn_;
  session_settings cfg_;
  metrics_ptr metrics_;
  std::string prefix_;
};

} // namespace klerno::cache
