#pragma once

// Resource usage of the current process, read from Linux /proc (the numbers behind the
// `process_*` metrics). Reading is best effort: a source that cannot be read leaves its fields 0.

#include <cstdint>

namespace klerno::runtime {

/// One snapshot of the current process's resource usage.
struct process_stats {
  double cpu_seconds = 0;        ///< user + system CPU time, in seconds (tick resolution)
  uint64_t resident_bytes = 0;   ///< resident set size, in bytes
  uint64_t virtual_bytes = 0;    ///< virtual memory size, in bytes
  uint64_t open_fds = 0;         ///< open file descriptors (not counting the one used to count)
  uint64_t max_fds = 0;          ///< soft RLIMIT_NOFILE; UINT64_MAX when unlimited
  uint64_t threads = 0;          ///< OS threads in the process
  double start_time_seconds = 0; ///< process start, in seconds since the unix epoch
};

/// Reads the current process's stats from /proc/self/stat (CPU time, memory, threads, start
/// ticks; parsed after the last ')' so any `comm` is safe), /proc/stat (boot time),
/// /proc/self/fd and getrlimit(RLIMIT_NOFILE). Never throws; unreadable fields stay 0.
process_stats read_process_stats() noexcept;

} // namespace klerno::runtime
