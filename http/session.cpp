#include "http/session.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <limits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include "config/secret.hpp"
#include "http/api/query.hpp"
#include "http/io_worker.hpp"
#include "http/request_id.hpp"
#include "http/server.hpp"
#include "http/ws_session.hpp"
#include "runtime/logging.hpp"
#include "runtime/text.hpp"

namespace klerno::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

/// Route label of requests that matched no route (keeps the label set bounded).
const std::string unmatched_route = "unmatched";

constexpr std::string_view request_id_header = "X-Request-ID";
constexpr std::string_view api_key_header = "X-API-Key";

/// Margin past HTTP_REQUEST_TIMEOUT after which the session itself answers an unanswered request.
constexpr std::chrono::seconds answer_grace{1};

/// Bytes a lingering close reads and discards at most before closing.
constexpr std::size_t linger_max_bytes = 1024 * 1024;

std::string_view method_label(verb v) noexcept {
  switch (v) {
    case verb::get:
      return "GET";
    case verb::head:
      return "HEAD";
    case verb::post:
      return "POST";
    case verb::put:
      return "PUT";
    case verb::delete_:
      return "DELETE";
    case verb::patch:
      return "PATCH";
    case verb::options:
      return "OPTIONS";
    default:
      return "OTHER";
  }
}

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == beast::http::make_error_code(beast::http::error::bad_target).category();
}

std::string endpoint_string(const tcp::endpoint& ep) {
  auto addr = ep.address().to_string();
  if (ep.address().is_v6()) {
    return fmt::format("[{}]:{}", addr, ep.port());
  }
  return fmt::format("{}:{}", addr, ep.port());
}

} // namespace

std::string_view bearer_token(const request& req) {
  auto h = req[beast::http::field::authorization];
  std::string_view v{h.data(), h.size()};
  constexpr std::string_view scheme = "bearer ";
  if (v.size() <= scheme.size()) {
    return {};
  }
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) != scheme[i]) {
      return {};
    }
  }
  v.remove_prefix(scheme.size());
  while (!v.empty() && v.front() == ' ') {
    v.remove_prefix(1);
  }
  return v;
}

session::session(tcp::socket socket, server& srv, io_worker& worker, const router& routes)
    : socket_(std::move(socket)),
      srv_(srv),
      worker_(worker),
      routes_(routes),
      timer_(worker.context()) {
  boost::system::error_code ec;
  peer_ = socket_.remote_endpoint(ec);
  socket_.set_option(tcp::no_delay{true}, ec);
  srv_.connection_opened();
}

session::~session() {
  close();
}

void session::start() {
  worker_.add(this);
  if (srv_.open_connections() > srv_.settings().max_connections) {
    srv_.metrics().rejected_limit.inc();
    request_id_ = make_request_id();
    reject(status::service_unavailable, "too many open connections",
           fmt::format("{{\"limit\":{}}}", srv_.settings().max_connections));
    return;
  }
  if (srv_.draining()) {
    draining_ = true;
  }
  do_read();
}

bool session::mid_request() const noexcept {
  return reading_ && !idle_wait_;
}

// -- reading ------------------------------------------------------------------

void session::do_read() {
  if (closed_ || reading_ || read_stopped_ || lingering_) {
    return;
  }
  if (slots_.size() >= srv_.settings().pipeline_limit) {
    return; // resumed by on_write once the queue shrinks
  }
  if (draining_ && buffer_.size() == 0) {
    // Draining: requests already (partly) received are served, new ones are not read.
    read_stopped_ = true;
    if (slots_.empty() && !writing_) {
      close();
    }
    return;
  }
  reading_ = true;
  if (buffer_.size() > 0) {
    start_request();
    return;
  }
  // Wait for the first byte of the next request under the idle deadline; the bytes land in
  // buffer_, where the parser finds them, so this costs no extra system call.
  idle_wait_ = true;
  idle_deadline_ = clock::now() + srv_.settings().idle_timeout;
  arm(idle_deadline_);
  socket_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            self->on_first_bytes(ec, n);
                          });
}

