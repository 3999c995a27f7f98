#pragma once

// Erlang-style supervisors on CAF links.
//
// A supervisor is an event-based actor that starts its children in order, links to each, traps
// their exits and restarts them according to its strategy:
// - one_for_one:  only the child that exited is restarted;
// - one_for_all:  all children are stopped (reverse start order) and restarted (start order);
// - rest_for_one: the exited child and every child started after it are stopped (reverse
//                 order) and restarted (start order).
// A child's restart type decides whether its exit causes a restart at all:
// - permanent: always restarted;
// - transient: restarted only after an abnormal exit (reason other than normal/user_shutdown);
// - temporary: never restarted (removed from the supervisor when it exits).
//
// Restart intensity: if more than `max_restarts` restarts happen within `period`, the supervisor
// gives up: it stops all its children (reverse start order) and exits with
// `errc::restart_intensity_exceeded`. A supervisor's own parent sees that exit like any child
// exit (escalation). When the root supervisor gives up, the node shuts down and exits non-zero.
//
// Stopping: an exit message from anyone who is not a child (the parent's link, or the node
// sending `user_shutdown`) makes the supervisor stop its children in reverse start order, each
// with `exit_reason::user_shutdown` and, after its `shutdown_timeout`, `exit_reason::kill`, and
// then exit with the same reason.
//
// Time is read from the actor's clock (`self->clock().now()`), so tests using CAF's
// test_coordinator control it deterministically.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace klerno::runtime {

/// Whether a child is restarted when it exits.
enum class restart_type {
  permanent, ///< always restarted
  transient, ///< restarted after an abnormal exit only
  temporary, ///< never restarted
};

/// Which children are restarted when one of them exits.
enum class restart_strategy { one_for_one, one_for_all, rest_for_one };

const char* to_string(restart_type x) noexcept;
const char* to_string(restart_strategy x) noexcept;

/// Starts a child. Called by the supervisor from its own actor context, at first start and at
/// every restart. Returns the new child (an invalid handle or an error means the start failed).
using child_start_fn = std::function<caf::expected<caf::actor>(caf::actor_system&)>;

/// Describes one child of a supervisor.
struct child_spec {
  std::string name;                      ///< unique within the supervisor; used in logs/metrics
  child_start_fn start;                  ///< spawns the child
  restart_type restart = restart_type::permanent;
  std::chrono::milliseconds shutdown_timeout{5'000}; ///< user_shutdown -> kill after this
  /// When set, the child is published in the actor system's registry under this atom on every
  /// (re)start and erased when it exits, so clients always find the current instance.
  caf::atom_value registry_name = caf::atom("");
};

/// Observes a supervisor's decisions (logging and the restart counter are wired through this).
struct supervisor_hooks {
  /// A child exited with `reason` and is about to be restarted.
  std::function<void(const std::string& supervisor, const std::string& child,
                     const caf::error& reason)>
    on_restart;
  /// The supervisor exceeded its restart intensity and is giving up.
  std::function<void(const std::string& supervisor)> on_give_up;
};

/// Describes a supervisor.
struct supervisor_spec {
  std::string name;                                     ///< used in logs and metrics
  restart_strategy strategy = restart_strategy::one_for_one;
  std::size_t max_restarts = 3;                         ///< R
  std::chrono::milliseconds period{5'000};              ///< P
  std::vector<child_spec> children;                     ///< started in this order
  supervisor_hooks hooks;
};

/// Messages a supervisor answers (besides exits of its children):
/// - `(which_children_atom)` -> `std::vector<std::pair<std::string, caf::actor>>`: the current
///   children, in start order (a child being restarted appears with an invalid handle).
using which_children_atom = caf::atom_constant<caf::atom("whichchild")>;

/// Spawns a supervisor that starts its children in order. If a child fails to start, the
/// supervisor stops the children already started and exits with `errc::child_start_failed`.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

/// Returns a child spec whose start function spawns a nested supervisor (for trees).
child_spec supervisor_child(supervisor_spec spec,
                            restart_type restart = restart_type::permanent);

} // namespace klerno::runtime
