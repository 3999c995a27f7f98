#include "actors/cache/redis/url.hpp"
#include "runtime/text.hpp"

#include <limits>
#include <stdexcept>

namespace klerno::cache::redis {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("REDIS_URL: " + what);
}

bool all_digits(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

// Parses a decimal number of at most `max`; false when `s` is not one.
bool parse_number(std::string_view s, unsigned long max, unsigned long& out) {
  if (!all_digits(s) || s.size() > 10) {
    return false;
  }
  unsigned long v = 0;
  for (char c : s) {
    v = v * 10 + static_cast<unsigned long>(c - '0');
  }
  if (v > max) {
    return false;
  }
  out = v;
  return true;
}

// Decodes %XX escapes. The message names the field, never its value (it may be the password).
std::string percent_decode(std::string_view s, const char* field) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? runtime::hex_digit_value(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? runtime::hex_digit_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      fail(std::string{"invalid percent-encoding in the "} + field + " (use %XX escapes)");
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != prefix[i]) {
      return false;
    }
  }
  return true;
}

} // namespace

redis_url parse_redis_url(std::string_view url) {
  if (starts_with_nocase(url, "rediss://")) {
    fail("rediss:// (TLS) is not supported by this build (hiredis 0.14 has no TLS); reach Redis "
         "over a private network or through a local TLS tunnel (e.g. stunnel) with redis://");
  }
  if (!starts_with_nocase(url, "redis://")) {
    // Only the scheme is quoted: the rest of the string may hold a password.
    auto colon = url.find("://");
    if (colon == std::string_view::npos || colon > 16) {
      fail("must start with redis:// (redis://[[user]:password@]host[:port][/db])");
    }
    fail("must start with redis://, not " + std::string{url.substr(0, colon)} + "://");
  }
  std::string_view rest = url.substr(8);

  // The authority ends at the first '/', '?' or '#' (as in config::redact_url, so whatever is
  // parsed as the password is exactly what redaction hides).
  auto auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail =
    auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);

  redis_url u;
  // The last '@' ends the userinfo, so an unencoded '@' in the password still works.
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      fail("credentials must be written user:password@ or :password@ (a bare name before '@' is "
           "ambiguous)");
    }
    u.username = percent_decode(userinfo.substr(0, colon), "user name");
    std::string password = percent_decode(userinfo.substr(colon + 1), "password");
    if (!u.username.empty() && password.empty()) {
      // The name is not quoted: a password written in the wrong place would end up in the log.
      fail("a user name needs a password (write user:password@)");
    }
    u.password = config::secret{std::move(password)};
  }

  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      fail("unterminated '[' in the host (IPv6 addresses are written [::1])");
    }
    u.host = std::string{authority.substr(1, close - 1)};
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        fail("unexpected characters after the IPv6 address (expected ':port')");
      }
      port_text = after.substr(1);
      has_port = true;
    }
    if (u.host.empty()) {
      fail("host is missing");
    }
  } else {
    auto colon = authority.find(':');
    if (colon != std::string_view::npos
        && authority.find(':', colon + 1) != std::string_view::npos) {
      fail("an IPv6 address must be written in brackets (redis://[::1]:6379)");
    }
    u.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    if (u.host.empty()) {
      fail("host is missing (redis://host[:port][/db])");
    }
    if (u.host.find_first_of("[]") != std::string::npos) {
      fail("unexpected bracket in the host (IPv6 addresses are written [::1])");
    }
  }
  if (has_port) {
    unsigned long port = 0;
    if (!parse_number(port_text, 65535, port) || port == 0) {
      fail("port must be 1..65535");
    }
    u.port = static_cast<uint16_t>(port);
  }

  if (!tail.empty() && tail.front() == '/') {
    std::string_view path = tail.substr(1);
    auto path_end = path.find_first_of("?#");
    std::string_view db = path.substr(0, path_end);
    tail = path_end == std::string_view::npos ? std::string_view{} : path.substr(path_end);
    if (!db.empty() && db.back() == '/') {
      db.remove_suffix(1);
    }
    if (!db.empty()) {
      unsigned long n = 0;
      if (!parse_number(db, static_cast<unsigned long>(std::numeric_limits<int>::max()), n)) {
        fail("database must be a number (redis://host:port/0)");
      }
      u.db = static_cast<unsigned>(n);
    }
  }
  if (!tail.empty()) {
    fail("query strings and fragments are not supported (timeouts and limits are REDIS_* "
         "settings)");
  }
  return u;
}

std::string to_display(const redis_url& u) {
  std::string out = "redis://";
  if (!u.password.empty()) {
    out += u.username + ":***@";
  }
  if (u.host.find(':') != std::string::npos) {
    out += "[" + u.host + "]";
  } else {
    out += u.host;
  }
  out += ":" + std::to_string(u.port) + "/" + std::to_string(u.db);
  return out;
}

} // namespace klerno::cache::redis