void session::on_first_bytes(boost::system::error_code ec, std::size_t n) {
  idle_wait_ = false;
  idle_deadline_ = clock::time_point::max();
  if (closed_) {
    return;
  }
  if (lingering_) {
    reading_ = false;
    buffer_.consume(buffer_.size());
    on_linger(ec, n);
    return;
  }
  if (ec) {
    // The client closed (or reset) between requests: answer what is queued, then close.
    reading_ = false;
    read_stopped_ = true;
    if (slots_.empty() && !writing_) {
      close();
    }
    return;
  }
  buffer_.commit(n);
  if (read_stopped_) {
    // A response with `Connection: close` is on its way: nothing after it is processed
    // (RFC 9112 9.6). Discard; the lingering close reads and drops the rest.
    reading_ = false;
    buffer_.consume(buffer_.size());
    return;
  }
  start_request();
}

void session::start_request() {
  read_deadline_ = clock::now() + srv_.settings().read_timeout;
  arm(read_deadline_);
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
    std::min<std::size_t>(srv_.settings().max_header_bytes, UINT32_MAX)));
  // The body limit depends on the route; it is checked against Content-Length and set once the
  // header is known. (Not boost::none: Beast 1.74 compares a declared length against the empty
  // optional and refuses every body.)
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  beast::http::async_read_header(socket_, buffer_, *parser_,
                                 [self = shared_from_this()](boost::system::error_code ec,
                                                             std::size_t) { self->on_header(ec); });
}

void session::on_header(boost::system::error_code ec) {
  if (closed_) {
    return;
  }
  if (ec || read_timed_out_) {
    on_read_error(ec);
    return;
  }
  auto& req = parser_->get();
  auto rid = req[request_id_header];
  request_id_ = is_sane_request_id(rid) ? std::string{rid} : make_request_id();
  auto target = req.target();
  auto path = split_target({target.data(), target.size()}).first;
  match_ = routes_.find(req.method(), path);
  early_error_ = precheck(req, path);
  body_limit_ = srv_.settings().max_body_bytes;
  if (match_.target != nullptr && match_.target->options.max_body_bytes) {
    body_limit_ = *match_.target->options.max_body_bytes;
  }
  if (auto len = parser_->content_length(); len && *len > body_limit_) {
    reading_ = false;
    read_deadline_ = clock::time_point::max();
    reject(status::payload_too_large,
           fmt::format("request body of {} bytes exceeds the limit of {} bytes", *len, body_limit_),
           fmt::format("{{\"limit_bytes\":{}}}", body_limit_));
    return;
  }
  parser_->body_limit(static_cast<std::uint64_t>(body_limit_));
  if (parser_->is_done()) {
    dispatch_request();
    return;
  }
  bool expects_continue = beast::iequals(req[beast::http::field::expect], "100-continue");
  if (expects_continue && early_error_) {
    // Refused anyway (404, 405, 401): answer now instead of inviting the body, and close.
    reading_ = false;
    read_deadline_ = clock::time_point::max();
    auto& s = push_slot(req.method(), request_id_, std::string{path});
    s.close_after = true;
    read_stopped_ = true;
    auto res = std::move(*early_error_);
    early_error_.reset();
    respond_now(s, std::move(res));
    return;
  }
  // The interim 100 may only go out when no earlier response is still owed (they leave in
  // order); otherwise the client sends its body after its own wait, which is still served.
  if (expects_continue && !writing_ && slots_.empty()) {
    // The client waits for our go-ahead before sending the body.
    static const std::string continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    writing_ = true;
    write_deadline_ = clock::now() + srv_.settings().write_timeout;
    arm(write_deadline_);
    net::async_write(socket_, net::buffer(continue_line),
                     [self = shared_from_this()](boost::system::error_code wec, std::size_t) {
                       self->writing_ = false;
                       self->write_deadline_ = clock::time_point::max();
                       if (wec) {
                         self->close();
                         return;
                       }
                       self->maybe_write();
                     });
  }
  beast::http::async_read(socket_, buffer_, *parser_,
                          [self = shared_from_this()](boost::system::error_code bec, std::size_t) {
                            self->on_body(bec);
                          });
}

void session::on_body(boost::system::error_code ec) {
  if (closed_) {
    return;
  }
  if (ec || read_timed_out_) {
    on_read_error(ec);
    return;
  }
  dispatch_request();
}

