#include "actors/storage/connection.hpp"

#include <array>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "runtime/errc.hpp"
#include "runtime/logging.hpp"

namespace klerno::actors::storage {

caf::error to_error(const db_error& e) {
  auto ctx = caf::make_message(std::string{e.what()});
  switch (e.kind()) {
    case db_error_kind::unavailable:
    case db_error_kind::conflict:
      return runtime::make_error(runtime::errc::unavailable, std::move(ctx));
    case db_error_kind::timeout:
      return runtime::make_error(runtime::errc::deadline_exceeded, std::move(ctx));
    case db_error_kind::invalid:
      return runtime::make_error(runtime::errc::invalid_argument, std::move(ctx));
    case db_error_kind::internal:
      break;
  }
  return caf::make_error(caf::sec::runtime_error, std::string{e.what()});
}

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::array<const char*, 9> operations = {"insert",  "get",    "list", "alerts", "summary",
                                                   "history", "export", "ping", "migrate"};

struct connection_state {
  connection_config cfg;
  std::unique_ptr<session> db;
  clock_type::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
  std::string last_error;
  bool failing = false; // a connect failed and no connect succeeded since (logged once)
  std::shared_ptr<spdlog::logger> log;
  std::array<runtime::metrics::histogram*, operations.size()> durations{};
  std::array<runtime::metrics::counter*, 5> errors{};
  static inline const char* name = "db_connection";

  void init(connection_config c) {
    cfg = std::move(c);
    log = runtime::logging::get("db");
    if (cfg.metrics) {
      for (std::size_t i = 0; i < operations.size(); ++i) {
        durations[i] = &cfg.metrics->query_duration.with({operations[i]});
      }
      for (auto k : {db_error_kind::unavailable, db_error_kind::timeout, db_error_kind::conflict,
                     db_error_kind::invalid, db_error_kind::internal}) {
        errors[static_cast<std::size_t>(k)] = &cfg.metrics->errors.with({to_string(k)});
      }
    }
  }

  void observe(std::size_t op, clock_type::time_point t0) {
    if (durations[op] != nullptr) {
      durations[op]->observe(std::chrono::duration<double>(clock_type::now() - t0).count());
    }
  }

  void count(db_error_kind k) {
    if (auto* c = errors[static_cast<std::size_t>(k)]) {
      c->inc();
    }
  }

  /// Connects unless connected or backing off; returns the error to answer with, if any.
  caf::error ensure_connected() {
    try {
      if (!db) {
        db = cfg.factory();
      }
      if (db->connected()) {
        return caf::none;
      }
      auto now = clock_type::now();
      if (now < next_attempt) {
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt - now);
        count(db_error_kind::unavailable);
        return runtime::make_error(
          runtime::errc::unavailable,
          caf::make_message("database unavailable (next connection attempt in "
                            + std::to_string(wait.count()) + " ms): " + last_error));
      }
      db->connect();
      backoff = std::chrono::milliseconds{0};
      if (failing) {
        failing = false;
        log->info("db pool {}: connected again", cfg.pool);
      }
      return caf::none;
    } catch (const db_error& e) {
      last_error = e.what();
      backoff = backoff.count() == 0 ? cfg.backoff_min : std::min(backoff * 2, cfg.backoff_max);
      next_attempt = clock_type::now() + backoff;
      if (!failing) {
        failing = true;
        log->warn("db pool {}: cannot connect ({}): {}; retrying with backoff up to {} ms",
                  cfg.pool, to_string(e.kind()), e.what(), cfg.backoff_max.count());
      }
      count(e.kind());
      return to_error(e);
    } catch (const std::exception& e) {
      count(db_error_kind::internal);
      return caf::make_error(caf::sec::runtime_error,
                             std::string{"cannot create a database session: "} + e.what());
    }
  }
};

using connection_pointer = db_actor::stateful_pointer<connection_state>;

/// Runs `f(session&)` with connection handling and retries (see connection.hpp).
template <class F>
auto run(connection_pointer self, std::size_t op, F&& f)
  -> caf::result<std::decay_t<decltype(f(std::declval<session&>()))>> {
  auto& st = self->state;
  for (int attempt = 0;; ++attempt) {
    if (auto err = st.ensure_connected()) {
      return err;
    }
    auto t0 = clock_type::now();
    try {
      auto result = f(*st.db);
      st.observe(op, t0);
      return result;
    } catch (const db_error& e) {
      st.observe(op, t0);
      if (e.kind() == db_error_kind::unavailable) {
        st.db->disconnect();
        if (attempt == 0 && !e.in_doubt()) {
          st.log->info("db pool {}: connection lost during {} ({}); reconnecting", st.cfg.pool,
                       operations[op], e.what());
          continue;
        }
      } else if (e.kind() == db_error_kind::conflict && attempt < st.cfg.conflict_retries) {
        continue;
      }
      st.count(e.kind());
      return to_error(e);
    } catch (const std::exception& e) {
      st.observe(op, t0);
      st.count(db_error_kind::internal);
      return caf::make_error(caf::sec::runtime_error, std::string{e.what()});
    }
  }
}

db_actor::behavior_type connection_impl(connection_pointer self, connection_config cfg) {
  self->state.init(std::move(cfg));
  return {
    [self](insert_atom, const tx_list& rows) {
      return run(self, 0, [&](session& s) { return s.insert(rows); });
    },
    [self](get_atom, const std::string& tx_id) {
      return run(self, 1, [&](session& s) { return s.get(tx_id); });
    },
    [self](list_atom, const list_query& q) {
      return run(self, 2, [&](session& s) { return s.list(q); });
    },
    [self](alerts_atom, const alerts_query& q) {
      return run(self, 3, [&](session& s) { return s.alerts(q); });
    },
    [self](summary_atom, const summary_query& q) {
      return run(self, 4, [&](session& s) { return s.summarize(q); });
    },
    [self](history_atom, const history_query& q) {
      return run(self, 5, [&](session& s) { return s.wallet_history(q); });
    },
    [self](export_atom, const export_query& q) {
      return run(self, 6, [&](session& s) { return s.export_rows(q); });
    },
    [self](ping_atom) {
      return run(self, 7, [&](session& s) {
        auto t0 = clock_type::now();
        auto lag = s.ping();
        auto took = caf::timespan{clock_type::now() - t0};
        if (lag && self->state.cfg.metrics) {
          auto& m = *self->state.cfg.metrics;
          m.replica_lag_bytes.with({self->state.cfg.pool}).set(lag->bytes);
          if (lag->seconds) {
            m.replica_lag.with({self->state.cfg.pool}).set(*lag->seconds);
          }
        }
        return took;
      });
    },
    [self](migrate_atom) {
      return run(self, 8, [&](session& s) { return static_cast<uint64_t>(s.migrate()); });
    },
  };
}

} // namespace

db_actor spawn_connection(caf::actor_system& sys, connection_config cfg) {
  return sys.spawn<caf::detached>(connection_impl, std::move(cfg));
}

} // namespace klerno::actors::storage
