#pragma once

// What a route handler sees and how it answers.
//
// Handlers run on the io thread that read the request and must not block: they either answer at
// once (probes read a snapshot) or hand the request to an actor through the thread's
// `actor_bridge` and answer from the response handler, which CAF runs on the same io thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "http/response.hpp"

namespace klerno::http {

class actor_bridge;

/// One piece of a streamed body.
struct body_piece {
  std::string data;    ///< bytes to send (may be empty)
  bool last = false;   ///< no piece follows
  bool failed = false; ///< the source failed: the connection closes without finishing the body
};

/// Produces a streamed body, sent with chunked transfer encoding. The session asks for the next
/// piece only once the previous one is written, so a response of any size needs the memory of
/// one piece.
class body_source {
public:
  virtual ~body_source() = default;

  /// Produces the next piece: calls `emit` exactly once, now or later, on the io thread that
  /// asked (the bridge's response handlers run there). A source that does not emit within
  /// HTTP_REQUEST_TIMEOUT gets its connection closed.
  virtual void next(std::function<void(body_piece)> emit) = 0;
};

/// Receives the answer for request number `seq` of a connection (implemented by the session).
class reply_sink {
public:
  virtual ~reply_sink() = default;

  /// Delivers the response of request `seq`; may be called from any thread.
  virtual void deliver(uint64_t seq, response res) = 0;

  /// Delivers the head of a streamed response whose body comes from `source`.
  virtual void deliver_stream(uint64_t seq, response head, std::shared_ptr<body_source> source) = 0;
};

/// Completes one request. Copyable; the first call wins and later calls are ignored. If every
/// copy is destroyed without a call (a handler bug, or an actor that vanished with the request),
/// the client gets a 500 envelope instead of waiting forever.
class responder {
public:
  responder(std::shared_ptr<reply_sink> sink, uint64_t seq, std::string request_id);

  /// Answers the request with `res`.
  void operator()(response res) const;

  /// Answers the request with the JSON error envelope.
  void error(status s, std::string_view message, std::string_view details_json = "{}") const;

  /// Answers the request with `head` (status and headers; its body is ignored) and a body
  /// streamed from `source`.
  void stream(response head, std::shared_ptr<body_source> source) const;

  /// Returns the request id (for envelopes built by the handler).
  const std::string& request_id() const noexcept;

private:
  struct state;
  std::shared_ptr<state> state_;
};

/// Path parameters of a matched route, e.g. {"tx_id", "abc"} for /transactions/{tx_id}.
using route_params = std::vector<std::pair<std::string, std::string>>;

/// Everything a handler needs about one request. Valid only during the handler call: a handler
/// that answers later copies what it needs (the `responder` itself is copyable).
struct request_context {
  const request& req;                         ///< the parsed request (body included)
  std::string_view request_id;                ///< echoed or generated id (also in the response)
  std::string_view path;                      ///< target without the query string
  std::string_view query;                     ///< query string without '?', possibly empty
  const route_params& params;                 ///< values of the route's {placeholders}
  actor_bridge& bridge;                       ///< this io thread's gateway into the actor system
  const boost::asio::ip::tcp::endpoint& peer; ///< remote address of the connection
  std::size_t worker = 0;                     ///< index of the io thread (per-thread services)
  /// The caller's API key scope (set for authenticated API routes): a short id derived from the
  /// API key that authenticated the request, directly or through a session.
  std::string_view scope;
  /// Read from the primary, not a replica: the answer fills a cache entry keyed by generations
  /// read before it, so it must include every write acknowledged before.
  bool fresh_reads = false;

  /// Returns the value of path parameter `name`, or an empty view.
  std::string_view param(std::string_view name) const noexcept;
};

/// A route handler: answer through `done` exactly once, now or later.
using handler = std::function<void(request_context& ctx, responder done)>;

} // namespace klerno::http