void session::on_read_error(boost::system::error_code ec) {
  reading_ = false;
  read_deadline_ = clock::time_point::max();
  if (closed_) {
    return;
  }
  if (read_timed_out_) {
    srv_.metrics().read_timeouts.inc();
    if (request_id_.empty()) {
      request_id_ = make_request_id();
    }
    reject(status::request_timeout,
           "the request was not received completely within the read timeout",
           fmt::format("{{\"timeout_ms\":{}}}", srv_.settings().read_timeout.count()));
    return;
  }
  if (request_id_.empty()) {
    request_id_ = make_request_id();
  }
  if (ec == beast::http::error::header_limit) {
    // Without a complete request line the target itself is too long (414), else the fields (431).
    // The parser may have consumed the request line already (then the target is set); if it has
    // not, the line is complete when a CRLF shows up within the limit.
    auto limit = srv_.settings().max_header_bytes;
    auto data = static_cast<const char*>(buffer_.data().data());
    std::string_view head{data, std::min(buffer_.size(), limit)};
    bool line_complete =
      (parser_ && !parser_->get().target().empty()) || head.find("\r\n") != std::string_view::npos;
    if (!line_complete) {
      reject(status::uri_too_long, "the request line exceeds the header size limit",
             fmt::format("{{\"limit_bytes\":{}}}", limit));
    } else {
      reject(status::request_header_fields_too_large,
             fmt::format("request header exceeds the limit of {} bytes", limit),
             fmt::format("{{\"limit_bytes\":{}}}", limit));
    }
    return;
  }
  if (ec == beast::http::error::body_limit) {
    reject(status::payload_too_large, "request body exceeds the size limit",
           fmt::format("{{\"limit_bytes\":{}}}", body_limit_));
    return;
  }
  if (is_parse_error(ec) && ec != beast::http::error::end_of_stream
      && ec != beast::http::error::partial_message) {
    std::string details = "{\"reason\":";
    runtime::append_json_string(details, ec.message());
    details += '}';
    reject(status::bad_request, "malformed HTTP request", details);
    return;
  }
  // End of stream mid-request, connection reset, or cancelled: nothing to answer.
  read_stopped_ = true;
  if (slots_.empty() && !writing_) {
    close();
  }
}

// -- requests -----------------------------------------------------------------

session::slot& session::push_slot(verb method, std::string request_id, std::string path) {
  slots_.emplace_back();
  auto& s = slots_.back();
  s.seq = next_seq_++;
  s.method = method;
  s.request_id = std::move(request_id);
  s.path = std::move(path);
  s.route_label = &unmatched_route;
  s.started = clock::now();
  srv_.metrics().in_flight.inc();
  // Backstop: handlers answer within HTTP_REQUEST_TIMEOUT through CAF's request timeouts; a
  // request still unanswered a second later is answered 504 here.
  arm(s.started + srv_.settings().request_timeout + answer_grace);
  return s;
}

void session::reject(status st, std::string_view message, std::string_view details) {
  read_stopped_ = true;
  verb method = verb::unknown;
  std::string path;
  if (parser_) {
    method = parser_->get().method();
    auto target = parser_->get().target();
    path = std::string{split_target({target.data(), target.size()}).first};
  }
  auto& s = push_slot(method, request_id_, std::move(path));
  s.close_after = true;
  respond_now(s, make_error(st, message, s.request_id, details));
}

void session::respond_now(slot& s, response res) {
  on_deliver(s.seq, std::move(res));
}

std::optional<response> session::precheck(const request& req, std::string_view path) const {
  switch (match_.result) {
    case route_match::kind::not_found: {
      std::string details = "{\"path\":";
      runtime::append_json_string(details, path);
      details += '}';
      return make_error(status::not_found, fmt::format("no route for {}", path), request_id_,
                        details);
    }
    case route_match::kind::method_not_allowed: {
      std::string details = "{\"allowed\":";
      runtime::append_json_string(details, match_.allowed);
      details += '}';
      auto res =
        make_error(status::method_not_allowed,
                   fmt::format("method {} is not allowed on {}", req.method_string(), path),
                   request_id_, details);
      res.set(beast::http::field::allow, match_.allowed);
      return res;
    }
    case route_match::kind::found:
      break;
  }
  if (match_.target->options.auth == access::api_key) {
    std::string_view key = req[api_key_header];
    std::optional<std::string> query_key;
    if (key.empty() && match_.target->websocket) {
      // Browsers cannot set headers on a WebSocket handshake: these routes take ?api_key= too.
      query_key = api::query_param(split_target(req.target()).second, "api_key");
      key = query_key ? std::string_view{*query_key} : key;
    }
    // Without an API key, a session token will do where the guard checks sessions (not on
    // WebSocket routes, which are not guarded); the guard resolves it before the handler runs.
    bool bearer = key.empty() && !match_.target->websocket && srv_.guard() != nullptr
                  && srv_.guard()->accepts_bearer() && !bearer_token(req).empty();
    const auto& expected = srv_.auth().api_key;
    if (!bearer
        && (expected.empty() || key.empty()
            || !config::constant_time_equals(key, expected.reveal()))) {
      bool sessions = srv_.guard() != nullptr && srv_.guard()->accepts_bearer();
      return make_error(status::unauthorized,
                        !key.empty() ? "invalid API key"
                        : sessions   ? "missing credentials: send X-API-Key or Authorization: "
                                       "Bearer <session token>"
                                     : "missing X-API-Key header",
                        request_id_, "{\"header\":\"X-API-Key\"}");
    }
  }
  return std::nullopt;
}

