#include "runtime/utilization.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <thread>

#include <sched.h>

namespace klerno::runtime {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<uint64_t> parse_uint(std::string_view s) noexcept {
  uint64_t out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in{path};
  if (!in) {
    return std::nullopt;
  }
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  return text;
}

/// Returns the CPUs this process may run on, or 0.
unsigned affinity_cpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    return static_cast<unsigned>(CPU_COUNT(&set));
  }
  return std::thread::hardware_concurrency();
}

} // namespace

std::optional<double> parse_cpu_max(std::string_view contents) noexcept {
  auto s = trim(contents);
  auto space = s.find(' ');
  if (space == std::string_view::npos) {
    return std::nullopt;
  }
  auto quota = s.substr(0, space);
  auto period = parse_uint(trim(s.substr(space + 1)));
  if (quota == "max" || !period || *period == 0) {
    return std::nullopt;
  }
  auto q = parse_uint(quota);
  if (!q || *q == 0) {
    return std::nullopt;
  }
  return static_cast<double>(*q) / static_cast<double>(*period);
}

std::optional<uint64_t> parse_memory_max(std::string_view contents) noexcept {
  auto s = trim(contents);
  if (s == "max") {
    return std::nullopt;
  }
  auto v = parse_uint(s);
  if (!v || *v == 0) {
    return std::nullopt;
  }
  return v;
}

std::optional<uint64_t> parse_mem_total(std::string_view contents) noexcept {
  constexpr std::string_view key = "MemTotal:";
  size_t pos = 0;
  while (pos < contents.size()) {
    auto eol = contents.find('\n', pos);
    auto line = contents.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? contents.size() : eol + 1;
    if (line.substr(0, key.size()) != key) {
      continue;
    }
    auto rest = trim(line.substr(key.size()));
    auto space = rest.find(' ');
    auto number = parse_uint(rest.substr(0, space));
    if (!number) {
      return std::nullopt;
    }
    auto unit = space == std::string_view::npos ? std::string_view{} : trim(rest.substr(space));
    // The kernel always writes "kB" (meaning KiB); a bare number would be bytes.
    uint64_t scale = unit == "kB" ? 1024 : unit.empty() ? 1 : 0;
    if (scale == 0 || *number == 0) {
      return std::nullopt;
    }
    return *number * scale;
  }
  return std::nullopt;
}

std::optional<std::string> parse_cgroup_v2_path(std::string_view contents) {
  size_t pos = 0;
  while (pos < contents.size()) {
    auto eol = contents.find('\n', pos);
    auto line = contents.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? contents.size() : eol + 1;
    if (line.substr(0, 3) == "0::") {
      auto path = trim(line.substr(3));
      if (path.empty() || path.front() != '/') {
        return std::nullopt;
      }
      return std::string{path};
    }
  }
  return std::nullopt;
}

capacity read_capacity(const std::string& cgroup_root) noexcept {
  capacity out;
  try {
    std::optional<double> cpus;
    std::optional<uint64_t> memory;
    if (auto text = read_small_file("/proc/self/cgroup")) {
      if (auto path = parse_cgroup_v2_path(*text)) {
        // A limit of any ancestor applies too: walk from the leaf to the root, keep the smallest.
        std::string dir = *path;
        while (true) {
          auto base = cgroup_root + (dir == "/" ? std::string{} : dir);
          if (auto c = read_small_file(base + "/cpu.max")) {
            if (auto q = parse_cpu_max(*c); q && (!cpus || *q < *cpus)) {
              cpus = q;
            }
          }
          if (auto m = read_small_file(base + "/memory.max")) {
            if (auto l = parse_memory_max(*m); l && (!memory || *l < *memory)) {
              memory = l;
            }
          }
          if (dir == "/" || dir.empty()) {
            break;
          }
          auto slash = dir.rfind('/');
          dir = slash == 0 ? std::string{"/"} : dir.substr(0, slash);
        }
      }
    }
    // A quota above the CPUs the process may run on cannot be used; nor memory above the host's.
    auto affinity = affinity_cpus();
    out.cpus =
      affinity == 0 ? cpus.value_or(0) : std::min(cpus.value_or(affinity), double(affinity));
    std::optional<uint64_t> total;
    if (auto text = read_small_file("/proc/meminfo")) {
      total = parse_mem_total(*text);
    }
    if (memory && total) {
      out.memory_bytes = std::min(*memory, *total);
    } else {
      out.memory_bytes = memory ? *memory : total.value_or(0);
    }
  } catch (...) {
    // best effort: an unreadable source leaves the capacity unknown (0)
  }
  return out;
}

std::optional<double> cpu_utilization(double cpu_seconds, double wall_seconds,
                                      double cpus) noexcept {
  if (!(wall_seconds > 0) || !(cpus > 0) || !(cpu_seconds >= 0)) {
    return std::nullopt;
  }
  // CPU time is counted in clock ticks, so a short interval can read slightly above capacity.
  return std::clamp(cpu_seconds / wall_seconds / cpus, 0.0, 1.0);
}

std::optional<double> memory_utilization(uint64_t resident_bytes, uint64_t limit_bytes) noexcept {
  if (limit_bytes == 0 || resident_bytes == 0) {
    return std::nullopt;
  }
  return std::clamp(static_cast<double>(resident_bytes) / static_cast<double>(limit_bytes), 0.0,
                    1.0);
}

} // namespace klerno::runtime
