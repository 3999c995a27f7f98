#include "actors/health.hpp"

#include <fmt/format.h>

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/storage/messages.hpp"
#include "runtime/mailbox_probe.hpp"
#include "runtime/process_stats.hpp"
#include "runtime/utilization.hpp"

namespace klerno::actors {

namespace {

struct health_state {
  health_config cfg;
  std::vector<runtime::check_status> dependencies; ///< last result per dependency, in order
  std::chrono::steady_clock::time_point next_tick;
  std::chrono::steady_clock::time_point last_sample_mono;
  double last_cpu_seconds = 0;
  bool sampled = false;
  runtime::capacity capacity; ///< CPUs and memory available to the process (re-read per tick)
  uint64_t sequence = 0;
  std::chrono::microseconds lag{0};
  bool recheck_pending = false; ///< a recheck_atom is on its way
  static inline const char* name = "health";
};

using health_pointer = health_actor::stateful_pointer<health_state>;

/// Samples the process and publishes a snapshot; returns it.
snapshot_ptr sample(health_pointer self) {
  auto& st = self->state;
  auto now_mono = std::chrono::steady_clock::now();
  runtime::health_snapshot snap;
  snap.process = runtime::read_process_stats();
  if (st.sampled) {
    auto wall = std::chrono::duration<double>(now_mono - st.last_sample_mono).count();
    if (wall > 0) {
      snap.cpu_percent = (snap.process.cpu_seconds - st.last_cpu_seconds) / wall * 100.0;
      snap.cpu_utilization = runtime::cpu_utilization(
        snap.process.cpu_seconds - st.last_cpu_seconds, wall, st.capacity.cpus);
    }
  } else if (snap.process.start_time_seconds > 0) {
    // The first sample has no previous one: its interval is the process's life so far.
    auto now_wall =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    snap.cpu_utilization = runtime::cpu_utilization(
      snap.process.cpu_seconds, now_wall - snap.process.start_time_seconds, st.capacity.cpus);
  }
  snap.memory_utilization =
    runtime::memory_utilization(snap.process.resident_bytes, st.capacity.memory_bytes);
  // Keep the CPU baseline at least one interval old so on-demand samples (GET) stay meaningful.
  if (!st.sampled || now_mono - st.last_sample_mono >= st.cfg.sample_interval) {
    st.last_sample_mono = now_mono;
    st.last_cpu_seconds = snap.process.cpu_seconds;
    st.sampled = true;
  }
  snap.sampled_at = std::chrono::system_clock::now();
  snap.sequence = ++st.sequence;
  runtime::check_status sched;
  sched.name = "scheduler";
  sched.required = false;
  sched.ok = st.lag <= st.cfg.max_scheduler_lag;
  sched.latency = st.lag;
  sched.detail = fmt::format("timer lag {:.3f} ms", st.lag.count() / 1000.0);
  sched.checked_at = snap.sampled_at;
  snap.checks.push_back(std::move(sched));
  for (const auto& d : st.dependencies) {
    snap.checks.push_back(d);
  }
  if (st.cfg.autoscale) {
    runtime::member_utilization own{snap.cpu_utilization, snap.memory_utilization};
    auto members = runtime::counted_members(
      st.cfg.autoscale_board ? st.cfg.autoscale_board->current() : std::nullopt, own);
    st.cfg.autoscale->update(own, runtime::desired_replicas(members, st.cfg.autoscale_policy));
  }
  st.cfg.board->publish(snap);
  return st.cfg.board->snapshot();
}

/// How often a failing dependency is checked again (at most HEALTH_CHECK_INTERVAL).
constexpr std::chrono::milliseconds failing_recheck_interval{500};

/// Pings every dependency; each answer updates its status and publishes a snapshot.
void check_dependencies(health_pointer self) {
  auto& st = self->state;
  for (std::size_t i = 0; i < st.cfg.dependencies.size(); ++i) {
    const auto& dep = st.cfg.dependencies[i];
    auto record = [self, i](bool ok, std::chrono::microseconds latency, std::string detail) {
      auto& st = self->state;
      auto& status = st.dependencies[i];
      status.ok = ok;
      status.latency = latency;
      status.detail = std::move(detail);
      status.checked_at = std::chrono::system_clock::now();
      sample(self);
      // A failing dependency (a pool still connecting at start, a database back after an outage)
      // is checked again soon, so readiness follows it within a fraction of a second.
      if (!ok && !st.recheck_pending) {
        st.recheck_pending = true;
        self->delayed_send(self, std::min(st.cfg.sample_interval, failing_recheck_interval),
                           recheck_atom::value);
      }
    };
    auto started = std::chrono::steady_clock::now();
    auto failed = [record, started](caf::error& err) {
      auto took = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
      record(false, took, storage::error_text(err));
    };
    if (dep.detailed) {
      auto target = self->system().registry().get(dep.actor);
      if (!target) {
        record(false, {}, "not running");
        continue;
      }
      self
        ->request(caf::actor_cast<caf::actor>(target), st.cfg.check_timeout, ping_atom::value,
                  caf::get_atom::value)
        .then(
          [record](caf::timespan latency, std::string& detail) {
            record(true, std::chrono::duration_cast<std::chrono::microseconds>(latency),
                   std::move(detail));
          },
          failed);
      continue;
    }
    auto pool = caf::actor_cast<storage::pool_actor>(self->system().registry().get(dep.actor));
    if (!pool) {
      record(false, {}, "not running");
      continue;
    }
    self->request(pool, st.cfg.check_timeout, storage::ping_atom::value)
      .then(
        [record](caf::timespan latency) {
          record(true, std::chrono::duration_cast<std::chrono::microseconds>(latency),
                 fmt::format("ping {:.3f} ms",
                             std::chrono::duration<double, std::milli>(latency).count()));
        },
        failed);
  }
}

/// Asks the main actors for their mailbox depth (answers set the gauges; no answer in time,
/// nothing: the gauge keeps its last value and the actor's slowness shows elsewhere).
void probe_mailboxes(health_pointer self) {
  auto& st = self->state;
  if (st.cfg.mailbox_depth == nullptr) {
    return;
  }
  for (const auto& [label, name] : st.cfg.mailbox_probes) {
    auto target = self->system().registry().get(name);
    if (!target) {
      continue;
    }
    auto* gauge = &st.cfg.mailbox_depth->with({label});
    self
      ->request(caf::actor_cast<caf::actor>(target), st.cfg.check_timeout,
                runtime::mailbox_atom::value)
      .then([gauge](uint64_t depth) { gauge->set(static_cast<double>(depth)); },
            [](caf::error&) {});
  }
}

health_actor::behavior_type health_impl(health_pointer self, health_config cfg) {
  runtime::answer_mailbox_probes(self);
  for (const auto& dep : cfg.dependencies) {
    runtime::check_status status;
    status.name = dep.name;
    status.required = dep.required;
    status.detail = "not checked yet";
    self->state.dependencies.push_back(std::move(status));
  }
  self->state.cfg = cfg;
  self->state.capacity = runtime::read_capacity();
  self->state.next_tick = std::chrono::steady_clock::now();
  sample(self);
  check_dependencies(self);
  probe_mailboxes(self);
  self->state.next_tick += cfg.sample_interval;
  self->delayed_send(self, cfg.sample_interval, tick_atom::value);
  return {
    [](ping_atom) { return pong_atom::value; },
    [self](caf::get_atom) { return sample(self); },
    [self](tick_atom) {
      auto& st = self->state;
      auto now = std::chrono::steady_clock::now();
      st.lag = std::chrono::duration_cast<std::chrono::microseconds>(
        now > st.next_tick ? now - st.next_tick : std::chrono::steady_clock::duration::zero());
      st.capacity = runtime::read_capacity(); // a cgroup limit may change at run time
      sample(self);
      check_dependencies(self);
      probe_mailboxes(self);
      st.next_tick = now + st.cfg.sample_interval;
      self->delayed_send(self, st.cfg.sample_interval, tick_atom::value);
    },
    [self](recheck_atom) {
      self->state.recheck_pending = false;
      check_dependencies(self);
    },
  };
}

} // namespace

caf::actor spawn_health(caf::actor_system& sys, health_config cfg) {
  return caf::actor_cast<caf::actor>(sys.spawn(health_impl, cfg));
}

} // namespace klerno::actors
