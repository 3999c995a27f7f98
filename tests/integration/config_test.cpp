// How the node treats its configuration at startup: errors exit 2 naming the key, --print-config
// redacts secrets, and a startup failure exits 1.

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/integration/node_fixture.hpp"

using namespace klerno::test;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(line);
  }
  return out;
}

} // namespace

TEST_CASE("an invalid setting exits 2 with one stderr line naming the key") {
  struct bad_config {
    std::string key;
    node_process::env_map env;
  };
  auto c = GENERATE(values<bad_config>({
    {"PORT", {{"PORT", "abc"}}},
    {"PORT", {{"PORT", "70000"}}},
    {"WORKERS", {{"WORKERS", "0"}}},
    {"HTTP_READ_TIMEOUT", {{"HTTP_READ_TIMEOUT", "soon"}}},
    {"LOG_FORMAT", {{"LOG_FORMAT", "xml"}}},
    {"API_KEY", {{"APP_ENV", "production"}, {"SECRET_KEY", "a-production-secret-key-0123456789"}}},
  }));
  INFO("expected key " << c.key);
  auto run = run_node(c.env);
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  CHECK(run.exit_code == 2);
  auto err = lines(run.err);
  REQUIRE(err.size() == 1);
  CHECK(err[0].rfind("klerno-node: config error: " + c.key + ":", 0) == 0);
}

TEST_CASE("an invalid command-line setting exits 2 naming the key") {
  auto run = run_node({}, {"--workers=0"});
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  CHECK(run.exit_code == 2);
  auto err = lines(run.err);
  REQUIRE(err.size() == 1);
  CHECK(err[0].rfind("klerno-node: config error: WORKERS:", 0) == 0);
}

TEST_CASE("print-config prints the settings with secrets redacted and exits 0") {
  const std::string api_key = "some-long-secret-value-123";
  const std::string db_password = "topsecretpw";
  auto run = run_node({{"API_KEY", api_key},
                       {"SECRET_KEY", "another-long-secret-value-456"},
                       {"DATABASE_URL", "postgresql://u:" + db_password + "@localhost/db"}},
                      {"--print-config"});
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find(api_key) == std::string::npos);
  CHECK(run.out.find("another-long-secret-value-456") == std::string::npos);
  CHECK(run.out.find(db_password) == std::string::npos);
  CHECK(run.err.find(api_key) == std::string::npos);
  CHECK(run.err.find(db_password) == std::string::npos);
  auto out = lines(run.out);
  auto has = [&](const std::string& line) {
    return std::find(out.begin(), out.end(), line) != out.end();
  };
  CHECK(has("API_KEY=<redacted>"));
  CHECK(has("SECRET_KEY=<redacted>"));
  CHECK(has("DATABASE_URL=postgresql://u:***@localhost/db"));
}

TEST_CASE("print-config redacts a secret given on the command line") {
  auto run = run_node({}, {"--api-key=command-line-secret-789", "--print-config"});
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("command-line-secret-789") == std::string::npos);
  CHECK(run.out.find("API_KEY=<redacted>") != std::string::npos);
}

TEST_CASE("a node that cannot bind its port exits 1 without needing the shutdown watchdog") {
  test_node first;
  // The failure deadline is longer than the node's own shutdown watchdog (stop timeout x 2 + 5 s),
  // so that a stop that hangs shows up as the watchdog's message rather than as a timeout here.
  auto run =
    run_node({{"PORT", std::to_string(first.port())}, {"BIND_ADDRESS", "127.0.0.1"}}, {}, 40s);
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("Address already in use") != std::string::npos);
  CHECK(run.err.find("did not finish") == std::string::npos);
  CHECK(first.get("/healthz").status == 200);
}
