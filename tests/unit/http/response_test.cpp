#include <catch2/catch.hpp>

#include <set>

#include <nlohmann/json.hpp>

#include "http/request_id.hpp"
#include "http/response.hpp"

using namespace klerno::http;

TEST_CASE("the error envelope carries code, message, timestamp, request id and details") {
  auto res =
    make_error(status::payload_too_large, "too big \"body\"\n", "rid-1", R"({"limit_bytes":10})");
  CHECK(res.result() == status::payload_too_large);
  CHECK(res[boost::beast::http::field::content_type] == "application/json");
  auto j = nlohmann::json::parse(res.body());
  const auto& e = j.at("error");
  CHECK(e.at("code") == "payload_too_large");
  CHECK(e.at("message") == "too big \"body\"\n");
  CHECK(e.at("request_id") == "rid-1");
  CHECK(e.at("details") == nlohmann::json{{"limit_bytes", 10}});
  auto ts = e.at("timestamp").get<std::string>();
  CHECK(ts.size() == 24);
  CHECK(ts.back() == 'Z');
  CHECK(ts[10] == 'T');
}

TEST_CASE("the error envelope defaults details to an empty object and allows a custom code") {
  auto j = nlohmann::json::parse(make_error(status::conflict, "m", "r", "", "duplicate").body());
  CHECK(j["error"]["details"] == nlohmann::json::object());
  CHECK(j["error"]["code"] == "duplicate");
}

TEST_CASE("every error status has a stable snake_case code") {
  CHECK(error_code_for(status::bad_request) == "bad_request");
  CHECK(error_code_for(status::unauthorized) == "unauthorized");
  CHECK(error_code_for(status::not_found) == "not_found");
  CHECK(error_code_for(status::method_not_allowed) == "method_not_allowed");
  CHECK(error_code_for(status::request_timeout) == "request_timeout");
  CHECK(error_code_for(status::payload_too_large) == "payload_too_large");
  CHECK(error_code_for(status::uri_too_long) == "uri_too_long");
  CHECK(error_code_for(status::request_header_fields_too_large)
        == "request_header_fields_too_large");
  CHECK(error_code_for(status::internal_server_error) == "internal_error");
  CHECK(error_code_for(status::service_unavailable) == "service_unavailable");
  CHECK(error_code_for(status::gateway_timeout) == "gateway_timeout");
  CHECK(error_code_for(status::expectation_failed) == "client_error");
  CHECK(error_code_for(status::bad_gateway) == "server_error");
}

TEST_CASE("a client request id is echoed only when it is 1 to 128 safe characters") {
  CHECK(is_sane_request_id("abc-DEF_123.x:y"));
  CHECK(is_sane_request_id(std::string(128, 'a')));
  CHECK_FALSE(is_sane_request_id(std::string(129, 'a')));
  CHECK_FALSE(is_sane_request_id(""));
  CHECK_FALSE(is_sane_request_id("a b"));
  CHECK_FALSE(is_sane_request_id("a\r\nX-Evil: 1"));
  CHECK_FALSE(is_sane_request_id("a/b"));
  CHECK_FALSE(is_sane_request_id("\xc3\xa9"));
}

TEST_CASE("generated request ids are 32 hex digits and distinct") {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    auto id = make_request_id();
    REQUIRE(id.size() == 32);
    REQUIRE(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    ids.insert(id);
  }
  CHECK(ids.size() == 1000);
}
