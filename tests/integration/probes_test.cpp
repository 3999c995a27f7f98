// The probes of a running node: the unauthenticated ones and the API-key protected ones.

#include <string>

#include <catch2/catch.hpp>

#include "tests/integration/node_fixture.hpp"

using namespace klerno::test;

TEST_CASE("the healthz probe answers 200 with status ok") {
  test_node node;
  auto res = node.get("/healthz");
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Type") == "application/json");
  CHECK(require_json(res) == nlohmann::json{{"status", "ok"}});
  CHECK_FALSE(res.header("X-Request-ID").empty());
}

TEST_CASE("the liveness probe answers 200 with status alive") {
  test_node node;
  auto res = node.get("/liveness");
  REQUIRE(res.status == 200);
  CHECK(require_json(res) == nlohmann::json{{"status", "alive"}});
}

TEST_CASE("the startup probe answers 200 once the node has started") {
  test_node node;
  auto res = node.get("/startup");
  REQUIRE(res.status == 200);
  CHECK(require_json(res).is_object());
}

TEST_CASE("the readiness probe answers 200 with status ready while the node serves") {
  test_node node;
  auto res = node.get("/readiness");
  REQUIRE(res.status == 200);
  CHECK(require_json(res) == nlohmann::json{{"status", "ready"}});
}

TEST_CASE("the detailed endpoints answer 401 with the error envelope without an API key") {
  test_node node;
  auto target = GENERATE(as<std::string>{}, "/health", "/metrics-detailed");
  INFO("target " << target);
  auto res = node.get(target);
  require_error_envelope(res, 401, "unauthorized");
}

TEST_CASE("the detailed endpoints answer 401 with the error envelope for a wrong API key") {
  test_node node;
  auto target = GENERATE(as<std::string>{}, "/health", "/metrics-detailed");
  auto key = GENERATE(as<std::string>{}, "wrong-key", test_api_key + "x", "");
  INFO("target " << target << ", key '" << key << "'");
  auto res = node.get(target, {{"X-API-Key", key}});
  require_error_envelope(res, 401, "unauthorized");
}

TEST_CASE("the health endpoint reports version, identity, uptime, process and checks") {
  test_node node;
  auto res = node.get("/health", {{"X-API-Key", test_api_key}});
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Type") == "application/json");
  auto j = require_json(res);
  INFO(j.dump());
  CHECK(j.value("status", "") == "ok");
  CHECK(j["version"].is_string());
  CHECK_FALSE(j.value("version", "").empty());
  CHECK(j["environment"].is_string());
  CHECK(j["node"].is_string());
  CHECK_FALSE(j.value("node", "").empty());
  CHECK(j["instance_id"].is_string());
  CHECK_FALSE(j.value("instance_id", "").empty());
  REQUIRE(j["uptime_seconds"].is_number());
  CHECK(j["uptime_seconds"].get<double>() >= 0);
  REQUIRE(j["process"].is_object());
  REQUIRE(j["process"]["resident_memory_bytes"].is_number());
  CHECK(j["process"]["resident_memory_bytes"].get<double>() > 0);
  CHECK(j["process"]["cpu_percent"].is_number());
  CHECK(j["checks"].is_object());
}

TEST_CASE("the health endpoint names the environment and node the node was configured with") {
  test_node node{{{"APP_ENV", "staging"}, {"NODE_NAME", "it-node-7"}}};
  auto j = require_json(node.get("/health", {{"X-API-Key", test_api_key}}));
  CHECK(j.value("environment", "") == "staging");
  CHECK(j.value("node", "") == "it-node-7");
}

TEST_CASE("the metrics-detailed endpoint answers JSON with the right API key") {
  test_node node;
  auto res = node.get("/metrics-detailed", {{"X-API-Key", test_api_key}});
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Type") == "application/json");
  CHECK(require_json(res).is_object());
}
