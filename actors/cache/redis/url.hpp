#pragma once

// REDIS_URL: `redis://[[user]:password@]host[:port][/db]`: host a DNS name, an IPv4 address or
// an IPv6 address in brackets (`redis://[::1]:6380/2`); port 6379 and database 0 by default; a
// trailing slash is accepted. User and password may be percent-encoded; an unencoded `@` in the
// password works (the last `@` of the authority ends the credentials), an unencoded `/`, `?` or
// `#` does not. Query strings and fragments are refused: timeouts and limits are REDIS_* settings.
// `rediss://` (TLS) is refused with a clear error: hiredis 0.14 has no TLS support (run Redis on
// a private network, or put a TLS tunnel such as stunnel in front of it and point at its local
// end).

#include <cstdint>
#include <string>
#include <string_view>

#include "config/secret.hpp"

namespace klerno::cache::redis {

/// Where a Redis server is and how to log in.
struct redis_url {
  std::string host = "127.0.0.1"; ///< DNS name or IP address (IPv6 without brackets)
  uint16_t port = 6379;
  std::string username;    ///< ACL user (Redis 6+); empty: the default user
  config::secret password; ///< empty: no AUTH
  unsigned db = 0;         ///< SELECT db (0..15 on a default server)
};

/// Parses `url`. Throws std::invalid_argument with a message that names what is wrong and never
/// contains the password (e.g. "REDIS_URL: rediss:// (TLS) is not supported ...",
/// "REDIS_URL: port must be 1..65535", "REDIS_URL: database must be a number").
/// Percent-encoded user and password are decoded. Credentials are `user:password@` or
/// `:password@` (a bare name before `@` is refused as ambiguous; a user without a password too).
redis_url parse_redis_url(std::string_view url);

/// Returns `redis://host:port/db` (with `:***@`, or `user:***@`, when a password is set; an IPv6
/// host in brackets): for logs.
std::string to_display(const redis_url& u);

} // namespace klerno::cache::redis
