// /metrics in the Prometheus text format, on the API port and on a separate METRICS_PORT.

#include <optional>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "tests/integration/node_fixture.hpp"

using namespace klerno::test;

namespace {

/// Returns the value of the sample whose name and labels are exactly `series`, if present.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0
        && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

bool has_line_starting_with(const std::string& text, const std::string& prefix) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) == 0) {
      return true;
    }
  }
  return false;
}

void require_metric_families(const std::string& text) {
  INFO(text);
  CHECK(has_line_starting_with(text, "# TYPE klerno_http_requests_total counter"));
  CHECK(has_line_starting_with(text, "klerno_http_requests_total{"));
  CHECK(has_line_starting_with(text, "# TYPE klerno_http_request_duration_seconds histogram"));
  CHECK(has_line_starting_with(text, "klerno_http_request_duration_seconds_bucket{"));
  CHECK(has_line_starting_with(text, "# HELP klerno_actor_restarts_total "));
  CHECK(has_line_starting_with(text, "# TYPE klerno_actor_restarts_total counter"));
  CHECK(has_line_starting_with(text, "process_resident_memory_bytes "));
}

} // namespace

TEST_CASE("the metrics endpoint counts the requests it has answered") {
  test_node node;
  constexpr int n = 7;
  for (int i = 0; i < n; ++i) {
    REQUIRE(node.get("/healthz").status == 200);
  }
  // A request is counted once its response is written, which a client may see a moment earlier.
  const std::string series =
    R"(klerno_http_requests_total{method="GET",route="/healthz",status="200"})";
  std::string last;
  bool counted = poll_until([&] {
    auto res = node.get("/metrics");
    last = res.body;
    auto v = sample(last, series);
    return res.status == 200 && v && *v >= n;
  });
  INFO(last);
  CHECK(counted);
}

TEST_CASE("the metrics endpoint exposes the http, actor and process metric families") {
  test_node node;
  REQUIRE(node.get("/healthz").status == 200);
  std::string last;
  // The first request's sample appears once its response is written: poll for it.
  REQUIRE(poll_until([&] {
    last = node.get("/metrics").body;
    return has_line_starting_with(last, "klerno_http_requests_total{");
  }));
  auto res = node.get("/metrics");
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Type").rfind("text/plain", 0) == 0);
  require_metric_families(res.body);
}

TEST_CASE("a separate METRICS_PORT listener serves metrics and healthz") {
  test_node node{{{"METRICS_PORT", "0"}}};
  REQUIRE(node.ports().metrics.has_value());
  auto mport = *node.ports().metrics;
  CHECK(mport != 0);
  CHECK(mport != node.port());
  REQUIRE(node.get("/healthz").status == 200);

  auto health = http_get(mport, "/healthz");
  REQUIRE(health.status == 200);
  CHECK(require_json(health) == nlohmann::json{{"status", "ok"}});

  std::string last;
  REQUIRE(poll_until([&] {
    last = http_get(mport, "/metrics").body;
    return has_line_starting_with(last, "klerno_http_requests_total{");
  }));
  auto res = http_get(mport, "/metrics");
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Type").rfind("text/plain", 0) == 0);
  require_metric_families(res.body);
}

TEST_CASE("the METRICS_PORT listener does not serve the API routes") {
  test_node node{{{"METRICS_PORT", "0"}}};
  REQUIRE(node.ports().metrics.has_value());
  auto res = http_get(*node.ports().metrics, "/health", {{"X-API-Key", test_api_key}});
  require_error_envelope(res, 404, "not_found");
}

TEST_CASE("without METRICS_PORT the ports file reports no metrics port") {
  test_node node;
  CHECK_FALSE(node.ports().metrics.has_value());
}

TEST_CASE("a node exports its utilization and the autoscaling signal") {
  // MIN_REPLICAS = MAX_REPLICAS = 3: whatever the utilization, the clamped signal must be 3.
  test_node node{
    {{"HEALTH_CHECK_INTERVAL", "200ms"}, {"MIN_REPLICAS", "3"}, {"MAX_REPLICAS", "3"}}};
  // The gauges are NaN (unknown) until the health actor's first sample.
  std::string text;
  bool sampled = poll_until([&] {
    text = node.get("/metrics").body;
    auto m = sample(text, "klerno_memory_utilization_ratio");
    return m && *m > 0;
  });
  INFO(text);
  CHECK(sampled);
  for (auto family : {"klerno_cpu_utilization_ratio", "klerno_memory_utilization_ratio",
                      "klerno_desired_replicas", "klerno_autoscale_current_replicas"}) {
    INFO(family);
    CHECK(has_line_starting_with(text, std::string{"# TYPE "} + family + " gauge"));
  }
  auto cpu = sample(text, "klerno_cpu_utilization_ratio");
  auto memory = sample(text, "klerno_memory_utilization_ratio");
  REQUIRE(cpu);
  REQUIRE(memory);
  CHECK(*cpu >= 0);
  CHECK(*cpu <= 1);
  CHECK(*memory > 0); // a running process has resident memory
  CHECK(*memory < 1);
  // Outside a cluster the formula counts this node alone.
  CHECK(sample(text, "klerno_autoscale_current_replicas") == 1.0);
  CHECK(sample(text, "klerno_desired_replicas") == 3.0);
}
