// Supervision seen from outside: a killed actor is restarted and the restart is counted; a root
// supervisor that exceeds its restart intensity takes the node down with exit code 1, so the
// orchestrator restarts it. Actors are killed through the chaos endpoint (CHAOS_ENDPOINTS).

#include <string>

#include <catch2/catch.hpp>

#include "tests/integration/node_fixture.hpp"

using namespace klerno::test;

namespace {

const header_list api_key{{"X-API-Key", test_api_key}};

/// Returns the value of the sample `line_prefix` (e.g. `metric{a="b"}`) in a /metrics body, or -1.
double sample(const std::string& metrics, const std::string& line_prefix) {
  auto pos = metrics.find("\n" + line_prefix + " ");
  if (pos == std::string::npos) {
    return -1;
  }
  return std::stod(metrics.substr(pos + line_prefix.size() + 2));
}

const std::string health_restarts =
  R"(klerno_actor_restarts_total{supervisor="root",child="health"})";

} // namespace

TEST_CASE("a killed health actor is restarted, counted, and liveness recovers") {
  test_node node{{{"CHAOS_ENDPOINTS", "true"}}};
  CHECK(sample(node.get("/metrics").body, health_restarts) == 0);

  auto killed = node.request("POST", "/chaos/actors/health/kill", api_key);
  REQUIRE(killed.status == 202);
  CHECK(require_json(killed)["killed"] == "health");

  CHECK(poll_until([&] { return sample(node.get("/metrics").body, health_restarts) == 1; }));
  CHECK(poll_until([&] { return node.get("/liveness").status == 200; }));
  CHECK(node.get("/health", api_key).status == 200);
  CHECK(node.process().running());
}

TEST_CASE("the chaos endpoint needs the API key, knows only registered actors, and is off by "
          "default") {
  test_node chaos{{{"CHAOS_ENDPOINTS", "true"}}};
  require_error_envelope(chaos.request("POST", "/chaos/actors/health/kill"), 401, "unauthorized");
  require_error_envelope(chaos.request("POST", "/chaos/actors/nobody/kill", api_key), 404,
                         "not_found");
  require_error_envelope(chaos.request("POST", "/chaos/actors/Not-An-Atom!/kill", api_key), 404,
                         "not_found");

  test_node plain;
  require_error_envelope(plain.request("POST", "/chaos/actors/health/kill", api_key), 404,
                         "not_found");
}

TEST_CASE("a root supervisor that exceeds its restart intensity stops the node with exit code 1") {
  test_node node{{{"CHAOS_ENDPOINTS", "true"}}};
  // The root allows 5 restarts in 10 s; the 6th kill within that window makes it give up. Each
  // kill waits for the new instance, so every kill hits a running actor.
  for (int i = 1; i <= 6 && node.process().running(); ++i) {
    INFO("kill " << i);
    try {
      auto res = node.request("POST", "/chaos/actors/health/kill", api_key);
      if (res.status != 202) {
        break; // between the last kill and the exit
      }
    } catch (const std::exception&) {
      break; // the node closed its listener
    }
    if (i < 6) {
      REQUIRE(poll_until([&] {
        return sample(node.get("/metrics").body, health_restarts) == static_cast<double>(i);
      }));
    }
  }
  CHECK(node.process().wait_exit(node_exit_timeout) == 1);
  auto log = node.process().log();
  CHECK(log.find("restart intensity exceeded") != std::string::npos);
  CHECK(log.find("the root supervisor exited") != std::string::npos);
}
