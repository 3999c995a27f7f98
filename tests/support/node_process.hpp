#pragma once

// Runs a klerno-node (or any) executable as a child process with an environment built from
// scratch, captures its stdout and stderr into files, and controls it with signals and deadlines.
// Nothing here waits without a deadline: a broken node fails the test instead of hanging it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace klerno::test {

/// The ports a node reports in its PORTS_FILE.
struct node_ports {
  uint16_t http = 0;               ///< the API listener
  std::optional<uint16_t> metrics; ///< the METRICS_PORT listener, if any
  std::optional<uint16_t> cluster; ///< the CLUSTER_PORT listener of a cluster member, if any
};

/// One child process; killed (SIGKILL) and reaped by the destructor if it still runs.
class node_process {
public:
  using env_map = std::map<std::string, std::string>;

  /// Value `wait_exit` returns when the process still runs at the deadline.
  static constexpr int still_running = -1;

  /// Starts `binary` with `args` (argv[1..]) and exactly `env` as its environment; stdin is
  /// /dev/null, stdout goes to `dir`/stdout.log and stderr to `dir`/stderr.log. Throws
  /// std::system_error when the process cannot be spawned.
  node_process(const std::string& binary, env_map env, std::vector<std::string> args,
               const std::filesystem::path& dir);

  /// Kills the process if it still runs, reaps it, and keeps its output for the failure report.
  ~node_process();

  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// Returns the process id.
  pid_t pid() const noexcept {
    return pid_;
  }

  /// Returns the environment the process was started with.
  const env_map& env() const noexcept {
    return env_;
  }

  /// Waits until the file named by the PORTS_FILE variable holds the node's ports and returns
  /// them. Throws std::runtime_error (with the log) on timeout or when the process exits first.
  node_ports wait_for_ports(std::chrono::milliseconds timeout);

  /// Sends `sig` to the process (no-op once it has been reaped).
  void signal(int sig);

  /// Waits for the process to exit; returns its exit code, 128 + N when signal N killed it, or
  /// `still_running` when it has not exited by the deadline.
  int wait_exit(std::chrono::milliseconds timeout);

  /// Returns true while the process has not exited.
  bool running();

  /// Returns what the process wrote to stdout so far.
  std::string out() const;

  /// Returns what the process wrote to stderr so far.
  std::string err() const;

  /// Returns stdout followed by stderr.
  std::string log() const;

private:
  /// Reaps the process if it has exited; returns true once it has been reaped.
  bool try_reap();

  env_map env_;
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
  pid_t pid_ = -1;
  std::optional<int> status_; ///< raw waitpid status once reaped
};

} // namespace klerno::test
