#include "http/api/transaction_json.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "http/api/query.hpp"
#include "runtime/text.hpp"

namespace klerno::http::api {

namespace {

using actors::model::decimal;
using actors::model::timestamp;
using actors::model::transaction;
using nlohmann::json;

constexpr int64_t micros_per_second = 1000000;

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, 1970-01-01 = day 0).
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct civil {
  int64_t year;
  unsigned month;
  unsigned day;
};

constexpr civil civil_from_days(int64_t z) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

constexpr bool leap(int64_t y) noexcept {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr unsigned days_in_month(int64_t y, unsigned m) noexcept {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

// Reads exactly `n` digits at `pos`; advances `pos`. Returns -1 when they are not all digits.
int64_t read_digits(std::string_view s, std::size_t& pos, std::size_t n) noexcept {
  if (s.size() - pos < n) {
    return -1;
  }
  int64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') {
      return -1;
    }
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool accept(std::string_view s, std::size_t& pos, char c) noexcept {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

void append_padded(std::string& out, int64_t v, int width) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v < 0 ? -v : v);
  (void)ec;
  auto len = static_cast<int>(end - buf.data());
  if (v < 0) {
    out += '-';
  }
  for (int i = len; i < width; ++i) {
    out += '0';
  }
  out.append(buf.data(), end);
}

const char* type_name(const json& v) noexcept {
  return v.type_name();
}

field_error error(std::string field, std::string message) {
  return {std::move(field), std::move(message)};
}

// A field name safe to echo in an error: valid UTF-8, at most 64 bytes.
std::string printable_name(const std::string& key) {
  if (!valid_utf8(key)) {
    return "(invalid UTF-8)";
  }
  if (key.size() <= 64) {
    return key;
  }
  std::size_t cut = 64;
  while (cut > 0 && (static_cast<unsigned char>(key[cut]) & 0xC0) == 0x80) {
    --cut; // do not split a multi-byte character
  }
  return key.substr(0, cut) + "...";
}

// Reads a string field; returns an error message or "".
std::optional<field_error> read_string(const json& v, const char* field, std::size_t max_bytes,
                                       std::string& out) {
  if (!v.is_string()) {
    return error(field, std::string(field) + " must be a string, not " + type_name(v));
  }
  const auto& s = v.get_ref<const std::string&>();
  if (!valid_utf8(s)) {
    return error(field, std::string(field) + " must be valid UTF-8");
  }
  if (s.size() > max_bytes) {
    return error(field,
                 std::string(field) + " must be at most " + std::to_string(max_bytes) + " bytes");
  }
  out = s;
  return std::nullopt;
}

std::optional<field_error> read_amount(const json& v, const char* field, const input_limits& limits,
                                       bool non_negative, decimal& out) {
  if (!v.is_number() && !v.is_string()) {
    return error(field,
                 std::string(field) + " must be a number or a numeric string, not " + type_name(v));
  }
  auto d = decimal_from_json(v);
  if (!d) {
    return error(field, std::string(field) + " must be a finite decimal number");
  }
  if (non_negative && d->sign() < 0) {
    return error(field, std::string(field) + " must not be negative");
  }
  if (d->abs() > limits.max_amount) {
    return error(field, std::string(field) + " must be at most " + limits.max_amount.to_string()
                          + " in magnitude");
  }
  out = *d;
  return std::nullopt;
}

std::optional<field_error> read_tags(const json& v, const input_limits& limits,
                                     std::vector<std::string>& out) {
  if (!v.is_array()) {
    return error("tags", std::string("tags must be an array of strings, not ") + type_name(v));
  }
  if (v.size() > limits.max_tags) {
    return error("tags", "tags must hold at most " + std::to_string(limits.max_tags) + " tags");
  }
  out.clear();
  out.reserve(v.size());
  std::size_t i = 0;
  for (const auto& t : v) {
    auto where = "tags[" + std::to_string(i) + "]";
    if (!t.is_string()) {
      return error("tags", where + " must be a string, not " + type_name(t));
    }
    const auto& s = t.get_ref<const std::string&>();
    if (!valid_utf8(s)) {
      return error("tags", where + " must be valid UTF-8");
    }
    if (s.size() > limits.max_tag_bytes) {
      return error("tags",
                   where + " must be at most " + std::to_string(limits.max_tag_bytes) + " bytes");
    }
    out.push_back(s);
    ++i;
  }
  return std::nullopt;
}

bool known_input(const std::string& key) noexcept {
  static constexpr std::string_view fields[] = {
    "tx_id",     "timestamp", "chain", "from_addr", "to_addr", "amount",     "symbol",
    "direction", "fee",       "memo",  "notes",     "tags",    "is_internal"};
  for (auto f : fields) {
    if (key == f) {
      return true;
    }
  }
  return false;
}

bool output_only(const std::string& key) noexcept {
  return key == "category" || key == "risk_score" || key == "risk_flags" || key == "risk_bucket";
}

} // namespace

bool valid_tx_id(std::string_view id, std::size_t max_bytes) noexcept {
  if (id.empty() || id.size() > max_bytes) {
    return false;
  }
  for (char c : id) {
    if (c < 0x21 || c > 0x7E) {
      return false;
    }
  }
  return true;
}

std::optional<decimal> decimal_from_json(const json& v) noexcept {
  if (v.is_number_unsigned()) {
    return decimal::from_units(static_cast<decimal::units_type>(v.get<uint64_t>())
                               * static_cast<decimal::units_type>(1000000000000000000LL));
  }
  if (v.is_number_integer()) {
    return decimal::from_integer(v.get<int64_t>());
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d)) {
      return std::nullopt;
    }
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
    if (ec != std::errc{}) {
      return std::nullopt;
    }
    return decimal::parse(std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data())));
  }
  if (v.is_string()) {
    return decimal::parse(v.get_ref<const std::string&>());
  }
  return std::nullopt;
}

