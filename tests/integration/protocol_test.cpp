// The HTTP edge's answers to requests it cannot route or will not read: 404, 405, HEAD, the size
// limits (413, 431, 414), malformed requests (400), and the X-Request-ID contract.

#include <string>

#include <catch2/catch.hpp>

#include "tests/integration/node_fixture.hpp"

using namespace klerno::test;

TEST_CASE("an unknown route is answered 404 with the error envelope") {
  test_node node;
  auto res = node.get("/no/such/route");
  require_error_envelope(res, 404, "not_found");
}

TEST_CASE("a wrong method is answered 405 with the error envelope and an Allow header") {
  test_node node;
  auto method = GENERATE(as<std::string>{}, "DELETE", "PUT", "OPTIONS");
  INFO("method " << method);
  auto res = node.request(method, "/healthz");
  require_error_envelope(res, 405, "method_not_allowed");
  CHECK(res.header("Allow") == "GET, HEAD");
}

TEST_CASE("a POST with a body within the limit to a GET route is answered 405, not 413") {
  test_node node;
  auto body = GENERATE(as<std::string>{}, "", "{}", "hello");
  INFO("body '" << body << "'");
  tcp_client c = node.connect();
  // An explicit Content-Length, also for the empty body (as `curl -d ''` sends it).
  c.send("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
         + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  auto res = c.read_response();
  require_error_envelope(res, 405, "method_not_allowed");
  CHECK(res.header("Allow") == "GET, HEAD");
}

TEST_CASE("HEAD on a probe answers the GET status and Content-Length without a body") {
  test_node node;
  auto get = node.get("/healthz");
  tcp_client c = node.connect();
  c.send(format_request("HEAD", "/healthz", {}, {}, true));
  auto res = c.read_response(tcp_client::default_timeout, true);
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Length") == std::to_string(get.body.size()));
  CHECK_FALSE(res.header("X-Request-ID").empty());
  // Nothing follows the head: the server closes the connection without sending a body.
  REQUIRE(c.wait_for_close());
  CHECK(c.unread().empty());
}

TEST_CASE("HEAD leaves a keep-alive connection in sync for the next request") {
  test_node node;
  tcp_client c = node.connect();
  c.send(format_request("HEAD", "/healthz", {{"X-Request-ID", "head-1"}}));
  auto head = c.read_response(tcp_client::default_timeout, true);
  REQUIRE(head.status == 200);
  CHECK(head.header("X-Request-ID") == "head-1");
  c.send(format_request("GET", "/healthz", {{"X-Request-ID", "get-2"}}));
  auto get = c.read_response();
  REQUIRE(get.status == 200);
  CHECK(get.header("X-Request-ID") == "get-2");
  CHECK(require_json(get) == nlohmann::json{{"status", "ok"}});
}

TEST_CASE("a declared body over HTTP_MAX_BODY_BYTES is answered 413 and the connection closes") {
  test_node node{{{"HTTP_MAX_BODY_BYTES", "16"}}};
  tcp_client c = node.connect();
  c.send("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n");
  auto res = c.read_response();
  require_error_envelope(res, 413, "payload_too_large");
  CHECK_FALSE(res.keep_alive);
  CHECK(c.wait_for_close());
}

TEST_CASE("a chunked body over HTTP_MAX_BODY_BYTES is answered 413 and the connection closes") {
  test_node node{{{"HTTP_MAX_BODY_BYTES", "16"}}};
  tcp_client c = node.connect();
  c.send("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         "40\r\n"
         + std::string(64, 'x') + "\r\n0\r\n\r\n");
  auto res = c.read_response();
  require_error_envelope(res, 413, "payload_too_large");
  CHECK_FALSE(res.keep_alive);
  CHECK(c.wait_for_close());
}

TEST_CASE("a header over HTTP_MAX_HEADER_BYTES is answered 431 and the connection closes") {
  test_node node{{{"HTTP_MAX_HEADER_BYTES", "1KiB"}}};
  tcp_client c = node.connect();
  c.send(format_request("GET", "/healthz", {{"X-Padding", std::string(2000, 'p')}}));
  auto res = c.read_response();
  require_error_envelope(res, 431, "request_header_fields_too_large");
  CHECK_FALSE(res.keep_alive);
  CHECK(c.wait_for_close());
}

TEST_CASE("a request line over HTTP_MAX_HEADER_BYTES is answered 414 when the whole request "
          "arrives at once") {
  test_node node{{{"HTTP_MAX_HEADER_BYTES", "1KiB"}}};
  tcp_client c = node.connect();
  c.send(format_request("GET", "/" + std::string(2000, 'a')));
  auto res = c.read_response();
  require_error_envelope(res, 414, "uri_too_long");
  CHECK_FALSE(res.keep_alive);
  CHECK(c.wait_for_close());
}

TEST_CASE("a request line that passes HTTP_MAX_HEADER_BYTES before it ends is answered 414") {
  test_node node{{{"HTTP_MAX_HEADER_BYTES", "1KiB"}}};
  tcp_client c = node.connect();
  c.send("GET /" + std::string(2000, 'a')); // the line has not ended yet
  auto res = c.read_response();
  require_error_envelope(res, 414, "uri_too_long");
  CHECK(c.wait_for_close());
}

TEST_CASE("a header within HTTP_MAX_HEADER_BYTES is served") {
  test_node node{{{"HTTP_MAX_HEADER_BYTES", "1KiB"}}};
  auto res = node.get("/healthz", {{"X-Padding", std::string(500, 'p')}});
  CHECK(res.status == 200);
}

TEST_CASE("a malformed request is answered 400 with the error envelope and the connection closes") {
  test_node node;
  auto bytes = GENERATE(as<std::string>{}, "\x01\x02 garbage\r\n\r\n",
                        "GET /healthz HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
                        "GET /healthz HTTP/9.Z\r\nHost: 127.0.0.1\r\n\r\n",
                        "POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x\r\n\r\n");
  INFO("request " << bytes);
  tcp_client c = node.connect();
  c.send(bytes);
  auto res = c.read_response();
  require_error_envelope(res, 400, "bad_request");
  CHECK_FALSE(res.keep_alive);
  CHECK(c.wait_for_close());
}

TEST_CASE("a sane client request id is echoed in the header and the error envelope") {
  test_node node;
  auto id = GENERATE(as<std::string>{}, "abc", "req-42", "A.b_c:d-E", std::string(128, 'r'));
  INFO("id " << id);
  auto ok = node.get("/healthz", {{"X-Request-ID", id}});
  REQUIRE(ok.status == 200);
  CHECK(ok.header("X-Request-ID") == id);
  CHECK(ok.count("X-Request-ID") == 1);
  auto missing = node.get("/nowhere", {{"X-Request-ID", id}});
  require_error_envelope(missing, 404, "not_found");
  CHECK(missing.header("X-Request-ID") == id);
}

TEST_CASE("an insane client request id is replaced by a generated one of 32 hex characters") {
  test_node node;
  auto id = GENERATE(as<std::string>{}, std::string(129, 'r'), "has space", "slash/inside",
                     "semi;colon", "quote\"d", "uml\xc3\xa4ut", "");
  INFO("id '" << id << "'");
  auto ok = node.get("/healthz", {{"X-Request-ID", id}});
  REQUIRE(ok.status == 200);
  CHECK(ok.header("X-Request-ID") != id);
  CHECK(is_generated_request_id(ok.header("X-Request-ID")));
  auto missing = node.get("/nowhere", {{"X-Request-ID", id}});
  require_error_envelope(missing, 404, "not_found");
  CHECK(is_generated_request_id(missing.header("X-Request-ID")));
}

TEST_CASE("a request without a request id gets a generated one, different per request") {
  test_node node;
  auto a = node.get("/healthz");
  auto b = node.get("/healthz");
  CHECK(is_generated_request_id(a.header("X-Request-ID")));
  CHECK(is_generated_request_id(b.header("X-Request-ID")));
  CHECK(a.header("X-Request-ID") != b.header("X-Request-ID"));
}

TEST_CASE("a request expecting 100-continue on an unknown route is answered 404 without its body") {
  test_node node;
  tcp_client c = node.connect();
  c.send("POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
         "Expect: 100-continue\r\n\r\n");
  auto res = c.read_response();
  require_error_envelope(res, 404, "not_found");
  CHECK_FALSE(res.keep_alive);
  CHECK(c.wait_for_close());
}

TEST_CASE("a request expecting 100-continue on an accepted route gets 100, then its answer") {
  test_node node{{{"CHAOS_ENDPOINTS", "true"}}};
  tcp_client c = node.connect();
  c.send("POST /chaos/actors/nobody/kill HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + test_api_key
         + "\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.read_response();
  REQUIRE(interim.status == 100);
  c.send("hello");
  require_error_envelope(c.read_response(), 404, "not_found"); // no actor called "nobody"
}

TEST_CASE("100 Continue never overtakes the response to an earlier pipelined request") {
  test_node node{{{"CHAOS_ENDPOINTS", "true"}}};
  tcp_client c = node.connect();
  c.send("GET /liveness HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: first\r\n\r\n"
         "POST /chaos/actors/nobody/kill HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: "
         + test_api_key
         + "\r\nX-Request-ID: second\r\nContent-Length: 5\r\n"
           "Expect: 100-continue\r\n\r\n");
  auto first = c.read_response();
  REQUIRE(first.status == 200);
  CHECK(first.header("X-Request-ID") == "first");
  c.send("hello");
  auto res = c.read_response();
  if (res.status == 100) { // allowed once the earlier response is out
    res = c.read_response();
  }
  require_error_envelope(res, 404, "not_found");
  CHECK(res.header("X-Request-ID") == "second");
}
