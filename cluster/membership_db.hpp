#pragma once

// The membership table: the source of truth of the cluster (the Orleans model). One row per
// member incarnation (name, incarnation) with its address, version, role, status and heartbeat
// time, plus the suspicion votes against it; and one table version, bumped by every change.
//
// This is the interface in front of the database (the PostgreSQL implementation is
// actors/storage/pg/membership_pg.hpp, the schema migrations/0002_cluster_membership.sql; tests
// use fakes). Every call BLOCKS on the database: call it only from a detached actor (its own
// thread), never from a scheduler or io thread. One object is one connection: not thread-safe.
//
// Optimistic concurrency: every write except heartbeat() states the table version its caller
// read (`expected_version`). The write applies only if the table version still equals it, and
// then bumps it by exactly one (so after `applied` the version is expected_version + 1);
// otherwise nothing changes and the write returns `conflict`: re-read, re-decide, retry. All
// writers serialize on the table version, so two writers holding the same version can never
// both succeed.
//
// Statuses move forward only: joining -> up -> leaving -> exiting -> dead (steps may be
// skipped; dead is final). A dead member never comes back: the same node name rejoins as a new
// row with a higher incarnation.
//
// Failure detection (votes): a member that suspects another (missed heartbeats) records a vote
// with suspect(); once enough FRESH votes (cast within a window, by voters that are not dead)
// exist, declare_dead_if() marks the target dead, atomically with the vote count. Votes of a
// voter that has been declared dead do not count, so of two partitioned halves that both reach
// the database, the one declared dead first loses its say. Choose `required_votes` as a
// majority of the members that are not dead (the target excluded), e.g.
// min(configured votes, that majority), so a minority can never evict the majority.
//
// Clocks: every time in the table (heartbeat_at, vote times, joined_at, updated_at) is the
// DATABASE's clock, and read() returns the database's time of the read, so ages computed as
// `view.read_at - row.heartbeat_at` do not depend on the nodes' clocks.
//
// Errors: a database that cannot be reached, or answers too late, throws `membership_error` of
// kind `unavailable` (retry later); anything else (schema missing, a bug) kind `other`. After
// an error a write may or may not have been applied (a COMMIT whose answer was lost): re-read
// before retrying. Error texts never contain credentials.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/ring.hpp"

namespace klerno::cluster {

/// Where a member is in its life. Ordered: a status may only move to a later one.
enum class member_status : uint8_t {
  joining, ///< added itself; not yet routed to
  up,      ///< a full member: owns partitions (role worker|both) and takes requests
  leaving, ///< graceful leave started: takes no new wallet work, drains
  exiting, ///< drained and passivated; about to exit
  dead,    ///< gone (exited, or declared dead by votes); final
};

/// Returns "joining", "up", "leaving", "exiting" or "dead" (the table's spelling).
const char* to_string(member_status s) noexcept;

/// Parses the table's spelling; nullopt for anything else.
std::optional<member_status> parse_member_status(std::string_view s) noexcept;

/// What a member does (NODE_ROLE).
enum class member_role : uint8_t {
  edge,   ///< serves HTTP, owns no partitions
  worker, ///< owns partitions, no public API
  both,   ///< both (the default)
};

/// Returns "edge", "worker" or "both" (the table's spelling).
const char* to_string(member_role r) noexcept;

/// Parses the table's spelling; nullopt for anything else.
std::optional<member_role> parse_member_role(std::string_view s) noexcept;

/// Returns `true` for the roles that own ring partitions (worker, both).
constexpr bool owns_partitions(member_role r) noexcept {
  return r != member_role::edge;
}

/// One suspicion vote against a member.
struct suspicion {
  member_ref voter;                         ///< who suspects the member
  std::chrono::system_clock::time_point at; ///< when the vote was cast or last refreshed (DB clock)
};

/// One row of the membership table: one incarnation of one node.
struct member_row {
  std::string name;                                   ///< NODE_NAME
  uint64_t incarnation = 0;                           ///< at most INT64_MAX (stored as bigint)
  std::string address;                                ///< cluster endpoint "host:port"
  std::string app_version;                            ///< klerno-node version
  member_role role = member_role::both;               ///< NODE_ROLE
  member_status status = member_status::joining;      ///< see member_status
  std::chrono::system_clock::time_point heartbeat_at; ///< last heartbeat() (DB clock)
  std::vector<suspicion> suspecters;                  ///< votes against it, ordered by voter
  std::chrono::system_clock::time_point joined_at;    ///< when add() inserted it (DB clock)
  std::chrono::system_clock::time_point updated_at;   ///< last change of status or votes
  uint64_t row_version = 0;                           ///< 1 on insert, +1 per change of the row
                                                      ///< (heartbeats excluded)

