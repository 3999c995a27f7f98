// /openapi.json describes exactly the routes a node serves: every served route is documented and
// every documented route is served (the integration suite checks that each one answers).

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "http/routes.hpp"
#include "runtime/health_board.hpp"
#include "runtime/metrics.hpp"

using namespace klerno;

namespace {

using route_key = std::pair<std::string, std::string>; // (method, path)

http::route_groups all_groups() {
  http::route_groups groups;
  groups.metrics = true;
  groups.api = true;
  groups.chaos = true;
  return groups;
}

std::set<route_key> served_routes() {
  static runtime::health_board board;
  static runtime::metrics::registry metrics;
  auto probes = std::make_shared<http::probe_context>();
  probes->board = &board;
  probes->metrics = &metrics;
  auto api = std::make_shared<http::api::api_context>();
  http::router r;
  http::add_all_routes(r, probes, api, all_groups());
  std::set<route_key> result;
  for (const auto& route : r.routes()) {
    auto method = std::string{boost::beast::http::to_string(route->method)};
    for (auto& c : method) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    result.emplace(method, route->pattern);
  }
  return result;
}

std::set<route_key> documented_routes(const nlohmann::json& doc) {
  std::set<route_key> result;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      result.emplace(method, path);
    }
  }
  return result;
}

} // namespace

TEST_CASE("the OpenAPI document is valid JSON of OpenAPI 3 with the build's version") {
  auto doc = nlohmann::json::parse(http::openapi_document());
  CHECK(doc.at("openapi").get<std::string>().rfind("3.", 0) == 0);
  CHECK(doc.at("info").at("version").get<std::string>().find('@') == std::string::npos);
  CHECK(doc.at("components").at("securitySchemes").at("ApiKey").at("name") == "X-API-Key");
}

TEST_CASE("every served route is documented in the OpenAPI document") {
  auto documented = documented_routes(nlohmann::json::parse(http::openapi_document()));
  for (const auto& route : served_routes()) {
    INFO(route.first << " " << route.second);
    CHECK(documented.count(route) == 1);
  }
}

TEST_CASE("every documented route is served") {
  auto served = served_routes();
  for (const auto& route : documented_routes(nlohmann::json::parse(http::openapi_document()))) {
    INFO(route.first << " " << route.second);
    CHECK(served.count(route) == 1);
  }
}

TEST_CASE("routes with an API key are documented with it, open routes without") {
  auto doc = nlohmann::json::parse(http::openapi_document());
  static runtime::health_board board;
  static runtime::metrics::registry metrics;
  auto probes = std::make_shared<http::probe_context>();
  probes->board = &board;
  probes->metrics = &metrics;
  http::router r;
  http::add_all_routes(r, probes, std::make_shared<http::api::api_context>(), all_groups());
  for (const auto& route : r.routes()) {
    auto method = std::string{boost::beast::http::to_string(route->method)};
    for (auto& c : method) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const auto& op = doc.at("paths").at(route->pattern).at(method);
    bool open = op.contains("security") && op.at("security").empty();
    INFO(method << " " << route->pattern);
    CHECK(open == (route->options.auth == http::access::open));
  }
}
