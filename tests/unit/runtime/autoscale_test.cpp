#include "runtime/autoscale.hpp"

#include <cmath>

#include <catch2/catch.hpp>

using namespace klerno::runtime;

namespace {

autoscale_policy policy(double target_cpu = 0.5, double target_memory = 0.5) {
  autoscale_policy p;
  p.min_replicas = 1;
  p.max_replicas = 100;
  p.target_cpu = target_cpu;
  p.target_memory = target_memory;
  p.tolerance = 0.125; // exact in binary, so the band's edges are exact too
  return p;
}

member_utilization cpu(double x) {
  return {x, std::nullopt};
}

member_utilization mem(double x) {
  return {std::nullopt, x};
}

} // namespace

TEST_CASE("utilization at the target keeps the current count") {
  auto d = desired_replicas({cpu(0.5), cpu(0.5), cpu(0.5)}, policy());
  CHECK(d.current == 3);
  CHECK(d.desired == 3);
  REQUIRE(d.cpu_average);
  CHECK(*d.cpu_average == Approx(0.5));
}

TEST_CASE("a ratio within the tolerance band keeps the current count, on both edges") {
  // avg 0.5625 / 0.5 = 1.125: |ratio - 1| == tolerance, still inside the band
  CHECK(desired_replicas({cpu(0.5625), cpu(0.5625)}, policy()).desired == 2);
  // avg 0.4375 / 0.5 = 0.875
  CHECK(desired_replicas({cpu(0.4375), cpu(0.4375)}, policy()).desired == 2);
  // outside: avg 0.625 -> ratio 1.25, ceil(2 * 1.25) = 3; avg 0.25 -> ratio 0.5, ceil(2 * 0.5) = 1
  CHECK(desired_replicas({cpu(0.625), cpu(0.625)}, policy()).desired == 3);
  CHECK(desired_replicas({cpu(0.25), cpu(0.25)}, policy()).desired == 1);
}

TEST_CASE("outside the band the desired count is ceil(current * ratio)") {
  // avg 0.9 / 0.5 = 1.8; ceil(4 * 1.8) = ceil(7.2) = 8
  CHECK(desired_replicas({cpu(0.9), cpu(0.9), cpu(0.9), cpu(0.9)}, policy()).desired == 8);
  // avg 0.2 / 0.5 = 0.4; ceil(5 * 0.4) = 2
  auto d = desired_replicas({cpu(0.2), cpu(0.2), cpu(0.2), cpu(0.2), cpu(0.2)}, policy());
  CHECK(d.desired == 2);
  CHECK(d.cpu_desired == 2u);
  // the average, not each member: avg(1.0, 0.0) = 0.5 is on target
  CHECK(desired_replicas({cpu(1.0), cpu(0.0)}, policy()).desired == 2);
}

TEST_CASE("the desired count is clamped to MIN_REPLICAS..MAX_REPLICAS") {
  auto p = policy();
  p.min_replicas = 2;
  p.max_replicas = 5;
  // ceil(4 * 2) = 8 -> 5
  CHECK(desired_replicas({cpu(1), cpu(1), cpu(1), cpu(1)}, p).desired == 5);
  // ceil(3 * 0.2) = 1 -> 2
  CHECK(desired_replicas({cpu(0.1), cpu(0.1), cpu(0.1)}, p).desired == 2);
  // on target but below the minimum: the minimum
  CHECK(desired_replicas({cpu(0.5)}, p).desired == 2);
  // on target but above the maximum: the maximum
  std::vector<member_utilization> seven(7, cpu(0.5));
  CHECK(desired_replicas(seven, p).desired == 5);
}

TEST_CASE("members with unknown utilization are left out of the average") {
  // Known: 0.9 and 0.9 (avg 0.9, ratio 1.8); the unknown one does not pull the average down,
  // but it counts in current: ceil(3 * 1.8) = ceil(5.4) = 6.
  auto d = desired_replicas({cpu(0.9), cpu(0.9), member_utilization{}}, policy());
  CHECK(d.current == 3);
  REQUIRE(d.cpu_average);
  CHECK(*d.cpu_average == Approx(0.9));
  CHECK(d.desired == 6);
}