std::optional<timestamp> parse_timestamp(std::string_view s) noexcept {
  std::size_t pos = 0;
  int64_t year = read_digits(s, pos, 4);
  if (year < 1 || !accept(s, pos, '-')) {
    return std::nullopt;
  }
  int64_t month = read_digits(s, pos, 2);
  if (month < 1 || month > 12 || !accept(s, pos, '-')) {
    return std::nullopt;
  }
  int64_t day = read_digits(s, pos, 2);
  if (day < 1 || day > days_in_month(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  if (!(accept(s, pos, 'T') || accept(s, pos, 't') || accept(s, pos, ' '))) {
    return std::nullopt;
  }
  int64_t hour = read_digits(s, pos, 2);
  if (hour < 0 || hour > 23 || !accept(s, pos, ':')) {
    return std::nullopt;
  }
  int64_t minute = read_digits(s, pos, 2);
  if (minute < 0 || minute > 59) {
    return std::nullopt;
  }
  int64_t second = 0;
  int64_t micros = 0;
  if (accept(s, pos, ':')) {
    second = read_digits(s, pos, 2);
    if (second < 0 || second > 59) {
      return std::nullopt;
    }
    if (accept(s, pos, '.') || accept(s, pos, ',')) {
      std::size_t digits = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 6) {
          micros = micros * 10 + (s[pos] - '0');
        }
        ++digits;
        ++pos;
      }
      if (digits == 0) {
        return std::nullopt;
      }
      for (; digits < 6; ++digits) {
        micros *= 10;
      }
    }
  }
  int64_t offset = 0; // seconds east of UTC
  if (accept(s, pos, 'Z') || accept(s, pos, 'z')) {
    // UTC
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int64_t sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int64_t oh = read_digits(s, pos, 2);
    if (oh < 0 || oh > 23) {
      return std::nullopt;
    }
    int64_t om = 0;
    if (pos < s.size()) {
      accept(s, pos, ':');
      om = read_digits(s, pos, 2);
      if (om < 0 || om > 59) {
        return std::nullopt;
      }
    }
    offset = sign * (oh * 3600 + om * 60);
  }
  if (pos != s.size()) {
    return std::nullopt;
  }
  int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset;
  return timestamp(std::chrono::microseconds(secs * micros_per_second + micros));
}

