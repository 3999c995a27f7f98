#include "tests/support/node_process.hpp"

#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "tests/support/failure_report.hpp"

namespace klerno::test {

namespace {

using clock = std::chrono::steady_clock;

/// Interval between two looks at a state that has no notification (files, child exit).
constexpr auto poll_interval = std::chrono::milliseconds(2);

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int decode_status(int st) {
  if (WIFEXITED(st)) {
    return WEXITSTATUS(st);
  }
  if (WIFSIGNALED(st)) {
    return 128 + WTERMSIG(st);
  }
  return 255;
}

/// Owns posix_spawn's attribute objects for the duration of one spawn.
struct spawn_setup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;

  spawn_setup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }

  ~spawn_setup() {
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
};

} // namespace

node_process::node_process(const std::string& binary, env_map env, std::vector<std::string> args,
                           const std::filesystem::path& dir)
    : env_(std::move(env)), out_path_(dir / "stdout.log"), err_path_(dir / "stderr.log") {
  spawn_setup s;
  auto out = out_path_.string();
  auto err = err_path_.string();
  posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&s.actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&s.actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // The child starts with default dispositions and an empty mask, whatever the test runner set.
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGCHLD, SIGHUP, SIGQUIT}) {
    sigaddset(&defaults, sig);
  }
  sigset_t mask;
  sigemptyset(&mask);
  posix_spawnattr_setsigdefault(&s.attr, &defaults);
  posix_spawnattr_setsigmask(&s.attr, &mask);
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argv_text{binary};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_text;
  for (const auto& [k, v] : env_) {
    env_text.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (auto& e : env_text) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary.c_str(), &s.actions, &s.attr, argv.data(), envp.data());
  if (rc != 0) {
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + binary);
  }
  pid_ = pid;
}

node_process::~node_process() {
  if (!try_reap()) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = st;
  }
  keep_for_failure_report("log of node pid " + std::to_string(pid_) + " (exit "
                            + std::to_string(decode_status(*status_)) + ")",
                          log());
}

bool node_process::try_reap() {
  if (status_) {
    return true;
  }
  int st = 0;
  auto r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return true;
  }
  return false;
}

bool node_process::running() {
  return !try_reap();
}

void node_process::signal(int sig) {
  if (!try_reap()) {
    ::kill(pid_, sig);
  }
}

int node_process::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (!try_reap()) {
    if (clock::now() >= deadline) {
      return still_running;
    }
    std::this_thread::sleep_for(poll_interval);
  }
  return decode_status(*status_);
}

node_ports node_process::wait_for_ports(std::chrono::milliseconds timeout) {
  auto it = env_.find("PORTS_FILE");
  if (it == env_.end() || it->second.empty()) {
    throw std::logic_error("wait_for_ports needs PORTS_FILE in the node's environment");
  }
  const std::filesystem::path file{it->second};
  auto deadline = clock::now() + timeout;
  for (;;) {
    // The node writes a temporary file and renames it: a file that exists is complete.
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) {
      auto j = nlohmann::json::parse(read_file(file), nullptr, false);
      if (j.is_object() && j.contains("http") && j["http"].is_number_unsigned()) {
        node_ports p;
        p.http = j["http"].get<uint16_t>();
        if (j.contains("metrics") && j["metrics"].is_number_unsigned()) {
          p.metrics = j["metrics"].get<uint16_t>();
        }
        if (j.contains("cluster") && j["cluster"].is_number_unsigned()) {
          p.cluster = j["cluster"].get<uint16_t>();
        }
        return p;
      }
      throw std::runtime_error("PORTS_FILE " + file.string()
                               + " does not hold {\"http\":P,...}: " + read_file(file));
    }
    if (!running()) {
      throw std::runtime_error("the node exited with " + std::to_string(decode_status(*status_))
                               + " before writing PORTS_FILE; log:\n" + log());
    }
    if (clock::now() >= deadline) {
      throw std::runtime_error("the node did not write PORTS_FILE within "
                               + std::to_string(timeout.count()) + " ms; log:\n" + log());
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

std::string node_process::out() const {
  return read_file(out_path_);
}

std::string node_process::err() const {
  return read_file(err_path_);
}

std::string node_process::log() const {
  return out() + err();
}

} // namespace klerno::test
