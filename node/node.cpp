#include "node/node.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "actors/alerts/hub.hpp"
#include "actors/cache/metrics.hpp"
#include "actors/cache/monitor.hpp"
#include "actors/cache/redis/connection.hpp"
#include "actors/cache/redis/url.hpp"
#include "actors/health.hpp"
#include "actors/model/decimal.hpp"
#include "actors/storage/pg/pg_session.hpp"
#include "actors/storage/storage.hpp"
#include "actors/storage/url.hpp"
#include "actors/wallet/region.hpp"
#include "cluster/identity.hpp"
#include "cluster/messages.hpp"
#include "config/secret.hpp"
#include "http/api/edge_guard.hpp"
#include "http/metrics.hpp"
#include "http/probes.hpp"
#include "http/router.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"
#include "node/cluster_node.hpp"
#include "runtime/autoscale.hpp"
#include "runtime/errc.hpp"
#include "runtime/health_board.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/logging.hpp"
#include "runtime/metrics.hpp"
#include "runtime/supervisor.hpp"

#ifndef KLERNO_VERSION
#  define KLERNO_VERSION "0.0.0"
#endif

namespace klerno::node {

namespace net = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

const char* version() noexcept {
  return KLERNO_VERSION;
}

namespace {

/// Ends the process if shutdown overruns its budget: an orchestrator would kill it anyway, and a
/// hung node must not linger half-stopped.
class watchdog {
public:
  ~watchdog() {
    cancel();
  }

  /// Exits with `exit_failure` unless `cancel` is called within `budget`.
  void arm(milliseconds budget) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (thread_.joinable()) {
      return;
    }
    thread_ = std::thread{[this, deadline = steady_clock::now() + budget, budget] {
      std::unique_lock<std::mutex> lock{mtx_};
      if (!cv_.wait_until(lock, deadline, [this] { return cancelled_; })) {
        std::fprintf(stderr,
                     "klerno-node: shutdown did not finish within %lld ms; exiting forcefully\n",
                     static_cast<long long>(budget.count()));
        std::fflush(stderr);
        std::_Exit(exit_failure);
      }
    }};
  }

  void cancel() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      cancelled_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
      thread_.join();
    }
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  std::thread thread_;
};

