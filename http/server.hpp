#pragma once

// The HTTP edge: Boost.Beast over Asio, one io_context per io thread (`WORKERS` of them), one
// acceptor per listener handing connections to the threads in turn. A connection lives on one
// thread for its whole life, so its session needs no locks; handlers reach the actor system
// through that thread's `actor_bridge`.
//
// Shutdown is staged by the node: `stop_accepting` closes the listeners, `drain` lets every
// connection finish what it has started (idle keep-alive connections are closed at once, the last
// response of a busy one carries `Connection: close`), `stop` closes whatever is left and joins
// the io threads.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>

#include "config/settings.hpp"
#include <boost/asio/io_context.hpp>

#include "http/guard.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"

namespace klerno::http {

class io_worker;
class listener;

/// What a listener serves.
struct listener_spec {
  std::string name;    ///< "api" or "metrics" (logs)
  std::string address; ///< bind address
  uint16_t port = 0;   ///< 0: pick a free port
  const router* routes = nullptr;
};

/// Owns the io threads, the listeners and every connection.
class server {
public:
  /// Prepares a server; nothing is bound or started yet.
  server(const config::http_settings& cfg, const config::auth_settings& auth,
         caf::actor_system& sys, http_metrics& metrics);

  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds a listener. Throws std::runtime_error naming the address if it cannot bind. Returns
  /// the bound port. Call before `start`.
  uint16_t listen(const listener_spec& spec);

  /// Sets the guard consulted before the handlers of authenticated routes (see http/guard.hpp).
  /// Call before `start`; without one, only X-API-Key is accepted and nothing is limited.
  void set_guard(std::shared_ptr<request_guard> g) {
    guard_ = std::move(g);
  }

  /// Returns the number of io threads.
  std::size_t worker_count() const noexcept {
    return workers_.size();
  }

  /// Returns the io_context of io thread `i` (< worker_count()), e.g. to bind per-thread clients.
  boost::asio::io_context& worker_context(std::size_t i);

  /// Starts the io threads and begins accepting on every listener.
  void start();

  /// Closes every listener; established connections continue. Thread-safe, idempotent.
  void stop_accepting();

  /// Asks every connection to finish its started requests and close. `done` is called once (on
  /// an io thread) when no connection is left. Thread-safe; call after `stop_accepting`.
  void drain(std::function<void()> done);

  /// Closes every connection, stops and joins the io threads. Idempotent; the destructor calls it.
  void stop();

  /// Returns the number of open connections.
  std::size_t open_connections() const noexcept {
    return open_.load(std::memory_order_acquire);
  }

  // -- used by sessions ------------------------------------------------------

  /// Returns the settings.
  const config::http_settings& settings() const noexcept {
    return cfg_;
  }

  /// Returns the expected API key.
  const config::auth_settings& auth() const noexcept {
    return auth_;
  }

  /// Returns the guard, or null.
  request_guard* guard() const noexcept {
    return guard_.get();
  }

  /// Returns the metrics.
  http_metrics& metrics() noexcept {
    return metrics_;
  }

  /// Called by a session when it opens / closes its socket.
  void connection_opened() noexcept;
  void connection_closed() noexcept;

  /// Returns `true` once `drain` was called.
  bool draining() const noexcept {
    return draining_.load(std::memory_order_acquire);
  }

  /// Picks the worker for the next accepted connection.
  io_worker& next_worker() noexcept;

private:
  config::http_settings cfg_;
  config::auth_settings auth_;
  caf::actor_system& sys_;
  http_metrics& metrics_;
  std::shared_ptr<request_guard> guard_;
  std::vector<std::unique_ptr<io_worker>> workers_;
  std::vector<std::shared_ptr<listener>> listeners_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> open_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> drained_{false};
  std::function<void()> on_drained_;
  bool started_ = false;
  bool stopped_ = false;
};

} // namespace klerno::http
