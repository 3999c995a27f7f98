#include "http/api/query.hpp"
#include "runtime/text.hpp"

#include <cstddef>
#include <cstdint>

namespace klerno::http::api {

namespace {} // namespace

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && runtime::hex_digit_value(s[i + 1]) >= 0
               && runtime::hex_digit_value(s[i + 2]) >= 0) {
      out += static_cast<char>(runtime::hex_digit_value(s[i + 1]) * 16
                               + runtime::hex_digit_value(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  if (!query.empty() && query.front() == '?') {
    query.remove_prefix(1);
  }
  while (true) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      auto key = pair.substr(0, eq);
      if (percent_decode(key) == name) {
        return eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1));
      }
    }
    if (amp == std::string_view::npos) {
      return std::nullopt;
    }
    query.remove_prefix(amp + 1);
  }
}

bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) {
        lo = 0xA0; // no overlong forms
      } else if (c == 0xED) {
        hi = 0x9F; // no surrogates
      }
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) {
        lo = 0x90; // no overlong forms
      } else if (c == 0xF4) {
        hi = 0x8F; // nothing above U+10FFFF
      }
    } else {
      return false;
    }
    if (n - i < len) {
      return false;
    }
    auto c1 = static_cast<uint8_t>(s[i + 1]);
    if (c1 < lo || c1 > hi) {
      return false;
    }
    for (std::size_t k = 2; k < len; ++k) {
      auto ck = static_cast<uint8_t>(s[i + k]);
      if (ck < 0x80 || ck > 0xBF) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9')
                      || u == '-' || u == '.' || u == '_' || u == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0xf];
    }
  }
  return out;
}

} // namespace klerno::http::api