/// The longest a leaving cluster member waits for the table to record it as exiting.
constexpr milliseconds cluster_exit_budget{3'000};

/// Drives the stages of a graceful shutdown on the control io_context (the main thread).
class shutdown_sequence {
public:
  shutdown_sequence(net::io_context& ioc, const config::settings& cfg, runtime::health_board& board,
                    watchdog& dog)
      : ioc_(ioc),
        cfg_(cfg),
        board_(board),
        dog_(dog),
        timer_(ioc),
        log_(runtime::logging::get("runtime")) {}

  /// Attaches the HTTP server once it runs (before that, a stop skips straight to the end).
  void set_server(http::server* srv) {
    server_ = srv;
  }

  /// Sets what runs once when the shutdown begins (the cluster member starts leaving).
  void on_begin(std::function<void()> f) {
    on_begin_ = std::move(f);
  }

  /// Starts (or, when already in the grace period, hurries) the shutdown.
  void begin(int code, bool skip_grace, const std::string& why) {
    switch (stage_) {
      case stage::running: {
        stage_ = stage::grace;
        code_ = code;
        const auto& lc = cfg_.lifecycle;
        dog_.arm(lc.shutdown_grace + lc.drain_timeout + lc.stop_timeout * 2
                 + std::chrono::seconds(5) + cluster_exit_budget);
        board_.set_phase(runtime::phase::draining);
        if (on_begin_) {
          on_begin_();
        }
        if (skip_grace || server_ == nullptr || lc.shutdown_grace.count() == 0) {
          log_->info("{}: readiness is 503; stopping now", why);
          end_grace();
          return;
        }
        log_->info("{}: readiness is 503; serving for {} ms more (SHUTDOWN_GRACE)", why,
                   lc.shutdown_grace.count());
        timer_.expires_after(lc.shutdown_grace);
        timer_.async_wait([this](boost::system::error_code ec) {
          if (!ec) {
            end_grace();
          }
        });
        return;
      }
      case stage::grace:
        log_->info("{} again: skipping the rest of the grace period", why);
        if (code != exit_ok) {
          code_ = code;
        }
        timer_.cancel();
        end_grace();
        return;
      case stage::draining:
      case stage::done:
        if (code != exit_ok) {
          code_ = code;
        }
        log_->info("{}: already stopping", why);
        return;
    }
  }

  /// Returns the exit code chosen by the first cause of the shutdown.
  int code() const noexcept {
    return code_;
  }

private:
  enum class stage { running, grace, draining, done };

  void end_grace() {
    if (stage_ == stage::draining || stage_ == stage::done) {
      return;
    }
    stage_ = stage::draining;
    board_.set_phase(runtime::phase::stopping);
    if (server_ == nullptr) {
      finish();
      return;
    }
    server_->stop_accepting();
    log_->info("stopped accepting; finishing {} open connection(s) (at most {} ms)",
               server_->open_connections(), cfg_.lifecycle.drain_timeout.count());
    server_->drain([this] { net::post(ioc_, [this] { finish(); }); });
    timer_.expires_after(cfg_.lifecycle.drain_timeout);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && stage_ == stage::draining) {
        log_->warn("drain timeout: closing {} connection(s) still open",
                   server_->open_connections());
        finish();
      }
    });
  }

  void finish() {
    if (stage_ == stage::done) {
      return;
    }
    stage_ = stage::done;
    timer_.cancel();
    ioc_.stop();
  }

  net::io_context& ioc_;
  const config::settings& cfg_;
  runtime::health_board& board_;
  watchdog& dog_;
  net::steady_timer timer_;
  std::shared_ptr<spdlog::logger> log_;
  http::server* server_ = nullptr;
  std::function<void()> on_begin_;
  stage stage_ = stage::running;
  int code_ = exit_ok;
};

/// Writes `{"http":P,"metrics":P|null,"cluster":P|null}` to `path` atomically (temp file +
/// rename).
void write_ports_file(const std::string& path, uint16_t http_port,
                      std::optional<uint16_t> metrics_port, std::optional<uint16_t> cluster_port) {
  auto tmp = path + ".tmp";
  auto port = [](std::optional<uint16_t> p) {
    return p ? std::to_string(*p) : std::string{"null"};
  };
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << "{\"http\":" << http_port << ",\"metrics\":" << port(metrics_port)
        << ",\"cluster\":" << port(cluster_port) << "}\n";
    if (!out) {
      throw std::runtime_error("cannot write PORTS_FILE " + tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + " to PORTS_FILE " + path);
  }
}

/// The supervisor tree of a node (this issue: the health actor; later issues add storage,
/// cache, cluster and edge subtrees).
/// Maps the node's configuration onto the storage layer's settings.
actors::storage::settings storage_settings(const config::settings& cfg) {
  actors::storage::settings s;
  const auto& c = cfg.storage;
  s.primary_url = c.database_url;
  s.replica_urls = c.database_read_urls;
  // Pool bounds given in DATABASE_URL (the seed's `?min_connections=&max_connections=`) win.
  auto params = actors::storage::parse_pool_url(c.database_url.reveal());
  if (!params.min_connections) {
    s.pool_min = c.pool_min;
  }
  if (!params.max_connections) {
    s.pool_max = c.pool_max;
  }
  s.queue_max = c.pool_queue_max;
  s.queue_timeout = c.pool_queue_timeout;
  s.statement_timeout = c.statement_timeout;
  s.connect_timeout = c.connect_timeout;
  s.circuit_failures = c.circuit_failures;
  s.circuit_cooldown = c.circuit_cooldown;
  s.writer_batch_max_rows = c.writer_batch_max_rows;
  s.writer_batch_max_delay = c.writer_batch_max_delay;
  s.writer_max_inflight = c.writer_max_inflight;
  s.writer_max_pending_rows = c.writer_max_pending_rows;
  return s;
}

