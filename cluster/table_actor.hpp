#pragma once

// The membership table's actor: a detached actor (its own thread) that owns one
// `membership_db` and runs its blocking calls, so the membership actor never waits on the
// database. It also resolves seed names (getaddrinfo blocks too).
//
// Messages (see cluster/messages.hpp for the atoms):
//   (t_read)                                           -> table_view
//   (t_add, member_row, uint64_t expected)             -> outcome
//   (t_status, member_ref, member_status, uint64_t)    -> outcome
//   (t_alive, member_ref)                              -> outcome
//   (t_suspect, member_ref target, member_ref voter, uint64_t) -> outcome
//   (t_declare, member_ref, size_t votes, ms window, uint64_t) -> vote_result
//   (t_resolve, std::vector<std::string> "host:port")  -> std::vector<std::string> "ip:port"
// A `membership_error` becomes errc::unavailable (database unreachable) or errc::invalid_argument.

#include <functional>
#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "cluster/membership_db.hpp"

namespace klerno::cluster {

/// Makes the membership_db of the table actor (called on its thread).
using membership_db_factory = std::function<std::unique_ptr<membership_db>()>;

/// Spawns the table actor.
caf::actor spawn_table_actor(caf::actor_system& sys, membership_db_factory make);

} // namespace klerno::cluster
