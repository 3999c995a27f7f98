#include "tests/support/private_redis.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/env_file.hpp"

#ifndef KLERNO_REDIS_SCRIPT
#  error "KLERNO_REDIS_SCRIPT must name scripts/redis"
#endif
#ifndef KLERNO_REDIS_BASE
#  error "KLERNO_REDIS_BASE must name the directory for private redis-servers"
#endif

namespace klerno::test {

namespace {

/// Runs scripts/redis with `args` (output goes to the test's output); returns its exit code.
int redis_script(const std::string& args) {
  std::string cmd = std::string{"'"} + KLERNO_REDIS_SCRIPT + "' " + args;
  int rc = std::system(cmd.c_str());
  return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

} // namespace

private_redis::private_redis(const std::string& name)
    : dir_(std::string{KLERNO_REDIS_BASE} + "/redis-" + name + "-" + std::to_string(getpid())) {
  redis_script("stop '" + dir_ + "' >/dev/null 2>&1");
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (redis_script("start '" + dir_ + "'") != 0) {
    throw std::runtime_error("scripts/redis start " + dir_ + " failed");
  }
  std::string port = env_file_value(dir_ + "/env", "REDIS_PORT");
  if (port.empty()) {
    throw std::runtime_error("no REDIS_PORT in " + dir_ + "/env");
  }
  port_ = static_cast<uint16_t>(std::stoi(port));
}

private_redis::~private_redis() {
  redis_script("stop '" + dir_ + "' >/dev/null");
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string private_redis::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
}

void private_redis::stop() {
  if (redis_script("stop '" + dir_ + "'") != 0) {
    throw std::runtime_error("scripts/redis stop " + dir_ + " failed");
  }
}

void private_redis::kill() {
  if (redis_script("kill '" + dir_ + "'") != 0) {
    throw std::runtime_error("scripts/redis kill " + dir_ + " failed");
  }
}

void private_redis::start() {
  if (redis_script("start '" + dir_ + "' --port " + std::to_string(port_)) != 0) {
    throw std::runtime_error("scripts/redis start " + dir_ + " failed");
  }
  std::string port = env_file_value(dir_ + "/env", "REDIS_PORT");
  if (port != std::to_string(port_)) {
    throw std::runtime_error("the private Redis in " + dir_ + " came back on port " + port
                             + " instead of " + std::to_string(port_));
  }
}

} // namespace klerno::test
