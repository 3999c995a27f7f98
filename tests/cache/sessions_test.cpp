// Session tokens on real nodes sharing one Redis: a token made on one node works on another,
// and revoking it on one node refuses it on every node at once.

#include <string>

#include <catch2/catch.hpp>

#include "tests/cache/cache_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using namespace klerno::test::cache_tests;
using nlohmann::json;

namespace {

header_list bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

/// Creates a session with the API key on `node`; returns the token.
std::string create_session(const test_node& node) {
  auto res = node.request("POST", "/auth/session", {{"X-API-Key", test_api_key}});
  auto body = require_status_json(res, 201);
  INFO(body.dump());
  CHECK(res.header("Cache-Control") == "no-store");
  CHECK(body["token_type"] == "Bearer");
  REQUIRE(body["token"].is_string());
  auto token = body["token"].get<std::string>();
  CHECK(token.size() >= 32);
  CHECK(body["expires_in"].get<long long>() > 0);
  return token;
}

} // namespace

TEST_CASE("a session made on one node works on another until it is revoked on any node",
          "[cache][sessions]") {
  scratch_database db;
  const auto redis = shared_redis_url();
  const auto prefix = unique_prefix();
  test_node a{cache_settings(db.primary_url(), {}, redis, prefix)};
  test_node b{cache_settings(db.primary_url(), {}, redis, prefix)};
  auto tx = make_tx("cache-sess", unique_id("rSess"), "rTo", 3);
  require_status_json(post(a, "/transactions", tx), 201);
  const auto target = "/transactions/" + tx["tx_id"].get<std::string>();

  const auto token = create_session(a);
  auto on_b = b.request("GET", target, bearer(token));
  INFO(on_b.body);
  CHECK(require_status_json(on_b, 200)["tx_id"] == tx["tx_id"]);
  CHECK(require_status_json(a.request("GET", "/alerts", bearer(token)), 200)["items"].is_array());

  // A session cannot make another one: only an API key can.
  require_error_envelope(a.request("POST", "/auth/session", bearer(token)), 401, "unauthorized");
  require_error_envelope(b.request("POST", "/auth/session", bearer(token)), 401, "unauthorized");

  auto revoked = b.request("DELETE", "/auth/session", bearer(token));
  INFO(revoked.body);
  CHECK(revoked.status == 204);
  CHECK(revoked.body.empty());
  // At once, on the node that did not revoke it too.
  require_error_envelope(a.request("GET", target, bearer(token)), 401, "unauthorized");
  require_error_envelope(b.request("GET", target, bearer(token)), 401, "unauthorized");
  // The API key still works.
  CHECK(get(a, target).status == 200);

  // A second session is independent of the first.
  const auto other = create_session(b);
  CHECK(other != token);
  CHECK(a.request("GET", target, bearer(other)).status == 200);

  // Unknown, malformed and missing credentials.
  auto unknown = token; // same shape, another value
  unknown[0] = unknown[0] == 'A' ? 'B' : 'A';
  require_error_envelope(a.request("GET", target, bearer(unknown)), 401, "unauthorized");
  require_error_envelope(a.request("GET", target, bearer("garbage")), 401, "unauthorized");
  require_error_envelope(b.request("GET", target, bearer("garbage")), 401, "unauthorized");
  require_error_envelope(a.request("GET", target), 401, "unauthorized");
  require_error_envelope(a.request("POST", "/auth/session"), 401, "unauthorized");
  CHECK(metric(a, "klerno_sessions_total{op=\"created\"}") == 1);
  CHECK(metric(b, "klerno_sessions_total{op=\"revoked\"}") == 1);
}
