#include "http/ws_session.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/error.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "http/api/transaction_json.hpp"
#include "http/bridge.hpp"
#include "runtime/logging.hpp"
#include "runtime/text.hpp"

namespace klerno::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace alerts = actors::alerts;
using tcp = net::ip::tcp;

ws_metrics::ws_metrics(runtime::metrics::registry& reg)
    : clients(
      reg.gauge("klerno_ws_clients", "Open WebSocket connections (WS /ws/alerts).").with({})),
      delivered(
        reg
          .counter("klerno_ws_alerts_delivered_total", "Alert frames written to WebSocket clients.")
          .with({})),
      dropped(reg
                .counter("klerno_ws_alerts_dropped_total",
                         "Alerts dropped for WebSocket clients that read too slowly (their "
                         "connection is closed with 1013).")
                .with({})) {}

bool is_websocket_handshake(const request& req) {
  if (!websocket::is_upgrade(req)) {
    return false;
  }
  auto key = req[beast::http::field::sec_websocket_key];
  // The key is 16 random bytes in base64: 24 characters (Beast refuses longer ones).
  return !req[beast::http::field::host].empty() && !key.empty() && key.size() <= 24
         && req[beast::http::field::sec_websocket_version] == "13";
}

/// Hands the hub's deliveries to a session's io thread; thread-safe. Once shut (the session
/// ended), nothing more is posted: the io_context may be about to go away.
class ws_sink final : public alerts::subscriber_sink {
public:
  ws_sink(tcp::socket::executor_type ex, std::weak_ptr<ws_session> session)
      : ex_(std::move(ex)), session_(std::move(session)) {}

  bool deliver(const alerts::alert_ptr& a) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!open_) {
      return false;
    }
    net::post(ex_, [s = session_, a] {
      if (auto p = s.lock()) {
        p->on_alert(a);
      }
    });
    return true;
  }

  void shut() {
    std::lock_guard<std::mutex> guard{mtx_};
    open_ = false;
  }

private:
  std::mutex mtx_;
  bool open_ = true;
  tcp::socket::executor_type ex_;
  std::weak_ptr<ws_session> session_;
};

namespace {

std::atomic<alerts::subscriber_id> next_subscriber{0};

/// Returns the frame of `a`. The hub hands one alert to every watcher in turn, so the sessions of
/// one io thread see it consecutively: a one-entry cache per thread renders it once per thread,
/// and every queue shares the text.
std::shared_ptr<const std::string> alert_frame(const alerts::alert_ptr& a) {
  thread_local alerts::alert_ptr last;
  thread_local std::shared_ptr<const std::string> text;
  if (a != last) {
    std::string out;
    out.reserve(1024);
    out += "{\"type\":\"alert\",\"transaction\":";
    api::append_json(out, a->tx);
    out += ",\"node\":";
    runtime::append_json_string(out, a->origin_node);
    out += '}';
    text = std::make_shared<const std::string>(std::move(out));
    last = a;
  }
  return text;
}

std::string endpoint_string(const tcp::endpoint& ep) {
  auto addr = ep.address().to_string();
  return ep.address().is_v6() ? fmt::format("[{}]:{}", addr, ep.port())
                              : fmt::format("{}:{}", addr, ep.port());
}

std::shared_ptr<const std::string> error_frame(std::string_view code, std::string_view message) {
  std::string out = "{\"error\":{\"code\":";
  runtime::append_json_string(out, code);
  out += ",\"message\":";
  runtime::append_json_string(out, message);
  out += "}}";
  return std::make_shared<const std::string>(std::move(out));
}

} // namespace

