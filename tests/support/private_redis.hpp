#pragma once

// A redis-server of a test's own (scripts/redis in <build>/redis-<name>-<pid>), for tests that
// stop or kill Redis while the shared fixture's server must stay up.

#include <cstdint>
#include <string>

namespace klerno::test {

/// Started by the constructor, stopped (and its directory removed) by the destructor, also on
/// failure. Every failure throws std::runtime_error naming the directory.
class private_redis {
public:
  explicit private_redis(const std::string& name);
  ~private_redis();
  private_redis(const private_redis&) = delete;
  private_redis& operator=(const private_redis&) = delete;

  /// Returns its REDIS_URL.
  std::string url() const;

  uint16_t port() const noexcept {
    return port_;
  }

  void stop();  ///< shutdown (no save)
  void kill();  ///< SIGKILL, and waits until it is gone
  void start(); ///< again, on the same port (throws when the port changed)

private:
  std::string dir_;
  uint16_t port_ = 0;
};

} // namespace klerno::test
