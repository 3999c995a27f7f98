#pragma once

// REDIS_URL: `redis://[[user]:password@]host[:port][/db]`.
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
/// Percent-encoded user and password are decoded.
redis_url parse_redis_url(std::string_view url);

/// Returns `redis://host:port/db` (with `:***@` when a password is set): for logs.
std::string to_display(const redis_url& u);

} // namespace klerno::cache::redis
