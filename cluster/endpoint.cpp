#include "cluster/endpoint.hpp"

#include <limits>
#include <map>
#include <set>

#include <caf/actor_registry.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/stateful_actor.hpp>

#include "cluster/auth.hpp"
#include "cluster/messages.hpp"
#include "cluster/utilization.hpp"
#include "proto/cluster.pb.h"
#include "runtime/errc.hpp"
#include "runtime/logging.hpp"

namespace klerno::cluster {

namespace v1 = klerno::cluster::v1;

int to_wire(member_role r) noexcept {
  switch (r) {
    case member_role::edge:
      return v1::ROLE_EDGE;
    case member_role::worker:
      return v1::ROLE_WORKER;
    case member_role::both:
      return v1::ROLE_BOTH;
  }
  return v1::ROLE_BOTH;
}

std::optional<member_role> from_wire(int r) noexcept {
  switch (r) {
    case v1::ROLE_EDGE:
      return member_role::edge;
    case v1::ROLE_WORKER:
      return member_role::worker;
    case v1::ROLE_BOTH:
      return member_role::both;
    default:
      return std::nullopt;
  }
}

namespace {

/// A handshake between the Challenge and the Proof.
struct pending {
  auth::transcript transcript;
  std::string name;
  std::string address; ///< where the joiner's own endpoint listens (from its Hello)
};

struct endpoint_state {
  endpoint_config cfg;
  std::map<caf::node_id, pending> handshakes;
  std::set<caf::node_id> authenticated;
  std::set<caf::node_id> reported; ///< unauthenticated senders already logged (log once)
  static inline const char* name = "klerno.cluster_endpoint";
};

using endpoint_actor = caf::stateful_actor<endpoint_state>;

std::string serialize(const google::protobuf::MessageLite& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

std::string refused(const std::string& reason) {
  v1::Refused r;
  r.set_version(v1::PROTOCOL_MINOR);
  r.set_reason(reason);
  return serialize(r);
}

caf::node_id sender_node(endpoint_actor* self) {
  const auto& src = self->current_sender();
  return src ? src->node() : caf::node_id{};
}

void count_refused(endpoint_actor* self, const char* reason) {
  if (self->state.cfg.metrics) {
    self->state.cfg.metrics->refused.with({reason}).inc();
  }
}

/// Returns whether the current message comes from an authenticated peer; logs (once per peer
/// process) and counts it otherwise.
bool authenticated(endpoint_actor* self, const char* what) {
  auto node = sender_node(self);
  if (self->state.authenticated.count(node) > 0) {
    return true;
  }
  count_refused(self, "unauthenticated");
  if (self->state.reported.insert(node).second) {
    runtime::logging::get("cluster")->warn(
      "refused {} from an unauthenticated peer (CAF node {}); it must pass the handshake first",
      what, caf::to_string(node));
  }
  return false;
}

caf::error not_authenticated() {
  return runtime::make_error(runtime::errc::unavailable,
                             caf::make_message(std::string{"not authenticated"}));
}

/// Returns the membership actor: the configured one, else the one in the registry (the node
/// publishes its endpoint before it starts the membership actor).
caf::actor membership_of(endpoint_actor* self) {
  if (self->state.cfg.membership) {
    return self->state.cfg.membership;
  }
  return caf::actor_cast<caf::actor>(self->system().registry().get(membership_name));
}

caf::behavior endpoint_impl(endpoint_actor* self, endpoint_config cfg) {
  self->state.cfg = std::move(cfg);
  auto log = runtime::logging::get("cluster");
  return {
    // -- the handshake (responder side) ---------------------------------------------------
    [self, log](hello_atom, const std::string& bytes) -> std::tuple<bool, std::string> {
      auto& st = self->state;
      v1::Hello hello;
      if (!hello.ParseFromString(bytes) || hello.version() == 0
          || hello.nonce().size() != auth::nonce_size || !from_wire(hello.role())
          || hello.node_name().empty()) {
        count_refused(self, "malformed");
        return {false, refused("malformed Hello")};
      }
      if (hello.node_name() == st.cfg.node_name && hello.incarnation() == st.cfg.incarnation) {
        return {false, refused("a node cannot join itself")};
      }
      pending p;
      p.name = hello.node_name();
      p.address = hello.address();
      auto& t = p.transcript;
      t.joiner_name = hello.node_name();
      t.joiner_incarnation = hello.incarnation();
      t.joiner_version = hello.version();
      t.joiner_nonce = hello.nonce();
      t.responder_name = st.cfg.node_name;
      t.responder_incarnation = st.cfg.incarnation;
      t.responder_version = v1::PROTOCOL_MINOR;
      t.responder_nonce = auth::make_nonce();
      v1::Challenge ch;
      ch.set_version(v1::PROTOCOL_MINOR);
      ch.set_node_name(st.cfg.node_name);
      ch.set_incarnation(st.cfg.incarnation);
      ch.set_nonce(t.responder_nonce);
      ch.set_proof(auth::proof(st.cfg.secret.reveal(), auth::challenge_label, t));
      st.handshakes[sender_node(self)] = std::move(p);
      return {true, serialize(ch)};
    },
    [self, log](proof_atom, const std::string& bytes,
                const caf::actor& peer_endpoint) -> std::tuple<bool, std::string> {
      auto& st = self->state;
      auto node = sender_node(self);
      auto i = st.handshakes.find(node);
      if (i == st.handshakes.end()) {
        count_refused(self, "malformed");
        return {false, refused("Proof without a Hello")};
      }
      auto p = std::move(i->second);
      st.handshakes.erase(i);
      v1::Proof proof;
      if (!proof.ParseFromString(bytes) || proof.version() == 0
          || !auth::verify(st.cfg.secret.reveal(), auth::proof_label, p.transcript,
                           proof.proof())) {
        count_refused(self, "authentication");
        log->warn("refused {} (incarnation {}): it could not prove CLUSTER_SECRET", p.name,
                  p.transcript.joiner_incarnation);
        return {false, refused("authentication failed")};
      }
      st.authenticated.insert(node);
      st.reported.erase(node);
      log->info("authenticated {} (incarnation {})", p.name, p.transcript.joiner_incarnation);
      // The joiner's endpoint, reached over the connection it opened: our membership uses it
      // instead of opening a second connection to the same node (CAF keeps one per pair and
      // closes the redundant one, which its OpenSSL transport does not survive).
      if (auto m = membership_of(self); m && peer_endpoint && !p.address.empty()) {
        self->send(m, inbound_atom::value, p.name, p.transcript.joiner_incarnation, p.address,
                   peer_endpoint);
      }
      v1::Welcome w;
      w.set_version(v1::PROTOCOL_MINOR);
      return {true, serialize(w)};
    },
    // A node our membership dialled proved the secret (local message from the membership).
    [self](trust_atom, const caf::node_id& node) {
      if (self->current_sender() && self->current_sender()->node() == self->node()) {
        self->state.authenticated.insert(node);
        self->state.reported.erase(node);
      }
    },
    // This node rejoined as a new incarnation (local message from the membership actor).
    [self](caf::update_atom, uint64_t incarnation) {
      if (self->current_sender() && self->current_sender()->node() == self->node()) {
        self->state.cfg.incarnation = incarnation;
      }
    },
    // -- authenticated peers only ---------------------------------------------------------
    [self](beat_atom, const std::string& bytes) -> caf::result<std::string> {
      if (!authenticated(self, "a heartbeat")) {
        return not_authenticated();
      }
      v1::Heartbeat hb;
      if (!hb.ParseFromString(bytes)) {
        return runtime::make_error(runtime::errc::invalid_argument);
      }
      v1::HeartbeatAck ack;
      ack.set_version(v1::PROTOCOL_MINOR);
      ack.set_node_name(self->state.cfg.node_name);
      ack.set_incarnation(self->state.cfg.incarnation);
      ack.set_seq(hb.seq());
      ack.set_sent_at_us(hb.sent_at_us());
      set_utilization(ack, own_utilization(self->state.cfg.health));
      if (hb.has_cpu_utilization() || hb.has_memory_utilization()) {
        if (auto m = membership_of(self)) {
          constexpr auto unknown = std::numeric_limits<double>::quiet_NaN();
          auto u = utilization_of(hb);
          self->send(m, utilization_atom::value, hb.node_name(), hb.incarnation(),
                     u.cpu.value_or(unknown), u.memory.value_or(unknown));
        }
      }
      return serialize(ack);
    },
    [self](view_changed_atom, const std::string&) {
      if (authenticated(self, "a view change")) {
        if (auto m = membership_of(self)) {
          self->send(m, view_changed_atom::value);
        }
      }
    },
    [self](leaving_atom, const std::string&) {
      if (authenticated(self, "a leave notice")) {
        if (auto m = membership_of(self)) {
          self->send(m, view_changed_atom::value);
        }
      }
    },
    [self](alert_atom, std::string& bytes) {
      if (authenticated(self, "an alert") && self->state.cfg.services) {
        self->send(self->state.cfg.services, alert_atom::value, std::move(bytes));
      }
    },
    [self](store_atom, std::string& bytes) -> caf::result<std::string> {
      // Check the sender first: make_response_promise() takes the sender out of the message.
      if (!authenticated(self, "wallet work")) {
        return not_authenticated();
      }
      if (!self->state.cfg.services) {
        return runtime::make_error(runtime::errc::unavailable,
                                   caf::make_message(std::string{"this node owns no wallets"}));
      }
      auto rp = self->make_response_promise<std::string>();
      rp.delegate(self->state.cfg.services, store_atom::value, std::move(bytes));
      return rp;
    },
  };
}

} // namespace

caf::actor spawn_endpoint(caf::actor_system& sys, endpoint_config cfg) {
  return sys.spawn(endpoint_impl, std::move(cfg));
}

} // namespace klerno::cluster
