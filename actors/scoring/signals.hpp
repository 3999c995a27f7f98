#pragma once

// The stateful signals: rules that look at the recent history of the sending wallet
// (`from_addr`) rather than at one transaction. Pure functions over a `wallet_history`; the actor
// that owns a wallet's history calls `evaluate` for a new transaction, merges the result into the
// static assessment (scoring/rules.hpp) and then `apply`s the sum, so the clamp to [0, 1] comes
// last. Each signal has its own flag and weight:
//
//   signal         step    flag             fires when
//   velocity       +0.15   high_velocity    more than velocity_max_tx transactions of the wallet,
//                                           this one included, have a time in
//                                           [t - velocity_window, t]
//   structuring    +0.20   structuring      the same |amount| went to at least
//                                           structuring_min_recipients distinct non-empty
//                                           recipients with a time in [t - structuring_window, t],
//                                           this one included
//   anomaly        +0.15   amount_anomaly   |amount| > anomaly_factor x the median |amount| of the
//                                           history, when it holds >= anomaly_min_history entries
//
// where t is the new transaction's time. Entries later than t (arrived out of order) are not
// "before" it and are ignored by velocity and structuring. An entry with the new transaction's own
// tx_id (a retry of a transaction already recorded) is ignored by all three signals, so a retry
// scores like the first attempt.

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "actors/model/transaction.hpp"
#include "actors/scoring/rules.hpp"

namespace klerno::actors::scoring {

/// Score steps of the stateful signals, in hundredths.
namespace weights {
constexpr model::score_centi high_velocity = 15;
constexpr model::score_centi structuring = 20;
constexpr model::score_centi amount_anomaly = 15;
} // namespace weights

/// Thresholds of the stateful signals (the node fills them from its settings).
struct signal_config {
  int velocity_max_tx = 10; ///< more than this fires
  model::timestamp::duration velocity_window = std::chrono::hours(1);
  int structuring_min_recipients = 3; ///< this many or more fires
  model::timestamp::duration structuring_window = std::chrono::hours(24);
  int anomaly_factor = 10;             ///< integer multiple of the median
  std::size_t anomaly_min_history = 5; ///< fewer entries: no anomaly test
  std::size_t history_max = 256;       ///< entries kept per wallet
};

/// What a wallet's history remembers of one of its transactions.
struct history_entry {
  std::string tx_id;     ///< the transaction's id
  model::timestamp time; ///< its time
  model::decimal amount; ///< its amount (signed as given)
  std::string to_addr;   ///< its recipient
};

/// Returns the history entry for `tx`.
history_entry entry_of(const model::transaction& tx);

/// The recent transactions of one sending wallet, ordered by time, at most `max_size()` of them
/// (the oldest by time is dropped first). Keeps the absolute amounts sorted on the side so the
/// median is O(1); adding and removing are O(n) moves over a few hundred entries.
class wallet_history {
public:
  /// Creates an empty history of at most `max_entries` (at least 1) entries.
  explicit wallet_history(std::size_t max_entries = signal_config{}.history_max);

  /// Adds `e` unless an entry with its tx_id is already present (returns false then). When the
  /// history is full, the oldest entry is dropped, which may be `e` itself when it is older than
  /// every entry. Returns true when the entry was added (even if dropped at once).
  bool add(history_entry e);

  /// Removes the entry with `tx_id` (e.g. when storing the transaction failed); returns whether
  /// there was one.
  bool remove(std::string_view tx_id);

  /// Returns whether an entry with `tx_id` is present.
  bool contains(std::string_view tx_id) const noexcept;

  /// Returns the number of entries.
  std::size_t size() const noexcept {
    return entries_.size();
  }

  /// Returns whether the history has no entries.
  bool empty() const noexcept {
    return entries_.empty();
  }

  /// Returns the bound on the number of entries.
  std::size_t max_size() const noexcept {
    return max_;
  }

  /// Returns the entries, oldest first (ties keep insertion order).
  const std::deque<history_entry>& entries() const noexcept {
    return entries_;
  }

  /// Returns the median of the absolute amounts (the mean of the two middle ones for an even
  /// count, rounded toward zero to 10^-18), or nullopt when empty.
  std::optional<model::decimal> median_abs_amount() const noexcept;

  /// Returns whether |amount| > factor x the median |amount| computed exactly (no rounding of an
  /// even count's mean), leaving out the entry `skip_tx_id` if present. False when the history
  /// (without that entry) is empty.
  bool exceeds_median(model::decimal amount, int factor, std::string_view skip_tx_id = {}) const;

private:
  std::size_t max_;
  std::deque<history_entry> entries_;                 ///< sorted by time (drops at the front)
  std::unordered_set<std::string> ids_;               ///< tx_ids of entries_, for contains()
  std::vector<model::decimal::units_type> abs_units_; ///< |amount| units, sorted ascending
};

/// Evaluates the stateful signals for `tx` against the history of its sending wallet (which
/// may or may not already contain `tx`). Returns the signals' score steps and flags, in the order
/// velocity, structuring, anomaly; merge it into the static assessment before `apply`.
assessment evaluate(const wallet_history& history, const model::transaction& tx,
                    const signal_config& config);

} // namespace klerno::actors::scoring
