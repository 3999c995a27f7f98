#include "tests/redis/redis_support.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include "tests/support/env_file.hpp"

namespace klerno::test {

std::string fixture_redis_url() {
  const char* path = std::getenv("KLERNO_REDIS_ENV_FILE");
  if (path == nullptr || *path == '\0') {
    throw std::runtime_error("KLERNO_REDIS_ENV_FILE is not set (run the test through ctest, "
                             "which starts the redis fixture)");
  }
  std::string url = klerno::test::env_file_value(path, "REDIS_URL");
  if (url.empty()) {
    throw std::runtime_error(std::string{"no REDIS_URL in "} + path
                             + " (the CTest fixture redis_start did not run or failed)");
  }
  return url;
}

std::string unique_prefix() {
  static std::atomic<unsigned> counter{0};
  static const unsigned long salt = std::random_device{}();
  return "t:" + std::to_string(::getpid()) + ":" + std::to_string(++counter) + ":"
         + std::to_string(salt % 1000000) + ":";
}

bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& done,
               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return done();
    }
    if (ioc.stopped()) {
      ioc.restart();
    }
    auto slice =
      std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds{20});
    if (ioc.run_one_for(slice) == 0 && ioc.stopped()) {
      // Nothing to run at all: wait a little for outside state (a process, a file) to change.
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
  }
  return true;
}

cache::redis::connection_config test_connection_config(const std::string& url) {
  cache::redis::connection_config cfg;
  cfg.url = cache::redis::parse_redis_url(url);
  cfg.connect_timeout = std::chrono::seconds{1};
  cfg.command_timeout = std::chrono::seconds{1};
  cfg.reconnect_min = std::chrono::milliseconds{50};
  cfg.reconnect_max = std::chrono::milliseconds{500};
  return cfg;
}

std::shared_ptr<cache::redis::connection>
connect(boost::asio::io_context& ioc, const std::string& url, cache::metrics_ptr metrics) {
  auto cfg = test_connection_config(url);
  auto conn = cache::redis::make_hiredis_connection(ioc, cfg, std::move(metrics));
  if (!run_until(
        ioc, [&] { return conn->connected(); }, std::chrono::seconds{10})) {
    conn->close();
    throw std::runtime_error("no connection to " + cache::redis::to_display(cfg.url)
                             + " within 10 s");
  }
  return conn;
}

cache::redis::reply sync_command(boost::asio::io_context& ioc, cache::redis::connection& conn,
                                 cache::redis::command cmd) {
  std::optional<cache::redis::result> got;
  std::string name = cmd.empty() ? std::string{} : cmd.front();
  conn.execute(std::move(cmd), [&](cache::redis::result r) { got = std::move(r); });
  if (!run_until(
        ioc, [&] { return got.has_value(); }, std::chrono::seconds{10})) {
    throw std::runtime_error("no answer to " + name + " within 10 s");
  }
  if (!got->ok) {
    throw std::runtime_error(name + " failed: " + got->failure);
  }
  return std::move(got->value);
}

} // namespace klerno::test