/// The rule table's configuration.
actors::scoring::rules_config rules_config(const config::scoring_settings& c) {
  actors::scoring::rules_config r;
  r.suspicious_words = c.suspicious_words;
  r.categories.income = c.income_keywords;
  r.categories.fee = c.fee_keywords;
  r.categories.trade = c.trade_keywords;
  r.categories.transfer = c.transfer_keywords;
  return r;
}

/// The stateful signals' configuration.
/// The formula's settings (percent targets become ratios).
runtime::autoscale_policy autoscale_policy(const config::scaling_settings& c) {
  runtime::autoscale_policy p;
  p.min_replicas = c.min_replicas;
  p.max_replicas = c.max_replicas;
  p.target_cpu = c.target_cpu_utilization / 100.0;
  p.target_memory = c.target_memory_utilization / 100.0;
  p.tolerance = c.tolerance;
  return p;
}

/// What the health actor needs for the autoscaling signal.
struct autoscale_wiring {
  std::shared_ptr<runtime::autoscale_metrics> metrics;
  const runtime::autoscale_board* board = nullptr; ///< null outside a cluster
  runtime::autoscale_policy policy;
};

actors::scoring::signal_config signal_config(const config::scoring_settings& c) {
  actors::scoring::signal_config s;
  s.velocity_max_tx = static_cast<int>(c.velocity_max_tx);
  s.velocity_window =
    std::chrono::duration_cast<actors::model::timestamp::duration>(c.velocity_window);
  s.structuring_min_recipients = static_cast<int>(c.structuring_min_recipients);
  s.structuring_window =
    std::chrono::duration_cast<actors::model::timestamp::duration>(c.structuring_window);
  s.anomaly_factor = static_cast<int>(c.anomaly_factor);
  s.anomaly_min_history = c.anomaly_min_history;
  s.history_max = c.wallet_history_max;
  return s;
}