ws_session::ws_session(ws_handoff h, std::shared_ptr<const ws_settings> cfg,
                       std::shared_ptr<ws_metrics> metrics)
    : ws_(std::move(h.socket)),
      req_(std::move(h.req)),
      request_id_(std::move(h.request_id)),
      peer_(h.peer),
      bridge_(h.bridge),
      write_timeout_(h.write_timeout),
      closed_(std::move(h.closed)),
      cfg_(std::move(cfg)),
      metrics_(std::move(metrics)),
      id_(++next_subscriber),
      timer_(ws_.get_executor()),
      tokens_(cfg_->message_burst),
      tokens_at_(clock::now()) {}

ws_session::~ws_session() {
  if (sink_) {
    sink_->shut();
  }
  if (!finished_ && sink_ && metrics_) {
    metrics_->clients.dec(); // destroyed with its io_context, without finishing
  }
}

void ws_session::start() {
  sink_ = std::make_shared<ws_sink>(ws_.get_executor(), weak_from_this());
  if (metrics_) {
    metrics_->clients.inc();
  }
  websocket::stream_base::timeout t;
  t.handshake_timeout = cfg_->close_timeout; // Beast applies it to the 101 and to closing
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false; // our own keep-alive: pings on a schedule, a deadline per pong
  ws_.set_option(t);
  ws_.set_option(
    websocket::stream_base::decorator([rid = request_id_](websocket::response_type& r) {
      r.set(beast::http::field::server, "klerno");
      r.set("X-Request-ID", rid);
    }));
  ws_.read_message_max(cfg_->max_message_bytes);
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::pong) {
      pong_deadline_ = clock::time_point::max();
    }
  });
  ws_.async_accept(
    req_, [self = shared_from_this()](boost::system::error_code ec) { self->on_accept(ec); });
}

void ws_session::on_accept(boost::system::error_code ec) {
  req_ = {};
  if (finished_) {
    return;
  }
  if (ec) {
    finish(fmt::format("handshake failed: {}", ec.message()));
    return;
  }
  open_ = true;
  ws_.text(true);
  runtime::logging::get("http")->debug("ws {}: open (request_id={}, subscriber {})",
                                       endpoint_string(peer_), request_id_, id_);
  next_ping_ = clock::now() + cfg_->ping_interval;
  arm(next_ping_);
  do_read();
  if (close_) {
    maybe_close(); // drained during the handshake
  }
}

// -- reading ------------------------------------------------------------------------------------

void ws_session::do_read() {
  ws_.async_read(in_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->on_read(ec);
  });
}

void ws_session::on_read(boost::system::error_code ec) {
  if (finished_) {
    return;
  }
  if (ec) {
    // websocket::error::closed: the closing handshake completed (either side began it).
    finish(ec == websocket::error::closed ? std::string{"closed"} : ec.message());
    return;
  }
  if (!close_) {
    if (!take_token()) {
      send_error("policy_violation", "too many messages; closing");
      begin_close(websocket::close_code::policy_error, "too many messages", false);
    } else if (!ws_.got_text()) {
      bad_message("bad_request", "messages must be text frames with JSON");
    } else {
      auto data = in_.data();
      on_message({static_cast<const char*>(data.data()), data.size()});
    }
  }
  in_.consume(in_.size());
  do_read(); // also while closing: the client's close frame ends the read loop
}

bool ws_session::take_token() {
  auto now = clock::now();
  auto elapsed = std::chrono::duration<double>(now - tokens_at_).count();
  tokens_at_ = now;
  tokens_ = std::min(cfg_->message_burst, tokens_ + elapsed * cfg_->message_rate);
  if (tokens_ < 1) {
    return false;
  }
  tokens_ -= 1;
  return true;
}

