#pragma once

// Secret values (API keys, signing keys, passwords in connection URLs) and the helpers that keep
// them out of logs and away from timing side channels.

#include <string>
#include <string_view>
#include <utility>

namespace klerno::config {

/// A string that must never be printed by accident. There is deliberately no stream operator and
/// no implicit conversion: the value is reached only through `reveal()`, which stands out in
/// review, and printed only through `redacted()`.
class secret {
public:
  /// Constructs an empty (unset) secret.
  secret() = default;

  /// Wraps `value`; an empty `value` means unset.
  explicit secret(std::string value) : value_(std::move(value)) {}

  /// Returns `true` if no value is set.
  bool empty() const noexcept {
    return value_.empty();
  }

  /// Returns the value itself. Compare it with `constant_time_equals`, never with `==`.
  const std::string& reveal() const noexcept {
    return value_;
  }

  /// Returns `<redacted>` if a value is set and the empty string otherwise.
  std::string redacted() const;

private:
  std::string value_;
};

/// Returns `url` with the password of its userinfo replaced by `***`:
/// `postgresql://user:pass@host/db` -> `postgresql://user:***@host/db`,
/// `redis://:pass@host` -> `redis://:***@host`. A URL without a password (or with an empty one)
/// is returned unchanged. The authority ends at the first `/`, `?` or `#` after `scheme://`;
/// within it the last `@` ends the userinfo, so an unencoded `@` in the password is redacted too.
/// Without `scheme://` the whole string is taken as the authority.
std::string redact_url(std::string_view url);

/// Returns `true` if `a` equals `b`, in time independent of their contents and of where they
/// differ: both are hashed with SHA-256 and the digests compared with `CRYPTO_memcmp`. The time
/// still depends on the lengths (hashing is linear), which reveals only the length of the input
/// the caller supplied. Returns `false` if hashing fails.
bool constant_time_equals(std::string_view a, std::string_view b) noexcept;

} // namespace klerno::config
