#include "actors/storage/pool.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "runtime/errc.hpp"
#include "runtime/logging.hpp"
#include "runtime/mailbox_probe.hpp"

namespace klerno::actors::storage {

namespace {

using time_point = caf::actor_clock::time_point;
using std::chrono::milliseconds;

/// An error of the pool itself (the database was not asked): unavailable, with a retry hint.
caf::error refusal(std::string text, milliseconds retry) {
  return runtime::make_error(runtime::errc::unavailable,
                             caf::make_message(std::move(text), int64_t{retry.count()}));
}

struct pool_state;
using pool_pointer = pool_actor::stateful_pointer<pool_state>;

/// A request waiting for (or running on) a connection.
struct job {
  uint64_t id = 0;
  time_point enqueued;
  /// Sends the request to `conn` and arranges for `finish` to be called with its outcome.
  std::function<void(pool_pointer self, const db_actor& conn, uint64_t slot, uint64_t job)> run;
  /// Answers the requester with an error (the request will not run, or its outcome is lost).
  std::function<void(const caf::error&)> fail;
};

/// A connection actor and whether it runs a request.
struct slot {
  uint64_t id = 0;
  db_actor hdl;
  bool busy = false;
};

/// A request running on a connection.
struct running {
  uint64_t slot = 0;
  std::function<void(const caf::error&)> fail;
};

struct pool_state {
  pool_config cfg;
  std::vector<slot> slots;
  std::deque<job> queue;
  std::unordered_map<uint64_t, running> inflight;
  uint64_t next_id = 0;
  circuit_state circuit = circuit_state::closed;
  time_point open_until;
  std::size_t consecutive = 0;
  uint64_t probe = 0; // id of the half-open probe job (0: none)
  bool stopping = false;
  std::shared_ptr<spdlog::logger> log;
  // Cached metric children (null without metrics).
  runtime::metrics::gauge* in_use = nullptr;
  runtime::metrics::gauge* idle = nullptr;
  runtime::metrics::gauge* waiting = nullptr;
  runtime::metrics::histogram* wait = nullptr;
  runtime::metrics::gauge* circuit_gauge = nullptr;
  runtime::metrics::counter* opened = nullptr;
  runtime::metrics::counter* err_circuit = nullptr;
  runtime::metrics::counter* err_queue_full = nullptr;
  runtime::metrics::counter* err_queue_timeout = nullptr;
  static inline const char* name = "db_pool";

  void init(pool_config c) {
    cfg = std::move(c);
    cfg.max = std::max<std::size_t>(cfg.max, 1);
    cfg.min = std::min(cfg.min, cfg.max);
    log = runtime::logging::get("db");
    if (auto& m = cfg.metrics) {
      in_use = &m->pool_connections.with({cfg.name, "in_use"});
      idle = &m->pool_connections.with({cfg.name, "idle"});
      waiting = &m->pool_waiting.with({cfg.name});
      wait = &m->pool_wait.with({cfg.name});
      circuit_gauge = &m->circuit_state.with({cfg.name});
      opened = &m->circuit_opened.with({cfg.name});
      err_circuit = &m->errors.with({"circuit_open"});
      err_queue_full = &m->errors.with({"queue_full"});
      err_queue_timeout = &m->errors.with({"queue_timeout"});
    }
  }

  void update_gauges() {
    if (in_use == nullptr) {
      return;
    }
    auto busy = std::count_if(slots.begin(), slots.end(), [](const slot& s) { return s.busy; });
    in_use->set(static_cast<double>(busy));
    idle->set(static_cast<double>(slots.size() - static_cast<std::size_t>(busy)));
    waiting->set(static_cast<double>(queue.size()));
    circuit_gauge->set(static_cast<double>(static_cast<int>(circuit)));
  }

  static void bump(runtime::metrics::counter* c) {
    if (c != nullptr) {
      c->inc();
    }
  }

  slot* find_slot(uint64_t id) {
    for (auto& s : slots) {
      if (s.id == id) {
        return &s;
      }
    }
    return nullptr;
  }

