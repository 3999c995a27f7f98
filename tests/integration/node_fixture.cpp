#include "tests/integration/node_fixture.hpp"

#include <thread>

#include <catch2/catch.hpp>

#ifndef KLERNO_NODE_PATH
#  error "KLERNO_NODE_PATH must name the klerno-node executable"
#endif

namespace klerno::test {

std::string node_binary() {
  return KLERNO_NODE_PATH;
}

test_node::test_node(const node_process::env_map& settings, wait_for until) : dir_("klerno-it") {
  node_process::env_map env{
    {"PORT", "0"},
    {"BIND_ADDRESS", "127.0.0.1"},
    {"PORTS_FILE", (dir_ / "ports.json").string()},
    {"API_KEY", test_api_key},
    {"WORKERS", "2"},
    {"ACTOR_THREADS", "2"},
    {"SHUTDOWN_GRACE", "0s"},
  };
  for (const auto& [k, v] : settings) {
    env[k] = v;
  }
  process_ =
    std::make_unique<node_process>(node_binary(), env, std::vector<std::string>{}, dir_.path());
  ports_ = process_->wait_for_ports(node_start_timeout);
  // The ports file may appear a moment before the node reports ready: wait for the probe.
  const char* probe = until == wait_for::ready ? "/readiness" : "/healthz";
  bool ready = poll_until(
    [this, probe] {
      try {
        return get(probe).status == 200;
      } catch (const std::exception&) {
        return false;
      }
    },
    node_start_timeout);
  if (!ready) {
    throw std::runtime_error(std::string{probe} + " did not answer 200 within the start deadline");
  }
}

node_run run_node(const node_process::env_map& env, const std::vector<std::string>& args,
                  std::chrono::milliseconds timeout) {
  temp_dir dir{"klerno-it"};
  node_process p{node_binary(), env, args, dir.path()};
  node_run r;
  r.exit_code = p.wait_exit(timeout);
  r.out = p.out();
  r.err = p.err();
  return r;
}

bool poll_until(const std::function<bool()>& check, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (check()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
}

nlohmann::json require_json(const http_response& res) {
  INFO("body: " << res.body);
  auto j = nlohmann::json::parse(res.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

nlohmann::json require_error_envelope(const http_response& res, unsigned status,
                                      const std::string& code) {
  INFO("status " << res.status << ", body: " << res.body);
  REQUIRE(res.status == status);
  CHECK(res.header("Content-Type") == "application/json");
  auto j = require_json(res);
  REQUIRE(j.is_object());
  REQUIRE(j.size() == 1);
  REQUIRE(j.contains("error"));
  const auto& e = j["error"];
  REQUIRE(e.is_object());
  CHECK(e.value("code", "") == code);
  REQUIRE(e.contains("message"));
  CHECK(e["message"].is_string());
  CHECK_FALSE(e["message"].get<std::string>().empty());
  REQUIRE(e.contains("timestamp"));
  CHECK(e["timestamp"].is_string());
  REQUIRE(e.contains("details"));
  CHECK(e["details"].is_object());
  REQUIRE(e.contains("request_id"));
  REQUIRE(e["request_id"].is_string());
  CHECK_FALSE(res.header("X-Request-ID").empty());
  CHECK(e["request_id"].get<std::string>() == res.header("X-Request-ID"));
  return j;
}

bool is_generated_request_id(const std::string& id) {
  if (id.size() != 32) {
    return false;
  }
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

} // namespace klerno::test
