#include "actors/storage/pg/codec.hpp"

#include <cstdio>
#include <stdexcept>

namespace klerno::actors::storage::pg {

namespace {

constexpr int64_t us_per_day = 86'400'000'000;

int64_t floor_div(int64_t a, int64_t b) noexcept {
  auto q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

struct civil {
  int64_t y;
  unsigned m;
  unsigned d;
};

// Howard Hinnant's civil_from_days (public domain algorithm).
civil civil_from_days(int64_t z) noexcept {
  z += 719468;
  auto era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);
  auto yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  auto y = static_cast<int64_t>(yoe) + era * 400;
  auto doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  auto mp = (5 * doy + 2) / 153;
  auto d = doy - (153 * mp + 2) / 5 + 1;
  auto m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

} // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  auto era = (y >= 0 ? y : y - 399) / 400;
  auto yoe = static_cast<unsigned>(y - era * 400);
  auto doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  auto doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string format_date(int64_t days) {
  auto c = civil_from_days(days);
  if (c.y < 1 || c.y > 9999) {
    throw std::out_of_range("date outside the years 1..9999");
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", static_cast<int>(c.y), c.m, c.d);
  return buf;
}

int64_t day_of(model::timestamp t) noexcept {
  return floor_div(t.time_since_epoch().count(), us_per_day);
}

std::string format_timestamp(model::timestamp t) {
  auto us = t.time_since_epoch().count();
  auto days = floor_div(us, us_per_day);
  auto rest = us - days * us_per_day; // 0 .. us_per_day - 1
  auto secs = rest / 1'000'000;
  auto frac = rest % 1'000'000;
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%s %02d:%02d:%02d.%06d+00", format_date(days).c_str(),
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60), static_cast<int>(frac));
  return buf;
}

model::timestamp from_unix_micros(int64_t us) noexcept {
  return model::timestamp{std::chrono::microseconds{us}};
}

void append_array_element(std::string& out, std::string_view x) {
  out += '"';
  for (char c : x) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
}

std::string encode_array(const std::vector<std::string>& xs) {
  std::string out = "{";
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    append_array_element(out, xs[i]);
  }
  out += '}';
  return out;
}

std::vector<std::string> parse_array(std::string_view text) {
  std::vector<std::string> out;
  auto fail = [] {
    throw std::invalid_argument("malformed array literal");
  };
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') {
    fail();
  }
  std::size_t i = 1;
  auto end = text.size() - 1;
  if (i == end) {
    return out;
  }
  while (true) {
    std::string item;
    bool quoted = false;
    if (text[i] == '"') {
      quoted = true;
      ++i;
      while (i < end && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < end) {
          ++i;
        }
        item += text[i++];
      }
      if (i >= end) {
        fail();
      }
      ++i; // closing quote
    } else {
      while (i < end && text[i] != ',') {
        if (text[i] == '{' || text[i] == '"') {
          fail(); // nested arrays are not expected here
        }
        item += text[i++];
      }
    }
    if (quoted || item != "NULL") {
      out.push_back(std::move(item));
    }
    if (i == end) {
      break;
    }
    if (text[i] != ',') {
      fail();
    }
    ++i;
    if (i == end) {
      fail();
    }
  }
  return out;
}

} // namespace klerno::actors::storage::pg
