#pragma once

// An exact decimal number for amounts and fees: a signed count of 10^-18 units held in a 128-bit
// integer (range about +-1.7e20, 18 decimal places). Parsed from and printed to decimal text
// without binary floating point, so 0.1 + 0.2 is 0.3 and a stored amount reads back unchanged.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace klerno::actors::model {

/// An exact decimal with 18 fractional digits.
class decimal {
public:
  using units_type = __int128;

  /// Number of fractional decimal digits.
  static constexpr int scale = 18;

  /// Largest magnitude in raw units (2^127 - 1); the range is symmetric, so `abs()` and unary
  /// minus never overflow for a parsed value.
  static constexpr units_type max_units =
    static_cast<units_type>(~static_cast<unsigned __int128>(0) >> 1);

  constexpr decimal() noexcept = default;

  /// Parses decimal text: optional sign, digits with an optional fraction, optional exponent
  /// ("-12.5", "1e3", "0.000001", "1.5E-7"). Digits beyond 18 fractional places are rounded
  /// half to even. Returns nullopt for anything else (empty, "NaN", "inf", "1.2.3", hex) or when
  /// the magnitude exceeds the representable range.
  ///
  /// Accepts every JSON number literal and what nlohmann::json prints for a double ("1e-07",
  /// "100.0"); also a leading '+'. Rejects surrounding whitespace, a missing integer part (".5")
  /// and an empty fraction ("5.").
  static std::optional<decimal> parse(std::string_view text) noexcept;

  /// Returns the decimal for an integer.
  static decimal from_integer(int64_t x) noexcept;

  /// Returns the decimal with the given raw units (value * 10^18).
  static constexpr decimal from_units(units_type u) noexcept {
    decimal d;
    d.units_ = u;
    return d;
  }

  /// Returns the raw units (value * 10^18).
  constexpr units_type units() const noexcept {
    return units_;
  }

  /// Returns the shortest exact text: "0", "12.5", "-0.000001" (no exponent, no trailing zeros).
  std::string to_string() const;

  /// Appends `to_string()` to `out` without a temporary string.
  void append_to(std::string& out) const;

  /// Returns the nearest double (for display and statistics only).
  double to_double() const noexcept;

  /// Returns -1, 0 or 1.
  constexpr int sign() const noexcept {
    return units_ < 0 ? -1 : (units_ > 0 ? 1 : 0);
  }

  /// Returns the absolute value.
  constexpr decimal abs() const noexcept {
    return from_units(units_ < 0 ? -units_ : units_);
  }

  /// Returns the negated value.
  friend constexpr decimal operator-(decimal a) noexcept {
    return from_units(-a.units_);
  }

  /// Returns the exact sum. Precondition: the result is within the range (amounts and fees are
  /// bounded far below it by the input limits).
  friend constexpr decimal operator+(decimal a, decimal b) noexcept {
    return from_units(a.units_ + b.units_);
  }

  /// Returns the exact difference. Precondition: the result is within the range.
  friend constexpr decimal operator-(decimal a, decimal b) noexcept {
    return from_units(a.units_ - b.units_);
  }

  friend constexpr bool operator==(decimal a, decimal b) noexcept {
    return a.units_ == b.units_;
  }
  friend constexpr bool operator!=(decimal a, decimal b) noexcept {
    return a.units_ != b.units_;
  }
  friend constexpr bool operator<(decimal a, decimal b) noexcept {
    return a.units_ < b.units_;
  }
  friend constexpr bool operator>(decimal a, decimal b) noexcept {
    return a.units_ > b.units_;
  }
  friend constexpr bool operator<=(decimal a, decimal b) noexcept {
    return a.units_ <= b.units_;
  }
  friend constexpr bool operator>=(decimal a, decimal b) noexcept {
    return a.units_ >= b.units_;
  }

private:
  units_type units_ = 0;
};

/// Compares `x * m` with `y * n` exactly (256-bit intermediate products, so no overflow for any
/// operands); returns -1, 0 or 1. The building block of exact ratio tests.
int compare_scaled(unsigned __int128 x, uint64_t m, unsigned __int128 y, uint64_t n) noexcept;

/// Returns whether fee / |amount| > num / den, computed exactly as fee * den > |amount| * num.
/// Preconditions: num >= 0 and den > 0 (otherwise false). A negative fee never exceeds; a zero
/// amount is exceeded by any positive fee (callers that want "no ratio for a zero amount" test
/// the amount first). The products are formed in 256 bits, so the test is exact for every
/// representable value: the usual |values| <= 1e15 of the input limits is not required for
/// correctness here.
bool exceeds_ratio(decimal fee, decimal amount, int num, int den) noexcept;

} // namespace klerno::actors::model
