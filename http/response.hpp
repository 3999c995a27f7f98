#pragma once

// Requests, responses and the JSON error envelope of the HTTP edge.
//
// Every error the edge or a handler returns uses one envelope:
//   {"error":{"code":"not_found","message":"...","timestamp":"2026-11-28T20:17:22.123Z",
//             "request_id":"...","details":{...}}}

#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

namespace klerno::http {

namespace bhttp = boost::beast::http;

/// A complete request as read by a session.
using request = bhttp::request<bhttp::string_body>;

/// A complete response as handed back to a session.
using response = bhttp::response<bhttp::string_body>;

using status = bhttp::status;

/// Returns the stable snake_case error code for an HTTP error status, e.g. 404 -> "not_found".
std::string_view error_code_for(status s) noexcept;

/// Builds a JSON response with the given status and body (`application/json`).
response make_json(status s, std::string body);

/// Builds a plain-text response with the given content type.
response make_text(status s, std::string body,
                   std::string_view content_type = "text/plain; charset=utf-8");

/// Builds the JSON error envelope. `details_json` must be a JSON object (default `{}`);
/// `code` defaults to `error_code_for(s)`.
response make_error(status s, std::string_view message, std::string_view request_id,
                    std::string_view details_json = "{}", std::string_view code = {});

} // namespace klerno::http
