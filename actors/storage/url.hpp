#pragma once

// Database URL handling that needs no database client: the seed's pool parameters
// (`?max_connections=20&min_connections=5`, which libpq would reject as unknown) are parsed and
// stripped here, libpq parameters are added when missing, and the password is extracted so error
// texts can be scrubbed of it. Both libpq forms are understood: URIs (`postgresql://...`,
// `postgres://...`) and keyword/value strings (`host=h dbname=d`).

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace klerno::actors::storage {

/// A URL without its pool parameters, and those parameters.
struct pool_params {
  std::string clean_url;                      ///< the URL for libpq
  std::optional<std::size_t> min_connections; ///< `min_connections=N`, if given
  std::optional<std::size_t> max_connections; ///< `max_connections=N`, if given
};

/// Splits the pool parameters off `url`. Other parameters keep their order; a query string left
/// empty is dropped. Throws `std::invalid_argument` when a pool parameter is not an integer in
/// 0..10000 (the message names the parameter and its value, never the rest of the URL).
pool_params parse_pool_url(std::string_view url);

/// Returns `true` if `url` sets the libpq parameter `key` (URI query or keyword/value).
bool has_url_param(std::string_view url, std::string_view key);

/// Returns `url` with `key=value` added (as a URI query parameter or a keyword/value pair),
/// unless `url` sets `key` already. `value` must not need quoting or percent-encoding
/// (letters, digits, `-`, `_`, `.`).
std::string with_url_param(std::string_view url, std::string_view key, std::string_view value);

/// Returns `true` if `url` names several hosts (`postgresql://h1,h2/db`, `host=h1,h2`).
bool has_several_hosts(std::string_view url);

/// Returns the password of `url` (percent-decoded for URIs), or the empty string.
std::string url_password(std::string_view url);

/// Returns `text` with every occurrence of `password` (when at least 4 characters long) replaced
/// by `***`; error texts of client libraries pass through this before they go anywhere.
std::string scrub(std::string text, std::string_view password);

} // namespace klerno::actors::storage
