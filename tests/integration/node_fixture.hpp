#pragma once

// The fixture of the integration tests: a klerno-node started on loopback with port 0 in a
// private temporary directory, waited for until /readiness answers 200, and helpers to check the
// error envelope.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/http.hpp"
#include "tests/support/node_process.hpp"
#include "tests/support/tcp_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace klerno::test {

using namespace std::chrono_literals;

/// The API key every test node expects unless a test sets another.
inline const std::string test_api_key = "integration-test-api-key-0123";

/// Deadline for a node to start and for one to exit after a signal (failure deadlines only).
constexpr std::chrono::milliseconds node_start_timeout{10'000};
constexpr std::chrono::milliseconds node_exit_timeout{15'000};

/// Returns the path of the klerno-node executable under test.
std::string node_binary();

/// A running node: the process, its directory and its ports.
class test_node {
public:
  /// What the constructor waits for once the ports are known.
  enum class wait_for { ready, live };

  /// Starts a node with the test defaults (PORT=0, BIND_ADDRESS=127.0.0.1, PORTS_FILE in its
  /// directory, API_KEY=test_api_key, WORKERS=2, ACTOR_THREADS=2, SHUTDOWN_GRACE=0s), `settings`
  /// overriding them, then waits for its ports and for /readiness (ready) or /healthz (live) to
  /// answer 200.
  explicit test_node(const node_process::env_map& settings = {}, wait_for until = wait_for::ready);

  /// Returns the port of the API listener.
  uint16_t port() const noexcept {
    return ports_.http;
  }

  /// Returns the ports the node reported.
  const node_ports& ports() const noexcept {
    return ports_;
  }

  /// Returns the process.
  node_process& process() noexcept {
    return *process_;
  }

  /// Sends a request with `Connection: close` to the API port (see http_request).
  http_response request(std::string_view method, std::string_view target,
                        const header_list& headers = {}, std::string_view body = {}) const {
    return http_request(port(), method, target, headers, body);
  }

  /// Sends a GET with `Connection: close` to the API port.
  http_response get(std::string_view target, const header_list& headers = {}) const {
    return http_get(port(), target, headers);
  }

  /// Opens a raw connection to the API port.
  tcp_client connect() const {
    return tcp_client{port()};
  }

private:
  temp_dir dir_;
  std::unique_ptr<node_process> process_;
  node_ports ports_;
};

/// The outcome of a node run that is expected to end on its own (config errors, --print-config).
struct node_run {
  int exit_code = 0;
  std::string out;
  std::string err;
};

/// Runs the node with exactly `env` and `args` until it exits or `timeout` passes (then
/// exit_code is node_process::still_running).
node_run run_node(const node_process::env_map& env, const std::vector<std::string>& args = {},
                  std::chrono::milliseconds timeout = node_exit_timeout);

/// Calls `check` until it returns true or `timeout` passes; returns the last result. For states
/// that have no notification (counters, readiness after a signal).
bool poll_until(const std::function<bool()>& check, std::chrono::milliseconds timeout = 5s);

/// Checks that `res` is an error with `status` and the envelope
/// {"error":{"code","message","timestamp","request_id","details"}} whose code is `code` and
/// whose request_id equals the X-Request-ID header; returns the parsed body.
nlohmann::json require_error_envelope(const http_response& res, unsigned status,
                                      const std::string& code);

/// Parses `res.body` as JSON, failing the test if it does not parse.
nlohmann::json require_json(const http_response& res);

/// Returns true if `id` is 32 hex characters (a generated request id).
bool is_generated_request_id(const std::string& id);

} // namespace klerno::test
