#pragma once

// One HTTP/1.1 connection: keep-alive, pipelining (responses leave in request order, at most
// HTTP_PIPELINE_LIMIT requests queued), header and body limits (431 / 413), and deadlines:
// - idle:  no byte of a next request within HTTP_IDLE_TIMEOUT -> the connection is closed;
// - read:  a request (header and body) not complete within HTTP_READ_TIMEOUT of its first byte
//          -> 408 and close (slowloris cannot hold a connection);
// - write: a response not written within HTTP_WRITE_TIMEOUT -> close.
// The deadlines share one lazily re-armed timer, so a request costs no timer system call.
//
// A session lives on one io thread; `deliver` (the reply sink) may be called from any thread and
// hops onto it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>

#include "http/handler.hpp"
#include "http/router.hpp"

namespace klerno::http {

class io_worker;
class server;
class upgraded_connection;

/// One client connection.
class session : public reply_sink, public std::enable_shared_from_this<session> {
public:
  using clock = std::chrono::steady_clock;

  session(boost::asio::ip::tcp::socket socket, server& srv, io_worker& worker,
          const router& routes);
  ~session() override;

  /// Starts reading (io thread).
  void start();

  /// Finishes the requests already started, then closes (io thread).
  void drain();

  /// Closes the connection at once (io thread).
  void close();

  /// Delivers the response of request `seq` (any thread).
  void deliver(uint64_t seq, response res) override;

  /// Delivers the head of a streamed response of request `seq` (any thread).
  void deliver_stream(uint64_t seq, response head, std::shared_ptr<body_source> source) override;

private:
  /// A request that was read and waits for (or holds) its response.
  struct slot {
    uint64_t seq = 0;
    bool ready = false;
    bool close_after = false; ///< the connection closes once this response is written
    bool head = false;        ///< HEAD request: send headers only
    bool keep_alive = true;   ///< what the client asked for
    verb method = verb::unknown;
    const std::string* route_label = nullptr;
    std::string request_id;
    std::string path; ///< for the access log (no query string)
    clock::time_point started;
    response res;
    // Streamed responses only:
    std::shared_ptr<body_source> source; ///< produces the body
    std::unique_ptr<boost::beast::http::response<boost::beast::http::empty_body>> head_msg;
    std::unique_ptr<boost::beast::http::response_serializer<boost::beast::http::empty_body>>
      head_sr;
    std::string piece;        ///< the piece being written
    std::size_t streamed = 0; ///< bytes written so far
  };

  void do_read();
  void on_first_bytes(boost::system::error_code ec, std::size_t n);
  void start_request();
  void on_header(boost::system::error_code ec);
  void on_body(boost::system::error_code ec);
  void on_read_error(boost::system::error_code ec);
  void dispatch_request();
  /// Runs a route handler, answering 500 when it throws.
  static void run_handler_now(const route& r, request_context& ctx, const responder& done);
  /// Hands an authenticated request to the server's request guard, which runs its handler.
  void guard_request(slot& s, request req);
  /// Hands the connection to the route's WebSocket endpoint (or refuses the upgrade).
  void upgrade(slot& s, request req);
  std::optional<response> precheck(const request& req, std::string_view path) const;
  void respond_now(slot& s, response res);
  slot& push_slot(verb method, std::string request_id, std::string path);
  void reject(status st, std::string_view message, std::string_view details = "{}");
  void on_deliver(uint64_t seq, response res, std::shared_ptr<body_source> source = nullptr);
  void write_stream_head(slot& s);
  void pull_piece();
  void on_piece(uint64_t seq, body_piece p);
  void finish_front(std::size_t bytes);
  void finalize(slot& s);
  void maybe_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  /// Ends a write: clears its deadline; false (closing on error) when nothing may follow.
  bool write_completed(boost::system::error_code ec);
  void record(const slot& s, std::size_t bytes);
  void linger();
  void on_linger(boost::system::error_code ec, std::size_t n);
  void arm(clock::time_point deadline);
  void on_timer(boost::system::error_code ec);
  bool mid_request() const noexcept;

  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::endpoint peer_;
  server& srv_;
  io_worker& worker_;
  const router& routes_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::asio::steady_timer timer_;
  clock::time_point timer_expiry_ = clock::time_point::max();
  clock::time_point idle_deadline_ = clock::time_point::max();
  clock::time_point read_deadline_ = clock::time_point::max();
  clock::time_point write_deadline_ = clock::time_point::max();
  std::deque<slot> slots_;
  uint64_t next_seq_ = 0;
  route_match match_;                   ///< route of the request being read
  std::optional<response> early_error_; ///< 404/405/401 decided from its header
  std::size_t body_limit_ = 0;          ///< body limit of the request being read
  std::string request_id_;              ///< id of the request being read
  bool reading_ = false;                ///< a read operation is pending
  bool idle_wait_ = false;              ///< ...and it waits for the first byte of a request
  bool read_stopped_ = false;           ///< no further requests are read on this connection
  bool writing_ = false;
  bool draining_ = false;
  bool read_timed_out_ = false; ///< the read deadline cancelled the pending read
  bool lingering_ = false;      ///< response sent, discarding input before closing
  std::size_t lingered_ = 0;    ///< bytes discarded while lingering
  bool closed_ = false;
  std::weak_ptr<upgraded_connection> ws_; ///< after an upgrade: the WebSocket side
};

} // namespace klerno::http
