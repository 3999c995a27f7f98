#include "actors/remote/services.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/alerts/hub.hpp"
#include "actors/remote/codec.hpp"
#include "actors/wallet/region.hpp"
#include "cluster/messages.hpp"
#include "runtime/errc.hpp"
#include "runtime/logging.hpp"

namespace klerno::actors::remote {

namespace v1 = cluster::v1;

namespace {

struct services_state {
  services_config cfg;
  static inline const char* name = "klerno.remote_services";
};

using services_actor = caf::stateful_actor<services_state>;

std::string serialize(const google::protobuf::MessageLite& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

wallet::item_outcome failure(runtime::errc code, std::string message) {
  wallet::item_outcome o;
  o.error = runtime::make_error(code, caf::make_message(std::move(message)));
  return o;
}

caf::result<std::string> store(services_actor* self, const std::string& bytes) {
  v1::StoreRequest req;
  if (!req.ParseFromString(bytes) || req.version() == 0) {
    return runtime::make_error(runtime::errc::invalid_argument,
                               caf::make_message(std::string{"malformed StoreRequest"}));
  }
  auto view = self->state.cfg.board->current();
  auto n = static_cast<std::size_t>(req.txs_size());
  auto outcomes = std::make_shared<std::vector<wallet::item_outcome>>(n);
  auto positions = std::make_shared<std::vector<std::size_t>>();
  wallet::store_many_request mine;
  for (std::size_t i = 0; i < n; ++i) {
    auto tx = decode(req.txs(static_cast<int>(i)));
    if (!tx) {
      (*outcomes)[i] = failure(runtime::errc::invalid_argument, "malformed transaction");
      continue;
    }
    if (!tx->from_addr.empty()) {
      auto owner = view->owner_of(tx->from_addr);
      if (!owner || !view->is_self(*owner)) {
        (*outcomes)[i].error = runtime::make_error(
          runtime::errc::unavailable, caf::make_message(std::string{"not_owner"}, int64_t{0}));
        continue;
      }
    }
    positions->push_back(i);
    mine.txs.push_back(std::move(*tx));
  }
  auto reply = [outcomes] {
    v1::StoreReply out;
    out.set_version(v1::PROTOCOL_MINOR);
    for (const auto& o : *outcomes) {
      encode(o, *out.add_items());
    }
    return serialize(out);
  };
  if (mine.txs.empty()) {
    return reply();
  }
  auto region =
    caf::actor_cast<wallet::region_actor>(self->system().registry().get(wallet::region_name));
  if (!region) {
    for (auto i : *positions) {
      (*outcomes)[i] = failure(runtime::errc::unavailable, "the wallet region is restarting");
    }
    return reply();
  }
  auto rp = self->make_response_promise<std::string>();
  self->request(region, self->state.cfg.timeout, wallet::store_many_atom::value, std::move(mine))
    .then(
      [rp, outcomes, positions, reply](wallet::store_many_reply& r) mutable {
        for (std::size_t k = 0; k < positions->size() && k < r.items.size(); ++k) {
          (*outcomes)[(*positions)[k]] = std::move(r.items[k]);
        }
        rp.deliver(reply());
      },
      [rp, outcomes, positions, reply](caf::error& err) mutable {
        for (auto i : *positions) {
          (*outcomes)[i].error = err;
        }
        rp.deliver(reply());
      });
  return rp;
}

caf::behavior services_impl(services_actor* self, services_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
    [self](cluster::store_atom, const std::string& bytes) { return store(self, bytes); },
    [self](cluster::alert_atom, const std::string& bytes) {
      v1::Alert a;
      if (!a.ParseFromString(bytes)) {
        return;
      }
      auto tx = decode(a.tx());
      auto hub =
        caf::actor_cast<alerts::hub_actor>(self->system().registry().get(alerts::hub_name));
      if (tx && hub) {
        self->send(hub, alerts::publish_remote_atom::value,
                   alerts::make_alert(std::move(*tx), a.origin_node()));
      }
    },
    [self](alerts::broadcast_atom, const alerts::alert_ptr& alert) {
      auto membership = self->system().registry().get(cluster::membership_name);
      if (!membership || !alert) {
        return;
      }
      v1::Alert a;
      a.set_version(v1::PROTOCOL_MINOR);
      encode(alert->tx, *a.mutable_tx());
      a.set_origin_node(alert->origin_node.empty() ? self->state.cfg.node_name
                                                   : alert->origin_node);
      self->send(caf::actor_cast<caf::actor>(membership), cluster::fan_atom::value, serialize(a));
    },
  };
}

} // namespace

caf::actor spawn_services(caf::actor_system& sys, services_config cfg) {
  return sys.spawn(services_impl, std::move(cfg));
}

} // namespace klerno::actors::remote
