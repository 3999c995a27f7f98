#pragma once

// One io thread of the HTTP edge: its io_context, its actor bridge and the sessions it hosts.
// Everything here is touched only from that thread, except `post`.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/actor_system.hpp>

#include "http/bridge.hpp"
#include "runtime/metrics.hpp"

namespace klerno::http {

class session;

/// An io thread with its io_context, bridge and sessions.
class io_worker {
public:
  io_worker(caf::actor_system& sys, std::size_t index);
  ~io_worker();

  io_worker(const io_worker&) = delete;
  io_worker& operator=(const io_worker&) = delete;

  /// Starts the thread (runs the io_context until `stop`).
  void start();

  /// Closes every session, releases the bridge and joins the thread. Call from another thread.
  void stop();

  /// Runs `f` on this worker's thread.
  template <class F>
  void post(F&& f) {
    boost::asio::post(ioc_, std::forward<F>(f));
  }

  boost::asio::io_context& context() noexcept {
    return ioc_;
  }

  actor_bridge& bridge() noexcept {
    return bridge_;
  }

  std::size_t index() const noexcept {
    return index_;
  }

  /// Registers / unregisters a session hosted on this thread (io thread only).
  void add(session* s) {
    sessions_.insert(s);
  }
  void remove(session* s) {
    sessions_.erase(s);
  }

  /// Calls `f` for a snapshot of the hosted sessions (io thread only).
  template <class F>
  void for_each_session(F f) {
    std::vector<session*> snapshot{sessions_.begin(), sessions_.end()};
    for (auto* s : snapshot) {
      if (sessions_.count(s) > 0) {
        f(*s);
      }
    }
  }

  /// Returns the current `Date` header value, formatted at most once per second (io thread only).
  const std::string& http_date();

  /// Returns the counter for (method, route, status), cached per thread (io thread only).
  runtime::metrics::counter& request_counter(runtime::metrics::counter_family& family,
                                             std::string_view method, const std::string& route,
                                             unsigned status);

  /// Returns the histogram for `route`, cached per thread (io thread only).
  runtime::metrics::histogram& duration_histogram(runtime::metrics::histogram_family& family,
                                                  const std::string& route);

  /// Returns a scratch buffer for input that is read and discarded (io thread only).
  std::array<char, 4096>& scratch() noexcept {
    return scratch_;
  }

private:
  // Declared first, destroyed last: handlers destroyed with the io_context may release sessions,
  // which unregister themselves here.
  std::unordered_set<session*> sessions_;
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  actor_bridge bridge_;
  std::size_t index_;
  std::thread thread_;
  bool stopped_ = false;
  std::string date_;
  int64_t date_second_ = -1;
  std::unordered_map<std::string, runtime::metrics::counter*> counters_;
  std::unordered_map<const std::string*, runtime::metrics::histogram*> histograms_;
  std::string key_;
  std::array<char, 4096> scratch_{};
};

} // namespace klerno::http
