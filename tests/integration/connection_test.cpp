// Connection handling: keep-alive reuse, pipelining order, and the deadlines that cut off slow
// and idle clients. The short timeouts here make the server act soon; the tests assert what it
// sends, and use long failure deadlines, never how long it took.

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/integration/node_fixture.hpp"

using namespace klerno::test;

TEST_CASE("a keep-alive connection serves several requests in turn") {
  test_node node;
  tcp_client c = node.connect();
  const std::vector<std::string> targets{"/healthz", "/readiness", "/liveness", "/nowhere",
                                         "/healthz"};
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto id = "keep-" + std::to_string(i);
    c.send(format_request("GET", targets[i], {{"X-Request-ID", id}}));
    auto res = c.read_response();
    INFO("request " << i << " to " << targets[i]);
    CHECK(res.status == (targets[i] == "/nowhere" ? 404u : 200u));
    CHECK(res.header("X-Request-ID") == id);
    CHECK(res.keep_alive);
  }
  CHECK_FALSE(c.closed_by_peer());
}

TEST_CASE("pipelined requests are answered in order") {
  test_node node;
  tcp_client c = node.connect();
  // The first answer comes from an actor, the others at once: order must still hold.
  struct step {
    std::string target;
    unsigned status;
  };
  const std::vector<step> steps{
    {"/liveness", 200}, {"/healthz", 200}, {"/nowhere", 404}, {"/readiness", 200}};
  std::string bytes;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    bytes +=
      format_request("GET", steps[i].target, {{"X-Request-ID", "pipe-" + std::to_string(i)}});
  }
  c.send(bytes); // one write
  for (std::size_t i = 0; i < steps.size(); ++i) {
    auto res = c.read_response();
    INFO("response " << i << " for " << steps[i].target);
    CHECK(res.header("X-Request-ID") == "pipe-" + std::to_string(i));
    CHECK(res.status == steps[i].status);
    CHECK(res.keep_alive);
  }
}

TEST_CASE("a request with Connection: close is answered and the connection closed") {
  test_node node;
  tcp_client c = node.connect();
  c.send(format_request("GET", "/healthz", {}, {}, true));
  auto res = c.read_response();
  REQUIRE(res.status == 200);
  CHECK_FALSE(res.keep_alive);
  CHECK(res.header("Connection") == "close");
  CHECK(c.wait_for_close());
  CHECK(c.unread().empty());
}

TEST_CASE("a client that stalls in the middle of a request is answered 408 and disconnected") {
  test_node node{{{"HTTP_READ_TIMEOUT", "300ms"}}};
  tcp_client c = node.connect();
  auto partial =
    GENERATE(as<std::string>{}, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", "GET /heal",
             "POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Transfer-Encoding: chunked\r\n\r\n5\r\nab");
  INFO("partial request " << partial);
  c.send(partial);
  auto res = c.read_response();
  require_error_envelope(res, 408, "request_timeout");
  CHECK_FALSE(res.keep_alive);
  CHECK(c.wait_for_close());
  CHECK(c.unread().empty());
}

TEST_CASE("an idle keep-alive connection is closed after HTTP_IDLE_TIMEOUT") {
  test_node node{{{"HTTP_IDLE_TIMEOUT", "300ms"}}};
  tcp_client c = node.connect();
  c.send(format_request("GET", "/healthz"));
  auto res = c.read_response();
  REQUIRE(res.status == 200);
  REQUIRE(res.keep_alive);
  // The server closes the idle connection without sending anything.
  CHECK(c.wait_for_close());
  CHECK(c.unread().empty());
}

TEST_CASE("a connection that never sends a byte is closed after HTTP_IDLE_TIMEOUT") {
  test_node node{{{"HTTP_IDLE_TIMEOUT", "300ms"}}};
  tcp_client c = node.connect();
  CHECK(c.wait_for_close());
  CHECK(c.unread().empty());
}
