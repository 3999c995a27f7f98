// The hiredis implementation of redis::connection, with an Asio adapter for hiredis' async API.
//
// Lifetimes. One `ctx_link` per hiredis context: it owns the Asio registration of the context's
// socket (a stream_descriptor that is released, never closed: hiredis closes the fd) and is
// shared with every pending wait, so a wait that completes after hiredis freed the context finds
// `ctx_link::ac == nullptr` and does nothing. Waits and timers reach the connection through a
// weak_ptr. hiredis frees a context on its own inside redisAsyncHandleRead/Write (EOF, errors,
// failed connect); the `cleanup` hook tells us, and we fail the pending commands there. Nothing
// of ours ever calls back into hiredis from inside a hiredis callback except the hand-shake
// commands of the connect callback (which hiredis allows): decisions to drop a context found in
// a reply callback are taken after redisAsyncHandleRead has returned.
//
// User code (done callbacks, on_ready and on_lost handlers) never runs inside hiredis nor inside
// a call of the interface: completions are queued and run at the end of the Asio handler that
// produced them, or from a posted handler when they come from a call such as execute().
//
// Readiness. Asio's epoll reactor registers sockets edge-triggered, but async_wait re-arms the
// registration (EPOLL_CTL_MOD) when it starts, so a wait armed while data is already buffered
// (hiredis reads at most 16 KiB per call) or while the socket is already writable completes at
// once: hiredis' "add read/write" hooks simply start a wait unless one is outstanding.

#include "actors/cache/redis/connection.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <iterator>
#include <optional>
#include <random>
#include <string_view>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include "runtime/logging.hpp"

namespace klerno::cache::redis {

namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

/// A connection failure warning is repeated at most this often while retries keep failing.
constexpr auto warn_interval = std::chrono::seconds{5};

class hiredis_connection;

/// One hiredis context and its socket's registration with Asio.
struct ctx_link : std::enable_shared_from_this<ctx_link> {
  ctx_link(asio::io_context& ioc, hiredis_connection* o) : sd(ioc), owner(o) {}
  ~ctx_link() {
    if (sd.is_open()) {
      sd.release(); // the fd belongs to hiredis
    }
  }
  ctx_link(const ctx_link&) = delete;
  ctx_link& operator=(const ctx_link&) = delete;

