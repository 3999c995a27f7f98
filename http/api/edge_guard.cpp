#include "http/api/edge_guard.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>

#include "http/api/query.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "runtime/logging.hpp"
#include "runtime/text.hpp"

namespace klerno::http::api {

namespace net = boost::asio;

namespace {

constexpr std::string_view cache_header = "X-Klerno-Cache";
constexpr std::string_view cache_control = "private, no-cache";

/// How a cacheable route is cached.
struct cache_policy {
  std::string key;                      ///< route part of the cache key (scope added later)
  std::vector<std::string> generations; ///< empty: immutable
};

/// Returns the policy of a GET to `pattern`, or nullopt when its answers are not cached.
std::optional<cache_policy> policy_for(const guarded_request& r, const edge_config& cfg) {
  auto query = normalize_query(r.query);
  if (!query) {
    return std::nullopt; // a repeated parameter: not cached
  }
  // The node's defaults decide answers to queries that leave them out: nodes configured
  // differently must not share entries.
  auto defaults = fmt::format("#d{},{}", cfg.risk_threshold, cfg.page_limit_default);
  const auto& pattern = r.target->pattern;
  if (pattern == "/transactions/{tx_id}") {
    for (const auto& [name, value] : *r.params) {
      if (name == "tx_id") {
        return cache_policy{"tx/" + value, {}};
      }
    }
    return std::nullopt;
  }
  if (pattern == "/transactions") {
    auto wallet = query_param(r.query, "wallet");
    if (!wallet || wallet->empty()) {
      return std::nullopt; // a 400: nothing to cache
    }
    return cache_policy{"list?" + *query + defaults, {"w:" + *wallet}};
  }
  if (pattern == "/alerts") {
    return cache_policy{"alerts?" + *query + defaults, {"tx"}};
  }
  if (pattern == "/analytics/summary") {
    // The window ends today (UTC): tomorrow the same query means other days.
    auto now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    return cache_policy{fmt::format("summary?{}{}#{:04}-{:02}-{:02}", *query, defaults,
                                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday),
                        {"tx"}};
  }
  return std::nullopt;
}

/// A reply sink that lets the guard see (and change) a handler's response before it goes out.
class intercept_sink final : public reply_sink {
public:
  using transform = std::function<void(response&)>;

  intercept_sink(net::io_context& ioc, responder original, transform f)
      : ioc_(ioc), original_(std::move(original)), f_(std::move(f)) {}

  void deliver(uint64_t, response res) override {
    net::dispatch(ioc_, [original = original_, f = f_, res = std::move(res)]() mutable {
      f(res);
      original(std::move(res));
    });
  }

