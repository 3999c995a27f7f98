#pragma once

// Erlang-style supervisors on CAF 0.17 actors (monitors and exit messages).
//
// A supervisor is an event-based actor that starts its children in order, monitors each and
// restarts them according to its strategy:
// - one_for_one:  only the child that exited is restarted;
// - one_for_all:  all children are stopped (reverse start order) and restarted (start order);
// - rest_for_one: the exited child and every child started after it are stopped (reverse
//                 order) and restarted (start order).
// A child's restart type decides whether its exit causes a restart at all:
// - permanent: always restarted;
// - transient: restarted only after an abnormal exit (reason other than normal/user_shutdown);
// - temporary: never restarted (removed from the supervisor when it exits).
// A transient child that finished keeps its place (with an invalid handle); a one_for_all or
// rest_for_one restart that covers it starts it again (Erlang semantics). Restarts always start
// children in start order, after all stops of that restart completed. A child that exits while
// such stops are in flight is folded into the running restart if the restart covers it, and
// otherwise handled (once) after the running restart completed.
//
// Restart intensity: if more than `max_restarts` restarts happen within `period`, the supervisor
// gives up: it stops all its children (reverse start order) and exits with
// `errc::restart_intensity_exceeded`. A supervisor's own parent sees that exit like any child
// exit (escalation). When the root supervisor gives up, the node shuts down and exits non-zero.
// One restart is counted per child exit that triggers one (not per restarted child); a restart
// whose start function fails counts as another exit of that child and is retried through the
// supervisor's mailbox (never in a loop within one message), so it consumes intensity too.
//
// Stopping: an exit message from anyone who is not a child (the parent supervisor, a link, or the
// node sending `user_shutdown`) makes the supervisor stop its children in reverse start order,
// one at a time, each with `exit_reason::user_shutdown` and, after its `shutdown_timeout`,
// `exit_reason::kill`, and then exit with the same reason. If the supervisor itself is killed (or
// dies of an exception), it forwards its exit reason to the children still running.
//
// Why monitors and not links: in CAF 0.17 an exit_msg carrying `exit_reason::kill` terminates its
// receiver even when it traps exits, so a linked child that is killed would kill its supervisor;
// and the receiver of an exit_msg unlinks from its sender first, so a child stopped by its linked
// supervisor would never report its exit. Children therefore need not (and should not) link to
// their supervisor.
//
// Time is read from the actor's clock (`self->clock().now()`), so tests using CAF's
// test_coordinator control it deterministically.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
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
/// every restart. Returns the new child (an invalid handle, an error or an exception means the
/// start failed). It must not block: it runs inside the supervisor's message handler.
using child_start_fn = std::function<caf::expected<caf::actor>(caf::actor_system&)>;

/// Describes one child of a supervisor.
struct child_spec {
  std::string name;     ///< unique within the supervisor; used in logs/metrics
  child_start_fn start; ///< spawns the child
  restart_type restart = restart_type::permanent;
  /// user_shutdown -> kill after this; zero or less kills at once (Erlang's brutal_kill)
  std::chrono::milliseconds shutdown_timeout{5'000};
  /// When set, the child is published in the actor system's registry under this atom on every
  /// (re)start and erased when it exits, so clients always find the current instance. The empty
  /// atom `caf::atom("")` (the default, also CAF's "no category" value) means: not published.
  caf::atom_value registry_name = caf::atom("");
};

/// Observes a supervisor's decisions (logging and the restart counter are wired through this).
struct supervisor_hooks {
  /// A child is about to be restarted: called once per restarted child, right before its start
  /// function, in start order. `reason` is the exit reason of the child whose exit triggered the
  /// restart (for one_for_all / rest_for_one the same reason for every restarted sibling), or the
  /// start error when retrying a failed start.
  std::function<void(const std::string& supervisor, const std::string& child,
                     const caf::error& reason)>
    on_restart;
  /// The supervisor exceeded its restart intensity and is giving up (called before it stops its
  /// children).
  std::function<void(const std::string& supervisor)> on_give_up;
};

/// Describes a supervisor.
struct supervisor_spec {
  std::string name; ///< used in logs and metrics
  restart_strategy strategy = restart_strategy::one_for_one;
  std::size_t max_restarts = 3;            ///< R
  std::chrono::milliseconds period{5'000}; ///< P
  std::vector<child_spec> children;        ///< started in this order
  supervisor_hooks hooks;
};

/// The reply to `which_children_atom`: (name, handle) of each child.
using child_list = std::vector<std::pair<std::string, caf::actor>>;

/// Messages a supervisor answers (besides exit and down messages):
/// - `(which_children_atom)` -> `child_list`: the current children, in start order (a child being
///   restarted, or a transient child that finished, appears with an invalid handle; temporary
///   children that exited are gone). The reply is local-only (not announced for remote use).
using which_children_atom = caf::atom_constant<caf::atom("whichchild")>;

/// Spawns a supervisor that starts its children in order. If a child fails to start, the
/// supervisor stops the children already started and exits with `errc::child_start_failed`.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

/// Returns a child spec whose start function spawns a nested supervisor (for trees). Its
/// `shutdown_timeout` is the sum of the nested children's timeouts plus one second, so the nested
/// supervisor gets time to stop its own children one by one. The nested supervisor starts its
/// children asynchronously, once it runs: if one of them fails to start, the parent sees the
/// nested supervisor exit with `errc::child_start_failed` and handles it like any child exit.
child_spec supervisor_child(supervisor_spec spec, restart_type restart = restart_type::permanent);

} // namespace klerno::runtime