void ws_session::on_message(std::string_view text) {
  // A valid message nests two levels; deeper values are discarded while parsing (no deep
  // documents are ever built), which leaves an invalid message invalid.
  auto doc = nlohmann::json::parse(
    text.begin(), text.end(),
    [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) { return depth <= 2; }, false);
  static constexpr std::string_view shape = "expected {\"watch\":[\"address\",...]}";
  if (doc.is_discarded()) {
    bad_message("bad_request", fmt::format("the message is not JSON; {}", shape));
    return;
  }
  if (!doc.is_object() || doc.size() != 1 || !doc.contains("watch") || !doc["watch"].is_array()) {
    bad_message("bad_request", shape);
    return;
  }
  const auto& list = doc["watch"];
  if (list.size() > cfg_->max_watch) {
    bad_message("too_many_addresses",
                fmt::format("at most {} addresses may be watched", cfg_->max_watch));
    return;
  }
  std::unordered_set<std::string> set;
  set.reserve(list.size());
  for (const auto& v : list) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty()
        || v.get_ref<const std::string&>().size() > cfg_->max_address_bytes) {
      bad_message("bad_request", fmt::format("addresses must be strings of 1 to {} bytes",
                                             cfg_->max_address_bytes));
      return;
    }
    set.insert(v.get<std::string>());
  }
  watched_ = std::move(set);
  subscribe(true);
}

void ws_session::send_error(std::string_view code, std::string_view message) {
  push({error_frame(code, message), false});
}

void ws_session::bad_message(std::string_view code, std::string_view message) {
  send_error(code, message);
  if (++bad_ >= cfg_->max_bad_messages) {
    begin_close(websocket::close_code::policy_error, "too many invalid messages", false);
  }
}

// -- the hub ------------------------------------------------------------------------------------

void ws_session::subscribe(bool answer) {
  if (bridge_ == nullptr) {
    return;
  }
  auto hub = caf::actor_cast<alerts::hub_actor>(bridge_->system().registry().get(alerts::hub_name));
  if (!hub) {
    hub_ = caf::actor_addr{}; // retried at the next keep-alive tick
    if (answer) {
      send_error("unavailable", "the alert hub is not running; the watch set takes effect when "
                                "it is back");
    }
    return;
  }
  hub_ = hub.address();
  subscribed_ = true;
  alerts::subscription sub;
  sub.id = id_;
  sub.sink = sink_;
  sub.watch.assign(watched_.begin(), watched_.end());
  std::weak_ptr<ws_session> weak = shared_from_this();
  bridge_->self()
    ->request(hub, cfg_->hub_timeout, alerts::subscribe_atom::value, std::move(sub))
    .then(
      [weak, answer](uint64_t n) {
        auto self = weak.lock();
        if (!self || self->finished_ || !answer) {
          return;
        }
        self->push({std::make_shared<const std::string>(
                      fmt::format("{{\"type\":\"watching\",\"addresses\":{}}}", n)),
                    false});
      },
      [weak, answer](caf::error&) {
        auto self = weak.lock();
        if (!self || self->finished_) {
          return;
        }
        self->hub_ = caf::actor_addr{}; // retried at the next keep-alive tick
        if (answer) {
          self->send_error("unavailable", "the alert hub did not answer; the watch set takes "
                                          "effect when it does");
        }
      });
}

void ws_session::on_alert(const alerts::alert_ptr& a) {
  if (finished_ || !open_ || close_ || !a) {
    return;
  }
  // The hub filters too; this drops alerts posted before a watch-set change took effect.
  if (watched_.count(a->tx.from_addr) == 0 && watched_.count(a->tx.to_addr) == 0) {
    return;
  }
  push({alert_frame(a), true});
}

// -- writing ------------------------------------------------------------------------------------

void ws_session::push(frame f) {
  if (finished_ || close_sent_) {
    return;
  }
  if (queue_.size() >= cfg_->max_queue) {
    if (f.alert && metrics_) {
      metrics_->dropped.inc();
    }
    runtime::logging::get("http")->warn(
      "ws {}: slow consumer: {} frames wait to be written; dropping them and closing with 1013 "
      "(request_id={})",
      endpoint_string(peer_), queue_.size(), request_id_);
    begin_close(websocket::close_code::try_again_later, "too slow: alerts dropped", true);
    return;
  }
  queue_.push_back(std::move(f));
  do_write();
}