void session::dispatch_request() {
  reading_ = false;
  read_deadline_ = clock::time_point::max();
  auto req = parser_->release();
  parser_.reset();
  auto target = req.target();
  auto [path, query] = split_target({target.data(), target.size()});
  auto& s = push_slot(req.method(), request_id_, std::string{path});
  s.head = req.method() == verb::head;
  s.keep_alive = req.keep_alive();
  if (!s.keep_alive) {
    read_stopped_ = true;
  }
  if (match_.target != nullptr) {
    s.route_label = &match_.target->pattern;
  }
  if (early_error_) {
    auto res = std::move(*early_error_);
    early_error_.reset();
    respond_now(s, std::move(res));
  } else if (match_.target->websocket && is_websocket_handshake(req)) {
    upgrade(s, std::move(req));
  } else if (match_.target->options.auth == access::api_key && srv_.guard() != nullptr) {
    guard_request(s, std::move(req));
  } else {
    request_context ctx{req,   s.request_id,    path, query, match_.params, worker_.bridge(),
                        peer_, worker_.index(), {},   false};
    run_handler_now(*match_.target, ctx, responder{shared_from_this(), s.seq, s.request_id});
  }
  request_id_.clear();
  do_read(); // pipelining: read the next request while this one is being answered
}

void session::run_handler_now(const route& r, request_context& ctx, const responder& done) {
  try {
    r.fn(ctx, done);
  } catch (const std::exception& e) {
    runtime::logging::get("http")->error("handler of {} failed: {} (request_id={})", r.pattern,
                                         e.what(), done.request_id());
    done.error(status::internal_server_error, "internal error");
  } catch (...) {
    runtime::logging::get("http")->error("handler of {} failed (request_id={})", r.pattern,
                                         done.request_id());
    done.error(status::internal_server_error, "internal error");
  }
}

void session::guard_request(slot& s, request req) {
  // The request outlives this call: the guard may run the handler after a Redis round trip.
  struct pending {
    request req;
    std::string request_id;
    const route* target;
    route_params params;
    tcp::endpoint peer;
    actor_bridge* bridge;
    std::size_t worker;
  };
  auto p = std::make_shared<pending>(pending{std::move(req), s.request_id, match_.target,
                                             std::move(match_.params), peer_, &worker_.bridge(),
                                             worker_.index()});
  auto target = p->req.target();
  auto [path, query] = split_target({target.data(), target.size()});
  guarded_request g;
  g.req = &p->req;
  g.target = p->target;
  g.path = path;
  g.query = query;
  g.params = &p->params;
  g.request_id = p->request_id;
  g.peer = p->peer;
  g.worker = p->worker;
  std::string_view key = p->req[api_key_header];
  if (key.empty()) {
    g.cred = credential::bearer;
    g.bearer_token = bearer_token(p->req);
  }
  responder done{shared_from_this(), s.seq, s.request_id};
  run_handler run = [p, path, query](responder d, run_options opts) {
    request_context ctx{p->req,     p->request_id, path,      query, p->params,
                        *p->bridge, p->peer,       p->worker, {},    false};
    ctx.scope = opts.scope;
    ctx.fresh_reads = opts.fresh_reads;
    run_handler_now(*p->target, ctx, d);
  };
  try {
    srv_.guard()->admit(g, done, std::move(run));
  } catch (const std::exception& e) {
    runtime::logging::get("http")->error("request guard of {} failed: {} (request_id={})",
                                         p->target->pattern, e.what(), done.request_id());
    done.error(status::internal_server_error, "internal error");
  }
}

