// What the node logs: JSON lines with LOG_FORMAT=json, access lines joined by request id, and
// never a secret.

#include <csignal>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/integration/node_fixture.hpp"

using namespace klerno::test;

TEST_CASE("secrets never appear in the logs") {
  const std::string api_key = "some-long-secret-value-123";
  const std::string db_password = "topsecretpw";
  auto format = GENERATE(as<std::string>{}, "text", "json");
  INFO("LOG_FORMAT=" << format);
  // A database that refuses connections: the node logs its failed attempts, never the password.
  test_node node{{{"API_KEY", api_key},
                  {"DATABASE_URL", "postgresql://u:" + db_password + "@127.0.0.1:1/db"},
                  {"DB_CONNECT_TIMEOUT", "1s"},
                  {"LOG_FORMAT", format},
                  {"LOG_LEVEL", "trace"}},
                 test_node::wait_for::live};
  REQUIRE(poll_until(
    [&] { return node.process().log().find("migrations not applied yet") != std::string::npos; },
    10s));
  CHECK(node.get("/health", {{"X-API-Key", "not-the-key"}}).status == 401);
  CHECK(node.get("/health", {{"X-API-Key", api_key}}).status == 200);
  CHECK(node.get("/metrics-detailed", {{"X-API-Key", api_key}}).status == 200);
  CHECK(node.get("/health?key=x").status == 401);
  node.process().signal(SIGTERM);
  REQUIRE(node.process().wait_exit(node_exit_timeout) == 0);
  auto log = node.process().log();
  INFO(log);
  CHECK_FALSE(log.empty());
  CHECK(log.find(api_key) == std::string::npos);
  CHECK(log.find(db_password) == std::string::npos);
}

TEST_CASE("with LOG_FORMAT=json every log line is a JSON object and access lines carry the "
          "request id") {
  test_node node{{{"LOG_FORMAT", "json"}}};
  REQUIRE(node.get("/healthz", {{"X-Request-ID", "json-log-1"}}).status == 200);
  REQUIRE(node.get("/nowhere", {{"X-Request-ID", "json-log-2"}}).status == 404);
  node.process().signal(SIGTERM);
  REQUIRE(node.process().wait_exit(node_exit_timeout) == 0);

  auto out = node.process().out();
  std::istringstream in{out};
  std::string line;
  std::vector<nlohmann::json> entries;
  std::size_t bad = 0;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      UNSCOPED_INFO("not a JSON object: " << line);
      ++bad;
      continue;
    }
    entries.push_back(std::move(j));
  }
  CHECK(bad == 0);
  REQUIRE_FALSE(entries.empty());
  for (const auto& e : entries) {
    INFO(e.dump());
    CHECK(e.contains("ts"));
    CHECK(e.contains("level"));
    CHECK(e.contains("logger"));
  }
  auto access_line = [&](const std::string& id) -> const nlohmann::json* {
    for (const auto& e : entries) {
      if (e.value("logger", "") == "access" && e.value("request_id", "") == id) {
        return &e;
      }
    }
    return nullptr;
  };
  auto* first = access_line("json-log-1");
  REQUIRE(first != nullptr);
  CHECK(first->value("path", "") == "/healthz");
  CHECK(first->value("status", 0) == 200);
  CHECK(first->value("method", "") == "GET");
  auto* second = access_line("json-log-2");
  REQUIRE(second != nullptr);
  CHECK(second->value("status", 0) == 404);
}

TEST_CASE("with the text log format the access line carries the request id") {
  test_node node;
  REQUIRE(node.get("/healthz", {{"X-Request-ID", "text-log-1"}}).status == 200);
  node.process().signal(SIGTERM);
  REQUIRE(node.process().wait_exit(node_exit_timeout) == 0);
  auto out = node.process().out();
  INFO(out);
  CHECK(out.find("request_id=text-log-1") != std::string::npos);
}
