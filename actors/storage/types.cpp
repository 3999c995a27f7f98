#include "actors/storage/types.hpp"

#include <string_view>

namespace klerno::actors::storage {

const char* to_string(db_error_kind x) noexcept {
  switch (x) {
    case db_error_kind::unavailable:
      return "unavailable";
    case db_error_kind::timeout:
      return "timeout";
    case db_error_kind::conflict:
      return "conflict";
    case db_error_kind::invalid:
      return "invalid";
    case db_error_kind::internal:
      return "internal";
  }
  return "internal";
}

namespace {

/// Returns `true` if `s` is valid UTF-8 (no overlong forms, surrogates or code points beyond
/// U+10FFFF) without NUL bytes: what PostgreSQL's text type accepts in a UTF-8 database.
bool valid_text(std::string_view s) noexcept {
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  auto* end = p + s.size();
  while (p < end) {
    unsigned c = *p;
    if (c == 0) {
      return false;
    }
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len = 0;
    unsigned cp = 0;
    unsigned min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return false;
    }
    if (end - p < len) {
      return false;
    }
    for (int i = 1; i < len; ++i) {
      if ((p[i] & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += len;
  }
  return true;
}

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds since the Unix epoch.
constexpr int64_t min_time_us = -62'135'596'800'000'000;
constexpr int64_t max_time_us = 253'402'300'799'999'999;

} // namespace

std::optional<std::string> validate(const model::transaction& tx) {
  if (tx.tx_id.empty()) {
    return std::string{"tx_id is empty"};
  }
  struct field {
    const char* name;
    const std::string* value;
    bool key;
  };
  const field fields[] = {
    {"tx_id", &tx.tx_id, true},        {"from_addr", &tx.from_addr, true},
    {"to_addr", &tx.to_addr, true},    {"chain", &tx.chain, false},
    {"symbol", &tx.symbol, false},     {"direction", &tx.direction, false},
    {"memo", &tx.memo, false},         {"notes", &tx.notes, false},
    {"category", &tx.category, false}, {"risk_bucket", &tx.risk_bucket, false},
  };
  for (auto& f : fields) {
    if (f.key && f.value->size() > max_key_bytes) {
      return std::string{f.name} + " is longer than " + std::to_string(max_key_bytes) + " bytes";
    }
    if (!valid_text(*f.value)) {
      return std::string{f.name} + " is not valid UTF-8 text (or contains a NUL byte)";
    }
  }
  for (auto* list : {&tx.tags, &tx.risk_flags}) {
    for (auto& x : *list) {
      if (!valid_text(x)) {
        return std::string{list == &tx.tags ? "tags" : "risk_flags"}
               + " contain an element that is not valid UTF-8 text (or contains a NUL byte)";
      }
    }
  }
  if (tx.risk_score < 0 || tx.risk_score > 100) {
    return "risk_score " + std::to_string(tx.risk_score) + " is outside 0..100 hundredths";
  }
  auto us = tx.time.time_since_epoch().count();
  if (us < min_time_us || us > max_time_us) {
    return std::string{"time is outside the years 1..9999"};
  }
  return std::nullopt;
}

} // namespace klerno::actors::storage