void ws_session::do_write() {
  if (finished_ || !open_ || writing_ || close_sent_) {
    return;
  }
  if (queue_.empty()) {
    if (close_) {
      maybe_close();
    }
    return;
  }
  writing_ = true;
  current_ = std::move(queue_.front());
  queue_.pop_front();
  write_deadline_ = clock::now() + write_timeout_;
  arm(write_deadline_);
  ws_.async_write(
    net::buffer(*current_.text),
    [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_write(ec); });
}

void ws_session::on_write(boost::system::error_code ec) {
  writing_ = false;
  write_deadline_ = clock::time_point::max();
  if (finished_) {
    return;
  }
  if (ec) {
    finish(fmt::format("write failed: {}", ec.message()));
    return;
  }
  if (current_.alert && metrics_) {
    metrics_->delivered.inc();
  }
  current_ = frame{};
  do_write();
}

void ws_session::ping() {
  if (pinging_ || close_ || !open_ || finished_) {
    return;
  }
  pinging_ = true;
  if (pong_deadline_ == clock::time_point::max()) {
    pong_deadline_ = clock::now() + cfg_->pong_timeout;
    arm(pong_deadline_);
  }
  ws_.async_ping({}, [self = shared_from_this()](boost::system::error_code ec) {
    self->pinging_ = false;
    if (self->finished_) {
      return;
    }
    if (ec) {
      self->finish(fmt::format("ping failed: {}", ec.message()));
      return;
    }
    if (self->close_) {
      self->maybe_close();
    }
  });
}

// -- closing ------------------------------------------------------------------------------------

void ws_session::drain() {
  begin_close(websocket::close_code::going_away, "the server is shutting down", false);
}

void ws_session::close() {
  finish("the server stopped", true);
}

void ws_session::begin_close(websocket::close_code code, std::string_view reason, bool drop) {
  if (finished_ || close_) {
    return;
  }
  close_ = websocket::close_reason{code, beast::string_view{reason.data(), reason.size()}};
  if (drop) {
    drop_queue();
  }
  next_ping_ = clock::time_point::max();
  pong_deadline_ = clock::time_point::max();
  // Queued frames (answers, or alerts when draining) are flushed first; all within this bound.
  close_deadline_ = clock::now() + cfg_->close_timeout;
  arm(close_deadline_);
  maybe_close();
}

void ws_session::maybe_close() {
  if (finished_ || !close_ || close_sent_ || !open_ || writing_ || pinging_) {
    return; // resumed when the handshake, the write or the ping completes
  }
  if (!queue_.empty()) {
    do_write();
    return;
  }
  close_sent_ = true;
  ws_.async_close(*close_, [self = shared_from_this()](boost::system::error_code ec) {
    if (!self->finished_ && ec) {
      self->finish(fmt::format("close failed: {}", ec.message()));
    }
    // Otherwise the read loop ends once the client answers the close frame.
  });
}

void ws_session::drop_queue() {
  auto n = static_cast<uint64_t>(
    std::count_if(queue_.begin(), queue_.end(), [](const frame& f) { return f.alert; }));
  if (n > 0 && metrics_) {
    metrics_->dropped.inc(n);
  }
  queue_.clear();
}

void ws_session::finish(std::string_view why, bool defer_closed) {
  if (finished_) {
    return;
  }
  finished_ = true;
  timer_.cancel();
  if (sink_) {
    sink_->shut();
  }
  drop_queue();
  if (subscribed_ && bridge_ != nullptr) {
    if (auto hub = bridge_->system().registry().get(alerts::hub_name)) {
      caf::anon_send(caf::actor_cast<alerts::hub_actor>(hub), alerts::unsubscribe_atom::value, id_);
    }
  }
  boost::system::error_code ignored;
  auto& sock = beast::get_lowest_layer(ws_);
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
  if (metrics_) {
    metrics_->clients.dec();
  }
  runtime::logging::get("http")->debug("ws {}: ended: {} (request_id={})", endpoint_string(peer_),
                                       why, request_id_);
  auto done = std::move(closed_);
  closed_ = nullptr;
  if (!done) {
    return;
  }
  if (defer_closed) {
    net::post(ws_.get_executor(), std::move(done));
  } else {
    done();
  }
}

