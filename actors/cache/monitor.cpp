#include "actors/cache/monitor.hpp"

#include <map>

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/health.hpp"
#include "runtime/errc.hpp"

namespace klerno::cache {

namespace {

using probed_atom = caf::atom_constant<caf::atom("probed")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;

struct monitor_state {
  uint64_t next_id = 0;
  std::map<uint64_t, caf::response_promise> pending;
  static inline const char* name = "redis_monitor";
};

} // namespace

caf::actor spawn_redis_monitor(caf::actor_system& sys, probe_fn probe,
                               std::chrono::milliseconds timeout, metrics_ptr metrics) {
  auto impl = [probe = std::move(probe), timeout,
               metrics](caf::stateful_actor<monitor_state>* self) -> caf::behavior {
    auto finish = [self, metrics](uint64_t id, bool ok, std::chrono::microseconds latency,
                                  const std::string& detail) {
      auto it = self->state.pending.find(id);
      if (it == self->state.pending.end()) {
        return; // answered already (timed out)
      }
      auto rp = std::move(it->second);
      self->state.pending.erase(it);
      if (metrics) {
        metrics->redis_up.set(ok ? 1 : 0);
      }
      if (ok) {
        rp.deliver(caf::timespan{latency}, detail);
      } else {
        rp.deliver(runtime::make_error(runtime::errc::unavailable, caf::make_message(detail)));
      }
    };
    return {
      [self, probe, timeout](actors::ping_atom, caf::get_atom) {
        auto rp = self->make_response_promise();
        auto id = self->state.next_id++;
        self->state.pending.emplace(id, rp);
        // The probe answers from an io thread: hop back into the actor with a message.
        probe([handle = caf::actor_cast<caf::actor>(self), id](redis_probe p) {
          caf::anon_send(handle, probed_atom::value, id, p.ok,
                         static_cast<int64_t>(p.latency.count()), std::move(p.detail));
        });
        self->delayed_send(self, timeout, expire_atom::value, id);
        return rp;
      },
      [finish](probed_atom, uint64_t id, bool ok, int64_t latency_us, const std::string& detail) {
        finish(id, ok, std::chrono::microseconds{latency_us}, detail);
      },
      [finish](expire_atom, uint64_t id) { finish(id, false, {}, "no answer from Redis in time"); },
    };
  };
  return sys.spawn(impl);
}

} // namespace klerno::cache
