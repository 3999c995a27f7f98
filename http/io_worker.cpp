#include "http/io_worker.hpp"

#include <ctime>

#include <fmt/format.h>

#include "http/session.hpp"
#include "runtime/logging.hpp"

namespace klerno::http {

io_worker::io_worker(caf::actor_system& sys, std::size_t index)
    : work_(boost::asio::make_work_guard(ioc_)), bridge_(sys, ioc_), index_(index) {}

io_worker::~io_worker() {
  stop();
}

void io_worker::start() {
  thread_ = std::thread{[this] {
    bridge_.start();
    // A handler that throws must not end the io thread (every connection on it would hang).
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        runtime::logging::get("http")->error("io thread {}: unhandled exception: {}", index_,
                                             e.what());
      } catch (...) {
        runtime::logging::get("http")->error("io thread {}: unhandled exception", index_);
      }
    }
  }};
}

void io_worker::stop() {
  if (!thread_.joinable()) {
    if (!stopped_) {
      // Never started (e.g. the listener failed to bind): no io thread runs the bridge.
      stopped_ = true;
      bridge_.close();
    }
    return;
  }
  stopped_ = true;
  post([this] {
    for_each_session([](session& s) { s.close(); });
    bridge_.close();
    work_.reset();
  });
  thread_.join();
  // Run what was posted after the io thread's loop ended (replies for closed sessions, or a
  // connection another thread's listener handed over late), closing any session that appears,
  // until nothing is left that could run while this worker is destroyed.
  ioc_.restart();
  do {
    for_each_session([](session& s) { s.close(); });
  } while (ioc_.poll() > 0 || !sessions_.empty());
}

const std::string& io_worker::http_date() {
  auto now = std::time(nullptr);
  if (now != date_second_) {
    date_second_ = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    auto n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    date_.assign(buf, n);
  }
  return date_;
}

runtime::metrics::counter& io_worker::request_counter(runtime::metrics::counter_family& family,
                                                      std::string_view method,
                                                      const std::string& route, unsigned status) {
  key_.clear();
  fmt::format_to(std::back_inserter(key_), "{}\n{}\n{}", method, route, status);
  auto i = counters_.find(key_);
  if (i != counters_.end()) {
    return *i->second;
  }
  auto& c = family.with({method, std::string_view{route}, std::to_string(status)});
  counters_.emplace(key_, &c);
  return c;
}

runtime::metrics::histogram&
io_worker::duration_histogram(runtime::metrics::histogram_family& family,
                              const std::string& route) {
  auto i = histograms_.find(&route);
  if (i != histograms_.end()) {
    return *i->second;
  }
  auto& h = family.with({std::string_view{route}});
  histograms_.emplace(&route, &h);
  return h;
}

} // namespace klerno::http