void session::upgrade(slot& s, request req) {
  read_stopped_ = true;
  if (slots_.size() > 1 || writing_ || draining_) {
    // The 101 must be the next thing the client reads; a draining node takes no new streams.
    s.close_after = true;
    respond_now(s, make_error(draining_ ? status::service_unavailable : status::bad_request,
                              "cannot switch protocols behind pipelined requests or while "
                              "shutting down",
                              s.request_id));
    return;
  }
  s.res.result(status::switching_protocols);
  record(s, 0);
  srv_.metrics().in_flight.dec();
  // The WebSocket side reports the end of the connection; this session then closes (accounting).
  auto ended = [self = shared_from_this()] {
    self->close();
  };
  ws_handoff h{std::move(socket_), std::move(req),
               s.request_id,       peer_,
               &worker_.bridge(),  srv_.settings().write_timeout,
               std::move(ended)};
  slots_.clear();
  // From here on the WebSocket side owns the socket and its deadlines; this session stays
  // registered (drain, close, the connection count) until it reports the end.
  timer_.cancel();
  timer_expiry_ = idle_deadline_ = read_deadline_ = write_deadline_ = clock::time_point::max();
  ws_ = match_.target->websocket->accept(std::move(h));
}

// -- responses ----------------------------------------------------------------

void session::deliver(uint64_t seq, response res) {
  net::dispatch(socket_.get_executor(),
                [self = shared_from_this(), seq, res = std::move(res)]() mutable {
                  self->on_deliver(seq, std::move(res));
                });
}

void session::deliver_stream(uint64_t seq, response head, std::shared_ptr<body_source> source) {
  net::dispatch(socket_.get_executor(), [self = shared_from_this(), seq, head = std::move(head),
                                         source = std::move(source)]() mutable {
    self->on_deliver(seq, std::move(head), std::move(source));
  });
}

void session::on_deliver(uint64_t seq, response res, std::shared_ptr<body_source> source) {
  if (closed_ || slots_.empty() || seq < slots_.front().seq) {
    return;
  }
  auto index = static_cast<std::size_t>(seq - slots_.front().seq);
  if (index >= slots_.size()) {
    return;
  }
  auto& s = slots_[index];
  if (s.ready) {
    return;
  }
  s.res = std::move(res);
  s.source = std::move(source);
  try {
    finalize(s);
  } catch (const std::exception& e) {
    // E.g. a body on a 204/304: a handler bug must not take the connection (or the thread) down.
    runtime::logging::get("http")->error("invalid response for {} (request_id={}): {}", s.path,
                                         s.request_id, e.what());
    s.res = make_error(status::internal_server_error, "internal error", s.request_id);
    s.source.reset();
    finalize(s);
  }
  s.ready = true;
  srv_.metrics().in_flight.dec();
  maybe_write();
}

void session::finalize(slot& s) {
  auto& res = s.res;
  res.version(11);
  res.set(beast::http::field::server, "klerno");
  res.set(beast::http::field::date, worker_.http_date());
  res.set(request_id_header, s.request_id);
  if (s.source) {
    // Streamed: the head goes out on its own, the body follows in chunks.
    s.head_msg = std::make_unique<beast::http::response<beast::http::empty_body>>(res.result(), 11);
    for (const auto& field : res) {
      s.head_msg->set(field.name_string(), field.value());
    }
    s.head_msg->chunked(true);
    return;
  }
  res.prepare_payload();
  if (s.head) {
    res.body().clear(); // Content-Length stays that of the GET response
  }
}

void session::maybe_write() {
  if (closed_ || writing_ || slots_.empty() || !slots_.front().ready) {
    return;
  }
  auto& s = slots_.front();
  bool last_expected = (draining_ || read_stopped_) && slots_.size() == 1 && !mid_request();
  if (s.close_after || !s.keep_alive || last_expected) {
    s.close_after = true;
    read_stopped_ = true; // nothing after a `Connection: close` response is processed
  }
  s.res.keep_alive(!s.close_after);
  writing_ = true;
  write_deadline_ = clock::now() + srv_.settings().write_timeout;
  arm(write_deadline_);
  if (s.source) {
    write_stream_head(s);
    return;
  }
  beast::http::async_write(socket_, s.res,
                           [self = shared_from_this()](boost::system::error_code ec,
                                                       std::size_t n) { self->on_write(ec, n); });
}

bool session::write_completed(boost::system::error_code ec) {
  write_deadline_ = clock::time_point::max();
  if (closed_) {
    return false;
  }
  if (ec) {
    close();
    return false;
  }
  return true;
}

