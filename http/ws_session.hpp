#pragma once

// WebSocket connections of the HTTP edge, and the one WebSocket route: `WS /ws/alerts`.
//
// The upgrade: an HTTP session that reads a valid WebSocket handshake (`is_websocket_handshake`)
// for a route marked with `router::add_websocket` (and, as for every keyed route, a valid API
// key: `X-API-Key`, or for browsers, which cannot set headers on a WebSocket handshake, the
// `api_key` query parameter) hands its socket to the route's `ws_endpoint`. The HTTP session
// stays registered with its io thread and keeps counting as the open connection: it forwards
// `drain` (the node shuts down: close code 1001) and `close` (the edge stops) to the WebSocket
// side, and closes itself when the WebSocket side reports that the connection is over. So
// WebSocket connections count in HTTP_MAX_CONNECTIONS and in the drain of a shutdown.
//
// The alerts protocol (`ws_session`):
// - the client sends text frames `{"watch":["rAddr1","rAddr2",...]}`: at most
//   `ws_settings::max_watch` addresses of 1..128 bytes; each replaces the previous watch set
//   (`[]` watches nothing). The server answers `{"type":"watching","addresses":N}` once the set
//   is in effect: every alert raised after that answer reaches the client.
// - every alert (a stored transaction at or above RISK_THRESHOLD, raised on this node or, with
//   the cluster, on another one) whose from_addr or to_addr is watched arrives as a text frame
//   `{"type":"alert","transaction":{TaggedTransaction},"node":"<origin node>"}`.
// - a bad message (not JSON, not `{"watch":[strings]}`, too many addresses, a binary frame) gets
//   `{"error":{"code","message"}}` and the connection stays open; after `max_bad_messages` of
//   them, or more than `message_burst` messages in a burst (refilled at `message_rate` per
//   second), the server closes with 1008 (policy violation). A message over
//   `max_message_bytes` closes with 1009.
// - keep-alive: the server pings every `ping_interval`; a client that does not answer with a
//   pong within `pong_timeout` is disconnected (TCP close, no closing handshake).
// - slow consumers: at most `max_queue` frames wait to be written per connection, and one frame
//   may take at most HTTP_WRITE_TIMEOUT. When an alert finds the queue full, the queued alerts
//   and that one are dropped (klerno_ws_alerts_dropped_total) and the server closes with 1013
//   (try again later): a connected client never misses an alert silently; after a 1013 (or any
//   disconnect) it reconnects and catches up with `GET /alerts`. A write that does not finish
//   in time drops the connection without a closing handshake.
// - shutdown: a draining node closes every WebSocket with 1001 (going away); the closing
//   handshake gets `close_timeout`, then the TCP connection is dropped.
//
// Everything runs on the connection's io thread. The hub delivers alerts from an actor thread
// through a sink that posts them to that thread (and ignores them once the session is gone).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <caf/actor_addr.hpp>

#include "actors/alerts/hub.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "runtime/metrics.hpp"

namespace klerno::http {

class actor_bridge;

/// The WebSocket side of an upgraded connection, as its HTTP session sees it (io thread only).
class upgraded_connection {
public:
  virtual ~upgraded_connection() = default;

  /// Closes with 1001 (going away) after the closing handshake; the node is draining.
  virtual void drain() = 0;

  /// Drops the connection at once (the edge stops). Never calls `ws_handoff::closed` from
  /// within this call.
  virtual void close() = 0;
};

/// What an HTTP session hands over when it upgrades a connection.
struct ws_handoff {
  boost::asio::ip::tcp::socket socket;     ///< the connection; its executor is the io thread
  request req;                             ///< the handshake, answered with 101 by the endpoint
  std::string request_id;                  ///< X-Request-ID of the handshake (logs, the 101)
  boost::asio::ip::tcp::endpoint peer;     ///< the client (logs)
  actor_bridge* bridge = nullptr;          ///< the io thread's gateway into the actor system
  std::chrono::milliseconds write_timeout; ///< HTTP_WRITE_TIMEOUT, per frame
  std::function<void()> closed;            ///< called once (io thread) when the connection ends
};

/// Serves the connections of one WebSocket route.
class ws_endpoint {
public:
  virtual ~ws_endpoint() = default;

