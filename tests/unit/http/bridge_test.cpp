// The actor bridge: requests issued from an io thread, answered on that io thread.

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <stdexcept>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>

#include "http/bridge.hpp"

using namespace klerno::http;
using namespace std::chrono_literals;

namespace {

struct fixture {
  fixture() : sys{make_config()}, bridge{sys, ioc} {
    bridge.start();
  }

  ~fixture() {
    bridge.close();
  }

  static caf::actor_system_config& make_config() {
    static caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", std::size_t{2});
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    return cfg;
  }

  /// Runs the io_context (this thread is the "io thread") until `done` or a failure deadline.
  bool run_until(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      ioc.run_one_for(10ms);
    }
    return done();
  }

  caf::actor_system sys;
  boost::asio::io_context ioc;
  // Keeps run_one_for() from stopping the context while no reply is queued yet.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  actor_bridge bridge;
};

caf::behavior doubler() {
  return {[](int x) {
    return x * 2;
  }};
}

caf::behavior silent() {
  return {[](int) -> caf::result<int> {
    return caf::delegated<int>{};
  }};
}

} // namespace

TEST_CASE("a request from the io thread is answered on the io thread") {
  fixture f;
  auto worker = f.sys.spawn(doubler);
  int got = 0;
  auto io_thread = std::this_thread::get_id();
  std::thread::id answered_on;
  f.bridge.self()->request(worker, 5s, 21).then([&](int y) {
    got = y;
    answered_on = std::this_thread::get_id();
  });
  REQUIRE(f.run_until([&] { return got != 0; }));
  CHECK(got == 42);
  CHECK(answered_on == io_thread);
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
}

TEST_CASE("a request that is not answered in time ends with request_timeout on the io thread") {
  fixture f;
  auto worker = f.sys.spawn(silent);
  caf::error err;
  f.bridge.self()->request(worker, 50ms, 1).then([](int) {}, [&](caf::error& e) { err = e; });
  REQUIRE(f.run_until([&] { return static_cast<bool>(err); }));
  CHECK(err == caf::sec::request_timeout);
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
}

TEST_CASE("a response handler that throws costs only its request: the bridge keeps working") {
  fixture f;
  auto worker = f.sys.spawn(doubler);
  bool threw = false;
  f.bridge.self()->request(worker, 5s, 1).then([&](int) {
    threw = true;
    throw std::runtime_error("handler bug");
  });
  REQUIRE(f.run_until([&] { return threw; }));
  int got = 0;
  f.bridge.self()->request(worker, 5s, 5).then([&](int y) { got = y; });
  REQUIRE(f.run_until([&] { return got != 0; }));
  CHECK(got == 10);
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
}

TEST_CASE("closing the bridge drops pending requests and lets the actor system shut down") {
  fixture f;
  auto worker = f.sys.spawn(silent);
  bool called = false;
  f.bridge.self()
    ->request(worker, 60s, 1)
    .then([&](int) { called = true; }, [&](caf::error&) { called = true; });
  f.bridge.close();
  f.ioc.poll();
  CHECK_FALSE(called);
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
  // The fixture's actor_system destructor returns only if no actor (companion included) is left.
}
