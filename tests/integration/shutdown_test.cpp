// Graceful shutdown on SIGTERM and SIGINT: readiness fails first, requests are served through
// SHUTDOWN_GRACE, then the listener closes, in-flight requests finish, and the node exits 0.

#include <csignal>
#include <string>
#include <system_error>

#include <catch2/catch.hpp>

#include "tests/integration/node_fixture.hpp"

using namespace klerno::test;

namespace {

/// Polls the API port with /readiness until a connection is refused (the listener closed);
/// returns false at the deadline.
bool wait_until_refused(uint16_t port, std::chrono::milliseconds timeout) {
  return poll_until(
    [port] {
      try {
        tcp_client c{port};
        c.send(format_request("GET", "/readiness", {}, {}, true));
        c.read_response();
        return false;
      } catch (const std::system_error& e) {
        return e.code() == std::errc::connection_refused;
      } catch (const connection_closed&) {
        return false; // accepted by the kernel while the listener closed: try again
      }
    },
    timeout);
}

} // namespace

TEST_CASE("SIGTERM fails readiness, serves through the grace period, finishes an in-flight "
          "request and exits 0") {
  test_node node{{{"SHUTDOWN_GRACE", "1s"}}};
  // Half a request: the node reads it at once, far within the grace period, and from then on
  // the connection counts as in flight rather than idle.
  tcp_client in_flight = node.connect();
  in_flight.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: in-flight-1\r\n");

  node.process().signal(SIGTERM);

  // Readiness fails while the listener still accepts connections.
  http_response ready;
  REQUIRE(poll_until([&] {
    ready = node.get("/readiness");
    return ready.status != 200;
  }));
  require_error_envelope(ready, 503, "service_unavailable");
  // Other requests are still served during the grace period.
  CHECK(node.get("/healthz").status == 200);

  // Then the listener closes, while the node waits for the request it has half received.
  REQUIRE(wait_until_refused(node.port(), 10s));
  CHECK(node.process().running());

  in_flight.send("\r\n");
  auto res = in_flight.read_response();
  REQUIRE(res.status == 200);
  CHECK(res.header("X-Request-ID") == "in-flight-1");
  CHECK(res.header("Connection") == "close");
  CHECK(require_json(res) == nlohmann::json{{"status", "ok"}});
  CHECK(in_flight.wait_for_close());
  in_flight.close();

  CHECK(node.process().wait_exit(node_exit_timeout) == 0);
}

TEST_CASE("an idle keep-alive connection is closed once the grace period ends") {
  test_node node{{{"SHUTDOWN_GRACE", "200ms"}}};
  tcp_client idle = node.connect();
  idle.send(format_request("GET", "/healthz"));
  REQUIRE(idle.read_response().keep_alive);

  node.process().signal(SIGTERM);

  CHECK(idle.wait_for_close(10s));
  CHECK(idle.unread().empty());
  CHECK(node.process().wait_exit(node_exit_timeout) == 0);
}

TEST_CASE("SIGTERM and SIGINT stop the node with exit code 0") {
  auto sig = GENERATE(SIGTERM, SIGINT);
  INFO("signal " << sig);
  test_node node;
  REQUIRE(node.get("/healthz").status == 200);
  node.process().signal(sig);
  CHECK(node.process().wait_exit(node_exit_timeout) == 0);
}

TEST_CASE("a second SIGTERM skips the rest of the grace period") {
  // The grace period is far longer than the failure deadline of the exit.
  test_node node{{{"SHUTDOWN_GRACE", "10m"}}};
  node.process().signal(SIGTERM);
  REQUIRE(poll_until([&] { return node.get("/readiness").status == 503; }));
  node.process().signal(SIGTERM);
  CHECK(node.process().wait_exit(node_exit_timeout) == 0);
}