/// Spawns an actor that applies the database migrations (through the primary pool, which takes
/// an advisory lock so that racing nodes apply each migration once), retrying with backoff until
/// they succeed; then calls `done(applied)` and exits.
caf::actor spawn_migrator(caf::actor_system& sys, std::function<void(uint64_t)> done) {
  using retry_atom = caf::atom_constant<caf::atom("retry")>;
  return sys.spawn([done](caf::event_based_actor* self) -> caf::behavior {
    auto delay = std::make_shared<std::chrono::milliseconds>(250);
    auto attempt = [self, done, delay] {
      auto primary = caf::actor_cast<actors::storage::pool_actor>(
        self->system().registry().get(actors::storage::primary_name));
      auto retry = [self, delay](const std::string& why) {
        runtime::logging::get("db")->warn("migrations not applied yet ({}); retrying in {} ms", why,
                                          delay->count());
        self->delayed_send(self, *delay, retry_atom::value);
        *delay = std::min(*delay * 2, std::chrono::milliseconds{5'000});
      };
      if (!primary) {
        retry("the primary pool is not running");
        return;
      }
      self->request(primary, std::chrono::minutes(5), actors::storage::migrate_atom::value)
        .then(
          [self, done](uint64_t applied) {
            done(applied);
            self->quit();
          },
          [retry](caf::error& err) { retry(actors::storage::error_text(err)); });
    };
    attempt();
    return {[attempt](retry_atom) {
      attempt();
    }};
  });
}

/// The supervisor tree of a node: root -> {health, storage {pools, writer, reads}, wallets}.
runtime::supervisor_spec make_tree(const config::settings& cfg, caf::actor_system& sys,
                                   runtime::health_board& board, const autoscale_wiring& autoscale,
                                   runtime::metrics::registry& metrics_registry,
                                   runtime::metrics::counter_family& restarts,
                                   const actors::storage::metrics_ptr& storage_metrics,
                                   const std::shared_ptr<actors::wallet::wallet_metrics>& wallets,
                                   const std::shared_ptr<http::api::edge_guard>& edge,
                                   const cache::metrics_ptr& cache_metrics) {
  runtime::supervisor_hooks hooks;
  hooks.on_restart = [&restarts, &sys](const std::string& sup, const std::string& child,
                                       const caf::error& reason) {
    restarts.with({sup, child}).inc();
    runtime::logging::get("actors")->warn("supervisor {}: restarting {} after it exited: {}", sup,
                                          child, sys.render(reason));
  };
  hooks.on_give_up = [](const std::string& sup) {
    runtime::logging::get("actors")->error(
      "supervisor {}: restart intensity exceeded; stopping its children and giving up", sup);
  };
  runtime::supervisor_spec root;
  root.name = "root";
  root.strategy = runtime::restart_strategy::one_for_one;
  root.max_restarts = 5;
  root.period = std::chrono::seconds(10);
  root.hooks = hooks;
  // Known children start at 0 in klerno_actor_restarts_total, so rate() works from the start.
  auto declare = [&restarts, &root](const runtime::child_spec& c) {
    restarts.with({root.name, c.name});
  };

  runtime::child_spec health;
  health.name = "health";
  health.registry_name = actors::health_name;
  health.shutdown_timeout = cfg.lifecycle.stop_timeout;
  bool with_db = !cfg.storage.database_url.empty();
  bool with_redis = edge && edge->redis_configured();
  auto& mailbox_depth = metrics_registry.gauge(
    "klerno_actor_mailbox_depth",
    "Messages waiting in the mailbox of a main actor (sampled every HEALTH_CHECK_INTERVAL).",
    {"actor"});
  health.start = [&board, &autoscale, &cfg, with_db, with_redis,
                  &mailbox_depth](caf::actor_system& sys) -> caf::expected<caf::actor> {
    actors::health_config hc;
    hc.board = &board;
    hc.autoscale = autoscale.metrics;
    hc.autoscale_board = autoscale.board;
    hc.autoscale_policy = autoscale.policy;
    hc.sample_interval = cfg.health.check_interval;
    hc.check_timeout =
      std::min<std::chrono::milliseconds>(cfg.health.check_interval, std::chrono::seconds(2));
    if (with_db) {
      hc.dependencies.push_back({"database", actors::storage::primary_name, true});
      for (std::size_t i = 0; i < cfg.storage.database_read_urls.size(); ++i) {
        hc.dependencies.push_back(
          {"database_replica_" + std::to_string(i), actors::storage::replica_name(i), false});
      }
    }
    hc.mailbox_depth = &mailbox_depth;
    hc.mailbox_probes = {{"health", actors::health_name},
                         {"alerts", actors::alerts::hub_name},
                         {"wallets", actors::wallet::region_name},
                         {"membership", cluster::membership_name}};
    if (with_db) {
      hc.mailbox_probes.push_back({"db_primary", actors::storage::primary_name});
      hc.mailbox_probes.push_back({"db_writer", actors::storage::writer_name});
      hc.mailbox_probes.push_back({"db_reads", actors::storage::reads_name});
      for (std::size_t i = 0; i < cfg.storage.database_read_urls.size(); ++i) {
        hc.mailbox_probes.push_back(
          {"db_replica_" + std::to_string(i), actors::storage::replica_name(i)});
      }
    }
    if (with_redis) {
      // Redis is a cache: a failing check makes /health "degraded", never /readiness 503.
      hc.dependencies.push_back({"redis", cache::redis_monitor_name, false, true});
    }
    return actors::spawn_health(sys, hc);
  };
  root.children.push_back(std::move(health));
  if (with_redis) {
    runtime::child_spec monitor;
    monitor.name = "redis";
    monitor.registry_name = cache::redis_monitor_name;
    monitor.shutdown_timeout = cfg.lifecycle.stop_timeout;
    auto timeout =
      std::min<std::chrono::milliseconds>(cfg.health.check_interval, std::chrono::seconds(2));
    monitor.start = [edge, timeout,
                     cache_metrics](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return cache::spawn_redis_monitor(
        sys, [edge](std::function<void(cache::redis_probe)> done) { edge->probe(std::move(done)); },
        timeout, cache_metrics);
    };
    root.children.push_back(std::move(monitor));
  }
  runtime::child_spec hub; // alerts for WS /ws/alerts; started before the wallets that raise them
  hub.name = "alerts";
  hub.registry_name = actors::alerts::hub_name;
  hub.shutdown_timeout = cfg.lifecycle.stop_timeout;
  hub.start = [node = cfg.cluster.node_name](caf::actor_system& sys) -> caf::expected<caf::actor> {
    return actors::alerts::spawn_hub(sys, {node});
  };
  root.children.push_back(std::move(hub));
  if (with_db) {
    auto st = storage_settings(cfg);
    auto spec = actors::storage::storage_supervisor(st, actors::storage::pg::session_factories(st),
                                                    storage_metrics, hooks);
    for (const auto& c : spec.children) {
      restarts.with({spec.name, c.name});
    }
    root.children.push_back(runtime::supervisor_child(std::move(spec)));
  }
  // An edge owns no wallets: its gateway sends all wallet work to the workers.
  if (with_db && cfg.cluster.role != config::node_role::edge) {
    runtime::child_spec region;
    region.name = "wallets";
    region.registry_name = actors::wallet::region_name;
    region.shutdown_timeout = cfg.lifecycle.stop_timeout;
    actors::wallet::wallet_config wc;
    wc.rules = rules_config(cfg.scoring);
    wc.signals = signal_config(cfg.scoring);
    wc.alert_threshold = cfg.api.risk_threshold;
    wc.idle_timeout = cfg.scoring.wallet_idle_timeout;
    wc.storage_timeout = cfg.http.request_timeout;
    wc.metrics = wallets;
    region.start = [wc](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return actors::wallet::spawn_region(sys, wc);
    };
    root.children.push_back(std::move(region));
  }
  for (const auto& c : root.children) {
    declare(c);
  }
  return root;
}

} // namespace

int run(const config::settings& cfg) {
  auto t0 = steady_clock::now();
  runtime::logging::init(cfg.log);
  auto log = runtime::logging::get("runtime");
  std::signal(SIGPIPE, SIG_IGN);

  // The control loop runs on this (main) thread; signals are caught from the very start.
  net::io_context control{1};
  net::signal_set signals{control, SIGTERM, SIGINT};
  watchdog dog;
  runtime::health_board board;
  runtime::autoscale_board autoscale_board; // the up members' utilization (published by membership)
  shutdown_sequence shutdown{control, cfg, board, dog};
  std::function<void()> wait_for_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) {
        return;
      }
      shutdown.begin(exit_ok, false, sig == SIGTERM ? "SIGTERM" : "SIGINT");
      wait_for_signal();
    });
  };
  wait_for_signal();

  auto identity = cluster::make_identity(cfg.cluster.node_name);
  log->info("klerno-node {} starting: env={} node={} instance={} workers={} actor_threads={}",
            version(), config::to_string(cfg.env), identity.node_name, identity.instance_id,
            cfg.http.workers, cfg.runtime.actor_threads);
  if (!cfg.storage.database_url.empty()) {
    log->info("database: {}", config::redact_url(cfg.storage.database_url.reveal()));
  }

  runtime::lifecycle components{[&log](const std::string& event, const std::string& name) {
    if (event.rfind("stop failed", 0) == 0) {
      log->error("{}: {}", name, event);
    } else {
      log->debug("{} {}", event, name);
    }
  }};

  runtime::metrics::registry metrics;
  metrics.add(runtime::metrics::make_process_collector());
  metrics.gauge("klerno_build_info", "Build of this node (value 1).", {"version"})
    .with({version()})
    .set(1);
  // The autoscaling signal (runtime/autoscale.hpp): the health actor updates it on every sample.
  autoscale_wiring autoscale;
  autoscale.metrics = std::make_shared<runtime::autoscale_metrics>(metrics);
  autoscale.board = cfg.cluster.enabled() ? &autoscale_board : nullptr;
  autoscale.policy = autoscale_policy(cfg.scaling);
  auto& restarts = metrics.counter("klerno_actor_restarts_total",
                                   "Children restarted by a supervisor.", {"supervisor", "child"});
  http::http_metrics http_metrics{metrics};
  auto storage_metrics = std::make_shared<actors::storage::storage_metrics>(metrics);
  auto wallet_metrics = std::make_shared<actors::wallet::wallet_metrics>(metrics);
  auto cache_metrics = std::make_shared<cache::cache_metrics>(metrics);
  // Sessions, rate limits and the response cache in front of the API (none on a worker, which
  // serves no API). Its Redis connections are bound to the io threads when the edge starts.
  std::shared_ptr<http::api::edge_guard> edge;
  if (cfg.cluster.role != config::node_role::worker) {
    http::api::edge_config ec;
    ec.cache = cfg.cache;
    if (!cfg.storage.redis_url.empty()) {
      ec.redis = cache::redis::parse_redis_url(cfg.storage.redis_url.reveal());
      log->info("redis: {}", cache::redis::to_display(*ec.redis));
    }
    ec.api_key_scope = http::api::api_key_scope(cfg.auth.api_key.reveal());
    ec.node_name = identity.node_name;
    ec.risk_threshold = cfg.api.risk_threshold;
    ec.page_limit_default = cfg.api.page_limit_default;
    ec.connect = [cache_metrics](net::io_context& ioc, cache::redis::connection_config cc) {
      return cache::redis::make_hiredis_connection(ioc, std::move(cc), cache_metrics);
    };
    edge = std::make_shared<http::api::edge_guard>(std::move(ec), cache_metrics);
  }

  std::optional<caf::actor_system_config> caf_cfg;
  std::optional<caf::actor_system> sys;
  caf::actor root;
  std::promise<caf::error> root_exit;
  auto root_exited = root_exit.get_future();
  std::unique_ptr<http::server> server;
  uint16_t api_port = 0;
  std::optional<uint16_t> metrics_port;
  std::optional<uint16_t> cluster_port;
  std::unique_ptr<cluster_node> member;
  if (cfg.cluster.enabled()) {
    member = std::make_unique<cluster_node>(cfg, identity, metrics, board, autoscale_board);
    // SIGTERM: peers stop routing wallets here at once (this node serves out its grace period
    // through them), then the drained node marks itself exiting.
    shutdown.on_begin([&member] { member->leave(); });
  }
  http::router api_routes;
  http::router metrics_routes;
  int code = exit_ok;

  try {
    components.add(
      "actor system",
      [&] {
        caf_cfg.emplace();
        caf_cfg->set("scheduler.max-threads", static_cast<std::size_t>(cfg.runtime.actor_threads));
        caf_cfg->set("logger.file-verbosity", caf::atom("quiet"));
        caf_cfg->set("logger.console-verbosity", caf::atom("quiet"));
        // (CAF 0.17's add_error_category<T> overload does not compile; pass a renderer.)
        caf_cfg->add_error_category(
          runtime::errc_category, [](uint8_t code, caf::atom_value, const caf::message& ctx) {
            auto text = "klerno: " + runtime::to_string(static_cast<runtime::errc>(code));
            return ctx.empty() ? text : text + " (" + caf::to_string(ctx) + ")";
          });
        if (member) {
          cluster_node::configure(*caf_cfg, cfg);
        }
        sys.emplace(*caf_cfg);
      },
      [&] { sys.reset(); }); // waits for every actor; the tree is stopped before

    components.add(
      "supervisor tree",
      [&] {
        root = runtime::spawn_supervisor(*sys, make_tree(cfg, *sys, board, autoscale, metrics,
                                                         restarts, storage_metrics, wallet_metrics,
                                                         edge, cache_metrics));
        root->attach_functor([&control, &shutdown, &root_exit, &sys](const caf::error& reason) {
          root_exit.set_value(reason);
          net::post(control, [&shutdown, &sys, reason] {
            // The root only exits on its own when it gave up (or crashed).
            if (reason != caf::exit_reason::user_shutdown) {
              runtime::logging::get("runtime")->critical("the root supervisor exited: {}",
                                                         sys->render(reason));
              shutdown.begin(exit_failure, true, "root supervisor failure");
            }
          });
        });
      },
      [&] {
        caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
        auto budget = cfg.lifecycle.stop_timeout * 2;
        if (root_exited.wait_for(budget) != std::future_status::ready) {
          log->error("the supervisor tree did not stop within {} ms", budget.count());
          code = exit_failure;
        } else if (auto reason = root_exited.get();
                   reason && reason != caf::exit_reason::user_shutdown) {
          code = exit_failure;
        }
        root = nullptr;
      });

    if (member) {
      components.add(
        "cluster endpoint",
        [&] {
          cluster_port = member->open(*sys, [&control, &shutdown](const std::string& what) {
            net::post(control, [&shutdown, what] {
              runtime::logging::get("cluster")->critical("{}", what);
              shutdown.begin(exit_failure, true, "cluster failure");
            });
          });
        },
        [&] { member->stop(); });
    }

    components.add(
      "http edge",
      [&] {
        auto pc = std::make_shared<http::probe_context>();
        pc->board = &board;
        pc->metrics = &metrics;
        pc->identity = identity;
        pc->version = version();
        pc->environment = config::to_string(cfg.env);
        pc->liveness_timeout = cfg.health.liveness_timeout;
        pc->health_timeout = cfg.http.request_timeout;
        auto api = std::make_shared<http::api::api_context>();
        api->settings = cfg.api;
        api->rules = rules_config(cfg.scoring);
        api->limits.max_memo_bytes = cfg.api.max_memo_bytes;
        if (auto max = actors::model::decimal::parse(cfg.api.max_amount)) {
          api->limits.max_amount = *max;
        }
        api->storage_enabled = !cfg.storage.database_url.empty();
        api->request_timeout = cfg.http.request_timeout;
        api->scored = &wallet_metrics->scored;
        api->edge = edge;
        api->realtime_retention = cfg.cache.realtime_retention;
        if (member) {
          api->gateway.board = &member->board();
          api->gateway.metrics = &member->metrics();
          api->gateway.retry_wait = cfg.cluster.suspect_timeout;
        }
        http::route_groups groups;
        groups.metrics = cfg.http.prometheus_enabled;
        groups.chaos = cfg.runtime.chaos_endpoints;
        // A worker serves only the probes and /metrics.
        groups.api = cfg.cluster.role != config::node_role::worker;
        http::add_all_routes(api_routes, pc, api, groups);
        if (cfg.runtime.chaos_endpoints) {
          log->warn("CHAOS_ENDPOINTS is on: POST /chaos/actors/{name}/kill kills actors");
        }
        server = std::make_unique<http::server>(cfg.http, cfg.auth, *sys, http_metrics);
        // Until the server runs, its stop is not registered: release it here if a bind fails,
        // or its actor bridges would keep the actor system from shutting down.
        struct release_on_failure {
          std::unique_ptr<http::server>& srv;
          bool armed = true;
          ~release_on_failure() {
            if (armed) {
              srv.reset();
            }
          }
        } guard{server};
        if (edge) {
          edge->bind(*server);
          server->set_guard(edge);
        }
        api_port = server->listen({"api", cfg.http.bind_address, cfg.http.port, &api_routes});
        // A separate metrics listener unless it would be the API port itself (two 0s are two
        // different free ports).
        if (cfg.http.prometheus_enabled && cfg.http.metrics_port
            && (*cfg.http.metrics_port != cfg.http.port || cfg.http.port == 0)) {
          http::add_healthz_route(metrics_routes);
          http::add_metrics_route(metrics_routes, pc);
          metrics_port = server->listen(
            {"metrics", cfg.http.bind_address, *cfg.http.metrics_port, &metrics_routes});
        }
        server->start();
        guard.armed = false;
        shutdown.set_server(server.get());
        log->info("listening on http://{}:{}{}", cfg.http.bind_address, api_port,
                  metrics_port ? fmt::format(" (metrics on port {})", *metrics_port)
                               : std::string{});
      },
      [&] {
        shutdown.set_server(nullptr);
        server->stop();
        server.reset();
      });
  } catch (const std::exception& e) {
    log->critical("startup failed: {}", e.what());
    dog.arm(cfg.lifecycle.stop_timeout * 2 + std::chrono::seconds(5));
    components.stop_all();
    runtime::logging::shutdown();
    dog.cancel();
    return exit_failure;
  }

  auto mark_ready = [&board, &log, t0](const std::string& what) {
    if (board.current_phase() == runtime::phase::starting) {
      board.set_phase(runtime::phase::serving);
      auto ms = std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count();
      log->info("ready in {:.1f} ms{}", ms, what);
    }
  };
  // A cluster member joins once the schema (with the membership table) is current, and is
  // ready once the table lists it as up.
  auto join_cluster = [&control, &member, &sys, mark_ready](uint64_t applied) {
    auto board = &member->board();
    member->join([&control, &sys, board, mark_ready, applied](const cluster::view& previous,
                                                              const cluster::view& current) {
      if (!(previous.placement == current.placement)) {
        // Wallets whose owner changed finish what they started and stop (runs in the membership
        // actor: a plain send). The check reads the latest view when the region applies it.
        if (auto region = sys->registry().get(actors::wallet::region_name)) {
          actors::wallet::ownership_check still_mine = [board](const std::string& wallet) {
            auto v = board->current();
            auto owner = v->owner_of(wallet);
            return owner && v->is_self(*owner);
          };
          caf::anon_send(caf::actor_cast<actors::wallet::region_actor>(region),
                         actors::wallet::retire_atom::value, std::move(still_mine));
        }
      }
      if (current.self_status == cluster::member_status::up
          && previous.self_status != cluster::member_status::up) {
        auto members = current.table.members.size();
        net::post(control, [mark_ready, applied, members] {
          mark_ready(fmt::format(
            " (database schema current; {} migration(s) applied; cluster member up, {} row(s) in "
            "the membership table)",
            applied, members));
        });
      }
    });
  };
  caf::actor migrator;
  if (cfg.storage.database_url.empty()) {
    mark_ready("");
  } else {
    // /startup (and readiness) wait until the schema is current; the listener already answers.
    migrator =
      spawn_migrator(*sys, [&control, mark_ready, &member, join_cluster](uint64_t applied) {
        net::post(control, [mark_ready, applied, &member, join_cluster] {
          if (member) {
            join_cluster(applied);
            return;
          }
          mark_ready(fmt::format(" (database schema current; {} migration(s) applied)", applied));
        });
      });
    components.add(
      "migrations", [] {},
      [&migrator] { caf::anon_send_exit(migrator, caf::exit_reason::user_shutdown); });
  }
  if (!cfg.runtime.ports_file.empty()) {
    try {
      write_ports_file(cfg.runtime.ports_file, api_port, metrics_port, cluster_port);
    } catch (const std::exception& e) {
      log->error("{}", e.what());
      shutdown.begin(exit_failure, true, "PORTS_FILE failure");
    }
  }

  try {
    control.run();
  } catch (const std::exception& e) {
    // Nothing in the control loop should throw; if it does, still stop everything in order.
    log->critical("control loop failed: {}", e.what());
    shutdown.begin(exit_failure, true, "control loop failure");
    code = exit_failure;
  }

  if (member) {
    // Drained: this member is done with its wallets; the others take them over.
    if (member->exit(std::min(cfg.lifecycle.stop_timeout, cluster_exit_budget))) {
      log->info("marked exiting in the membership table");
    }
  }
  log->info("stopping components");
  components.stop_all();
  if (shutdown.code() != exit_ok) {
    code = shutdown.code();
  }
  log->info("stopped (exit code {})", code);
  runtime::logging::shutdown();
  dog.cancel();
  return code;
}

} // namespace klerno::node