  void deliver_stream(uint64_t, response head, std::shared_ptr<body_source> source) override {
    net::dispatch(ioc_, [original = original_, f = f_, head = std::move(head),
                         source = std::move(source)]() mutable {
      f(head);
      original.stream(std::move(head), std::move(source));
    });
  }

private:
  net::io_context& ioc_;
  responder original_;
  transform f_;
};

/// Rounds a configured rate to the bucket's figures.
cache::bucket make_bucket(std::string key, const config::rate_class_limits& own,
                          const config::cache_config& cfg) {
  cache::bucket b;
  b.key = std::move(key);
  b.per_minute = own.per_minute != 0 ? own.per_minute : cfg.rate_limit_per_minute;
  b.burst = own.burst != 0 ? own.burst : cfg.rate_limit_burst;
  return b;
}

const config::rate_class_limits* class_limits(const config::cache_config& cfg,
                                              std::string_view name) {
  if (name == "read") {
    return &cfg.rate_limit_read;
  }
  if (name == "write") {
    return &cfg.rate_limit_write;
  }
  if (name == "analyze") {
    return &cfg.rate_limit_analyze;
  }
  if (name == "auth") {
    return &cfg.rate_limit_auth;
  }
  return nullptr;
}

/// Finds `key=value` (value up to the end of the line) in an INFO reply.
std::string info_field(std::string_view info, std::string_view key) {
  std::string needle = std::string{key} + ":";
  auto pos = info.find(needle);
  if (pos == std::string_view::npos) {
    return {};
  }
  auto start = pos + needle.size();
  auto end = info.find_first_of("\r\n", start);
  return std::string{info.substr(start, end == std::string_view::npos ? info.npos : end - start)};
}

} // namespace

// -- free helpers -------------------------------------------------------------------------------

std::string api_key_scope(std::string_view api_key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  std::string input = "klerno-scope:";
  input.append(api_key);
  if (EVP_Digest(input.data(), input.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  std::string out;
  for (unsigned i = 0; i < 8 && i < len; ++i) {
    out += fmt::format("{:02x}", md[i]);
  }
  return out;
}

bool in_network(const net::ip::address& addr, const config::ip_network& n) noexcept {
  boost::system::error_code ec;
  auto base = net::ip::make_address(n.address, ec);
  if (ec) {
    return false;
  }
  auto a = addr;
  if (a.is_v6() && a.to_v6().is_v4_mapped() && base.is_v4()) {
    a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  }
  if (a.is_v4() != base.is_v4()) {
    return false;
  }
  auto compare = [&](const auto& x, const auto& y, unsigned bits) {
    unsigned full = bits / 8;
    unsigned rest = bits % 8;
    if (!std::equal(x.begin(), x.begin() + full, y.begin())) {
      return false;
    }
    if (rest == 0) {
      return true;
    }
    auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (x[full] & mask) == (y[full] & mask);
  };
  if (a.is_v4()) {
    return compare(a.to_v4().to_bytes(), base.to_v4().to_bytes(), std::min(n.prefix, 32u));
  }
  return compare(a.to_v6().to_bytes(), base.to_v6().to_bytes(), std::min(n.prefix, 128u));
}

std::string client_address(const net::ip::tcp::endpoint& peer, std::string_view xff,
                           const std::vector<config::ip_network>& trusted) {
  auto trusted_addr = [&](const net::ip::address& a) {
    return std::any_of(trusted.begin(), trusted.end(),
                       [&](const auto& n) { return in_network(a, n); });
  };
  auto peer_addr = peer.address();
  if (xff.empty() || !trusted_addr(peer_addr)) {
    return peer_addr.to_string();
  }
  // Walk from the right: each trusted proxy appended the address it received the request from.
  std::string chosen;
  std::size_t end = xff.size();
  while (end > 0) {
    auto comma = xff.rfind(',', end - 1);
    auto start = comma == std::string_view::npos ? 0 : comma + 1;
    auto item = runtime::trim_ows(xff.substr(start, end - start));
    boost::system::error_code ec;
    auto a = net::ip::make_address(std::string{item}, ec);
    if (ec) {
      break; // not an address: stop at the last one that was
    }
    chosen = a.to_string();
    if (!trusted_addr(a)) {
      return chosen;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    end = comma;
  }
  return chosen.empty() ? peer_addr.to_string() : chosen;
}

std::optional<std::string> normalize_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params; // decoded name, decoded value
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    auto part = query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    if (!part.empty()) {
      auto eq = part.find('=');
      auto name = percent_decode(part.substr(0, eq));
      auto value =
        eq == std::string_view::npos ? std::string{} : percent_decode(part.substr(eq + 1));
      params.emplace_back(std::move(name), std::move(value));
    }
    if (amp == std::string_view::npos) {
      break;
    }
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  for (std::size_t k = 1; k < params.size(); ++k) {
    if (params[k].first == params[k - 1].first) {
      return std::nullopt; // which one a handler reads is not the cache's business
    }
  }
  std::string out;
  for (const auto& [name, value] : params) {
    out += out.empty() ? "" : "&";
    out += percent_encode(name);
    out += '=';
    out += percent_encode(value);
  }
  return out;
}

// -- the guard ----------------------------------------------------------------------------------

/// The services of one io thread.
struct edge_guard::worker {
  net::io_context* ioc = nullptr;
  std::shared_ptr<cache::redis::connection> conn;
  std::unique_ptr<cache::rate_limiter> limiter;
  std::unique_ptr<cache::session_store> sessions;
  std::unique_ptr<cache::response_cache> responses;
  std::unique_ptr<cache::realtime_counters> realtime;
};

/// One request on its way through the guard.
struct edge_guard::request_state {
  request_state(const guarded_request& r, responder d, run_handler fn)
      : req(r), done(std::move(d)), run(std::move(fn)) {}

  guarded_request req; ///< views stay valid while `run` is held
  responder done;
  run_handler run;
  worker* home = nullptr;
  std::string scope;
  std::vector<std::pair<std::string, std::string>> headers; ///< rate-limit headers
};

edge_guard::edge_guard(edge_config cfg, cache::metrics_ptr metrics)
    : cfg_(std::move(cfg)),
      metrics_(std::move(metrics)),
      local_(cfg_.cache.rate_limit_local_max_keys),
      l1_(cfg_.cache.cache_l1_max_bytes, 16, metrics_) {}

edge_guard::~edge_guard() = default;

void edge_guard::bind(server& srv) {
  for (std::size_t i = 0; i < srv.worker_count(); ++i) {
    auto w = std::make_unique<worker>();
    w->ioc = &srv.worker_context(i);
    if (cfg_.redis && cfg_.connect) {
      cache::redis::connection_config cc;
      cc.url = *cfg_.redis;
      cc.connect_timeout = cfg_.cache.redis_connect_timeout;
      cc.command_timeout = cfg_.cache.redis_command_timeout;
      cc.reconnect_min = cfg_.cache.redis_reconnect_min;
      cc.reconnect_max = cfg_.cache.redis_reconnect_max;
      cc.max_pending = cfg_.cache.redis_max_pending;
      cc.name = fmt::format("klerno:{}:io{}", cfg_.node_name, i);
      w->conn = cfg_.connect(*w->ioc, std::move(cc));
      const auto& prefix = cfg_.cache.redis_key_prefix;
      w->limiter = std::make_unique<cache::rate_limiter>(*w->conn, local_, metrics_, prefix);
      w->sessions =
        std::make_unique<cache::session_store>(*w->conn, session_config(), metrics_, prefix);
      cache::cache_settings cs;
      cs.enabled = cfg_.cache.cache_enabled;
      cs.l1_ttl = cfg_.cache.cache_l1_ttl;
      cs.l2_ttl = cfg_.cache.cache_l2_ttl;
      cs.l1_max_bytes = cfg_.cache.cache_l1_max_bytes;
      cs.max_entry_bytes = cfg_.cache.cache_max_entry_bytes;
      w->responses =
        std::make_unique<cache::response_cache>(*w->conn, l1_, trust_, cs, metrics_, prefix);
      cache::realtime_settings rs;
      rs.retention =
        std::chrono::duration_cast<std::chrono::minutes>(cfg_.cache.realtime_retention);
      w->realtime = std::make_unique<cache::realtime_counters>(*w->conn, rs, metrics_, prefix);
    }
    workers_.push_back(std::move(w));
  }
  std::lock_guard<std::mutex> guard{probe_mtx_};
  first_context_ = workers_.empty() ? nullptr : workers_.front()->ioc;
}

bool edge_guard::accepts_bearer() const noexcept {
  return cfg_.redis.has_value();
}

cache::session_settings edge_guard::session_config() const {
  cache::session_settings s;
  s.ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg_.cache.session_ttl);
  s.max_lifetime =
    std::chrono::duration_cast<std::chrono::seconds>(cfg_.cache.session_max_lifetime);
  return s;
}

cache::session_store* edge_guard::sessions(std::size_t worker) {
  return worker < workers_.size() ? workers_[worker]->sessions.get() : nullptr;
}

cache::realtime_counters* edge_guard::realtime(std::size_t worker) {
  return worker < workers_.size() ? workers_[worker]->realtime.get() : nullptr;
}

void edge_guard::close_worker(std::size_t i, bool ran) {
  if (i >= workers_.size()) {
    return;
  }
  if (i == 0) {
    std::lock_guard<std::mutex> guard{probe_mtx_};
    first_context_ = nullptr;
  }
  auto& w = *workers_[i];
  if (!w.conn) {
    return;
  }
  w.conn->close();
  auto release = [home = &w] {
    home->realtime.reset();
    home->responses.reset();
    home->sessions.reset();
    home->limiter.reset();
    home->conn.reset();
  };
  if (!ran) {
    // No loop ever ran: nothing is in flight, and nothing posted would run. Release now, while
    // the io_context (which the connection's timers and socket belong to) still exists.
    release();
    return;
  }
  // The services go once the failures that close() posted have run (posted after them), while
  // the io_context still exists.
  net::post(*w.ioc, release);
}

void edge_guard::admit(const guarded_request& r, responder done, run_handler run) {
  auto st = std::make_shared<request_state>(r, std::move(done), std::move(run));
  if (r.worker >= workers_.size()) {
    st->done.error(status::internal_server_error, "internal error: the request guard is not bound");
    return;
  }
  st->home = workers_[r.worker].get();
  if (r.cred == credential::api_key) {
    st->scope = cfg_.api_key_scope;
    check_rate(st);
    return;
  }
  auto* sessions = st->home->sessions.get();
  if (sessions == nullptr) {
    st->done.error(status::unauthorized, "session tokens are not accepted by this node",
                   "{\"header\":\"Authorization\"}");
    return;
  }
  if (!cache::well_formed_session_token(r.bearer_token)) {
    st->done.error(status::unauthorized, "invalid or expired session token",
                   "{\"header\":\"Authorization\"}");
    return;
  }
  sessions->resolve(r.bearer_token, [this, st](cache::session_lookup found) {
    using outcome = cache::session_lookup::outcome;
    if (found.result == outcome::unavailable) {
      auto res = make_error(status::service_unavailable,
                            "session tokens cannot be checked now (the session store does not "
                            "answer); retry, or use X-API-Key",
                            st->done.request_id(), "{\"dependency\":\"redis\"}");
      res.set(bhttp::field::retry_after, "1");
      st->done(std::move(res));
      return;
    }
    if (found.result != outcome::valid || found.key_id != cfg_.api_key_scope) {
      // Unknown, expired, revoked — or made with an API key that is no longer the node's.
      st->done.error(status::unauthorized, "invalid or expired session token",
                     "{\"header\":\"Authorization\"}");
      return;
    }
    st->scope = std::move(found.key_id);
    check_rate(st);
  });
}

void edge_guard::check_rate(const std::shared_ptr<request_state>& st) {
  const auto& cls = st->req.target->options.rate_class;
  const auto* own = class_limits(cfg_.cache, cls);
  if (!cfg_.cache.rate_limit_enabled || own == nullptr) {
    serve(st);
    return;
  }
  std::string xff;
  if (!cfg_.cache.trusted_proxies.empty()) {
    auto h = (*st->req.req)["X-Forwarded-For"];
    xff.assign(h.data(), h.size());
  }
  std::vector<cache::bucket> buckets;
  buckets.push_back(make_bucket("rl:" + cls + ":k:" + st->scope, *own, cfg_.cache));
  buckets.push_back(make_bucket(
    "rl:" + cls + ":ip:" + client_address(st->req.peer, xff, cfg_.cache.trusted_proxies), *own,
    cfg_.cache));
  auto decide = [this, st](cache::rate_decision d) {
    st->headers.emplace_back("X-RateLimit-Limit", std::to_string(d.limit));
    st->headers.emplace_back("X-RateLimit-Remaining", std::to_string(d.remaining));
    st->headers.emplace_back("X-RateLimit-Reset", std::to_string(d.reset.count()));
    if (!d.allowed) {
      auto res = make_error(
        status::too_many_requests, "rate limit exceeded; retry after the time in Retry-After",
        st->done.request_id(),
        fmt::format("{{\"limit_per_minute\":{},\"retry_after_seconds\":{},\"scope\":\"{}\"}}",
                    d.limit, d.retry_after.count(), d.local ? "node" : "cluster"));
      res.set(bhttp::field::retry_after,
              std::to_string(std::max<int64_t>(1, d.retry_after.count())));
      for (const auto& [name, value] : st->headers) {
        res.set(name, value);
      }
      st->done(std::move(res));
      return;
    }
    serve(st);
  };
  if (st->home->limiter) {
    st->home->limiter->check(std::move(buckets), std::move(decide));
    return;
  }
  // No Redis: the per-node buckets decide at once.
  auto d = local_.take(buckets, std::chrono::steady_clock::now());
  d.local = true;
  if (metrics_) {
    metrics_->rate_limit_requests.with({d.allowed ? "allowed" : "denied", "local"}).inc();
  }
  decide(d);
}

void edge_guard::serve(const std::shared_ptr<request_state>& st) {
  auto method = st->req.req->method();
  bool get = method == verb::get || method == verb::head;
  auto policy = get ? policy_for(st->req, cfg_) : std::nullopt;
  if (!policy) {
    if (st->headers.empty()) {
      st->run(st->done, run_options{st->scope, false});
    } else {
      run_intercepted(st, false, {}, false, false);
    }
    return;
  }
  auto* cache = st->home->responses.get();
  if (cache == nullptr || !cfg_.cache.cache_enabled) {
    run_intercepted(st, true, {}, false, false); // ETag and 304 without a cache
    return;
  }
  bool generational = !policy->generations.empty();
  auto key = st->scope + "|" + policy->key;
  cache->lookup(
    std::move(key), std::move(policy->generations),
    [this, st, generational](cache::cache_lookup found) {
      using outcome = cache::cache_lookup::outcome;
      if (found.result == outcome::hit) {
        const auto& c = *found.response;
        auto inm = (*st->req.req)[bhttp::field::if_none_match];
        bool not_modified = !inm.empty() && cache::etag_matches({inm.data(), inm.size()}, c.etag);
        response res{not_modified ? status::not_modified : static_cast<status>(c.status), 11};
        if (!not_modified) {
          res.set(bhttp::field::content_type, c.content_type);
          res.body() = c.body;
        }
        res.set(bhttp::field::etag, c.etag);
        res.set(bhttp::field::cache_control, cache_control);
        res.set(cache_header, found.level);
        for (const auto& [name, value] : st->headers) {
          res.set(name, value);
        }
        st->done(std::move(res));
        return;
      }
      bool fill = found.result == outcome::miss;
      // A generational fill reads the primary: it must contain every write made
      // before the generations it is keyed by were read.
      run_intercepted(st, true, std::move(found.fill_key), fill, fill && generational);
    });
}

void edge_guard::run_intercepted(const std::shared_ptr<request_state>& st, bool has_policy,
                                 std::string fill_key, bool fill, bool fresh_reads) {
  auto* home = st->home;
  auto inm_field = (*st->req.req)[bhttp::field::if_none_match];
  std::string inm{inm_field.data(), inm_field.size()};
  auto headers = st->headers;
  auto transform = [this, home, headers = std::move(headers), has_policy, fill,
                    fill_key = std::move(fill_key), inm = std::move(inm)](response& res) {
    for (const auto& [name, value] : headers) {
      res.set(name, value);
    }
    if (!has_policy || res.result() != status::ok) {
      return;
    }
    auto etag = cache::make_etag(res.body());
    res.set(bhttp::field::etag, etag);
    res.set(bhttp::field::cache_control, cache_control);
    res.set(cache_header, fill ? "miss" : "bypass");
    if (fill && home->responses) {
      auto entry = std::make_shared<cache::cached_response>();
      entry->status = 200;
      auto ct = res[bhttp::field::content_type];
      entry->content_type.assign(ct.data(), ct.size());
      entry->body = res.body();
      entry->etag = etag;
      home->responses->fill(fill_key, std::move(entry));
    }
    if (!inm.empty() && cache::etag_matches(inm, etag)) {
      res.result(status::not_modified);
      res.body().clear();
      res.erase(bhttp::field::content_type);
    }
  };
  responder wrapped{std::make_shared<intercept_sink>(*home->ioc, st->done, std::move(transform)), 0,
                    std::string{st->done.request_id()}};
  st->run(wrapped, run_options{st->scope, fresh_reads});
}

void edge_guard::after_store(std::size_t worker,
                             const std::vector<const actors::model::transaction*>& stored,
                             const std::vector<const actors::model::transaction*>& repeated,
                             std::function<void()> then) {
  auto* w = worker < workers_.size() ? workers_[worker].get() : nullptr;
  if (w == nullptr || !w->responses || (stored.empty() && repeated.empty())) {
    then();
    return;
  }
  std::vector<std::string> gens{"tx"};
  for (const auto* list : {&stored, &repeated}) {
    for (const auto* tx : *list) {
      for (const auto* addr : {&tx->from_addr, &tx->to_addr}) {
        if (!addr->empty()) {
          auto g = "w:" + *addr;
          if (std::find(gens.begin(), gens.end(), g) == gens.end()) {
            gens.push_back(std::move(g));
          }
        }
      }
    }
  }
  std::vector<cache::realtime_event> events;
  auto now = std::chrono::system_clock::now();
  for (const auto* tx : stored) {
    cache::realtime_event e;
    e.at = now;
    e.bucket = tx->risk_bucket;
    e.category = tx->category;
    e.amount = std::fabs(tx->amount.to_double());
    e.alert = tx->risk_score >= cfg_.risk_threshold;
    e.from_addr = tx->from_addr;
    e.to_addr = tx->to_addr;
    events.push_back(std::move(e));
  }
  if (!events.empty()) {
    w->realtime->record(events, nullptr);
  }
  // A large batch names thousands of wallets: bump them in pipelines of bounded size, one after
  // the other, so a batch never exceeds REDIS_MAX_PENDING on its own.
  auto chunk =
    std::max<std::size_t>(1, std::min<std::size_t>(1'000, cfg_.cache.redis_max_pending / 2));
  auto pending = std::make_shared<std::vector<std::string>>(std::move(gens));
  auto step = std::make_shared<std::function<void(std::size_t)>>();
  *step = [w, pending, chunk, then = std::move(then),
           weak = std::weak_ptr<std::function<void(std::size_t)>>(step)](std::size_t from) {
    if (from >= pending->size() || !w->responses) {
      then();
      return;
    }
    auto to = std::min(pending->size(), from + chunk);
    std::vector<std::string> part(pending->begin() + static_cast<std::ptrdiff_t>(from),
                                  pending->begin() + static_cast<std::ptrdiff_t>(to));
    auto next = weak.lock();
    w->responses->invalidate(std::move(part), [next, to, then](bool) {
      // A failed bump suspended the cache and bumps the epoch; the rest are still bumped, so
      // the damage stays small if the epoch cannot be bumped either.
      if (!next) {
        then();
        return;
      }
      (*next)(to);
    });
  };
  (*step)(0);
}

void edge_guard::probe(std::function<void(cache::redis_probe)> done) {
  std::lock_guard<std::mutex> guard{probe_mtx_};
  if (first_context_ == nullptr || workers_.empty() || !workers_.front()->conn) {
    cache::redis_probe p;
    p.detail = cfg_.redis ? "the node's HTTP edge is not running" : "REDIS_URL is not set";
    done(std::move(p));
    return;
  }
  auto* w = workers_.front().get();
  net::post(*first_context_, [w, done = std::move(done)]() mutable {
    if (!w->conn) {
      done(cache::redis_probe{false, {}, "closed"});
      return;
    }
    auto started = std::chrono::steady_clock::now();
    w->conn->pipeline(
      {{"PING"}, {"INFO", "memory"}, {"INFO", "clients"}},
      [started, done = std::move(done)](std::vector<cache::redis::result> rs) {
        cache::redis_probe p;
        p.latency = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - started);
        if (rs.size() != 3 || !rs[0].ok || rs[0].value.is_error()) {
          p.detail = rs.empty() || rs[0].ok ? "unexpected reply to PING" : rs[0].failure;
          if (!rs.empty() && rs[0].ok && rs[0].value.is_error()) {
            p.detail = rs[0].value.str;
          }
          done(std::move(p));
          return;
        }
        p.ok = true;
        auto memory = rs[1].ok ? info_field(rs[1].value.str, "used_memory_human") : std::string{};
        auto clients = rs[2].ok ? info_field(rs[2].value.str, "connected_clients") : "";
        p.detail = fmt::format("ping {:.3f} ms, used_memory {}, connected_clients {}",
                               p.latency.count() / 1000.0, memory.empty() ? "?" : memory,
                               clients.empty() ? "?" : clients);
        done(std::move(p));
      });
  });
}

} // namespace klerno::http::api