void session::on_write(boost::system::error_code ec, std::size_t bytes) {
  writing_ = false;
  if (write_completed(ec)) {
    finish_front(bytes);
  }
}

void session::finish_front(std::size_t bytes) {
  auto& s = slots_.front();
  record(s, bytes);
  bool close_after = s.close_after;
  slots_.pop_front();
  if (close_after) {
    linger();
    return;
  }
  if (draining_ && slots_.empty() && !mid_request()) {
    close();
    return;
  }
  maybe_write();
  do_read();
}

// -- streamed responses -----------------------------------------------------------

void session::write_stream_head(slot& s) {
  s.head_msg->keep_alive(!s.close_after);
  s.head_sr =
    std::make_unique<beast::http::response_serializer<beast::http::empty_body>>(*s.head_msg);
  beast::http::async_write_header(
    socket_, *s.head_sr, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (!self->write_completed(ec)) {
        return;
      }
      auto& front = self->slots_.front();
      front.streamed += n;
      if (front.head) {
        self->writing_ = false;
        self->finish_front(front.streamed); // HEAD: no body
        return;
      }
      self->pull_piece();
    });
}

void session::pull_piece() {
  auto& s = slots_.front();
  // writing_ stays set while the source works, so no other response overtakes this one; the
  // source gets HTTP_REQUEST_TIMEOUT (+ grace) per piece.
  write_deadline_ = clock::now() + srv_.settings().request_timeout + answer_grace;
  arm(write_deadline_);
  auto seq = s.seq;
  auto source = s.source;
  // post, not dispatch: a source that emits at once must not recurse once per piece.
  source->next([self = shared_from_this(), seq](body_piece p) {
    net::post(self->socket_.get_executor(),
              [self, seq, p = std::move(p)]() mutable { self->on_piece(seq, std::move(p)); });
  });
}

void session::on_piece(uint64_t seq, body_piece p) {
  if (closed_ || slots_.empty() || slots_.front().seq != seq) {
    return;
  }
  auto& s = slots_.front();
  if (p.failed) {
    runtime::logging::get("http")->error(
      "streamed response for {} failed after {} bytes (request_id={}); closing the connection",
      s.path, s.streamed, s.request_id);
    close();
    return;
  }
  s.piece = std::move(p.data);
  bool last = p.last;
  write_deadline_ = clock::now() + srv_.settings().write_timeout;
  arm(write_deadline_);
  auto on_written = [self = shared_from_this(), last](boost::system::error_code ec, std::size_t n) {
    if (!self->write_completed(ec)) {
      return;
    }
    auto& front = self->slots_.front();
    front.streamed += n;
    front.piece.clear();
    if (!last) {
      self->pull_piece();
      return;
    }
    net::async_write(self->socket_, beast::http::make_chunk_last(),
                     [self](boost::system::error_code lec, std::size_t m) {
                       self->writing_ = false;
                       if (self->write_completed(lec)) {
                         self->finish_front(self->slots_.front().streamed + m);
                       }
                     });
  };
  if (s.piece.empty()) {
    on_written({}, 0);
    return;
  }
  net::async_write(socket_, beast::http::make_chunk(net::buffer(s.piece)), std::move(on_written));
}

void session::record(const slot& s, std::size_t bytes) {
  auto elapsed = std::chrono::duration<double>(clock::now() - s.started).count();
  auto code = static_cast<unsigned>(s.res.result_int());
  auto& m = srv_.metrics();
  auto method = method_label(s.method);
  worker_.request_counter(m.requests, method, *s.route_label, code).inc();
  worker_.duration_histogram(m.duration, *s.route_label).observe(elapsed);
  if (!srv_.settings().access_log) {
    return;
  }
  static const auto access = runtime::logging::get_structured("access");
  std::string line;
  line.reserve(200);
  if (runtime::logging::json_enabled()) {
    line += "\"method\":";
    runtime::append_json_string(line, method);
    line += ",\"path\":";
    runtime::append_json_string(line, s.path);
    fmt::format_to(std::back_inserter(line), ",\"status\":{},\"bytes\":{},\"duration_ms\":{:.3f}",
                   code, bytes, elapsed * 1000);
    line += ",\"request_id\":";
    runtime::append_json_string(line, s.request_id);
    line += ",\"peer\":";
    runtime::append_json_string(line, endpoint_string(peer_));
  } else {
    std::string path;
    runtime::append_json_string(path, s.path); // quoted and escaped: no log injection
    fmt::format_to(std::back_inserter(line), "{} {} {} {}B {:.3f}ms request_id={} peer={}", method,
                   path, code, bytes, elapsed * 1000, s.request_id, endpoint_string(peer_));
  }
  access->info(line);
}

