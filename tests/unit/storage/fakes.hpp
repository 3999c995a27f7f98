#pragma once

// Fakes for the storage actors' unit tests, on CAF's deterministic test_coordinator:
// - `fake_db`: an event-based actor with the full db_actor interface (a connection for the pool,
//   a pool for the writer and the reads router) that holds every request until the test answers
//   it through the shared `backend` (succeed with a default result, or fail with an error);
// - `ask<T>`: sends one request from a throwaway actor and records its outcome;
// - `fixture`: the deterministic actor system.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <catch2/catch.hpp>

#include "actors/storage/messages.hpp"
#include "actors/storage/metrics.hpp"
#include "runtime/errc.hpp"
#include "runtime/metrics.hpp"

namespace klerno::test::storage {

using namespace klerno::actors::storage;
namespace model = klerno::actors::model;

/// A request held by a fake actor.
struct held_call {
  std::string target;                          ///< name of the fake that received it
  std::string op;                              ///< "insert", "get", "list", ...
  tx_list rows;                                ///< the rows of an insert
  std::function<void()> succeed;               ///< answers with the default result
  std::function<void(const caf::error&)> fail; ///< answers with an error
};

/// What the fakes share with the test (everything runs on the test thread).
struct backend {
  std::deque<held_call> calls;
  int spawned = 0; ///< fakes spawned through `spawner`

