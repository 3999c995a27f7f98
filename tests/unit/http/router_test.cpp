#include <catch2/catch.hpp>

#include <stdexcept>

#include "http/router.hpp"

using namespace klerno::http;

namespace {

handler noop() {
  return [](request_context&, responder) {
  };
}

} // namespace

TEST_CASE("the router finds exact routes and routes with placeholders") {
  router r;
  r.add(verb::get, "/healthz", noop());
  r.add(verb::get, "/transactions/{tx_id}", noop());
  r.add(verb::get, "/transactions", noop());
  auto m = r.find(verb::get, "/healthz");
  REQUIRE(m.result == route_match::kind::found);
  CHECK(m.target->pattern == "/healthz");
  m = r.find(verb::get, "/transactions/abc123");
  REQUIRE(m.result == route_match::kind::found);
  CHECK(m.target->pattern == "/transactions/{tx_id}");
  REQUIRE(m.params.size() == 1);
  CHECK(m.params[0].first == "tx_id");
  CHECK(m.params[0].second == "abc123");
  CHECK(r.find(verb::get, "/transactions").target->pattern == "/transactions");
}

TEST_CASE("the router answers not found for unknown paths, empty segments and trailing slashes") {
  router r;
  r.add(verb::get, "/healthz", noop());
  r.add(verb::get, "/transactions/{tx_id}", noop());
  CHECK(r.find(verb::get, "/nope").result == route_match::kind::not_found);
  CHECK(r.find(verb::get, "/healthz/").result == route_match::kind::not_found);
  CHECK(r.find(verb::get, "/transactions/").result == route_match::kind::not_found);
  CHECK(r.find(verb::get, "/transactions/a/b").result == route_match::kind::not_found);
  CHECK(r.find(verb::get, "").result == route_match::kind::not_found);
}

TEST_CASE("the router reports the allowed methods for a known path and a wrong method") {
  router r;
  r.add(verb::get, "/items/{id}", noop());
  r.add(verb::delete_, "/items/{id}", noop());
  r.add(verb::post, "/items", noop());
  auto m = r.find(verb::put, "/items/7");
  CHECK(m.result == route_match::kind::method_not_allowed);
  CHECK(m.allowed == "GET, HEAD, DELETE");
  m = r.find(verb::get, "/items");
  CHECK(m.result == route_match::kind::method_not_allowed);
  CHECK(m.allowed == "POST");
}

TEST_CASE("HEAD is answered by the GET route") {
  router r;
  r.add(verb::get, "/healthz", noop());
  auto m = r.find(verb::head, "/healthz");
  REQUIRE(m.result == route_match::kind::found);
  CHECK(m.target->method == verb::get);
}

TEST_CASE("the router refuses malformed patterns and duplicate routes") {
  router r;
  CHECK_THROWS_AS(r.add(verb::get, "healthz", noop()), std::invalid_argument);
  CHECK_THROWS_AS(r.add(verb::get, "/a/{}", noop()), std::invalid_argument);
  CHECK_THROWS_AS(r.add(verb::get, "/a/{x", noop()), std::invalid_argument);
  r.add(verb::get, "/a/{x}", noop());
  CHECK_THROWS_AS(r.add(verb::get, "/a/{y}", noop()), std::invalid_argument);
  r.add(verb::get, "/b", noop());
  CHECK_THROWS_AS(r.add(verb::get, "/b", noop()), std::invalid_argument);
  CHECK_NOTHROW(r.add(verb::post, "/b", noop()));
}

TEST_CASE("split_target separates the path from the query string") {
  CHECK(split_target("/a/b?x=1&y=2")
        == std::pair<std::string_view, std::string_view>{"/a/b", "x=1&y=2"});
  CHECK(split_target("/a") == std::pair<std::string_view, std::string_view>{"/a", ""});
  CHECK(split_target("/a?") == std::pair<std::string_view, std::string_view>{"/a", ""});
}

TEST_CASE("routes of the same shape under different methods name their own parameters") {
  router r;
  r.add(verb::get, "/items/{id}", noop());
  r.add(verb::delete_, "/items/{item}", noop());
  auto m = r.find(verb::delete_, "/items/9");
  REQUIRE(m.result == route_match::kind::found);
  REQUIRE(m.params.size() == 1);
  CHECK(m.params[0].first == "item");
  CHECK(r.find(verb::get, "/items/9").params[0].first == "id");
}
