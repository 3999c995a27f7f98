#pragma once

// Request ids: every response carries `X-Request-ID`. A sane id sent by the client (or by the load
// balancer in front) is echoed so a request can be followed across hops; anything else is
// replaced by a fresh id.

#include <string>
#include <string_view>

namespace klerno::http {

/// Maximum length of a client-supplied request id that is echoed.
constexpr std::size_t max_request_id_length = 128;

/// Returns `true` if `id` is 1..128 characters of [A-Za-z0-9._:-] (safe to echo into headers and
/// logs).
bool is_sane_request_id(std::string_view id) noexcept;

/// Returns a fresh request id: 32 lower-case hex digits from a fast per-thread generator (unique,
/// not secret).
std::string make_request_id();

} // namespace klerno::http
