#pragma once

// The cluster as this node sees it: the membership table's latest snapshot, the ring built from
// it, and the endpoints of the peers this node has authenticated with. The membership actor
// publishes a new view on every change to a `view_board`; the HTTP edge reads the board (one
// shared-pointer load, no message) to route a wallet's work to its owner.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/actor.hpp>

#include "cluster/membership_db.hpp"
#include "cluster/ring.hpp"

namespace klerno::cluster {

/// An immutable snapshot of the cluster.
struct view {
  uint64_t generation = 0; ///< +1 per published view (local counter)
  table_view table;        ///< the membership table as last read
  cluster::ring placement; ///< Up members with role worker|both
  member_ref self;         ///< this node
  member_status self_status = member_status::joining;
  std::map<member_ref, caf::actor> peers; ///< authenticated peers' endpoints

  /// Returns the owner of `wallet`, or nullopt when no member owns partitions.
  std::optional<member_ref> owner_of(std::string_view wallet) const {
    return placement.owner_of(wallet);
  }

  /// Returns whether `m` is this node.
  bool is_self(const member_ref& m) const noexcept {
    return m == self;
  }

  /// Returns the endpoint of peer `m`, or an invalid handle when not connected.
  caf::actor endpoint_of(const member_ref& m) const {
    auto i = peers.find(m);
    return i == peers.end() ? caf::actor{} : i->second;
  }

  /// Returns the member row of `m`, or nullptr.
  const member_row* row_of(const member_ref& m) const noexcept {
    return table.find(m);
  }
};

/// Where the membership actor publishes views and everybody else reads them. Thread-safe.
class view_board {
public:
  view_board() : current_(std::make_shared<const view>()) {}

  /// Publishes `v` (membership actor only).
  void publish(std::shared_ptr<const view> v) {
    std::lock_guard<std::mutex> guard{mtx_};
    current_ = std::move(v);
  }

  /// Returns the latest view (never null).
  std::shared_ptr<const view> current() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return current_;
  }

private:
  mutable std::mutex mtx_;
  std::shared_ptr<const view> current_;
};

} // namespace klerno::cluster