void append_timestamp(std::string& out, timestamp t) {
  int64_t us = t.time_since_epoch().count();
  int64_t secs = us / micros_per_second;
  int64_t frac = us % micros_per_second;
  if (frac < 0) {
    frac += micros_per_second;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  auto c = civil_from_days(days);
  append_padded(out, c.year, 4);
  out += '-';
  append_padded(out, c.month, 2);
  out += '-';
  append_padded(out, c.day, 2);
  out += 'T';
  append_padded(out, sod / 3600, 2);
  out += ':';
  append_padded(out, sod / 60 % 60, 2);
  out += ':';
  append_padded(out, sod % 60, 2);
  if (frac != 0) {
    out += '.';
    append_padded(out, frac, 6);
  }
  out += 'Z';
}

std::string format_timestamp(timestamp t) {
  std::string out;
  append_timestamp(out, t);
  return out;
}

parse_result parse_transaction(const json& j, const input_limits& limits) {
  auto now =
    std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  return parse_transaction(j, limits, now);
}

parse_result parse_transaction(const json& j, const input_limits& limits, timestamp now) {
  if (!j.is_object()) {
    return error("", std::string("a transaction must be a JSON object, not ") + type_name(j));
  }
  transaction tx;
  tx.time = now;
  bool has_id = false;
  bool has_amount = false;
  // nlohmann keeps object members sorted by name, so the first error reported is stable.
  for (const auto& [key, v] : j.items()) {
    if (output_only(key)) {
      continue;
    }
    if (!known_input(key)) {
      auto name = printable_name(key);
      return error(name, "unknown field \"" + name + "\"");
    }
    if (v.is_null()) {
      continue; // absent: the default applies
    }
    std::optional<field_error> e;
    if (key == "tx_id") {
      if (!v.is_string()) {
        return error(key, std::string("tx_id must be a string, not ") + type_name(v));
      }
      const auto& id = v.get_ref<const std::string&>();
      if (!valid_tx_id(id, limits.max_id_bytes)) {
        return error(key, "tx_id must be 1 to " + std::to_string(limits.max_id_bytes)
                            + " printable ASCII characters without spaces");
      }
      tx.tx_id = id;
      has_id = true;
    } else if (key == "timestamp") {
      if (!v.is_string()) {
        return error(key, std::string("timestamp must be an ISO 8601 string, not ") + type_name(v));
      }
      auto t = parse_timestamp(v.get_ref<const std::string&>());
      if (!t) {
        return error(key, "timestamp must be an ISO 8601 date-time such as 2026-11-28T20:17:22Z");
      }
      tx.time = *t;
    } else if (key == "chain") {
      e = read_string(v, "chain", limits.max_short_bytes, tx.chain);
    } else if (key == "from_addr") {
      e = read_string(v, "from_addr", limits.max_addr_bytes, tx.from_addr);
    } else if (key == "to_addr") {
      e = read_string(v, "to_addr", limits.max_addr_bytes, tx.to_addr);
    } else if (key == "amount") {
      e = read_amount(v, "amount", limits, false, tx.amount);
      has_amount = !e;
    } else if (key == "symbol") {
      e = read_string(v, "symbol", limits.max_symbol_bytes, tx.symbol);
    } else if (key == "direction") {
      e = read_string(v, "direction", limits.max_short_bytes, tx.direction);
    } else if (key == "fee") {
      e = read_amount(v, "fee", limits, true, tx.fee);
    } else if (key == "memo") {
      e = read_string(v, "memo", limits.max_memo_bytes, tx.memo);
    } else if (key == "notes") {
      e = read_string(v, "notes", limits.max_notes_bytes, tx.notes);
    } else if (key == "tags") {
      e = read_tags(v, limits, tx.tags);
    } else if (key == "is_internal") {
      if (!v.is_boolean()) {
        return error(key, std::string("is_internal must be a boolean, not ") + type_name(v));
      }
      tx.is_internal = v.get<bool>();
    }
    if (e) {
      return std::move(*e);
    }
  }
  if (!has_id) {
    return error("tx_id", "tx_id is required");
  }
  if (!has_amount) {
    return error("amount", "amount is required");
  }
  return tx;
}

void append_json(std::string& out, const transaction& tx) {
  using runtime::append_json_string;
  out += "{\"tx_id\":";
  append_json_string(out, tx.tx_id);
  out += ",\"timestamp\":\"";
  append_timestamp(out, tx.time);
  out += "\",\"chain\":";
  append_json_string(out, tx.chain);
  out += ",\"from_addr\":";
  append_json_string(out, tx.from_addr);
  out += ",\"to_addr\":";
  append_json_string(out, tx.to_addr);
  out += ",\"amount\":";
  tx.amount.append_to(out);
  out += ",\"symbol\":";
  append_json_string(out, tx.symbol);
  out += ",\"direction\":";
  append_json_string(out, tx.direction);
  out += ",\"fee\":";
  tx.fee.append_to(out);
  out += ",\"memo\":";
  append_json_string(out, tx.memo);
  out += ",\"notes\":";
  append_json_string(out, tx.notes);
  out += ",\"tags\":[";
  for (std::size_t i = 0; i < tx.tags.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    append_json_string(out, tx.tags[i]);
  }
  out += "],\"is_internal\":";
  out += tx.is_internal ? "true" : "false";
  out += ",\"category\":";
  append_json_string(out, tx.category);
  out += ",\"risk_score\":";
  actors::model::append_score(out, tx.risk_score);
  out += ",\"risk_flags\":[";
  for (std::size_t i = 0; i < tx.risk_flags.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    append_json_string(out, tx.risk_flags[i]);
  }
  out += "],\"risk_bucket\":";
  append_json_string(out, tx.risk_bucket);
  out += '}';
}

std::string to_json(const transaction& tx) {
  std::string out;
  out.reserve(384 + tx.memo.size() + tx.notes.size());
  append_json(out, tx);
  return out;
}

} // namespace klerno::http::api
