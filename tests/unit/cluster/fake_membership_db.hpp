#pragma once

// An in-memory membership table with the semantics of cluster/membership_db.hpp (and of its
// PostgreSQL implementation, whose tests in tests/cluster_db/ the fake's tests mirror), for
// tests of the cluster actors without a database: several nodes of a simulated cluster each get a
// fake_membership_db on one shared fake_table. The table has a settable clock (for heartbeat ages
// and vote windows) and can be made unavailable (every call throws membership_error).

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "cluster/membership_db.hpp"

namespace klerno::test::cluster {

/// The shared state: one per simulated cluster. Thread-safe.
class fake_table {
public:
  using time_point = std::chrono::system_clock::time_point;

  /// Returns the table's clock: the fixed time if set, else the system clock.
  time_point now() const;

  /// Fixes the clock at `t` (until `use_system_clock()`).
  void set_now(time_point t);

  /// Moves a fixed clock forward by `d` (fixes it at system now + d if it was not fixed).
  void advance(std::chrono::milliseconds d);

  /// Returns to the system clock.
  void use_system_clock();

  /// While unavailable, every call of every fake_membership_db throws
  /// membership_error{unavailable} and changes nothing.
  void set_available(bool available);

  /// Returns the number of calls made so far (all operations, all connections).
  std::size_t calls() const;

  /// Returns a snapshot (as read() would), without counting a call.
  klerno::cluster::table_view snapshot() const;

private:
  friend class fake_membership_db;

  time_point now_locked() const; // the clock, with mutex_ held
  klerno::cluster::table_view snapshot_locked() const;

  mutable std::mutex mutex_;
  std::optional<time_point> fixed_now_;
  bool available_ = true;
  std::size_t calls_ = 0;
  uint64_t version_ = 0;
  std::map<klerno::cluster::member_ref, klerno::cluster::member_row> rows_;
};

/// One "connection" to a fake_table.
class fake_membership_db final : public klerno::cluster::membership_db {
public:
  explicit fake_membership_db(std::shared_ptr<fake_table> table);

  klerno::cluster::table_view read() override;
  klerno::cluster::outcome add(const klerno::cluster::member_row& self,
                               uint64_t expected_version) override;
  klerno::cluster::outcome set_status(const klerno::cluster::member_ref& member,
                                      klerno::cluster::member_status status,
                                      uint64_t expected_version) override;
  klerno::cluster::outcome heartbeat(const klerno::cluster::member_ref& self) override;
  klerno::cluster::outcome suspect(const klerno::cluster::member_ref& target,
                                   const klerno::cluster::member_ref& voter,
                                   uint64_t expected_version) override;
  klerno::cluster::vote_result declare_dead_if(const klerno::cluster::member_ref& target,
                                               std::size_t required_votes,
                                               std::chrono::milliseconds vote_window,
                                               uint64_t expected_version) override;
  std::size_t remove_dead_older_than(std::chrono::milliseconds age) override;

private:
  /// Locks the table, counts the call and throws when it is unavailable.
  std::unique_lock<std::mutex> enter();

  std::shared_ptr<fake_table> table_;
};

} // namespace klerno::test::cluster
