// The alerts WebSocket session (http/ws_session.hpp) over loopback, with one io thread, the real
// hub and small limits: a slow consumer loses its queued alerts and is closed with 1013, a client
// that does not answer pings is disconnected while one that does stays, and a session subscribes
// again when the hub restarts.

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include "actors/alerts/hub.hpp"
#include "http/bridge.hpp"
#include "http/ws_session.hpp"
#include "runtime/metrics.hpp"
#include "tests/support/ws_client.hpp"

using namespace klerno;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace alerts = klerno::actors::alerts;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

caf::actor_system_config& system_config() {
  static caf::actor_system_config cfg = [] {
    caf::actor_system_config c;
    c.set("scheduler.max-threads", std::size_t{2});
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }();
  return cfg;
}

actors::model::transaction tx(const std::string& id, const std::string& from,
                              const std::string& to) {
  actors::model::transaction t;
  t.tx_id = id;
  t.from_addr = from;
  t.to_addr = to;
  t.amount = actors::model::decimal::from_integer(20000);
  t.risk_score = 100;
  t.risk_bucket = "high";
  return t;
}

/// One io thread with its bridge, a hub in the registry, and a listener that hands each
/// accepted connection (after reading its handshake) to the alerts endpoint.
class ws_fixture {
public:
  explicit ws_fixture(http::ws_settings settings)
      : sys(system_config()),
        bridge(sys, ioc),
        acceptor(ioc, tcp::endpoint{net::ip::make_address_v4("127.0.0.1"), 0}),
        metrics(std::make_shared<http::ws_metrics>(reg)),
        endpoint(http::make_alerts_endpoint(settings, metrics)) {
    start_hub();
    io = std::thread{[this] {
      bridge.start();
      ioc.run();
    }};
    net::post(ioc, [this] { accept(); });
  }

  ~ws_fixture() {
    net::post(ioc, [this] {
      if (session) {
        session->close();
      }
      boost::system::error_code ignored;
      acceptor.close(ignored);
      bridge.close();
      work.reset();
    });
    io.join();
    session.reset();
    caf::anon_send_exit(hub, caf::exit_reason::kill);
    sys.registry().erase(alerts::hub_name);
  }

  uint16_t port() const {
    return acceptor.local_endpoint().port();
  }

  /// Spawns a (new) hub and registers it, as the supervisor does.
  void start_hub() {
    hub = alerts::spawn_hub(sys, {"unit-node"});
    sys.registry().erase(alerts::hub_name); // put() keeps an existing entry
    sys.registry().put(alerts::hub_name, hub);
  }

  /// Runs `f` on the io thread and waits for it.
  template <class F>
  void on_io(F f) {
    std::promise<void> done;
    net::post(ioc, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  /// Returns the session of the (single) accepted connection.
  std::shared_ptr<http::ws_session> the_session() {
    std::shared_ptr<http::ws_session> s;
    on_io([&] { s = session; });
    REQUIRE(s);
    return s;
  }

  caf::actor_system sys;
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  http::actor_bridge bridge;
  tcp::acceptor acceptor;
  runtime::metrics::registry reg;
  std::shared_ptr<http::ws_metrics> metrics;
  std::shared_ptr<http::ws_endpoint> endpoint;
  caf::actor hub;
  std::shared_ptr<http::ws_session> session; ///< io thread only
  std::atomic<bool> closed{false};           ///< the session reported its end
  std::thread io;

private:
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket sock) {
      if (ec) {
        return;
      }
      auto s = std::make_shared<tcp::socket>(std::move(sock));
      auto buffer = std::make_shared<boost::beast::flat_buffer>();
      auto req = std::make_shared<http::request>();
      boost::beast::http::async_read(
        *s, *buffer, *req, [this, s, buffer, req](boost::system::error_code rec, std::size_t) {
          if (rec) {
            return;
          }
          auto peer = s->remote_endpoint();
          http::ws_handoff h{std::move(*s),
                             std::move(*req),
                             "unit-request",
                             peer,
                             &bridge,
                             std::chrono::seconds(5),
                             [this] {
                               closed = true;
                             }};
          session = std::dynamic_pointer_cast<http::ws_session>(endpoint->accept(std::move(h)));
        });
    });
  }
};

/// Calls `check` until it returns true or `timeout` passes; returns the last result.
template <class F>
bool test_poll(F check, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!check()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

void watch(test::ws_client& c, const std::vector<std::string>& addresses) {
  c.send(json{{"watch", addresses}}.dump());
  REQUIRE(json::parse(c.read()) == json{{"type", "watching"}, {"addresses", addresses.size()}});
}

std::string tx_id_of(const std::string& frame) {
  auto j = json::parse(frame);
  REQUIRE(j["type"] == "alert");
  return j["transaction"]["tx_id"].get<std::string>();
}

} // namespace

