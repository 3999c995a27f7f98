#include "runtime/utilization.hpp"

#include <catch2/catch.hpp>

using namespace klerno::runtime;

TEST_CASE("cpu.max gives the quota in CPUs, and no limit for max") {
  CHECK(parse_cpu_max("150000 100000\n") == Approx(1.5));
  CHECK(parse_cpu_max("50000 100000") == Approx(0.5));
  CHECK(parse_cpu_max("200000 50000\n") == Approx(4.0));
  CHECK_FALSE(parse_cpu_max("max 100000\n"));
}

TEST_CASE("malformed cpu.max contents read as no limit") {
  CHECK_FALSE(parse_cpu_max(""));
  CHECK_FALSE(parse_cpu_max("100000"));
  CHECK_FALSE(parse_cpu_max("100000 0"));
  CHECK_FALSE(parse_cpu_max("0 100000"));
  CHECK_FALSE(parse_cpu_max("abc 100000"));
  CHECK_FALSE(parse_cpu_max("-5 100000"));
}

TEST_CASE("memory.max gives the limit in bytes, and no limit for max") {
  CHECK(parse_memory_max("536870912\n") == uint64_t{536870912});
  CHECK_FALSE(parse_memory_max("max\n"));
  CHECK_FALSE(parse_memory_max(""));
  CHECK_FALSE(parse_memory_max("12k"));
  CHECK_FALSE(parse_memory_max("0"));
}

TEST_CASE("MemTotal is read from meminfo in bytes") {
  constexpr auto meminfo = "MemTotal:        8041072 kB\n"
                           "MemFree:          512000 kB\n"
                           "MemAvailable:    4000000 kB\n";
  CHECK(parse_mem_total(meminfo) == uint64_t{8041072} * 1024);
  CHECK(parse_mem_total("MemFree: 1 kB\nMemTotal: 2048 kB") == uint64_t{2048} * 1024);
  CHECK_FALSE(parse_mem_total("MemFree: 1 kB\n"));
  CHECK_FALSE(parse_mem_total("MemTotal: lots kB\n"));
  CHECK_FALSE(parse_mem_total(""));
}

TEST_CASE("the cgroup v2 path is the 0:: line of /proc/self/cgroup") {
  CHECK(parse_cgroup_v2_path("0::/system.slice/klerno.service\n")
        == std::string{"/system.slice/klerno.service"});
  CHECK(parse_cgroup_v2_path("0::/\n") == std::string{"/"});
  // Hybrid hierarchy: v1 controllers first, the unified one last.
  CHECK(parse_cgroup_v2_path("12:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n"
                             "0::/docker/abc\n")
        == std::string{"/docker/abc"});
  // Pure cgroup v1: no unified hierarchy.
  CHECK_FALSE(parse_cgroup_v2_path("4:memory:/user.slice\n3:cpu:/user.slice\n"));
  CHECK_FALSE(parse_cgroup_v2_path(""));
}

TEST_CASE("cpu utilization is CPU time over wall time and capacity, within 0..1") {
  CHECK(cpu_utilization(1.0, 2.0, 1.0) == Approx(0.5));
  CHECK(cpu_utilization(3.0, 2.0, 2.0) == Approx(0.75));
  CHECK(cpu_utilization(0.0, 10.0, 4.0) == Approx(0.0));
  CHECK(cpu_utilization(0.75, 1.0, 0.5) == Approx(1.0)); // tick rounding above the quota
  CHECK_FALSE(cpu_utilization(1.0, 0.0, 1.0));
  CHECK_FALSE(cpu_utilization(1.0, 1.0, 0.0));
}

TEST_CASE("memory utilization is resident memory over the limit, unknown without a limit") {
  CHECK(memory_utilization(256, 1024) == Approx(0.25));
  CHECK(memory_utilization(2048, 1024) == Approx(1.0));
  CHECK_FALSE(memory_utilization(256, 0));
  CHECK_FALSE(memory_utilization(0, 1024));
}

TEST_CASE("this process has a known capacity") {
  auto c = read_capacity();
  CHECK(c.cpus > 0);
  CHECK(c.memory_bytes > 0);
}