  redisAsyncContext* ac = nullptr; ///< null once hiredis freed the context
  asio::posix::stream_descriptor sd;
  hiredis_connection* owner; ///< valid while `ac` is set (the connection frees `ac` first)
  bool want_read = false;    ///< hiredis asked for read events (addRead without delRead)
  bool want_write = false;
  bool read_armed = false; ///< a read wait (or a posted read) is outstanding
  bool write_armed = false;
  bool dropping = false; ///< we free the context ourselves (the cleanup hook is no failure)
};

/// All results of one pipeline() call.
struct batch {
  std::vector<result> results;
  std::size_t remaining = 0;
  std::function<void(std::vector<result>)> done;
};

/// A command written to the socket and not answered yet.
struct pending {
  enum class step { user, auth, select, setname, ping };
  step kind = step::user;
  std::function<void(result)> done; ///< a single command's callback
  std::shared_ptr<batch> pipe;      ///< or the pipeline it belongs to
  std::size_t index = 0;            ///< its position in the pipeline
  clock_type::time_point sent;
  clock_type::time_point deadline = clock_type::time_point::max();
};

const char* step_name(pending::step s) {
  switch (s) {
    case pending::step::auth:
      return "AUTH";
    case pending::step::select:
      return "SELECT";
    case pending::step::setname:
      return "CLIENT SETNAME";
    case pending::step::ping:
      return "PING";
    case pending::step::user:
      break;
  }
  return "command";
}

reply convert(const redisReply* r) {
  reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = reply::kind::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = reply::kind::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = reply::kind::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = reply::kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = reply::kind::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(convert(r->element[i]));
      }
      break;
    default: // REDIS_REPLY_NIL (also a nil array)
      out.type = reply::kind::nil;
      break;
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) {
             return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

/// Why `cmd` cannot go through this connection, or nothing. Pub/sub and MONITOR turn the
/// connection into a push stream (hiredis 0.14 aborts on unsolicited replies), CLIENT REPLY and
/// HELLO break the one-reply-per-command order this class relies on, SELECT would be undone by
/// the next reconnect (the database comes from REDIS_URL).
std::optional<std::string> refuse(const command& cmd) {
  if (cmd.empty()) {
    return std::string{"empty command"};
  }
  const std::string& name = cmd.front();
  for (const char* push : {"subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
                           "sunsubscribe", "monitor"}) {
    if (iequals(name, push)) {
      return "unsupported command: " + name + " (this connection is request/reply only)";
    }
  }
  if (iequals(name, "hello")
      || (iequals(name, "client") && cmd.size() > 1 && iequals(cmd[1], "reply"))) {
    return "unsupported command: " + name + " (it changes the reply protocol)";
  }
  if (iequals(name, "select")) {
    return std::string{"unsupported command: SELECT (the database is part of REDIS_URL)"};
  }
  return std::nullopt;
}

class hiredis_connection final : public connection,
                                 public std::enable_shared_from_this<hiredis_connection> {
public:
  hiredis_connection(asio::io_context& ioc, connection_config cfg, metrics_ptr metrics)
      : ioc_(ioc),
        cfg_(std::move(cfg)),
        metrics_(std::move(metrics)),
        display_(to_display(cfg_.url)),
        log_(runtime::logging::get("cache")),
        connect_timer_(ioc),
        retry_timer_(ioc),
        cmd_timer_(ioc),
        resolver_(ioc),
        rng_(std::random_device{}()) {
    static std::atomic<uint64_t> next_id{0};
    prefix_ = "redis[" + (cfg_.name.empty() ? "#" + std::to_string(++next_id) : cfg_.name) + "] "
              + display_;
    if (cfg_.reconnect_min.count() <= 0) {
      cfg_.reconnect_min = milliseconds{1};
    }
    cfg_.reconnect_max = std::max(cfg_.reconnect_max, cfg_.reconnect_min);
    if (metrics_) {
      m_up_ = &metrics_->redis_connections.with({"up"});
      m_down_ = &metrics_->redis_connections.with({"down"});
      m_not_connected_ = &metrics_->redis_command_failures.with({"not_connected"});
      m_timeout_ = &metrics_->redis_command_failures.with({"timeout"});
      m_lost_ = &metrics_->redis_command_failures.with({"lost"});
      m_overloaded_ = &metrics_->redis_command_failures.with({"overloaded"});
      m_closed_ = &metrics_->redis_command_failures.with({"closed"});
      m_down_->inc();
    }
  }

  ~hiredis_connection() override {
    shutdown();
    // Nothing runs our flush any more: hand the remaining completions to the io_context.
    for (auto& f : deferred_) {
      asio::post(ioc_, std::move(f));
    }
    deferred_.clear();
  }

  hiredis_connection(const hiredis_connection&) = delete;
  hiredis_connection& operator=(const hiredis_connection&) = delete;

  /// Posts the first attempt to the io thread.
  void start() {
    asio::post(ioc_, [w = weak_from_this()] {
      if (auto self = w.lock()) {
        self->in_handler([&] {
          if (self->state_ == state::idle) {
            self->start_attempt();
          }
        });
      }
    });
  }

  void execute(command cmd, std::function<void(result)> done) override {
    if (auto why = precheck(1)) {
      fail_now(std::move(done), why->first, why->second);
      return;
    }
    if (auto why = refuse(cmd)) {
      fail_now(std::move(done), *why, nullptr);
      return;
    }
    pending p;
    p.done = std::move(done);
    if (!send(cmd, p)) {
      fail_now(std::move(p.done), "connection lost", m_lost_);
    }
  }

  void pipeline(std::vector<command> cmds, std::function<void(std::vector<result>)> done) override {
    auto fail_all = [&](const std::string& failure, runtime::metrics::counter* metric) {
      std::vector<result> results(cmds.size());
      for (auto& r : results) {
        r.failure = failure;
      }
      if (metric != nullptr) {
        metric->inc(cmds.size());
      }
      defer([done = std::move(done), results = std::move(results)]() mutable {
        done(std::move(results));
      });
    };
    if (cmds.empty()) {
      fail_all("", nullptr);
      return;
    }
    if (auto why = precheck(cmds.size())) {
      fail_all(why->first, why->second);
      return;
    }
    for (const auto& cmd : cmds) {
      if (auto why = refuse(cmd)) {
        fail_all(*why, nullptr);
        return;
      }
    }
    auto b = std::make_shared<batch>();
    b->results.resize(cmds.size());
    b->remaining = cmds.size();
    b->done = std::move(done);
    for (std::size_t i = 0; i < cmds.size(); ++i) {
      pending p;
      p.pipe = b;
      p.index = i;
      if (!send(cmds[i], p)) {
        complete(p, failed("connection lost", m_lost_));
      }
    }
  }

  bool connected() const noexcept override {
    return state_ == state::ready;
  }

  void on_ready(ready_handler f) override {
    ready_handlers_.push_back(std::move(f));
  }

  void on_lost(std::function<void()> f) override {
    lost_handlers_.push_back(std::move(f));
  }

  void close() override {
    if (state_ == state::closed) {
      return;
    }
    shutdown();
    log_->info("{}: closed", prefix_);
  }

  // ---- hiredis hooks (called from inside hiredis) ---------------------------------------------

  static void hook_add_read(void* p) {
    auto* l = static_cast<ctx_link*>(p);
    l->want_read = true;
    l->owner->arm(*l, true);
  }
  static void hook_del_read(void* p) {
    static_cast<ctx_link*>(p)->want_read = false;
  }
  static void hook_add_write(void* p) {
    auto* l = static_cast<ctx_link*>(p);
    l->want_write = true;
    l->owner->arm(*l, false);
  }
  static void hook_del_write(void* p) {
    static_cast<ctx_link*>(p)->want_write = false;
  }
  static void hook_cleanup(void* p) {
    auto* l = static_cast<ctx_link*>(p);
    l->owner->on_cleanup(*l);
  }
  static void on_connect_cb(const redisAsyncContext* ac, int status) {
    auto* l = static_cast<ctx_link*>(ac->data);
    if (status == REDIS_OK && l != nullptr && l->ac != nullptr) {
      l->owner->on_tcp_connected(*l);
    }
    // On failure hiredis frees the context right after this call: the cleanup hook handles it.
  }
  static void on_reply_cb(redisAsyncContext* ac, void* r, void* /*privdata*/) {
    auto* l = static_cast<ctx_link*>(ac->data);
    // A null reply: hiredis is freeing the context; the pending commands are failed by the
    // cleanup hook (hiredis' failure) or by drop() (ours).
    if (r != nullptr && l != nullptr) {
      l->owner->on_reply(static_cast<redisReply*>(r));
    }
  }

private:
  enum class state { idle, resolving, connecting, handshaking, ready, backoff, closed };

  // ---- running user code outside of hiredis and of our own calls ------------------------------

  void defer(std::function<void()> f) {
    deferred_.push_back(std::move(f));
    if (depth_ == 0 && !flushing_ && !flush_posted_) {
      flush_posted_ = true;
      asio::post(ioc_, [w = weak_from_this()] {
        if (auto self = w.lock()) {
          self->flush_posted_ = false;
          self->in_handler([] {});
        }
      });
    }
  }

  /// Runs `f` (the body of one of our Asio handlers), then the completions it queued.
  template <class F>
  void in_handler(F&& f) {
    ++depth_;
    f();
    --depth_;
    if (depth_ == 0) {
      flush();
    }
  }

  void flush() {
    if (flushing_) {
      return;
    }
    struct reset {
      bool& flag;
      ~reset() {
        flag = false;
      }
    } guard{flushing_};
    flushing_ = true;
    // Keep this object alive while user code runs (it may drop the last reference).
    auto self = shared_from_this();
    while (!deferred_.empty()) {
      auto f = std::move(deferred_.front());
      deferred_.pop_front();
      try {
        f();
      } catch (const std::exception& e) {
        log_->error("{}: a Redis callback threw: {}", prefix_, e.what());
      }
    }
  }

  result failed(const std::string& failure, runtime::metrics::counter* metric) {
    if (metric != nullptr) {
      metric->inc();
    }
    result r;
    r.failure = failure;
    return r;
  }

  void fail_now(std::function<void(result)> done, const std::string& failure,
                runtime::metrics::counter* metric) {
    defer([done = std::move(done), r = failed(failure, metric)]() mutable { done(std::move(r)); });
  }

  void complete(pending& p, result r) {
    if (p.pipe) {
      auto b = std::move(p.pipe);
      b->results[p.index] = std::move(r);
      if (--b->remaining == 0) {
        defer([b] { b->done(std::move(b->results)); });
      }
    } else if (p.done) {
      defer([done = std::move(p.done), r = std::move(r)]() mutable { done(std::move(r)); });
    }
  }

  /// Why `n` more commands cannot be sent now (failure text and metric), or nothing.
  std::optional<std::pair<std::string, runtime::metrics::counter*>> precheck(std::size_t n) {
    if (state_ == state::closed) {
      return std::make_pair(std::string{"closed"}, m_closed_);
    }
    if (state_ != state::ready) {
      return std::make_pair(std::string{"not connected"}, m_not_connected_);
    }
    if (pending_.size() + n > cfg_.max_pending) {
      return std::make_pair(std::string{"overloaded"}, m_overloaded_);
    }
    return std::nullopt;
  }

  // ---- commands -------------------------------------------------------------------------------

  /// Appends `cmd` to the context's output buffer and queues `p`; false when hiredis refused.
  bool send(const command& cmd, pending& p) {
    if (!link_ || link_->ac == nullptr) {
      return false;
    }
    argv_.clear();
    lens_.clear();
    for (const auto& a : cmd) {
      argv_.push_back(a.data());
      lens_.push_back(a.size());
    }
    if (redisAsyncCommandArgv(link_->ac, &on_reply_cb, nullptr, static_cast<int>(argv_.size()),
                              argv_.data(), lens_.data())
        != REDIS_OK) {
      return false;
    }
    p.sent = clock_type::now();
    if (p.kind == pending::step::user) {
      p.deadline = p.sent + cfg_.command_timeout;
    }
    pending_.push_back(std::move(p));
    arm_cmd_timer();
    return true;
  }

  void on_reply(redisReply* r) {
    if (pending_.empty()) {
      return; // cannot happen: one callback per command we queued
    }
    pending p = std::move(pending_.front());
    pending_.pop_front();
    if (p.kind != pending::step::user) {
      on_handshake_reply(p.kind, r);
      return;
    }
    if (metrics_) {
      metrics_->redis_command_duration.observe(
        std::chrono::duration<double>(clock_type::now() - p.sent).count());
    }
    result res;
    res.ok = true;
    res.value = convert(r);
    complete(p, std::move(res));
  }

  // ---- the command timeout --------------------------------------------------------------------

  // One timer tracks the oldest command: replies come in order, so the front has the earliest
  // deadline. It is not re-armed per reply; when it fires early it moves to the new front.
  void arm_cmd_timer() {
    if (cmd_timer_armed_ || pending_.empty()
        || pending_.front().deadline == clock_type::time_point::max()) {
      return;
    }
    cmd_timer_armed_ = true;
    cmd_timer_.expires_at(pending_.front().deadline);
    cmd_timer_.async_wait([w = weak_from_this()](boost::system::error_code) {
      if (auto self = w.lock()) {
        self->in_handler([&] { self->on_cmd_timer(); });
      }
    });
  }

  void on_cmd_timer() {
    cmd_timer_armed_ = false;
    if (state_ != state::ready || pending_.empty()) {
      return;
    }
    auto now = clock_type::now();
    if (pending_.front().deadline > now) {
      arm_cmd_timer();
      return;
    }
    log_->warn("{}: a command got no reply within {} ms; dropping the connection", prefix_,
               cfg_.command_timeout.count());
    drop("command timed out", now);
  }

  // ---- connecting -----------------------------------------------------------------------------

  void start_attempt() {
    ++attempt_;
    state_ = state::resolving;
    connect_timer_.expires_after(cfg_.connect_timeout);
    connect_timer_.async_wait([w = weak_from_this(), id = attempt_](boost::system::error_code ec) {
      auto self = w.lock();
      if (!self || ec == asio::error::operation_aborted) {
        return;
      }
      self->in_handler([&] { self->on_connect_timeout(id); });
    });
    // The host is resolved by Asio (getaddrinfo in hiredis would block the io thread).
    resolver_.async_resolve(
      cfg_.url.host, std::to_string(cfg_.url.port), asio::ip::tcp::resolver::numeric_service,
      [w = weak_from_this(), id = attempt_](const boost::system::error_code& ec,
                                            asio::ip::tcp::resolver::results_type results) {
        auto self = w.lock();
        if (!self) {
          return;
        }
        self->in_handler([&] {
          if (id != self->attempt_ || self->state_ != state::resolving) {
            return;
          }
          if (ec) {
            self->attempt_failed("cannot resolve " + self->cfg_.url.host + ": " + ec.message());
          } else if (results.empty()) {
            self->attempt_failed("no address for " + self->cfg_.url.host);
          } else {
            // Several addresses (e.g. localhost): each failed attempt moves to the next one.
            auto it = results.begin();
            std::advance(it, self->failures_ % results.size());
            self->connect_to(it->endpoint().address().to_string());
          }
        });
      });
  }

  void connect_to(const std::string& address) {
    redisAsyncContext* ac = redisAsyncConnect(address.c_str(), cfg_.url.port);
    if (ac == nullptr) {
      attempt_failed("cannot allocate a hiredis context");
      return;
    }
    if (ac->err != 0) {
      std::string why = ac->errstr;
      redisAsyncFree(ac);
      attempt_failed(why);
      return;
    }
    redisEnableKeepAlive(&ac->c);
    auto l = std::make_shared<ctx_link>(ioc_, this);
    boost::system::error_code ec;
    l->sd.assign(ac->c.fd, ec);
    if (ec) {
      redisAsyncFree(ac);
      attempt_failed("cannot watch the socket: " + ec.message());
      return;
    }
    l->ac = ac;
    ac->data = l.get();
    ac->ev.data = l.get();
    ac->ev.addRead = &hook_add_read;
    ac->ev.delRead = &hook_del_read;
    ac->ev.addWrite = &hook_add_write;
    ac->ev.delWrite = &hook_del_write;
    ac->ev.cleanup = &hook_cleanup;
    link_ = std::move(l);
    state_ = state::connecting;
    // Also arms the first write wait: the connect completes when the socket becomes writable.
    redisAsyncSetConnectCallback(ac, &on_connect_cb);
  }

  /// TCP is up (inside redisAsyncHandleWrite): log in, select the database, name the client and
  /// PING; the connection is ready when PING answers.
  void on_tcp_connected(ctx_link& l) {
    if (&l != link_.get() || state_ != state::connecting) {
      return;
    }
    state_ = state::handshaking;
    auto step = [&](pending::step kind, const command& cmd) {
      pending p;
      p.kind = kind;
      if (!send(cmd, p) && !drop_reason_) {
        drop_reason_ = std::string{"cannot send "} + step_name(kind);
      }
    };
    const auto& u = cfg_.url;
    if (!u.password.empty()) {
      if (u.username.empty()) {
        step(pending::step::auth, {"AUTH", u.password.reveal()});
      } else {
        step(pending::step::auth, {"AUTH", u.username, u.password.reveal()});
      }
    }
    if (u.db != 0) {
      step(pending::step::select, {"SELECT", std::to_string(u.db)});
    }
    if (!cfg_.name.empty()) {
      step(pending::step::setname, {"CLIENT", "SETNAME", cfg_.name});
    }
    step(pending::step::ping, {"PING"});
  }

  void on_handshake_reply(pending::step kind, redisReply* r) {
    if (state_ != state::handshaking || drop_reason_) {
      return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      std::string msg(r->str, r->len);
      std::string why = std::string{step_name(kind)} + " failed: " + msg;
      if (kind == pending::step::ping && msg.rfind("NOAUTH", 0) == 0) {
        why += " (the server wants a password and REDIS_URL has none)";
      }
      drop_reason_ = why; // dropped once redisAsyncHandleRead has returned
      return;
    }
    if (kind == pending::step::ping) {
      become_ready();
    }
  }

  void become_ready() {
    state_ = state::ready;
    connect_timer_.cancel();
    bool reconnected = ever_ready_;
    ever_ready_ = true;
    if (metrics_) {
      m_down_->dec();
      m_up_->inc();
      if (reconnected) {
        metrics_->redis_reconnects.inc();
      }
    }
    if (!reconnected) {
      log_->info("{}: connected", prefix_);
    } else {
      log_->warn("{}: connection re-established after {} ms (on attempt {})", prefix_,
                 duration_cast<milliseconds>(clock_type::now() - down_since_).count(),
                 failures_ + 1);
    }
    failures_ = 0;
    auto handlers = ready_handlers_;
    defer([handlers = std::move(handlers), reconnected] {
      for (const auto& h : handlers) {
        h(reconnected);
      }
    });
  }

  void on_connect_timeout(uint64_t id) {
    if (id != attempt_
        || (state_ != state::resolving && state_ != state::connecting
            && state_ != state::handshaking)) {
      return;
    }
    resolver_.cancel();
    drop("connect timed out after " + std::to_string(cfg_.connect_timeout.count()) + " ms",
         clock_type::time_point::min());
  }

  // ---- losing the connection ------------------------------------------------------------------

  /// Frees the current context ourselves (never from inside hiredis) and fails its pending
  /// commands: those whose deadline is at or before `timeout_cutoff` with "timed out", the
  /// others with "connection lost". Then reconnects.
  void drop(std::string why, clock_type::time_point timeout_cutoff) {
    drop_reason_.reset();
    auto entries = take_pending();
    if (link_ && link_->ac != nullptr) {
      link_->dropping = true;
      redisAsyncFree(link_->ac); // runs the cleanup hook
    }
    for (auto& p : entries) {
      if (p.kind != pending::step::user) {
        continue; // hand-shake commands have no caller
      }
      if (p.deadline <= timeout_cutoff) {
        complete(p, failed("timed out", m_timeout_));
      } else {
        complete(p, failed("connection lost", m_lost_));
      }
    }
    link_down(why);
  }

  /// The cleanup hook: hiredis is about to free `l.ac` (and close its fd).
  void on_cleanup(ctx_link& l) {
    std::string why = l.ac != nullptr && l.ac->errstr != nullptr && l.ac->errstr[0] != '\0'
                        ? std::string{l.ac->errstr}
                        : std::string{"connection closed"};
    l.ac = nullptr;
    if (l.sd.is_open()) {
      l.sd.release(); // cancels the waits; hiredis closes the fd
    }
    if (l.dropping || &l != link_.get() || state_ == state::closed) {
      return;
    }
    // hiredis gave up on the context (EOF, socket error, protocol error, failed connect).
    for (auto& p : take_pending()) {
      if (p.kind == pending::step::user) {
        complete(p, failed("connection lost", m_lost_));
      }
    }
    link_down(why);
  }

  std::deque<pending> take_pending() {
    std::deque<pending> out;
    out.swap(pending_);
    return out;
  }

  void link_down(const std::string& why) {
    connect_timer_.cancel();
    if (state_ == state::ready) {
      auto now = clock_type::now();
      down_since_ = now;
      last_warn_ = now;
      if (metrics_) {
        m_up_->dec();
        m_down_->inc();
      }
      log_->warn("{}: connection lost ({}); reconnecting", prefix_, why);
      failures_ = 0;
      schedule_retry();
      auto handlers = lost_handlers_;
      defer([handlers = std::move(handlers)] {
        for (const auto& h : handlers) {
          h();
        }
      });
    } else if (state_ == state::resolving || state_ == state::connecting
               || state_ == state::handshaking) {
      attempt_failed(why);
    }
  }

  void attempt_failed(const std::string& why) {
    if (state_ == state::closed) {
      return;
    }
    if (failures_ == 0 && !ever_ready_) {
      down_since_ = clock_type::now();
    }
    ++failures_;
    auto delay = schedule_retry();
    auto now = clock_type::now();
    if (!last_warn_ || now - *last_warn_ >= warn_interval) {
      last_warn_ = now;
      log_->warn("{}: cannot connect: {} (attempt {}, down for {} ms; retrying with backoff up "
                 "to {} ms)",
                 prefix_, why, failures_, duration_cast<milliseconds>(now - down_since_).count(),
                 cfg_.reconnect_max.count());
    } else {
      log_->debug("{}: connect attempt {} failed: {}; next in {} ms", prefix_, failures_, why,
                  delay.count());
    }
  }

  /// Waits (exponential backoff from reconnect_min to reconnect_max, minus up to a quarter of
  /// jitter so that many connections do not retry in step), then tries again.
  milliseconds schedule_retry() {
    state_ = state::backoff;
    double base = static_cast<double>(cfg_.reconnect_min.count());
    for (unsigned i = 0; i < failures_ && base < cfg_.reconnect_max.count(); ++i) {
      base *= 2;
    }
    base = std::min(base, static_cast<double>(cfg_.reconnect_max.count()));
    std::uniform_real_distribution<double> jitter(0.75, 1.0);
    milliseconds delay{std::max<int64_t>(1, static_cast<int64_t>(base * jitter(rng_)))};
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait([w = weak_from_this(), id = attempt_](boost::system::error_code ec) {
      auto self = w.lock();
      if (!self || ec == asio::error::operation_aborted) {
        return;
      }
      self->in_handler([&] {
        if (id == self->attempt_ && self->state_ == state::backoff) {
          self->start_attempt();
        }
      });
    });
    return delay;
  }

  /// close() and the destructor: fail everything with "closed", free the context, stop.
  void shutdown() {
    if (state_ == state::closed) {
      return;
    }
    bool was_up = state_ == state::ready;
    state_ = state::closed;
    connect_timer_.cancel();
    retry_timer_.cancel();
    cmd_timer_.cancel();
    resolver_.cancel();
    auto entries = take_pending();
    if (link_ && link_->ac != nullptr) {
      link_->dropping = true;
      redisAsyncFree(link_->ac);
    }
    link_.reset();
    for (auto& p : entries) {
      if (p.kind == pending::step::user) {
        complete(p, failed("closed", m_closed_));
      }
    }
    if (metrics_) {
      (was_up ? m_up_ : m_down_)->dec();
    }
  }

  // ---- Asio readiness for hiredis -------------------------------------------------------------

  void arm(ctx_link& l, bool read) {
    bool& armed = read ? l.read_armed : l.write_armed;
    if (armed || l.ac == nullptr) {
      return;
    }
    armed = true;
    auto handler = [lp = l.shared_from_this(), w = weak_from_this(),
                    read](boost::system::error_code ec) {
      (read ? lp->read_armed : lp->write_armed) = false;
      if (ec == asio::error::operation_aborted || lp->ac == nullptr) {
        return;
      }
      if (auto self = w.lock()) {
        self->in_handler([&] { self->on_io(*lp, read); });
      }
    };
    l.sd.async_wait(read ? asio::posix::stream_descriptor::wait_read
                         : asio::posix::stream_descriptor::wait_write,
                    std::move(handler));
  }

  void on_io(ctx_link& l, bool read) {
    if (l.ac == nullptr || (read ? !l.want_read : !l.want_write)) {
      return;
    }
    if (read) {
      redisAsyncHandleRead(l.ac); // may free l.ac (cleanup hook)
    } else {
      redisAsyncHandleWrite(l.ac);
    }
    if (drop_reason_) {
      std::string why = std::move(*drop_reason_);
      drop_reason_.reset();
      if (link_ && link_->ac != nullptr && state_ == state::handshaking) {
        drop(why, clock_type::time_point::min());
      }
    }
  }

  asio::io_context& ioc_;
  connection_config cfg_;
  metrics_ptr metrics_;
  std::string display_; ///< the URL without its password
  std::string prefix_;  ///< log prefix: client name (or number) and URL
  std::shared_ptr<spdlog::logger> log_;

  state state_ = state::idle;
  std::shared_ptr<ctx_link> link_;
  std::deque<pending> pending_;
  std::optional<std::string> drop_reason_; ///< a hand-shake reply failed: drop after HandleRead
  uint64_t attempt_ = 0;                   ///< connect attempts; stale timers compare it
  unsigned failures_ = 0;                  ///< failed attempts since the last ready
  bool ever_ready_ = false;
  clock_type::time_point down_since_{};
  std::optional<clock_type::time_point> last_warn_; ///< last connect-failure warning

  asio::steady_timer connect_timer_;
  asio::steady_timer retry_timer_;
  asio::steady_timer cmd_timer_;
  bool cmd_timer_armed_ = false;
  asio::ip::tcp::resolver resolver_;
  std::mt19937_64 rng_;

  std::vector<ready_handler> ready_handlers_;
  std::vector<std::function<void()>> lost_handlers_;

  std::deque<std::function<void()>> deferred_;
  int depth_ = 0;
  bool flushing_ = false;
  bool flush_posted_ = false;

  std::vector<const char*> argv_; ///< reused by send()
  std::vector<std::size_t> lens_;

  runtime::metrics::gauge* m_up_ = nullptr;
  runtime::metrics::gauge* m_down_ = nullptr;
  runtime::metrics::counter* m_not_connected_ = nullptr;
  runtime::metrics::counter* m_timeout_ = nullptr;
  runtime::metrics::counter* m_lost_ = nullptr;
  runtime::metrics::counter* m_overloaded_ = nullptr;
  runtime::metrics::counter* m_closed_ = nullptr;
};

} // namespace

std::shared_ptr<connection> make_hiredis_connection(boost::asio::io_context& ioc,
                                                    connection_config cfg, metrics_ptr metrics) {
  auto c = std::make_shared<hiredis_connection>(ioc, std::move(cfg), std::move(metrics));
  c->start();
  return c;
}

} // namespace klerno::cache::redis
