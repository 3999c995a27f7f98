#include "actors/model/decimal.hpp"

#include <array>
#include <charconv>
#include <cstddef>

namespace klerno::actors::model {

namespace {

using u128 = unsigned __int128;

constexpr u128 pow10_18 = static_cast<u128>(1000000000000000000ULL);
constexpr u128 max_magnitude = static_cast<u128>(decimal::max_units);

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// Magnitude of raw units; well defined for the most negative value too.
constexpr u128 magnitude(decimal::units_type u) noexcept {
  return u < 0 ? static_cast<u128>(0) - static_cast<u128>(u) : static_cast<u128>(u);
}

// Writes the decimal digits of `v` backwards ending at `end`; returns the first written byte.
char* write_u128(char* end, u128 v) noexcept {
  do {
    *--end = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  return end;
}

// Formats `d` into `buf` (large enough for 39 integer digits, sign, point and 18 fraction digits);
// returns the number of bytes.
std::size_t format(decimal d, char* buf) noexcept {
  u128 m = magnitude(d.units());
  u128 int_part = m / pow10_18;
  auto frac = static_cast<uint64_t>(m % pow10_18);
  std::array<char, 48> tmp{};
  char* end = tmp.data() + tmp.size();
  char* first = write_u128(end, int_part);
  std::size_t n = 0;
  if (d.units() < 0) {
    buf[n++] = '-';
  }
  for (char* p = first; p != end; ++p) {
    buf[n++] = *p;
  }
  if (frac != 0) {
    buf[n++] = '.';
    std::array<char, decimal::scale> f{};
    for (int i = decimal::scale - 1; i >= 0; --i) {
      f[static_cast<std::size_t>(i)] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    std::size_t len = decimal::scale;
    while (f[len - 1] == '0') {
      --len;
    }
    for (std::size_t i = 0; i < len; ++i) {
      buf[n++] = f[i];
    }
  }
  return n;
}

constexpr std::size_t format_capacity = 64;

} // namespace

std::optional<decimal> decimal::parse(std::string_view text) noexcept {
  std::size_t i = 0;
  const std::size_t n = text.size();
  bool negative = false;
  if (i < n && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  std::size_t int_begin = i;
  while (i < n && is_digit(text[i])) {
    ++i;
  }
  std::string_view int_digits = text.substr(int_begin, i - int_begin);
  if (int_digits.empty()) {
    return std::nullopt;
  }
  std::string_view frac_digits;
  if (i < n && text[i] == '.') {
    std::size_t frac_begin = ++i;
    while (i < n && is_digit(text[i])) {
      ++i;
    }
    frac_digits = text.substr(frac_begin, i - frac_begin);
    if (frac_digits.empty()) {
      return std::nullopt;
    }
  }
  int64_t exponent = 0;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) {
      exp_negative = text[i] == '-';
      ++i;
    }
    std::size_t exp_begin = i;
    while (i < n && is_digit(text[i])) {
      // Saturate: any exponent beyond this either overflows or rounds to zero.
      if (exponent < 100000000) {
        exponent = exponent * 10 + (text[i] - '0');
      }
      ++i;
    }
    if (i == exp_begin) {
      return std::nullopt;
    }
    if (exp_negative) {
      exponent = -exponent;
    }
  }
  if (i != n) {
    return std::nullopt;
  }

  // The significand is int_digits followed by frac_digits; value = significand * 10^(exponent -
  // frac_len), so units = significand * 10^shift.
  const std::size_t total = int_digits.size() + frac_digits.size();
  auto digit_at = [&](std::size_t k) -> int {
    return k < int_digits.size() ? int_digits[k] - '0' : frac_digits[k - int_digits.size()] - '0';
  };
  std::size_t lead = 0;
  while (lead < total && digit_at(lead) == 0) {
    ++lead;
  }
  if (lead == total) {
    return decimal{};
  }
  const auto sig_len = static_cast<int64_t>(total - lead);
  const int64_t shift = exponent - static_cast<int64_t>(frac_digits.size()) + scale;
  // Number of significand digits kept as the integer count of units.
  const int64_t keep = shift >= 0 ? sig_len : sig_len + shift;
  if (keep + (shift > 0 ? shift : 0) > 39) {
    return std::nullopt; // more than 39 digits of units cannot fit in 2^127
  }
  u128 units = 0;
  for (int64_t k = 0; k < keep; ++k) {
    if (units > max_magnitude / 10) {
      return std::nullopt;
    }
    units = units * 10 + static_cast<u128>(digit_at(lead + static_cast<std::size_t>(k)));
  }
  if (shift > 0) {
    for (int64_t k = 0; k < shift; ++k) {
      if (units > max_magnitude / 10) {
        return std::nullopt;
      }
      units *= 10;
    }
  } else if (keep < sig_len) {
    // Round half to even on the dropped digits. When keep < 0 the first dropped digit is an
    // implicit leading zero, so the value is below half a unit and rounds to zero.
    if (keep >= 0) {
      int first_dropped = digit_at(lead + static_cast<std::size_t>(keep));
      bool rest_nonzero = false;
      for (auto k = lead + static_cast<std::size_t>(keep) + 1; k < total && !rest_nonzero; ++k) {
        rest_nonzero = digit_at(k) != 0;
      }
      bool odd = (units & 1) != 0;
      if (first_dropped > 5 || (first_dropped == 5 && (rest_nonzero || odd))) {
        ++units;
      }
    }
  }
  if (units > max_magnitude) {
    return std::nullopt;
  }
  auto signed_units = static_cast<units_type>(units);
  return from_units(negative ? -signed_units : signed_units);
}

decimal decimal::from_integer(int64_t x) noexcept {
  return from_units(static_cast<units_type>(x) * static_cast<units_type>(pow10_18));
}

std::string decimal::to_string() const {
  std::string out;
  append_to(out);
  return out;
}

void decimal::append_to(std::string& out) const {
  std::array<char, format_capacity> buf{};
  out.append(buf.data(), format(*this, buf.data()));
}

double decimal::to_double() const noexcept {
  std::array<char, format_capacity> buf{};
  std::size_t len = format(*this, buf.data());
  double result = 0.0;
  // from_chars is locale independent and correctly rounded; the text is always valid.
  std::from_chars(buf.data(), buf.data() + len, result);
  return result;
}

int compare_scaled(unsigned __int128 x, uint64_t m, unsigned __int128 y, uint64_t n) noexcept {
  // 128 x 64 -> 192-bit products as (hi, lo) pairs of 128-bit halves.
  auto mul = [](u128 a, uint64_t b, u128& hi, u128& lo) {
    u128 p0 = static_cast<u128>(static_cast<uint64_t>(a)) * b;
    u128 p1 = static_cast<u128>(static_cast<uint64_t>(a >> 64)) * b;
    lo = p0 + (p1 << 64);
    hi = (p1 >> 64) + (lo < p0 ? 1 : 0);
  };
  u128 xh = 0;
  u128 xl = 0;
  u128 yh = 0;
  u128 yl = 0;
  mul(x, m, xh, xl);
  mul(y, n, yh, yl);
  if (xh != yh) {
    return xh < yh ? -1 : 1;
  }
  if (xl != yl) {
    return xl < yl ? -1 : 1;
  }
  return 0;
}

bool exceeds_ratio(decimal fee, decimal amount, int num, int den) noexcept {
  if (num < 0 || den <= 0 || fee.sign() < 0) {
    return false;
  }
  return compare_scaled(magnitude(fee.units()), static_cast<uint64_t>(den),
                        magnitude(amount.units()), static_cast<uint64_t>(num))
         > 0;
}

} // namespace klerno::actors::model
