#include "http/server.hpp"

#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "http/io_worker.hpp"
#include "http/session.hpp"
#include "runtime/logging.hpp"

namespace klerno::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

/// Accepts connections on one address and hands each to the next io thread.
class listener : public std::enable_shared_from_this<listener> {
public:
  listener(server& srv, io_worker& home, listener_spec spec)
      : srv_(srv), spec_(std::move(spec)), acceptor_(home.context()), backoff_(home.context()) {}

  /// Binds and listens; throws with a message naming the address.
  uint16_t bind() {
    boost::system::error_code ec;
    auto addr = net::ip::make_address(spec_.address, ec);
    if (ec) {
      throw std::runtime_error(
        fmt::format("{} listener: invalid bind address {}", spec_.name, spec_.address));
    }
    tcp::endpoint ep{addr, spec_.port};
    auto fail = [&](const char* what) {
      throw std::runtime_error(fmt::format("{} listener: cannot {} {}:{}: {}", spec_.name, what,
                                           spec_.address, spec_.port, ec.message()));
    };
    acceptor_.open(ep.protocol(), ec);
    if (ec) {
      fail("open");
    }
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    acceptor_.bind(ep, ec);
    if (ec) {
      fail("bind");
    }
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      fail("listen on");
    }
    return acceptor_.local_endpoint().port();
  }

  /// Starts accepting (io thread of `home`).
  void start() {
    do_accept();
  }

  /// Closes the acceptor (any thread).
  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ec;
      self->closed_ = true;
      self->backoff_.cancel();
      self->acceptor_.close(ec);
    });
  }

private:
  void do_accept() {
    if (closed_) {
      return;
    }
    auto& target = srv_.next_worker();
    acceptor_.async_accept(target.context(), [self = shared_from_this(), &target](
                                               boost::system::error_code ec, tcp::socket sock) {
      self->on_accept(ec, std::move(sock), target);
    });
  }

  void on_accept(boost::system::error_code ec, tcp::socket sock, io_worker& target) {
    if (closed_ || ec == net::error::operation_aborted) {
      return;
    }
    if (ec) {
      // EMFILE and friends: log, back off briefly instead of spinning, then continue.
      runtime::logging::get("http")->warn("{} listener: accept failed: {}", spec_.name,
                                          ec.message());
      backoff_.expires_after(std::chrono::milliseconds(50));
      backoff_.async_wait([self = shared_from_this()](boost::system::error_code wec) {
        if (!wec) {
          self->do_accept();
        }
      });
      return;
    }
    srv_.metrics().accepted.inc();
    const router* routes = spec_.routes;
    auto* srv = &srv_;
    target.post([sock = std::move(sock), srv, routes, &target]() mutable {
      std::make_shared<session>(std::move(sock), *srv, target, *routes)->start();
    });
    do_accept();
  }

  server& srv_;
  listener_spec spec_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;
  bool closed_ = false;
};

server::server(const config::http_settings& cfg, const config::auth_settings& auth,
               caf::actor_system& sys, http_metrics& metrics)
    : cfg_(cfg), auth_(auth), sys_(sys), metrics_(metrics) {
  auto n = std::max(1u, cfg_.workers);
  workers_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<io_worker>(sys_, i));
  }
}

server::~server() {
  stop();
}

uint16_t server::listen(const listener_spec& spec) {
  if (spec.routes == nullptr) {
    throw std::invalid_argument("listener without routes: " + spec.name);
  }
  // Listeners take turns for their home thread; accepting is cheap either way.
  auto& home = *workers_[listeners_.size() % workers_.size()];
  auto l = std::make_shared<listener>(*this, home, spec);
  auto port = l->bind();
  listeners_.push_back(l);
  return port;
}

void server::start() {
  if (started_) {
    return;
  }
  started_ = true;
  for (auto& w : workers_) {
    w->start();
  }
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    auto& home = *workers_[i % workers_.size()];
    home.post([l = listeners_[i]] { l->start(); });
  }
}

boost::asio::io_context& server::worker_context(std::size_t i) {
  return workers_.at(i)->context();
}

io_worker& server::next_worker() noexcept {
  auto i = next_.fetch_add(1, std::memory_order_relaxed);
  return *workers_[i % workers_.size()];
}

void server::stop_accepting() {
  for (auto& l : listeners_) {
    l->close();
  }
}

void server::drain(std::function<void()> done) {
  if (draining_.load()) {
    return;
  }
  // Publish the callback before the flag: connection_closed() reads it once it sees the flag.
  // Flag and counter use sequentially consistent operations: this side stores the flag and then
  // loads the counter, connection_closed() changes the counter and then loads the flag; with
  // weaker orders both could read stale values and the drain would never complete.
  on_drained_ = std::move(done);
  draining_.store(true);
  for (auto& w : workers_) {
    w->post([w = w.get()] { w->for_each_session([](session& s) { s.drain(); }); });
  }
  // Sessions closing from now on call connection_closed(); if none is open, finish here.
  if (open_.load() == 0) {
    bool was = false;
    if (drained_.compare_exchange_strong(was, true) && on_drained_) {
      workers_.front()->post(on_drained_);
    }
  }
}

void server::connection_opened() noexcept {
  open_.fetch_add(1);
  metrics_.open_connections.inc();
}

void server::connection_closed() noexcept {
  metrics_.open_connections.dec();
  auto left = open_.fetch_sub(1) - 1;
  if (left == 0 && draining_.load()) {
    bool was = false;
    if (drained_.compare_exchange_strong(was, true) && on_drained_) {
      on_drained_();
    }
  }
}

void server::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  stop_accepting();
  if (guard_) {
    // Runs before each worker's own stop task (posted next): the guard's clients on that thread
    // go first, so nothing keeps the io_context busy. Never started: no io thread runs, close here.
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (started_) {
        workers_[i]->post([g = guard_, i] { g->close_worker(i, true); });
      } else {
        guard_->close_worker(i, false);
      }
    }
  }
  for (auto& w : workers_) {
    w->stop();
  }
  listeners_.clear();
}

} // namespace klerno::http
