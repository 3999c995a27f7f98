#pragma once

// One-shot HTTP helpers on top of tcp_client: format a request, send it on a fresh connection,
// read the answer.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/http_response.hpp"

namespace klerno::test {

/// Header fields in the order they are sent.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// Returns the bytes of an HTTP/1.1 request with `Host: 127.0.0.1`, `headers`, a Content-Length
/// when `body` is not empty, and `Connection: close` when `close` is true.
std::string format_request(std::string_view method, std::string_view target,
                           const header_list& headers = {}, std::string_view body = {},
                           bool close = false);

/// Sends one request with `Connection: close` on a new connection to 127.0.0.1:`port` and returns
/// the response (deadline: tcp_client::default_timeout). Throws what tcp_client throws.
http_response http_request(uint16_t port, std::string_view method, std::string_view target,
                           const header_list& headers = {}, std::string_view body = {});

/// http_request(port, "GET", target, headers).
http_response http_get(uint16_t port, std::string_view target, const header_list& headers = {});

} // namespace klerno::test
