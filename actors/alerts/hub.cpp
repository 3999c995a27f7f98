#include "actors/alerts/hub.hpp"
#include "runtime/mailbox_probe.hpp"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace klerno::actors::alerts {

namespace {

struct hub_state {
  struct entry {
    std::shared_ptr<subscriber_sink> sink;
    std::vector<std::string> watch; ///< distinct addresses, as indexed
  };
  hub_config cfg;
  std::unordered_map<subscriber_id, entry> subscribers;
  std::unordered_map<std::string, std::unordered_set<subscriber_id>> index; ///< address -> ids
  static inline const char* name = "klerno.alert_hub";
};

using hub_pointer = hub_actor::stateful_pointer<hub_state>;

/// Removes `id` from the index entries of its addresses (and the subscriber itself).
void forget(hub_state& st, subscriber_id id) {
  auto i = st.subscribers.find(id);
  if (i == st.subscribers.end()) {
    return;
  }
  for (const auto& addr : i->second.watch) {
    auto w = st.index.find(addr);
    if (w == st.index.end()) {
      continue;
    }
    w->second.erase(id);
    if (w->second.empty()) {
      st.index.erase(w);
    }
  }
  st.subscribers.erase(i);
}

uint64_t subscribe(hub_state& st, subscription& sub) {
  forget(st, sub.id);
  if (!sub.sink) {
    return 0;
  }
  hub_state::entry e;
  e.sink = std::move(sub.sink);
  e.watch.reserve(sub.watch.size());
  for (auto& addr : sub.watch) {
    if (addr.empty()) {
      continue; // an alert without a counterparty must not reach everyone watching ""
    }
    if (st.index[addr].insert(sub.id).second) {
      e.watch.push_back(std::move(addr));
    }
  }
  auto n = e.watch.size();
  if (n > 0) {
    st.subscribers.emplace(sub.id, std::move(e));
  }
  return n;
}

/// Hands `a` to every subscriber watching its sender or its receiver (once each).
void deliver(hub_state& st, const alert_ptr& a) {
  std::vector<subscriber_id> gone;
  auto send_to = [&](subscriber_id id) {
    auto s = st.subscribers.find(id);
    if (s != st.subscribers.end() && !s->second.sink->deliver(a)) {
      gone.push_back(id);
    }
  };
  const std::unordered_set<subscriber_id>* from = nullptr;
  if (!a->tx.from_addr.empty()) {
    if (auto i = st.index.find(a->tx.from_addr); i != st.index.end()) {
      from = &i->second;
      for (auto id : *from) {
        send_to(id);
      }
    }
  }
  if (!a->tx.to_addr.empty() && a->tx.to_addr != a->tx.from_addr) {
    if (auto i = st.index.find(a->tx.to_addr); i != st.index.end()) {
      for (auto id : i->second) {
        if (from == nullptr || from->count(id) == 0) {
          send_to(id);
        }
      }
    }
  }
  for (auto id : gone) {
    forget(st, id);
  }
}

hub_actor::behavior_type hub_impl(hub_pointer self, hub_config cfg) {
  runtime::answer_mailbox_probes(self);
  self->state.cfg = std::move(cfg);
  return {
    [self](subscribe_atom, subscription& sub) -> uint64_t { return subscribe(self->state, sub); },
    [self](unsubscribe_atom, subscriber_id id) { forget(self->state, id); },
    [self](publish_local_atom, alert_ptr& a) {
      if (!a) {
        return;
      }
      if (a->origin_node.empty()) {
        a = make_alert(a->tx, self->state.cfg.node_name);
      }
      deliver(self->state, a);
      auto fan = self->system().registry().get(alert_fan_name);
      if (fan) {
        self->send(caf::actor_cast<fan_out_actor>(fan), broadcast_atom::value, a);
      }
    },
    [self](publish_remote_atom, const alert_ptr& a) {
      if (a) {
        deliver(self->state, a);
      }
    },
  };
}

} // namespace

alert_ptr make_alert(model::transaction tx, std::string origin_node) {
  return std::make_shared<const alert>(alert{std::move(tx), std::move(origin_node)});
}

caf::actor spawn_hub(caf::actor_system& sys, hub_config cfg) {
  return caf::actor_cast<caf::actor>(sys.spawn(hub_impl, std::move(cfg)));
}

void publish_local(caf::actor_system& sys, model::transaction tx) {
  auto hub = caf::actor_cast<hub_actor>(sys.registry().get(hub_name));
  if (hub) {
    caf::anon_send(hub, publish_local_atom::value, make_alert(std::move(tx)));
  }
}

} // namespace klerno::actors::alerts