TEST_CASE("with no utilization known at all the current count stays") {
  auto d = desired_replicas({member_utilization{}, member_utilization{}}, policy());
  CHECK(d.current == 2);
  CHECK(d.desired == 2);
  CHECK_FALSE(d.cpu_average);
  CHECK_FALSE(d.memory_average);
  CHECK_FALSE(d.cpu_desired);
  CHECK_FALSE(d.memory_desired);
}

TEST_CASE("the larger proposal of CPU and memory wins") {
  // CPU on target (2), memory at 2x target: ceil(2 * 2) = 4
  auto d = desired_replicas({{0.5, 1.0}, {0.5, 1.0}}, policy(0.5, 0.5));
  CHECK(d.cpu_desired == 2u);
  CHECK(d.memory_desired == 4u);
  CHECK(d.desired == 4);
  // CPU high, memory low: CPU wins even though memory alone would scale down
  auto e = desired_replicas({{1.0, 0.1}, {1.0, 0.1}}, policy(0.5, 0.5));
  CHECK(e.memory_desired == 1u);
  CHECK(e.desired == 4);
  // each metric against its own target: CPU 0.35 against 0.7 proposes ceil(2 * 0.5) = 1, memory
  // 0.8 against 0.8 is on target and keeps 2: no scale-down while one metric needs the replicas
  auto f = desired_replicas({{0.35, 0.8}, {0.35, 0.8}}, policy(0.7, 0.8));
  CHECK(f.cpu_desired == 1u);
  CHECK(f.memory_desired == 2u);
  CHECK(f.desired == 2);
}

TEST_CASE("a metric reported by only some members still proposes") {
  // Memory known only on one member (at 2x target); CPU unknown everywhere.
  auto d = desired_replicas({mem(1.0), member_utilization{}}, policy());
  CHECK_FALSE(d.cpu_desired);
  CHECK(d.memory_desired == 4u);
  CHECK(d.desired == 4);
}

TEST_CASE("an empty member list counts as this node alone") {
  auto d = desired_replicas({}, policy());
  CHECK(d.current == 1);
  CHECK(d.desired == 1);
}

TEST_CASE("the counted members are the up peers plus this node when it is up") {
  member_utilization self{0.3, 0.4};
  CHECK(counted_members(std::nullopt, self).size() == 1);
  autoscale_board::members joining; // published, but nobody up yet
  CHECK(counted_members(joining, self).size() == 1);
  autoscale_board::members up{true, {cpu(0.1), member_utilization{}}};
  auto m = counted_members(up, self);
  REQUIRE(m.size() == 3);
  CHECK(m.back().cpu == 0.3);
  autoscale_board::members leaving{false, {cpu(0.1)}};
  CHECK(counted_members(leaving, self).size() == 1);
  CHECK(counted_members(leaving, self).front().cpu == 0.1);
}

TEST_CASE("the autoscale gauges show this node's utilization and the decision") {
  metrics::registry reg;
  autoscale_metrics m{reg};
  m.update({0.25, std::nullopt}, desired_replicas({{0.25, std::nullopt}}, policy()));
  CHECK(m.cpu_utilization.value() == 0.25);
  CHECK(std::isnan(m.memory_utilization.value()));
  CHECK(m.current_replicas.value() == 1);
  CHECK(m.desired_replicas.value() == 1);
  auto text = reg.render();
  CHECK(text.find("# TYPE klerno_desired_replicas gauge\nklerno_desired_replicas 1\n")
        != std::string::npos);
  CHECK(text.find("klerno_autoscale_current_replicas 1\n") != std::string::npos);
  CHECK(text.find("klerno_cpu_utilization_ratio 0.25\n") != std::string::npos);
}
