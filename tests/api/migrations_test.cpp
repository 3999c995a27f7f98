// Nodes started at the same moment against a fresh database race to migrate it: all of them
// reach /startup 200 and every migration is applied exactly once (schema_migrations, the logs).

#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/api/api_support.hpp"

#ifndef KLERNO_MIGRATIONS_DIR
#  error "KLERNO_MIGRATIONS_DIR must name the migrations directory"
#endif

using namespace klerno::test;
using namespace klerno::test::api;

namespace {

/// The versions of the migration files (NNNN_name.sql).
std::set<int> migration_versions() {
  std::set<int> out;
  std::regex name{R"(^([0-9]{4})_[A-Za-z0-9_]+\.sql$)"};
  for (const auto& e : std::filesystem::directory_iterator{KLERNO_MIGRATIONS_DIR}) {
    std::smatch m;
    auto file = e.path().filename().string();
    if (std::regex_match(file, m, name)) {
      out.insert(std::stoi(m[1].str()));
    }
  }
  return out;
}

/// A node process started without waiting for it (test_node waits for readiness, which would
/// let the first node migrate alone).
struct racing_node {
  temp_dir dir{"klerno-api"};
  std::unique_ptr<node_process> process;
  uint16_t port = 0;

  explicit racing_node(const std::string& url) {
    node_process::env_map env = db_settings(url);
    env["PORT"] = "0";
    env["BIND_ADDRESS"] = "127.0.0.1";
    env["PORTS_FILE"] = (dir / "ports.json").string();
    env["API_KEY"] = test_api_key;
    env["WORKERS"] = "1";
    env["ACTOR_THREADS"] = "2";
    env["SHUTDOWN_GRACE"] = "0s";
    process =
      std::make_unique<node_process>(node_binary(), env, std::vector<std::string>{}, dir.path());
  }

  unsigned status(const std::string& target) const {
    try {
      return http_get(port, target).status;
    } catch (const std::exception&) {
      return 0;
    }
  }

  /// Lines of its log that record an applied migration.
  int applied_lines() const {
    std::istringstream in{process->log()};
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      n += line.find("applied migration ") != std::string::npos ? 1 : 0;
    }
    return n;
  }
};

} // namespace

TEST_CASE("nodes racing to migrate a fresh database apply each migration exactly once",
          "[api][migrations]") {
  const auto versions = migration_versions();
  REQUIRE_FALSE(versions.empty());
  private_cluster cluster;
  // Three rounds on three fresh databases of the private cluster (the first is its own klerno
  // database, never migrated before), three nodes each.
  std::vector<std::string> databases = {"klerno"};
  for (int r = 1; r < 3; ++r) {
    databases.push_back("race_" + std::to_string(r));
    cluster.psql("CREATE DATABASE " + databases.back());
  }
  for (const auto& database : databases) {
    INFO("database " << database);
    const auto url = with_database(cluster.url(), database);
    std::vector<std::unique_ptr<racing_node>> nodes;
    for (int i = 0; i < 3; ++i) {
      nodes.push_back(std::make_unique<racing_node>(url));
    }
    for (auto& n : nodes) {
      n->port = n->process->wait_for_ports(node_start_timeout).http;
    }
    for (auto& n : nodes) {
      bool started = poll_until([&] { return n->status("/startup") == 200; }, 30s);
      REQUIRE(started);
      bool ready = poll_until([&] { return n->status("/readiness") == 200; }, 10s);
      CHECK(ready);
    }

    std::string expected;
    for (int v : versions) {
      expected += (expected.empty() ? "" : "\n") + std::to_string(v) + "|1";
    }
    CHECK(psql(url, "SELECT version, count(*) FROM schema_migrations GROUP BY version"
                    " ORDER BY version")
          == expected);
    CHECK(psql(url, "SELECT count(*) FROM schema_migrations") == std::to_string(versions.size()));
    CHECK(psql(url, "SELECT count(*) FROM txs") == "0");

    // One node applied each migration (the others found them applied).
    int total = 0;
    poll_until(
      [&] {
        total = 0;
        for (auto& n : nodes) {
          total += n->applied_lines();
        }
        return total >= static_cast<int>(versions.size());
      },
      5s);
    CHECK(total == static_cast<int>(versions.size()));

    // Every node serves on the migrated schema.
    for (auto& n : nodes) {
      auto tx = make_tx("api-mig", unique_id("rMig"), "rPeer", 5);
      auto res = http_request(n->port, "POST", "/transactions",
                              {{"X-API-Key", test_api_key}, {"Content-Type", "application/json"}},
                              tx.dump());
      INFO(res.body);
      CHECK(res.status == 201);
    }
    CHECK(psql(url, "SELECT count(*) FROM txs") == "3");
  }
}
