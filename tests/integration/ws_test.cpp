// WS /ws/alerts on a real node (http/ws_session.hpp): a client watching a wallet receives the
// alerts of its high-risk transactions (stored in the shared PostgreSQL of the fixture "pg") and
// nothing else; the handshake needs the API key (header or ?api_key=); a plain GET is 426; bad
// messages get error frames, then 1008; SIGTERM closes the WebSocket with 1001 and the node
// exits 0.

#include <csignal>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/api/api_support.hpp"
#include "tests/support/ws_client.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using nlohmann::json;

namespace {

const header_list key_header{{"X-API-Key", test_api_key}};

/// An alert-worthy transaction (risk 1.00, high).
json high_tx(const std::string& from, const std::string& to) {
  return make_alert_tx("ws-high", from, to);
}

/// An incoming 50: 0.05, low.
json low_tx(const std::string& from, const std::string& to) {
  auto tx = make_tx("ws-low", from, to, 50);
  tx["direction"] = "in";
  return tx;
}

json read_json(ws_client& ws) {
  auto text = ws.read();
  INFO("frame: " << text);
  auto j = json::parse(text, nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

/// Sends a watch set and waits for the server to confirm it.
void watch(ws_client& ws, const std::vector<std::string>& addresses) {
  ws.send(json{{"watch", addresses}}.dump());
  auto ack = read_json(ws);
  REQUIRE(ack == json{{"type", "watching"}, {"addresses", addresses.size()}});
}

/// Stores `tx` (201) and returns the stored transaction.
json store(const test_node& node, const json& tx) {
  return require_status_json(post(node, "/transactions", tx), 201);
}

} // namespace

TEST_CASE("a client watching a wallet receives the alerts of its high-risk transactions, sent "
          "or received, and nothing else",
          "[ws]") {
  auto pg = shared_pg();
  test_node node{db_settings(pg.primary_url, {}, {{"NODE_NAME", "ws-node-1"}})};
  const auto wallet = unique_id("rWsWatched");
  const auto peer = unique_id("rWsPeer");
  const auto stranger = unique_id("rWsStranger");

  ws_client ws{node.port(), "/ws/alerts", key_header};
  CHECK(ws.handshake().status == 101);
  CHECK(!ws.handshake().header("X-Request-ID").empty());
  watch(ws, {wallet});
  CHECK(metric(node, "klerno_ws_clients") == 1);

  // Not watched: a high-risk transaction between two other wallets. Watched but low-risk: an
  // incoming 50. Neither produces a frame, so the next frame is the high-risk one.
  store(node, high_tx(stranger, peer));
  auto low = store(node, low_tx(wallet, peer));
  CHECK(low["risk_bucket"] == "low");
  auto sent = store(node, high_tx(wallet, peer));
  REQUIRE(sent["risk_score"] == 1.0);

  auto frame = read_json(ws);
  CHECK(frame["type"] == "alert");
  CHECK(frame["node"] == "ws-node-1");
  CHECK(frame["transaction"] == sent); // the TaggedTransaction as the API renders it
  CHECK(frame.size() == 3);

  // The watched wallet as the receiver.
  auto received = store(node, high_tx(peer, wallet));
  frame = read_json(ws);
  CHECK(frame["type"] == "alert");
  CHECK(frame["transaction"]["tx_id"] == received["tx_id"]);

  // A repeat of a tx_id raises nothing: the next frame is the next new alert.
  auto again = high_tx(wallet, peer);
  again["tx_id"] = sent["tx_id"];
  CHECK(post(node, "/transactions", again).status == 200);
  auto next = store(node, high_tx(wallet, stranger));
  frame = read_json(ws);
  CHECK(frame["transaction"]["tx_id"] == next["tx_id"]);

  CHECK(poll_until([&] { return metric(node, "klerno_ws_alerts_delivered_total") == 3; }));
  CHECK(metric(node, "klerno_ws_alerts_dropped_total") == 0);
  ws.close();
  CHECK(poll_until([&] { return metric(node, "klerno_ws_clients") == 0; }));
}

TEST_CASE("a new watch set replaces the previous one", "[ws]") {
  auto pg = shared_pg();
  test_node node{db_settings(pg.primary_url)};
  const auto first = unique_id("rWsFirst");
  const auto second = unique_id("rWsSecond");
  const auto peer = unique_id("rWsPeer");
  ws_client ws{node.port(), "/ws/alerts", key_header};
  watch(ws, {first});
  watch(ws, {second});
  store(node, high_tx(first, peer));
  auto wanted = store(node, high_tx(second, peer));
  CHECK(read_json(ws)["transaction"]["tx_id"] == wanted["tx_id"]);
}

TEST_CASE("browsers may give the API key as the api_key query parameter", "[ws]") {
  test_node node;
  ws_client ws{node.port(), "/ws/alerts?api_key=" + test_api_key};
  watch(ws, {"rSomeone"});
}

TEST_CASE("a handshake without a valid API key is refused with 401 and no upgrade", "[ws]") {
  test_node node;
  std::vector<std::pair<std::string, header_list>> attempts = {
    {"/ws/alerts", {}},
    {"/ws/alerts", {{"X-API-Key", "wrong-key"}}},
    {"/ws/alerts?api_key=wrong-key", {}},
  };
  for (const auto& [target, headers] : attempts) {
    INFO(target << " with " << headers.size() << " header(s)");
    try {
      ws_client ws{node.port(), target, headers};
      FAIL("the handshake was accepted");
    } catch (const ws_refused& e) {
      require_error_envelope(e.response, 401, "unauthorized");
      CHECK(e.response.header("Upgrade").empty());
    }
  }
}

TEST_CASE("a plain GET of the WebSocket route is answered 426 with the envelope", "[ws]") {
  test_node node;
  auto res = node.get("/ws/alerts", key_header);
  require_error_envelope(res, 426, "upgrade_required");
  CHECK(res.header("Upgrade") == "websocket");
  // A handshake that cannot be accepted (no Sec-WebSocket-Key) is a 400, not a 101.
  auto c = node.connect();
  c.send("GET /ws/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + test_api_key
         + "\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  require_error_envelope(c.read_response(), 400, "bad_request");
}

TEST_CASE("bad messages get an error frame and the connection stays open, too many close it "
          "with 1008",
          "[ws]") {
  test_node node;
  ws_client ws{node.port(), "/ws/alerts", key_header};
  auto error_code = [&] {
    auto frame = read_json(ws);
    REQUIRE(frame.contains("error"));
    CHECK(frame["error"]["message"].is_string());
    return frame["error"]["code"].get<std::string>();
  };
  ws.send("not json");
  CHECK(error_code() == "bad_request");
  ws.send(R"({"watch":"rA"})");
  CHECK(error_code() == "bad_request");
  ws.send(R"({"watch":[1]})");
  CHECK(error_code() == "bad_request");
  ws.send_binary(R"({"watch":["rA"]})");
  CHECK(error_code() == "bad_request");
  std::vector<std::string> many;
  for (int i = 0; i < 1001; ++i) {
    many.push_back("r" + std::to_string(i));
  }
  ws.send(json{{"watch", many}}.dump());
  CHECK(error_code() == "too_many_addresses");
  many.pop_back();
  watch(ws, many); // still open; 1000 is the limit

  // Five bad messages so far; the tenth closes the connection with 1008 (policy violation).
  for (int i = 0; i < 5; ++i) {
    ws.send("[]");
  }
  for (int i = 0; i < 5; ++i) {
    CHECK(error_code() == "bad_request");
  }
  CHECK(ws.wait_close() == 1008);
}

TEST_CASE("SIGTERM closes the WebSocket with 1001 and the node exits 0", "[ws]") {
  test_node node;
  ws_client ws{node.port(), "/ws/alerts", key_header};
  watch(ws, {"rSomeone"});
  node.process().signal(SIGTERM);
  CHECK(ws.wait_close(10s) == 1001);
  CHECK(node.process().wait_exit(node_exit_timeout) == 0);
}