// -- deadlines ----------------------------------------------------------------------------------

void ws_session::arm(clock::time_point deadline) {
  if (finished_ || deadline >= timer_expiry_) {
    return; // the timer fires earlier and re-arms itself for the remaining deadlines
  }
  timer_expiry_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait(
    [self = shared_from_this()](boost::system::error_code ec) { self->on_timer(ec); });
}

void ws_session::on_timer(boost::system::error_code ec) {
  if (ec == net::error::operation_aborted || finished_) {
    return;
  }
  timer_expiry_ = clock::time_point::max();
  auto now = clock::now();
  if (write_deadline_ <= now) {
    finish("a frame was not written within HTTP_WRITE_TIMEOUT");
    return;
  }
  if (close_deadline_ <= now) {
    finish("the closing handshake timed out");
    return;
  }
  if (pong_deadline_ <= now) {
    finish("no pong within the keep-alive timeout");
    return;
  }
  if (next_ping_ <= now) {
    next_ping_ = now + cfg_->ping_interval;
    ping();
    // A restarted hub has lost the subscriptions: subscribe again with the current watch set.
    if (!watched_.empty() && bridge_ != nullptr) {
      auto hub = bridge_->system().registry().get(alerts::hub_name);
      if (hub && caf::actor_cast<caf::actor_addr>(hub) != hub_) {
        subscribe(false);
      }
    }
  }
  auto next = std::min({next_ping_, pong_deadline_, write_deadline_, close_deadline_});
  if (next != clock::time_point::max()) {
    arm(next);
  }
}

// -- the route ----------------------------------------------------------------------------------

namespace {

class alerts_endpoint final : public ws_endpoint {
public:
  alerts_endpoint(ws_settings cfg, std::shared_ptr<ws_metrics> metrics)
      : cfg_(std::make_shared<const ws_settings>(std::move(cfg))), metrics_(std::move(metrics)) {}

  std::shared_ptr<upgraded_connection> accept(ws_handoff h) override {
    auto s = std::make_shared<ws_session>(std::move(h), cfg_, metrics_);
    s->start();
    return s;
  }

private:
  std::shared_ptr<const ws_settings> cfg_;
  std::shared_ptr<ws_metrics> metrics_;
};

} // namespace

std::shared_ptr<ws_endpoint> make_alerts_endpoint(ws_settings cfg,
                                                  std::shared_ptr<ws_metrics> metrics) {
  return std::make_shared<alerts_endpoint>(std::move(cfg), std::move(metrics));
}

void add_alerts_ws_route(router& r, ws_settings cfg, std::shared_ptr<ws_metrics> metrics) {
  r.add_websocket(
    "/ws/alerts",
    [](request_context& rc, responder done) {
      if (websocket::is_upgrade(rc.req)) {
        done.error(status::bad_request,
                   "invalid WebSocket handshake: it needs Host, Sec-WebSocket-Key and "
                   "Sec-WebSocket-Version: 13",
                   "{\"upgrade\":\"websocket\"}");
        return;
      }
      auto res = make_error(status::upgrade_required,
                            "GET /ws/alerts is a WebSocket endpoint: send a WebSocket handshake "
                            "(Upgrade: websocket)",
                            done.request_id(), "{\"upgrade\":\"websocket\"}", "upgrade_required");
      res.set(beast::http::field::upgrade, "websocket");
      res.set(beast::http::field::connection, "upgrade");
      res.set(beast::http::field::sec_websocket_version, "13");
      done(std::move(res));
    },
    {access::api_key, std::nullopt, {}}, make_alerts_endpoint(std::move(cfg), std::move(metrics)));
}

} // namespace klerno::http
