#pragma once

// Small text helpers of the API handlers: query-string parameters and UTF-8 validation.

#include <optional>
#include <string>
#include <string_view>

namespace klerno::http::api {

/// Returns the percent-decoded value of the first parameter called `name` in `query` (the part
/// after '?', a leading '?' is tolerated): pairs are separated by '&', names and values are
/// percent-decoded and '+' is a space; a name without '=' has the empty value. Returns nullopt
/// when the parameter is absent. A malformed escape ("%zz", a trailing "%") is kept literally.
/// The result may hold any bytes: check it with `valid_utf8` before echoing it as JSON.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

/// Returns `s` with percent escapes decoded and '+' turned into a space (as `query_param`).
std::string percent_decode(std::string_view s);

/// Returns whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
/// above U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;

/// Percent-encodes `s` for use as one path segment (RFC 3986 unreserved characters stay).
std::string percent_encode(std::string_view s);

} // namespace klerno::http::api