  /// Removes and returns the oldest held request.
  held_call take() {
    REQUIRE(!calls.empty());
    auto c = std::move(calls.front());
    calls.pop_front();
    return c;
  }
};

/// Returns a transaction with the given id (and plausible fields).
inline model::transaction tx(const std::string& id, const std::string& from = "rA",
                             const std::string& to = "rB") {
  model::transaction t;
  t.tx_id = id;
  t.time = model::timestamp{std::chrono::microseconds{1'700'000'000'000'000}};
  t.from_addr = from;
  t.to_addr = to;
  t.amount = model::decimal::from_integer(10);
  t.category = "transfer";
  t.risk_score = 10;
  t.risk_bucket = "low";
  return t;
}

/// Returns transactions "<prefix>0" .. "<prefix><n-1>".
inline tx_list txs(const std::string& prefix, std::size_t n) {
  tx_list out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(tx(prefix + std::to_string(i)));
  }
  return out;
}

/// Tells a fake to answer one of its held requests (with the default result if the error is
/// none). Promises must be delivered from their actor's own context, so the test sends this.
using answer_atom = caf::atom_constant<caf::atom("answer")>;

/// The fake's interface: the database operations plus the test's answers.
using fake_actor = db_actor::extend<caf::reacts_to<answer_atom, uint64_t, caf::error>>;

/// The fake's state.
struct fake_state {
  backend* b = nullptr;
  std::string name;
  uint64_t next_id = 0;
  std::map<uint64_t, std::function<void(const caf::error&)>> held;
};

using fake_pointer = fake_actor::stateful_pointer<fake_state>;

/// Holds the current request; answering it without an error delivers `value`.
template <class T>
caf::typed_response_promise<T> hold(fake_pointer self, const char* op, T value, tx_list rows = {}) {
  auto rp = self->template make_response_promise<T>();
  auto id = ++self->state.next_id;
  self->state.held.emplace(id, [rp, value](const caf::error& err) mutable {
    if (err) {
      rp.deliver(err);
    } else {
      rp.deliver(value);
    }
  });
  held_call c;
  c.target = self->state.name;
  c.op = op;
  c.rows = std::move(rows);
  auto hdl = fake_actor{self};
  c.succeed = [hdl, id] {
    caf::anon_send(hdl, answer_atom::value, id, caf::error{});
  };
  c.fail = [hdl, id](const caf::error& err) {
    caf::anon_send(hdl, answer_atom::value, id, err);
  };
  self->state.b->calls.push_back(std::move(c));
  return rp;
}

/// A database actor that holds every request (see `backend`).
inline fake_actor::behavior_type fake_db(fake_pointer self, backend* b, std::string name) {
  self->state.b = b;
  self->state.name = std::move(name);
  return {
    [self](insert_atom, const tx_list& rows) {
      stored_list out;
      for (auto& r : rows) {
        out.push_back(stored{true, r});
      }
      return hold(self, "insert", std::move(out), rows);
    },
    [self](get_atom, const std::string& id) { return hold(self, "get", maybe_tx{tx(id)}); },
    [self](list_atom, const list_query& q) {
      page p;
      p.items.push_back(tx("listed-" + q.wallet));
      return hold(self, "list", std::move(p));
    },
    [self](alerts_atom, const alerts_query&) { return hold(self, "alerts", tx_list{}); },
    [self](summary_atom, const summary_query&) {
      summary s;
      s.total = 1;
      return hold(self, "summary", std::move(s));
    },
    [self](history_atom, const history_query&) { return hold(self, "history", history_list{}); },
    [self](export_atom, const export_query&) { return hold(self, "export", tx_list{}); },
    [self](ping_atom) { return hold(self, "ping", caf::timespan{std::chrono::microseconds{250}}); },
    [self](migrate_atom) { return hold(self, "migrate", uint64_t{1}); },
    [self](answer_atom, uint64_t id, const caf::error& err) {
      auto i = self->state.held.find(id);
      REQUIRE(i != self->state.held.end());
      auto deliver = std::move(i->second);
      self->state.held.erase(i);
      deliver(err);
    },
  };
}

/// The outcome of one request.
template <class T>
struct outcome {
  bool done = false;
  std::optional<T> value;
  caf::error err;

  /// Returns `true` if the request failed with `x`.
  bool failed_with(runtime::errc x) const {
    return done && !value && runtime::is(err, x);
  }
};

template <class T>
using outcome_ptr = std::shared_ptr<outcome<T>>;

/// Sends `(xs...)` to `dest` from a new actor and records the answer.
template <class T, class Handle, class... Ts>
outcome_ptr<T> ask(caf::actor_system& sys, const Handle& dest, Ts... xs) {
  auto out = std::make_shared<outcome<T>>();
  sys.spawn([out, dest, xs...](caf::event_based_actor* self) {
    self->request(dest, caf::infinite, xs...)
      .then(
        [out](T& x) {
          out->done = true;
          out->value = std::move(x);
        },
        [out](caf::error& err) {
          out->done = true;
          out->err = std::move(err);
        });
  });
  return out;
}

/// A deterministic actor system.
class fixture {
public:
  fixture()
      : sys(init(cfg)), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    // nop
  }

  ~fixture() {
    for (auto& hdl : stop_at_end) {
      caf::anon_send_exit(hdl, caf::exit_reason::kill);
    }
    sched.run();
  }

  /// Returns a spawner of fake connections named conn1, conn2, ...
  std::function<db_actor(caf::actor_system&)> spawner() {
    return [this](caf::actor_system& s) {
      db_actor hdl = s.spawn(fake_db, &db, "conn" + std::to_string(++db.spawned));
      conns.push_back(hdl);
      return hdl;
    };
  }

  /// Spawns a fake named `name` (stopped at the end of the test).
  db_actor fake(const std::string& name) {
    db_actor hdl = sys.spawn(fake_db, &db, name);
    stop_at_end.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  }

  /// Kills `hdl` at the end of the test.
  template <class Handle>
  void stop_later(const Handle& hdl) {
    stop_at_end.push_back(caf::actor_cast<caf::actor>(hdl));
  }

  /// Advances the test clock (delivering due delayed messages) and runs everything.
  void advance(caf::timespan x) {
    sched.clock().advance_time(x);
    sched.run();
  }

  // Declared before the actor system: actors may update metrics until the system is gone.
  klerno::runtime::metrics::registry reg;
  metrics_ptr metrics = std::make_shared<storage_metrics>(reg);
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  backend db;
  std::vector<db_actor> conns; ///< fake connections made by `spawner`, in spawn order
  std::vector<caf::actor> stop_at_end;

private:
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }
};

} // namespace klerno::test::storage