  slot* idle_slot() {
    for (auto& s : slots) {
      if (!s.busy) {
        return &s;
      }
    }
    return nullptr;
  }

  milliseconds remaining_cooldown(time_point now) const {
    return std::max(milliseconds{0}, std::chrono::ceil<milliseconds>(open_until - now));
  }
};

void spawn_slot(pool_pointer self) {
  auto& st = self->state;
  auto hdl = st.cfg.spawn(self->system());
  self->link_to(hdl);
  st.slots.push_back(slot{++st.next_id, std::move(hdl), false});
}

/// Fails a job that never reached a connection; a lost probe frees the half-open slot.
void reject(pool_pointer self, job& j, const caf::error& err) {
  auto& st = self->state;
  if (j.id == st.probe) {
    st.probe = 0;
  }
  j.fail(err);
}

/// Fails every queued job with `err`.
void fail_queue(pool_pointer self, const caf::error& err) {
  auto& st = self->state;
  auto queue = std::move(st.queue);
  st.queue.clear();
  for (auto& j : queue) {
    reject(self, j, err);
  }
}

void open_circuit(pool_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  // Logged once per outage: a failed probe re-opens the circuit quietly.
  if (st.circuit == circuit_state::closed) {
    st.log->warn("db pool {}: circuit open after {} consecutive unavailable answer(s); failing "
                 "requests for {} ms at a time until a probe succeeds",
                 st.cfg.name, st.consecutive, st.cfg.circuit_cooldown.count());
  } else {
    st.log->debug("db pool {}: probe failed; circuit open again", st.cfg.name);
  }
  st.circuit = circuit_state::open;
  st.open_until = now + st.cfg.circuit_cooldown;
  st.probe = 0;
  pool_state::bump(st.opened);
  fail_queue(self,
             refusal("database circuit open (pool " + st.cfg.name + ")", st.cfg.circuit_cooldown));
}

/// Feeds the outcome of a request into the circuit breaker.
void on_outcome(pool_pointer self, const caf::error& err) {
  auto& st = self->state;
  if (!err || !runtime::is(err, runtime::errc::unavailable)) {
    st.consecutive = 0;
    if (st.circuit != circuit_state::closed) {
      st.circuit = circuit_state::closed;
      st.probe = 0;
      st.log->info("db pool {}: circuit closed (the database answered)", st.cfg.name);
    }
    return;
  }
  ++st.consecutive;
  if (st.cfg.circuit_failures == 0) {
    return;
  }
  if (st.circuit == circuit_state::half_open
      || (st.circuit == circuit_state::closed && st.consecutive >= st.cfg.circuit_failures)) {
    open_circuit(self);
  }
}

void start(pool_pointer self, slot& s, job j) {
  auto& st = self->state;
  s.busy = true;
  if (st.wait != nullptr) {
    st.wait->observe(std::chrono::duration<double>(self->clock().now() - j.enqueued).count());
  }
  st.inflight.emplace(j.id, running{s.id, std::move(j.fail)});
  j.run(self, s.hdl, s.id, j.id);
}

/// Starts queued jobs on idle connections (dropping those that waited too long).
void pump(pool_pointer self) {
  auto& st = self->state;
  while (!st.queue.empty()) {
    auto* s = st.idle_slot();
    if (s == nullptr) {
      break;
    }
    auto j = std::move(st.queue.front());
    st.queue.pop_front();
    if (self->clock().now() - j.enqueued > st.cfg.queue_timeout) {
      pool_state::bump(st.err_queue_timeout);
      reject(self, j,
             refusal("no database connection became free within "
                       + std::to_string(st.cfg.queue_timeout.count()) + " ms (pool " + st.cfg.name
                       + ")",
                     milliseconds{1'000}));
      continue;
    }
    start(self, *s, std::move(j));
  }
}

/// Called when a connection answered job `job_id`; returns `false` if the job was already
/// failed (its connection died, or the pool is stopping) and its requester must not be answered.
bool finish(pool_pointer self, uint64_t slot_id, uint64_t job_id, const caf::error& err) {
  auto& st = self->state;
  auto i = st.inflight.find(job_id);
  if (i == st.inflight.end()) {
    return false;
  }
  st.inflight.erase(i);
  if (job_id == st.probe) {
    st.probe = 0;
  }
  if (auto* s = st.find_slot(slot_id)) {
    s->busy = false;
  }
  on_outcome(self, err);
  pump(self);
  st.update_gauges();
  return true;
}

/// Runs `j` now, or queues it, or refuses it.
void dispatch(pool_pointer self, job j) {
  auto& st = self->state;
  auto* s = st.idle_slot();
  if (s == nullptr && st.slots.size() < st.cfg.max) {
    try {
      spawn_slot(self);
      s = &st.slots.back();
    } catch (const std::exception& e) {
      st.log->error("db pool {}: cannot spawn a connection: {}", st.cfg.name, e.what());
    }
  }
  if (s != nullptr) {
    start(self, *s, std::move(j));
  } else if (st.queue.size() < st.cfg.queue_max) {
    st.queue.push_back(std::move(j));
  } else {
    pool_state::bump(st.err_queue_full);
    reject(self, j,
           refusal("database pool queue full (pool " + st.cfg.name + ")", milliseconds{1'000}));
  }
  st.update_gauges();
}

/// Returns the error refusing a new request because of the circuit, or none (and makes the
/// request the half-open probe when the cooldown is over).
caf::error admit(pool_pointer self, uint64_t job_id) {
  auto& st = self->state;
  if (st.stopping) {
    return runtime::make_error(runtime::errc::shutting_down,
                               caf::make_message(std::string{"database pool stopping"}));
  }
  if (st.cfg.circuit_failures == 0) {
    return caf::none;
  }
  auto now = self->clock().now();
  if (st.circuit == circuit_state::open) {
    if (now < st.open_until) {
      pool_state::bump(st.err_circuit);
      return refusal("database circuit open (pool " + st.cfg.name + ")",
                     st.remaining_cooldown(now));
    }
    st.circuit = circuit_state::half_open;
    st.probe = 0;
    st.log->debug("db pool {}: circuit half-open; probing the database", st.cfg.name);
  }
  if (st.circuit == circuit_state::half_open) {
    if (st.probe != 0) {
      pool_state::bump(st.err_circuit);
      return refusal("database circuit half-open, probe in flight (pool " + st.cfg.name + ")",
                     milliseconds{1'000});
    }
    st.probe = job_id;
  }
  return caf::none;
}

/// Accepts one request of result type `T` with the message `(xs...)`.
template <class T, class... Ts>
caf::typed_response_promise<T> submit(pool_pointer self, Ts... xs) {
  auto& st = self->state;
  auto rp = self->template make_response_promise<T>();
  auto id = ++st.next_id;
  if (auto err = admit(self, id)) {
    rp.deliver(std::move(err));
    st.update_gauges();
    return rp;
  }
  job j;
  j.id = id;
  j.enqueued = self->clock().now();
  j.fail = [rp](const caf::error& err) mutable {
    rp.deliver(err);
  };
  j.run = [rp, args = std::make_tuple(std::move(xs)...)](
            pool_pointer self, const db_actor& conn, uint64_t slot_id, uint64_t job_id) mutable {
    auto handle = std::apply(
      [&](auto&... ys) { return self->request(conn, caf::infinite, std::move(ys)...); }, args);
    handle.then(
      [self, rp, slot_id, job_id](T& result) mutable {
        if (finish(self, slot_id, job_id, caf::none)) {
          rp.deliver(std::move(result));
        }
      },
      [self, rp, slot_id, job_id](caf::error& err) mutable {
        if (finish(self, slot_id, job_id, err)) {
          rp.deliver(std::move(err));
        }
      });
  };
  dispatch(self, std::move(j));
  return rp;
}

/// Fails everything the pool holds, stops its connections and quits.
void stop(pool_pointer self, const caf::error& reason) {
  auto& st = self->state;
  st.stopping = true;
  auto err = runtime::make_error(runtime::errc::shutting_down,
                                 caf::make_message(std::string{"database pool stopping"}));
  fail_queue(self, err);
  auto inflight = std::move(st.inflight);
  st.inflight.clear();
  for (auto& [id, r] : inflight) {
    r.fail(err);
  }
  for (auto& s : st.slots) {
    self->unlink_from(s.hdl);
    caf::anon_send_exit(s.hdl, caf::exit_reason::user_shutdown);
  }
  st.slots.clear();
  st.update_gauges();
  self->quit(reason);
}

/// A linked connection exited: forget it, fail its request, serve the queue with the others.
bool on_connection_exit(pool_pointer self, const caf::exit_msg& msg) {
  auto& st = self->state;
  auto it = std::find_if(st.slots.begin(), st.slots.end(), [&](const slot& s) {
    return caf::actor_cast<caf::actor_addr>(s.hdl) == msg.source;
  });
  if (it == st.slots.end()) {
    return false;
  }
  auto slot_id = it->id;
  st.slots.erase(it);
  st.log->warn("db pool {}: a connection actor exited: {}", st.cfg.name,
               self->system().render(msg.reason));
  auto err = runtime::make_error(
    runtime::errc::unavailable, caf::make_message(std::string{"database connection actor exited"}));
  std::vector<uint64_t> lost;
  for (auto& [id, r] : st.inflight) {
    if (r.slot == slot_id) {
      lost.push_back(id);
    }
  }
  for (auto id : lost) {
    auto r = std::move(st.inflight[id]);
    st.inflight.erase(id);
    if (id == st.probe) {
      st.probe = 0;
    }
    r.fail(err);
  }
  // Queued work needs a connection: replace the lost one now.
  if (!st.queue.empty() && st.slots.size() < st.cfg.max) {
    try {
      spawn_slot(self);
    } catch (const std::exception& e) {
      st.log->error("db pool {}: cannot spawn a connection: {}", st.cfg.name, e.what());
    }
  }
  pump(self);
  st.update_gauges();
  return true;
}

pool_actor::behavior_type pool_impl(pool_pointer self, pool_config cfg) {
  runtime::answer_mailbox_probes(self);
  self->state.init(std::move(cfg));
  auto& st = self->state;
  for (std::size_t i = 0; i < st.cfg.min; ++i) {
    spawn_slot(self);
  }
  st.update_gauges();
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!on_connection_exit(self, msg)) {
      stop(self, msg.reason);
    }
  });
  return {
    [self](insert_atom a, tx_list& rows) { return submit<stored_list>(self, a, std::move(rows)); },
    [self](get_atom a, std::string& tx_id) { return submit<maybe_tx>(self, a, std::move(tx_id)); },
    [self](list_atom a, list_query& q) { return submit<page>(self, a, std::move(q)); },
    [self](alerts_atom a, alerts_query& q) { return submit<tx_list>(self, a, std::move(q)); },
    [self](summary_atom a, summary_query& q) { return submit<summary>(self, a, std::move(q)); },
    [self](history_atom a, history_query& q) {
      return submit<history_list>(self, a, std::move(q));
    },
    [self](export_atom a, export_query& q) { return submit<tx_list>(self, a, std::move(q)); },
    [self](ping_atom a) { return submit<caf::timespan>(self, a); },
    [self](migrate_atom a) { return submit<uint64_t>(self, a); },
    [self](stats_atom) {
      auto& st = self->state;
      pool_stats out;
      out.connections = st.slots.size();
      out.in_use = static_cast<uint64_t>(
        std::count_if(st.slots.begin(), st.slots.end(), [](const slot& s) { return s.busy; }));
      out.idle = out.connections - out.in_use;
      out.waiting = st.queue.size();
      out.circuit = st.circuit;
      out.consecutive_failures = st.consecutive;
      return out;
    },
  };
}

} // namespace

pool_actor spawn_pool(caf::actor_system& sys, pool_config cfg) {
  return sys.spawn(pool_impl, std::move(cfg));
}

} // namespace klerno::actors::storage
