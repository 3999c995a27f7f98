#include "actors/storage/reads.hpp"

#include <functional>
#include <unordered_map>
#include <utility>

#include <caf/make_message.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "runtime/errc.hpp"
#include "runtime/mailbox_probe.hpp"

namespace klerno::actors::storage {

namespace {

struct reads_state {
  reads_config cfg;
  std::size_t next_replica = 0;
  uint64_t next_id = 0;
  /// Requests waiting for a replica: id -> fails the requester (used when stopping).
  std::unordered_map<uint64_t, std::function<void(const caf::error&)>> pending;
  runtime::metrics::counter* fallbacks = nullptr;
  static inline const char* name = "db_reads";
};

using reads_pointer = reads_actor::stateful_pointer<reads_state>;

/// Routes a read that may lag: a replica (round robin), the primary when the replica fails.
template <class T, class Atom, class Query>
caf::result<T> lagging(reads_pointer self, Atom atom, Query& q) {
  auto& st = self->state;
  if (st.cfg.replicas.empty()) {
    return self->delegate(st.cfg.primary, atom, std::move(q));
  }
  auto replica = st.cfg.replicas[st.next_replica++ % st.cfg.replicas.size()];
  auto rp = self->template make_response_promise<T>();
  auto id = ++st.next_id;
  st.pending.emplace(id, [rp](const caf::error& err) mutable { rp.deliver(err); });
  self->request(replica, caf::infinite, atom, q)
    .then(
      [self, rp, id](T& result) mutable {
        if (self->state.pending.erase(id) > 0) {
          rp.deliver(std::move(result));
        }
      },
      [self, rp, id, atom, q](caf::error& err) mutable {
        auto& st = self->state;
        if (st.pending.erase(id) == 0) {
          return;
        }
        // Fall back unless the primary would fail the same way: a refused query, a query too
        // slow for the statement timeout, or a shutdown. Anything else on a replica (down, or
        // behind the schema after a migration: "relation does not exist") is the replica's.
        bool fallback = !runtime::is(err, runtime::errc::invalid_argument)
                        && !runtime::is(err, runtime::errc::deadline_exceeded)
                        && !runtime::is(err, runtime::errc::shutting_down);
        if (fallback) {
          if (st.fallbacks != nullptr) {
            st.fallbacks->inc();
          }
          rp.delegate(st.cfg.primary, atom, std::move(q));
          return;
        }
        rp.deliver(std::move(err));
      });
  return rp;
}

reads_actor::behavior_type reads_impl(reads_pointer self, reads_config cfg) {
  runtime::answer_mailbox_probes(self);
  self->state.cfg = std::move(cfg);
  if (self->state.cfg.metrics) {
    self->state.fallbacks = &self->state.cfg.metrics->replica_fallbacks.with({});
  }
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto pending = std::move(self->state.pending);
    self->state.pending.clear();
    auto err = runtime::make_error(runtime::errc::shutting_down,
                                   caf::make_message(std::string{"database reads stopping"}));
    for (auto& [id, fail] : pending) {
      fail(err);
    }
    self->quit(msg.reason);
  });
  return {
    [self](get_atom atom, std::string& tx_id) -> caf::result<maybe_tx> {
      return self->delegate(self->state.cfg.primary, atom, std::move(tx_id));
    },
    [self](list_atom atom, list_query& q) { return lagging<page>(self, atom, q); },
    [self](alerts_atom atom, alerts_query& q) { return lagging<tx_list>(self, atom, q); },
    [self](summary_atom atom, summary_query& q) { return lagging<summary>(self, atom, q); },
    [self](history_atom atom, history_query& q) -> caf::result<history_list> {
      return self->delegate(self->state.cfg.primary, atom, std::move(q));
    },
    [self](export_atom atom, export_query& q) { return lagging<tx_list>(self, atom, q); },
  };
}

} // namespace

reads_actor spawn_reads(caf::actor_system& sys, reads_config cfg) {
  return sys.spawn(reads_impl, std::move(cfg));
}

} // namespace klerno::actors::storage
