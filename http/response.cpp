#include "http/response.hpp"

#include <chrono>

#include <boost/beast/http/field.hpp>

#include "runtime/text.hpp"

namespace klerno::http {

std::string_view error_code_for(status s) noexcept {
  switch (s) {
    case status::bad_request:
      return "bad_request";
    case status::unauthorized:
      return "unauthorized";
    case status::forbidden:
      return "forbidden";
    case status::not_found:
      return "not_found";
    case status::method_not_allowed:
      return "method_not_allowed";
    case status::request_timeout:
      return "request_timeout";
    case status::conflict:
      return "conflict";
    case status::payload_too_large:
      return "payload_too_large";
    case status::uri_too_long:
      return "uri_too_long";
    case status::unsupported_media_type:
      return "unsupported_media_type";
    case status::unprocessable_entity:
      return "unprocessable_entity";
    case status::too_many_requests:
      return "too_many_requests";
    case status::request_header_fields_too_large:
      return "request_header_fields_too_large";
    case status::internal_server_error:
      return "internal_error";
    case status::not_implemented:
      return "not_implemented";
    case status::service_unavailable:
      return "service_unavailable";
    case status::gateway_timeout:
      return "gateway_timeout";
    default:
      return bhttp::to_status_class(s) == bhttp::status_class::client_error ? "client_error"
                                                                            : "server_error";
  }
}

response make_json(status s, std::string body) {
  response res{s, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

response make_text(status s, std::string body, std::string_view content_type) {
  response res{s, 11};
  res.set(bhttp::field::content_type,
          boost::beast::string_view{content_type.data(), content_type.size()});
  res.body() = std::move(body);
  return res;
}

response make_error(status s, std::string_view message, std::string_view request_id,
                    std::string_view details_json, std::string_view code) {
  std::string body;
  body.reserve(160 + message.size() + details_json.size());
  body += "{\"error\":{\"code\":";
  runtime::append_json_string(body, code.empty() ? error_code_for(s) : code);
  body += ",\"message\":";
  runtime::append_json_string(body, message);
  body += ",\"timestamp\":";
  runtime::append_json_string(body, runtime::rfc3339(std::chrono::system_clock::now()));
  body += ",\"request_id\":";
  runtime::append_json_string(body, request_id);
  body += ",\"details\":";
  body += details_json.empty() ? std::string_view{"{}"} : details_json;
  body += "}}";
  return make_json(s, std::move(body));
}

} // namespace klerno::http
