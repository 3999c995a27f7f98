// The monitoring stack end to end: a real Prometheus (Debian's /usr/bin/prometheus), configured
// from the repository's deploy/monitoring/prometheus.local.yml.template rendered by
// scripts/prometheus (what `./scripts/up --monitoring` runs), scrapes a 3-node cluster on
// loopback (PostgreSQL and Redis of the CTest fixtures) under a load, and its HTTP API answers
// the operators' queries: the request rate, the member count and the scrape targets.

#include <cctype>
#include <csignal>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/cache/cache_support.hpp"
#include "tests/cluster/cluster_support.hpp"
#include "tests/support/http.hpp"
#include "tests/support/temp_dir.hpp"

using namespace klerno::test;
using namespace klerno::test::cluster_tests;
using nlohmann::json;

namespace {

/// Deadline for Prometheus to scrape the nodes and answer the queries: a failure deadline only
/// (the template scrapes every 5 s, so a rate over 30 s exists about 10 s after the start).
constexpr auto scrape_deadline = std::chrono::seconds{30};

/// Returns a loopback port that was free a moment ago (bound to port 0, then released).
uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0
            && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  REQUIRE(ok);
  return ntohs(addr.sin_port);
}

/// Returns `s` percent-encoded for a URL query value.
std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// A Prometheus server of its own: the rendered configuration and the TSDB in a temporary
/// directory, the web listener on a free loopback port; killed (and its directory removed) at
/// the end of the scope, also on failure.
class prometheus_server {
public:
  /// Renders the repository's template for `targets` (name -> host:port) with scripts/prometheus
  /// (which also runs promtool check config) and starts Prometheus; waits until /-/ready.
  explicit prometheus_server(const std::map<std::string, std::string>& targets) {
    std::string render = api::shell_quote(KLERNO_PROMETHEUS_SCRIPT) + " render "
                         + api::shell_quote((dir_ / "prometheus.yml").string());
    for (const auto& [name, address] : targets) {
      render += " " + name + "=" + address;
    }
    api::require_command(render + " 2>&1");
    config_ = api::require_command("cat " + api::shell_quote((dir_ / "prometheus.yml").string()));
    // The port is free when chosen; another process may take it before Prometheus binds it.
    for (int attempt = 0; attempt < 5 && !process_; ++attempt) {
      port_ = free_loopback_port();
      process_ = std::make_unique<node_process>(
        KLERNO_PROMETHEUS_BIN, node_process::env_map{{"PATH", "/usr/bin:/bin"}},
        std::vector<std::string>{
          "--config.file=" + (dir_ / "prometheus.yml").string(),
          "--storage.tsdb.path=" + (dir_ / "data").string(),
          "--web.listen-address=127.0.0.1:" + std::to_string(port_),
        },
        dir_.path());
      bool ready = poll_until(
        [&] {
          if (!process_->running()) {
            return true;
          }
          try {
            return http_get(port_, "/-/ready").status == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        30s);
      if (!process_->running()
          && process_->log().find("address already in use") != std::string::npos) {
        process_.reset();
        continue;
      }
      INFO("prometheus log:\n" << process_->log());
      REQUIRE(process_->running());
      REQUIRE(ready);
    }
    REQUIRE(process_ != nullptr);
  }

  ~prometheus_server() {
    if (process_) {
      process_->signal(SIGTERM);
      process_->wait_exit(15s);
    }
  }

  prometheus_server(const prometheus_server&) = delete;
  prometheus_server& operator=(const prometheus_server&) = delete;

  /// Returns the rendered configuration.
  const std::string& config() const noexcept {
    return config_;
  }

  /// GETs `target` from the HTTP API and returns its `data` when the answer is 200 with status
  /// "success" (nullopt otherwise, e.g. while starting).
  std::optional<json> api(const std::string& target) const {
    try {
      auto res = http_get(port_, target);
      auto j = json::parse(res.body, nullptr, false);
      if (res.status != 200 || !j.is_object() || j.value("status", "") != "success") {
        return std::nullopt;
      }
      return j["data"];
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

  /// Evaluates the instant query `expr` and returns the value of its first sample (nullopt when
  /// the result is empty or the query fails).
  std::optional<double> query(const std::string& expr) const {
    auto data = api("/api/v1/query?query=" + url_encode(expr));
    if (!data || !data->contains("result") || !(*data)["result"].is_array()
        || (*data)["result"].empty()) {
      return std::nullopt;
    }
    const auto& value = (*data)["result"][0]["value"];
    if (!value.is_array() || value.size() != 2 || !value[1].is_string()) {
      return std::nullopt;
    }
    return std::stod(value[1].get<std::string>());
  }

  /// Returns the `node` label of every active target of the job klerno whose health is "up".
  std::set<std::string> targets_up() const {
    std::set<std::string> up;
    auto data = api("/api/v1/targets?state=active");
    if (!data || !data->contains("activeTargets")) {
      return up;
    }
    for (const auto& t : (*data)["activeTargets"]) {
      const auto& labels = t.value("labels", json::object());
      if (t.value("health", "") == "up" && labels.value("job", "") == "klerno") {
        up.insert(labels.value("node", "?"));
      }
    }
    return up;
  }

private:
  temp_dir dir_{"klerno-prometheus"};
  std::unique_ptr<node_process> process_;
  uint16_t port_ = 0;
  std::string config_;
};

std::string describe(const std::optional<double>& v) {
  return v ? std::to_string(*v) : std::string{"(no result)"};
}

} // namespace

TEST_CASE("a real Prometheus configured from the repository's template sees the request rate, "
          "the 3 members and 3 healthy targets of a loaded cluster",
          "[monitoring]") {
  const auto redis = cache_tests::shared_redis_url();
  const auto prefix = cache_tests::unique_prefix();
  const std::vector<std::string> names{"node1", "node2", "node3"};

  test_cluster cluster;
  for (const auto& name : names) {
    cluster.start(name, {{"REDIS_URL", redis}, {"REDIS_KEY_PREFIX", prefix}});
  }
  cluster.wait_converged(names);

  std::map<std::string, std::string> targets;
  for (auto* m : cluster.members()) {
    targets[m->name()] = "127.0.0.1:" + std::to_string(m->port());
  }
  prometheus_server prometheus{targets};
  INFO("rendered configuration:\n" << prometheus.config());
  for (const auto& [name, address] : targets) {
    REQUIRE(prometheus.config().find("\"" + address + "\"") != std::string::npos);
  }

  // The load: stored transactions (the database, cache and cluster series get samples) and
  // scored ones, round robin over the nodes; more of it while Prometheus is polled, so the rate
  // over 30 s covers requests between two scrapes.
  auto members = cluster.members();
  std::size_t sent = 0;
  auto drive = [&](std::size_t n, const char* route) {
    for (std::size_t i = 0; i < n; ++i, ++sent) {
      const auto& node = members[sent % members.size()]->node();
      auto wallet = "rMon" + std::to_string(sent % 17);
      auto res = api::post(node, route, api::make_tx("mon", wallet, "rDest", 150));
      INFO(route << " on port " << node.port() << ": " << res.status << " " << res.body);
      REQUIRE((res.status == 200 || res.status == 201));
    }
  };
  drive(60, "/transactions");
  drive(150, "/analyze/tx");

  const std::string rate_query = "sum(rate(klerno_http_requests_total[30s]))";
  const std::string analyze_rate_query =
    "sum(rate(klerno_http_requests_total{route=\"/analyze/tx\"}[30s]))";
  const std::string members_query = "max(klerno_cluster_members{status=\"up\"})";
  const std::string agreeing_query = "count(klerno_cluster_members{status=\"up\"} == 3)";
  std::optional<double> rate, analyze_rate, up_members, agreeing;
  std::set<std::string> up_targets;
  bool seen = poll_until(
    [&] {
      drive(10, "/analyze/tx");
      rate = prometheus.query(rate_query);
      analyze_rate = prometheus.query(analyze_rate_query);
      up_members = prometheus.query(members_query);
      agreeing = prometheus.query(agreeing_query);
      up_targets = prometheus.targets_up();
      return rate && *rate > 0 && analyze_rate && *analyze_rate > 0 && up_members
             && *up_members == 3 && agreeing && *agreeing == 3 && up_targets.size() == 3;
    },
    scrape_deadline);
  INFO("requests sent: " << sent);
  INFO(rate_query << " = " << describe(rate));
  INFO(analyze_rate_query << " = " << describe(analyze_rate));
  INFO(members_query << " = " << describe(up_members));
  INFO(agreeing_query << " = " << describe(agreeing));
  std::ostringstream up_list;
  for (const auto& t : up_targets) {
    up_list << t << " ";
  }
  INFO("targets up: " << up_list.str());
  CHECK(seen);
  CHECK(rate.value_or(0) > 0);
  CHECK(analyze_rate.value_or(0) > 0);
  CHECK(up_members == 3.0);
  CHECK(agreeing == 3.0);
  CHECK(up_targets == std::set<std::string>{"node1", "node2", "node3"});
}
