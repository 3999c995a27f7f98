#include "http/request_id.hpp"

#include <cstdint>
#include <random>

namespace klerno::http {

bool is_sane_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > max_request_id_length) {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
              || c == '_' || c == ':' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

namespace {

/// xoshiro256** seeded once per thread from std::random_device.
class fast_rng {
public:
  fast_rng() {
    std::random_device rd;
    for (auto& x : s_) {
      x = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    }
  }

  uint64_t next() noexcept {
    auto result = rotl(s_[1] * 5, 7) * 9;
    auto t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

private:
  static uint64_t rotl(uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }

  uint64_t s_[4];
};

} // namespace

std::string make_request_id() {
  thread_local fast_rng rng;
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    auto x = rng.next();
    for (int i = 0; i < 16; ++i) {
      id[static_cast<std::size_t>(half * 16 + i)] = hex[(x >> (i * 4)) & 0xf];
    }
  }
  return id;
}

} // namespace klerno::http
