#pragma once

// How much of its CPU and memory capacity this process uses: the inputs of the autoscaling
// signal (runtime/autoscale.hpp) and of the `klerno_*_utilization_ratio` gauges.
//
// Capacity is what the process may use, not what the host has: a cgroup v2 limit (`cpu.max`,
// `memory.max` of the process's cgroup and of every ancestor, the smallest winning) when one is
// set, bounded by the CPUs the process may run on (sched_getaffinity) and by the host's memory
// (MemTotal of /proc/meminfo). The parse functions take file contents, so tests feed fixtures.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace klerno::runtime {

/// What the process may use.
struct capacity {
  double cpus = 0;           ///< CPUs (a cgroup quota of 150000/100000 is 1.5); 0: unknown
  uint64_t memory_bytes = 0; ///< memory limit in bytes; 0: unknown
};

/// Parses cgroup v2 `cpu.max` ("$MAX $PERIOD", e.g. "150000 100000"): returns the quota in CPUs
/// (max / period), or nullopt for "max" (no limit) and for malformed contents.
std::optional<double> parse_cpu_max(std::string_view contents) noexcept;

/// Parses cgroup v2 `memory.max` (bytes or "max"): returns the limit in bytes, or nullopt for
/// "max" (no limit) and for malformed contents.
std::optional<uint64_t> parse_memory_max(std::string_view contents) noexcept;

/// Parses /proc/meminfo: returns MemTotal in bytes, or nullopt when absent or malformed.
std::optional<uint64_t> parse_mem_total(std::string_view contents) noexcept;

/// Parses /proc/self/cgroup: returns the cgroup v2 path (the "0::/path" line, e.g.
/// "/system.slice/klerno.service"), or nullopt when the process is not in a v2 hierarchy.
std::optional<std::string> parse_cgroup_v2_path(std::string_view contents);

/// Reads the capacity of the current process: the smallest `cpu.max` and `memory.max` along its
/// cgroup v2 path under `cgroup_root` (from the leaf up to the root), each bounded by the CPUs of
/// sched_getaffinity and MemTotal. Never throws; a source that cannot be read is skipped.
capacity read_capacity(const std::string& cgroup_root = "/sys/fs/cgroup") noexcept;

/// Returns the CPU utilization in [0, 1]: `cpu_seconds` of CPU time used during `wall_seconds`
/// of wall time, divided by `cpus`; nullopt when either denominator is not positive.
std::optional<double> cpu_utilization(double cpu_seconds, double wall_seconds,
                                      double cpus) noexcept;

/// Returns the memory utilization in [0, 1]: `resident_bytes` / `limit_bytes`; nullopt when the
/// limit is 0 (unknown) or nothing is resident (the process could not be read).
std::optional<double> memory_utilization(uint64_t resident_bytes, uint64_t limit_bytes) noexcept;

} // namespace klerno::runtime