TEST_CASE("a client that reads too slowly loses its queued alerts and is closed with 1013",
          "[alerts][ws]") {
  http::ws_settings s;
  s.max_queue = 4;
  ws_fixture f{s};
  test::ws_client c{f.port(), "/ws/alerts"};
  watch(c, {"rA"});
  auto session = f.the_session();
  // Ten alerts in one go on the io thread: the first is being written (its completion cannot
  // run before this handler returns), four wait, the sixth finds the queue full.
  f.on_io([&] {
    for (int i = 0; i < 10; ++i) {
      session->on_alert(alerts::make_alert(tx("t" + std::to_string(i), "rA", "rB"), "n1"));
    }
  });
  CHECK(tx_id_of(c.read()) == "t0");
  CHECK(c.wait_close() == 1013);
  CHECK(f.metrics->dropped.value() == 5); // the four queued and the one that overflowed
  CHECK(f.metrics->delivered.value() == 1);
  CHECK(test_poll([&] { return f.closed.load(); }));
  CHECK(f.metrics->clients.value() == 0);
}

TEST_CASE("alerts about addresses the client does not watch are not sent", "[alerts][ws]") {
  ws_fixture f{http::ws_settings{}};
  test::ws_client c{f.port(), "/ws/alerts"};
  watch(c, {"rA"});
  caf::anon_send(caf::actor_cast<alerts::hub_actor>(f.hub), alerts::publish_local_atom::value,
                 alerts::make_alert(tx("other", "rX", "rY")));
  caf::anon_send(caf::actor_cast<alerts::hub_actor>(f.hub), alerts::publish_remote_atom::value,
                 alerts::make_alert(tx("mine", "rX", "rA"), "node-b"));
  auto frame = json::parse(c.read());
  CHECK(frame["transaction"]["tx_id"] == "mine");
  CHECK(frame["node"] == "node-b");
}

TEST_CASE("a client that does not answer pings is disconnected", "[alerts][ws]") {
  http::ws_settings s;
  s.ping_interval = 50ms;
  s.pong_timeout = 150ms;
  ws_fixture f{s};
  test::ws_client c{f.port(), "/ws/alerts"};
  // The client never reads, so it never answers the pings.
  CHECK(test_poll([&] { return f.closed.load(); }));
}

TEST_CASE("a client that answers pings stays connected", "[alerts][ws]") {
  http::ws_settings s;
  s.ping_interval = 20ms;
  s.pong_timeout = 100ms;
  ws_fixture f{s};
  test::ws_client c{f.port(), "/ws/alerts"};
  watch(c, {"rA"});
  auto session = f.the_session();
  // Deliver an alert after many ping periods; the client's read answers the pings meanwhile.
  auto later = std::make_shared<net::steady_timer>(f.ioc, 500ms);
  f.on_io([&] {
    later->async_wait([session, later](boost::system::error_code) {
      session->on_alert(alerts::make_alert(tx("late", "rA", "rB"), "n1"));
    });
  });
  CHECK(tx_id_of(c.read()) == "late");
  CHECK(!f.closed.load());
}

TEST_CASE("a session subscribes again when the hub restarts", "[alerts][ws]") {
  http::ws_settings s;
  s.ping_interval = 50ms; // the keep-alive tick also checks the hub
  ws_fixture f{s};
  test::ws_client c{f.port(), "/ws/alerts"};
  watch(c, {"rA"});
  caf::anon_send_exit(f.hub, caf::exit_reason::kill);
  f.start_hub();
  // Publish to the new hub until the session has subscribed there again.
  std::atomic<bool> stop{false};
  std::thread publisher{[&] {
    while (!stop) {
      caf::anon_send(caf::actor_cast<alerts::hub_actor>(f.hub), alerts::publish_local_atom::value,
                     alerts::make_alert(tx("after-restart", "rA", "rB")));
      std::this_thread::sleep_for(20ms);
    }
  }};
  std::string id;
  CHECK_NOTHROW(id = tx_id_of(c.read()));
  stop = true;
  publisher.join();
  CHECK(id == "after-restart");
}

TEST_CASE("a client that sends messages faster than the rate limit is closed with 1008",
          "[alerts][ws]") {
  http::ws_settings s;
  s.message_burst = 3;
  s.message_rate = 0.001;
  ws_fixture f{s};
  test::ws_client c{f.port(), "/ws/alerts"};
  for (int i = 0; i < 3; ++i) {
    watch(c, {"rA"});
  }
  c.send(R"({"watch":["rA"]})");
  auto frame = json::parse(c.read());
  CHECK(frame["error"]["code"] == "policy_violation");
  CHECK(c.wait_close() == 1008);
}

TEST_CASE("draining closes with 1001 after the frames already queued", "[alerts][ws]") {
  ws_fixture f{http::ws_settings{}};
  test::ws_client c{f.port(), "/ws/alerts"};
  watch(c, {"rA"});
  auto session = f.the_session();
  f.on_io([&] {
    session->on_alert(alerts::make_alert(tx("t1", "rA", "rB"), "n1"));
    session->on_alert(alerts::make_alert(tx("t2", "rA", "rB"), "n1"));
    session->drain();
    session->on_alert(alerts::make_alert(tx("t3", "rA", "rB"), "n1")); // closing: not sent
  });
  CHECK(tx_id_of(c.read()) == "t1");
  CHECK(tx_id_of(c.read()) == "t2");
  CHECK(c.wait_close() == 1001);
  CHECK(test_poll([&] { return f.closed.load(); }));
  CHECK(f.metrics->delivered.value() == 2);
  CHECK(f.metrics->dropped.value() == 0);
}