  /// Returns (name, incarnation).
  member_ref ref() const {
    return member_ref{name, incarnation};
  }
};

/// A consistent snapshot of the table.
struct table_view {
  uint64_t version = 0;                          ///< the table version of this snapshot
  std::chrono::system_clock::time_point read_at; ///< the database's clock at the read
  std::vector<member_row> members;               ///< ordered by (name, incarnation)

  /// Returns the row of `m`, or nullptr.
  const member_row* find(const member_ref& m) const noexcept;
};

/// Returns the ring of `view`: its members whose status is up and whose role owns partitions
/// (worker, both). Joining, leaving, exiting and dead members and edges own nothing.
ring ring_of(const table_view& view);

/// The result of a write.
enum class outcome : uint8_t {
  applied,   ///< done; the table version is now expected_version + 1 (heartbeat: unchanged)
  conflict,  ///< the table version is not expected_version: nothing changed; re-read, retry
  not_found, ///< the member named by the call has no row: nothing changed
  rejected,  ///< the row's state forbids it (see each operation): nothing changed
};

/// Returns "applied", "conflict", "not_found" or "rejected".
const char* to_string(outcome x) noexcept;

/// The result of declare_dead_if().
struct vote_result {
  outcome result = outcome::rejected; ///< applied: the target is now dead
  std::size_t fresh_votes = 0;        ///< the fresh votes counted (0 on conflict, not_found or a
                                      ///< target that is dead already)
};

/// The kinds of membership_error.
enum class membership_error_kind : uint8_t {
  unavailable, ///< the database is unreachable, read-only, overloaded or too slow: retry later
  other,       ///< anything else (schema missing, unexpected answer)
};

/// A failed membership table operation; never contains credentials.
class membership_error : public std::runtime_error {
public:
  membership_error(membership_error_kind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}

  /// Returns the kind.
  membership_error_kind kind() const noexcept {
    return kind_;
  }

private:
  membership_error_kind kind_;
};

/// The membership table's operations (blocking; one connection; see the top of this file).
class membership_db {
public:
  virtual ~membership_db() = default;

  /// Returns a consistent snapshot: the table version, the database's clock and every row with
  /// its votes, all as of one moment.
  virtual table_view read() = 0;

  /// Inserts `self` as a new member with status joining, heartbeat_at and joined_at = now, no
  /// votes and row_version 1 (those fields of `self` are ignored). In the same change, every
  /// older incarnation of the same name that is not dead becomes dead: a new incarnation proves
  /// the previous process is gone (node names are unique within a cluster).
  /// Returns applied; conflict; rejected when a row with this name and an incarnation at least as
  /// high exists (this process is not the newest of its name). Throws `std::invalid_argument`
  /// for an empty name or an incarnation above INT64_MAX.
  virtual outcome add(const member_row& self, uint64_t expected_version) = 0;

  /// Moves `member` to `status` (also used to declare another member dead administratively,
  /// and by a leaving member for leaving, exiting, dead).
  /// Returns applied; conflict; not_found; rejected when `status` is not later than the row's
  /// current status (statuses move forward only; dead is final).
  virtual outcome set_status(const member_ref& member, member_status status,
                             uint64_t expected_version) = 0;

  /// Records that `self` is alive: heartbeat_at = now. Does NOT bump the table version or the
  /// row version and takes no expected version (Orleans' IAmAlive: frequent and conflict-free).
  /// Returns applied; not_found; rejected when the row is dead: this incarnation has been
  /// declared dead and must stop serving (and rejoin with a new incarnation).
  virtual outcome heartbeat(const member_ref& self) = 0;

  /// Adds `voter`'s vote against `target`, or refreshes its time to now if it exists.
  /// Returns applied; conflict; not_found when `target` has no row; rejected when the target is
  /// dead already, the voter has no row or is dead, or voter == target.
  virtual outcome suspect(const member_ref& target, const member_ref& voter,
                          uint64_t expected_version) = 0;

  /// Marks `target` dead if at least `required_votes` (>= 1) fresh votes exist against it: votes
  /// cast within `vote_window` of now by distinct voter names whose rows are not dead. The count
  /// and the change are one atomic step.
  /// Returns {applied, votes}; {conflict, 0}; {not_found, 0}; {rejected, 0} when the target is
  /// dead already; {rejected, votes} when votes < required_votes. Only `applied` changes
  /// anything (and bumps the version).
  /// Throws `std::invalid_argument` when required_votes is 0.
  virtual vote_result declare_dead_if(const member_ref& target, std::size_t required_votes,
                                      std::chrono::milliseconds vote_window,
                                      uint64_t expected_version) = 0;

  /// Housekeeping: deletes the dead rows (and the votes by or against them) that have not
  /// changed for `age`. Bumps the table version once when it deleted anything. Returns how many
  /// rows it deleted. Needs no expected version (it never races with a decision: dead is final).
  virtual std::size_t remove_dead_older_than(std::chrono::milliseconds age) = 0;
};

} // namespace klerno::cluster