// -- deadlines and closing ----------------------------------------------------

void session::arm(clock::time_point deadline) {
  if (closed_ || deadline >= timer_expiry_) {
    return; // the timer fires earlier and re-arms itself for the remaining deadlines
  }
  timer_expiry_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait(
    [self = shared_from_this()](boost::system::error_code ec) { self->on_timer(ec); });
}

void session::on_timer(boost::system::error_code ec) {
  if (ec == net::error::operation_aborted || closed_) {
    return;
  }
  timer_expiry_ = clock::time_point::max();
  auto now = clock::now();
  if (write_deadline_ <= now) {
    srv_.metrics().write_timeouts.inc();
    close();
    return;
  }
  if (read_deadline_ <= now) {
    read_deadline_ = clock::time_point::max();
    if (lingering_ || writing_ || !mid_request() || read_timed_out_) {
      close();
      return;
    }
    // Stop the pending read; on_read_error answers 408. cancel() alone can miss a composed
    // read that is between two steps, so also shut down the receiving side (every further
    // read ends at once), and keep a hard deadline in case the read still does not return.
    read_timed_out_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_receive, ignored);
    socket_.cancel(ignored);
    read_deadline_ = now + srv_.settings().linger_timeout;
  }
  auto answer_deadline = clock::time_point::max();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].ready) {
      continue;
    }
    auto due = slots_[i].started + srv_.settings().request_timeout + answer_grace;
    if (due <= now) {
      runtime::logging::get("http")->error("no answer for {} within HTTP_REQUEST_TIMEOUT "
                                           "(request_id={}); answering 504",
                                           slots_[i].path, slots_[i].request_id);
      on_deliver(slots_[i].seq,
                 make_error(status::gateway_timeout, "the request was not answered in time",
                            slots_[i].request_id));
      if (closed_) {
        return;
      }
    } else {
      answer_deadline = std::min(answer_deadline, due);
    }
  }
  if (idle_deadline_ <= now) {
    if (idle_wait_ && slots_.empty() && !writing_) {
      srv_.metrics().idle_timeouts.inc();
      close();
      return;
    }
    idle_deadline_ = now + srv_.settings().idle_timeout; // busy answering: not idle
  }
  auto next = std::min({idle_deadline_, read_deadline_, write_deadline_, answer_deadline});
  if (next != clock::time_point::max()) {
    arm(next);
  }
}

void session::drain() {
  if (closed_) {
    return;
  }
  if (auto ws = ws_.lock()) {
    ws->drain(); // closes with 1001, then reports the end
    return;
  }
  draining_ = true;
  if (slots_.empty() && !writing_ && !mid_request()) {
    close();
  }
}

void session::linger() {
  // Stop sending, then read and discard what the client still sends (e.g. the rest of a body we
  // refused) for a short while, so that closing does not reset the connection before the client
  // has read our response.
  lingering_ = true;
  read_stopped_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  read_deadline_ = clock::now() + srv_.settings().linger_timeout;
  arm(read_deadline_);
  if (!reading_) {
    on_linger({}, 0);
  }
  // else: the pending idle read completes into on_first_bytes, which continues here.
}

void session::on_linger(boost::system::error_code ec, std::size_t n) {
  lingered_ += n;
  if (closed_) {
    return;
  }
  if (ec || lingered_ > linger_max_bytes) {
    close();
    return;
  }
  reading_ = true;
  idle_wait_ = true;
  socket_.async_read_some(
    net::buffer(worker_.scratch()),
    [self = shared_from_this()](boost::system::error_code rec, std::size_t m) {
      self->reading_ = false;
      self->idle_wait_ = false;
      self->on_linger(rec, m);
    });
}

void session::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  if (auto ws = ws_.lock()) {
    ws->close();
  }
  boost::system::error_code ignored;
  timer_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  for (const auto& s : slots_) {
    if (!s.ready) {
      srv_.metrics().in_flight.dec();
    }
  }
  slots_.clear();
  worker_.remove(this);
  srv_.connection_closed();
}

} // namespace klerno::http
