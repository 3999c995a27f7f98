#pragma once

// Text encodings exchanged with PostgreSQL: exact timestamps (microseconds, UTC) and
// one-dimensional text arrays. Pure functions, unit-tested without a database.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/model/transaction.hpp"

namespace klerno::actors::storage::pg {

/// Returns days since 1970-01-01 of the proleptic Gregorian date y-m-d.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept;

/// Returns "YYYY-MM-DD" of the day `days` after 1970-01-01 (years 1..9999).
std::string format_date(int64_t days);

/// Returns the UTC day (days since 1970-01-01) holding `t`.
int64_t day_of(model::timestamp t) noexcept;

/// Returns `t` as timestamptz input text: "YYYY-MM-DD HH:MM:SS.ffffff+00" (exact).
std::string format_timestamp(model::timestamp t);

/// Returns the timestamp `us` microseconds after the Unix epoch.
model::timestamp from_unix_micros(int64_t us) noexcept;

/// Appends `x` as a double-quoted array element (backslash and quote escaped).
void append_array_element(std::string& out, std::string_view x);

/// Returns the array literal of `xs`: {"a","b"} ({} when empty).
std::string encode_array(const std::vector<std::string>& xs);

/// Parses a one-dimensional array in PostgreSQL's text output format ({a,"b c"}); NULL
/// elements are skipped. Throws `std::invalid_argument` on malformed input.
std::vector<std::string> parse_array(std::string_view text);

} // namespace klerno::actors::storage::pg
