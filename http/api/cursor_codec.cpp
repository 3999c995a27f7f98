#include "http/api/cursor_codec.hpp"

#include <cstdint>

#include "http/api/transaction_json.hpp"
#include "runtime/text.hpp"

namespace klerno::http::api {

namespace {

constexpr uint8_t version = 1;
constexpr std::size_t max_id = 128;
constexpr std::size_t max_raw = 1 + 8 + max_id;
constexpr std::size_t max_token = (max_raw * 4 + 2) / 3;

} // namespace

std::string encode_cursor(const actors::model::cursor& c) {
  std::string raw;
  raw.reserve(9 + c.tx_id.size());
  raw += static_cast<char>(version);
  auto t = static_cast<uint64_t>(c.time.time_since_epoch().count());
  for (int shift = 56; shift >= 0; shift -= 8) {
    raw += static_cast<char>((t >> shift) & 0xFF);
  }
  raw += c.tx_id;

  return runtime::base64url_encode(raw);
}

std::optional<actors::model::cursor> decode_cursor(std::string_view token) noexcept {
  if (token.empty() || token.size() > max_token || token.size() % 4 == 1) {
    return std::nullopt;
  }
  uint8_t raw[max_raw + 3] = {};
  std::size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : token) {
    int v = runtime::base64url_value(c);
    if (v < 0) {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw[n++] = static_cast<uint8_t>((acc >> bits) & 0xFF);
    }
  }
  // The leftover bits of a canonical encoding are zero.
  if ((acc & ((1U << bits) - 1)) != 0) {
    return std::nullopt;
  }
  if (n < 10 || raw[0] != version) {
    return std::nullopt;
  }
  uint64_t t = 0;
  for (std::size_t i = 1; i <= 8; ++i) {
    t = (t << 8) | raw[i];
  }
  std::string_view id(reinterpret_cast<const char*>(raw + 9), n - 9);
  if (!valid_tx_id(id, max_id)) {
    return std::nullopt;
  }
  try {
    actors::model::cursor c;
    c.time = actors::model::timestamp(std::chrono::microseconds(static_cast<int64_t>(t)));
    c.tx_id = std::string(id);
    return c;
  } catch (...) {
    return std::nullopt; // allocation failure: treat as an unusable token
  }
}

} // namespace klerno::http::api
