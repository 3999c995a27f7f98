#pragma once

// Helpers of the Redis tests: the fixture's server, io_context runners, private servers for
// outage tests (scripts/redis in a directory of their own).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "actors/cache/redis/connection.hpp"
#include "tests/support/private_redis.hpp"

namespace klerno::test {

/// REDIS_URL of the "redis" fixture, read from the file named by KLERNO_REDIS_ENV_FILE. Throws
/// std::runtime_error (failing the test) when it is missing.
std::string fixture_redis_url();

/// Returns a key prefix unique to this call ("t:<pid>:<counter>:<random>:"), so tests sharing
/// the fixture's server never see each other's keys.
std::string unique_prefix();

/// Runs `ioc` (on the calling thread) until `done()` is true or `timeout` passed; returns done().
bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds{10});

/// Connection settings for tests: `url`, short timeouts (connect 1 s, command 1 s, reconnect
/// 50..500 ms).
cache::redis::connection_config test_connection_config(const std::string& url);

/// Creates a connection to `url` on `ioc` and runs `ioc` until it is connected (throws
/// std::runtime_error when it does not connect within 10 s).
std::shared_ptr<cache::redis::connection>
connect(boost::asio::io_context& ioc, const std::string& url, cache::metrics_ptr metrics = nullptr);

/// Runs one command synchronously on `conn` (driving `ioc`); throws std::runtime_error when no
/// reply comes (for set-up and checks in tests, never in product code).
cache::redis::reply sync_command(boost::asio::io_context& ioc, cache::redis::connection& conn,
                                 cache::redis::command cmd);

} // namespace klerno::test
