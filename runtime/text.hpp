#pragma once

// Small text helpers shared by the modules that write JSON and timestamps by hand (logging, the
// HTTP edge): one escaping routine and one timestamp format for the whole node; and the digit
// tables of hex escapes and base64url (URLs, cursors, session tokens).

#include <chrono>
#include <string>
#include <string_view>

namespace klerno::runtime {

/// Appends `s` to `out` as the inside of a JSON string (quotes not included): `"`, `\` and
/// control characters are escaped; other bytes are copied as they are.
void append_json_escaped(std::string& out, std::string_view s);

/// Appends `s` to `out` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view s);

/// Appends `tp` as RFC 3339 UTC with milliseconds, e.g. "2026-11-28T20:17:22.123Z".
void append_rfc3339(std::string& out, std::chrono::system_clock::time_point tp);

/// Returns `tp` as RFC 3339 UTC with milliseconds.
std::string rfc3339(std::chrono::system_clock::time_point tp);

/// Returns `s` without leading and trailing spaces and tabs (HTTP's optional whitespace).
std::string_view trim_ows(std::string_view s) noexcept;

/// Returns the value (0..15) of a hex digit (either case), or -1.
int hex_digit_value(char c) noexcept;

/// Returns the base64url encoding (RFC 4648 section 5, no padding) of `data`.
std::string base64url_encode(std::string_view data);

/// Returns the value (0..63) of a base64url character, or -1.
int base64url_value(char c) noexcept;

} // namespace klerno::runtime