  /// Answers the handshake and serves the connection (io thread); returns its controls.
  virtual std::shared_ptr<upgraded_connection> accept(ws_handoff h) = 0;
};

/// Returns whether `req` is a WebSocket handshake that can be accepted: HTTP/1.1 GET with
/// `Connection: upgrade`, `Upgrade: websocket`, a Host, a Sec-WebSocket-Key and
/// `Sec-WebSocket-Version: 13`.
bool is_websocket_handshake(const request& req);

/// Limits of the alerts WebSocket (documented constants; the node uses the defaults).
struct ws_settings {
  std::size_t max_watch = 1000;                    ///< addresses per watch set
  std::size_t max_address_bytes = 128;             ///< as from_addr / to_addr
  std::size_t max_message_bytes = 64 * 1024;       ///< largest client message (1009 beyond)
  std::size_t max_queue = 256;                     ///< frames waiting to be written (1013 beyond)
  std::size_t max_bad_messages = 10;               ///< invalid messages before 1008
  double message_rate = 5;                         ///< client messages per second, sustained
  double message_burst = 20;                       ///< client messages in a burst (1008 beyond)
  std::chrono::milliseconds ping_interval{30'000}; ///< keep-alive ping period
  std::chrono::milliseconds pong_timeout{10'000};  ///< a ping unanswered this long: disconnect
  std::chrono::milliseconds close_timeout{5'000};  ///< closing handshake (and opening 101 write)
  std::chrono::milliseconds hub_timeout{5'000};    ///< bound of a subscription request to the hub
};

/// The metrics of the WebSocket edge, declared in one place.
struct ws_metrics {
  /// Registers (or finds) the WebSocket metrics in `reg`.
  explicit ws_metrics(runtime::metrics::registry& reg);

  runtime::metrics::gauge& clients;     ///< klerno_ws_clients: open WebSocket connections
  runtime::metrics::counter& delivered; ///< klerno_ws_alerts_delivered_total: alert frames sent
  runtime::metrics::counter& dropped;   ///< klerno_ws_alerts_dropped_total: slow-consumer drops
};

class ws_sink;

/// One client of `WS /ws/alerts` (see the protocol above).
class ws_session : public upgraded_connection, public std::enable_shared_from_this<ws_session> {
public:
  using clock = std::chrono::steady_clock;

  ws_session(ws_handoff h, std::shared_ptr<const ws_settings> cfg,
             std::shared_ptr<ws_metrics> metrics);
  ~ws_session() override;

  /// Answers the handshake, then serves the client (io thread).
  void start();

  void drain() override;
  void close() override;

  /// Queues `a` for the client if it watches its sender or receiver (io thread; the hub's sink
  /// posts here).
  void on_alert(const actors::alerts::alert_ptr& a);

  /// Returns the subscriber id of this session at the hub.
  actors::alerts::subscriber_id id() const noexcept {
    return id_;
  }

private:
  /// A frame waiting to be written: an alert (rendered once for every client of the thread) or
  /// an answer to the client.
  struct frame {
    std::shared_ptr<const std::string> text;
    bool alert = false;
  };

  void on_accept(boost::system::error_code ec);
  void do_read();
  void on_read(boost::system::error_code ec);
  void on_message(std::string_view text);
  bool take_token();
  void send_error(std::string_view code, std::string_view message);
  void bad_message(std::string_view code, std::string_view message);
  void subscribe(bool answer);
  void push(frame f);
  void do_write();
  void on_write(boost::system::error_code ec);
  void ping();
  void begin_close(boost::beast::websocket::close_code code, std::string_view reason, bool drop);
  void maybe_close();
  void drop_queue();
  void arm(clock::time_point deadline);
  void on_timer(boost::system::error_code ec);
  void finish(std::string_view why, bool defer_closed = false);

  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  request req_; ///< the handshake, until it is answered
  std::string request_id_;
  boost::asio::ip::tcp::endpoint peer_;
  actor_bridge* bridge_;
  std::chrono::milliseconds write_timeout_;
  std::function<void()> closed_;
  std::shared_ptr<const ws_settings> cfg_;
  std::shared_ptr<ws_metrics> metrics_;
  actors::alerts::subscriber_id id_;
  std::shared_ptr<ws_sink> sink_;
  boost::beast::flat_buffer in_;
  std::deque<frame> queue_;
  frame current_;                           ///< the frame being written
  std::unordered_set<std::string> watched_; ///< the watch set in effect (filters late alerts)
  caf::actor_addr hub_;                     ///< the hub instance subscribed to
  bool subscribed_ = false;                 ///< a subscription was sent (unsubscribe at the end)
  boost::asio::steady_timer timer_;
  clock::time_point timer_expiry_ = clock::time_point::max();
  clock::time_point next_ping_ = clock::time_point::max();
  clock::time_point pong_deadline_ = clock::time_point::max();
  clock::time_point write_deadline_ = clock::time_point::max();
  clock::time_point close_deadline_ = clock::time_point::max();
  std::optional<boost::beast::websocket::close_reason> close_; ///< set once closing
  double tokens_;                                              ///< message rate limiter
  clock::time_point tokens_at_;
  std::size_t bad_ = 0; ///< invalid messages so far
  bool open_ = false;   ///< the handshake succeeded
  bool writing_ = false;
  bool pinging_ = false;
  bool close_sent_ = false; ///< async_close started
  bool finished_ = false;
};

/// Adds `GET /ws/alerts` (API key; the upgrade to the alerts WebSocket; a request that is not a
/// WebSocket handshake gets a 426 envelope, a malformed handshake a 400 envelope) to `r`.
/// `metrics` may be null.
void add_alerts_ws_route(router& r, ws_settings cfg, std::shared_ptr<ws_metrics> metrics);

/// Returns the endpoint behind `GET /ws/alerts` (for tests that drive sessions directly).
std::shared_ptr<ws_endpoint> make_alerts_endpoint(ws_settings cfg,
                                                  std::shared_ptr<ws_metrics> metrics);

} // namespace klerno::http
