#pragma once

// The CAF messages of the cluster. Between nodes every message is an atom plus protobuf bytes
// (a std::string holding a message of proto/cluster.proto), so that nodes of adjacent versions
// interoperate (protobuf ignores unknown fields) and no C++ type has to be registered with CAF's
// serializer. Inside a node, the table actor's messages carry the C++ types of
// cluster/membership_db.hpp.
//
// Node-to-node messages, all sent to the receiving node's endpoint (the actor published on
// CLUSTER_PORT):
//   (k_hello, Hello)      -> (bool ok, Challenge | Refused)
//   (k_proof, Proof)      -> (bool ok, Welcome | Refused)
//   (k_beat, Heartbeat)   -> (HeartbeatAck)           authenticated peers only
//   (k_viewchg, ViewChanged)                          authenticated peers only, no reply
//   (k_leaving, Leaving)                              authenticated peers only, no reply
//   (k_alert, Alert)                                  authenticated peers only, no reply
//   (k_store, StoreRequest) -> (StoreReply)           authenticated peers only

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "cluster/membership_db.hpp"

namespace klerno::cluster {

using hello_atom = caf::atom_constant<caf::atom("k_hello")>;
using proof_atom = caf::atom_constant<caf::atom("k_proof")>;
using beat_atom = caf::atom_constant<caf::atom("k_beat")>;
using view_changed_atom = caf::atom_constant<caf::atom("k_viewchg")>;
using leaving_atom = caf::atom_constant<caf::atom("k_leaving")>;
using alert_atom = caf::atom_constant<caf::atom("k_alert")>;
using store_atom = caf::atom_constant<caf::atom("k_store")>;

// Local messages of the membership actor and its table actor.
using read_atom = caf::atom_constant<caf::atom("t_read")>;
using add_atom = caf::atom_constant<caf::atom("t_add")>;
using status_atom = caf::atom_constant<caf::atom("t_status")>;
using alive_atom = caf::atom_constant<caf::atom("t_alive")>;
using suspect_atom = caf::atom_constant<caf::atom("t_suspect")>;
using declare_atom = caf::atom_constant<caf::atom("t_declare")>;
using resolve_atom = caf::atom_constant<caf::atom("t_resolve")>;
using leave_atom = caf::atom_constant<caf::atom("m_leave")>;
using exit_atom = caf::atom_constant<caf::atom("m_exit")>;
using fan_atom = caf::atom_constant<caf::atom("m_fan")>;
/// membership -> endpoint: the node we dialled proved the secret; accept its messages.
using trust_atom = caf::atom_constant<caf::atom("m_trust")>;
/// endpoint -> membership: a peer proved the secret and sent the handle of its endpoint.
using inbound_atom = caf::atom_constant<caf::atom("m_inbound")>;
/// endpoint -> membership: (name, incarnation, cpu, memory) a peer's utilization from its
/// heartbeat; NaN: unknown (see cluster/utilization.hpp).
using utilization_atom = caf::atom_constant<caf::atom("m_util")>;

/// Registry name of the membership actor (it also fans alerts out to the peers).
constexpr caf::atom_value membership_name = caf::atom("membership");

/// Registry name of the endpoint (the actor published on CLUSTER_PORT).
constexpr caf::atom_value endpoint_name = caf::atom("endpoint");

} // namespace klerno::cluster

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::cluster::table_view)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::cluster::member_row)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::cluster::member_ref)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::cluster::member_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::cluster::outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::cluster::vote_result)
