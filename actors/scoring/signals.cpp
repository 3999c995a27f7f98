#include "actors/scoring/signals.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

namespace klerno::actors::scoring {

namespace {

using units = model::decimal::units_type;
using u128 = unsigned __int128;

units abs_units(model::decimal d) noexcept {
  return d.abs().units();
}

// Whether `e` counts as an earlier transaction of the window [t - window, t] for `tx`. Only when
// the history holds `tx` itself (`own`: a retry) are ids compared.
bool in_window(const history_entry& e, const model::transaction& tx,
               model::timestamp::duration window, bool own) noexcept {
  return e.time <= tx.time && e.time >= tx.time - window && !(own && e.tx_id == tx.tx_id);
}

} // namespace

history_entry entry_of(const model::transaction& tx) {
  return {tx.tx_id, tx.time, tx.amount, tx.to_addr};
}

wallet_history::wallet_history(std::size_t max_entries)
    : max_(std::max<std::size_t>(1, max_entries)) {}

bool wallet_history::add(history_entry e) {
  if (contains(e.tx_id)) {
    return false;
  }
  auto a = abs_units(e.amount);
  abs_units_.insert(std::upper_bound(abs_units_.begin(), abs_units_.end(), a), a);
  auto pos =
    std::upper_bound(entries_.begin(), entries_.end(), e.time,
                     [](model::timestamp t, const history_entry& x) { return t < x.time; });
  ids_.insert(e.tx_id);
  entries_.insert(pos, std::move(e));
  if (entries_.size() > max_) {
    auto dropped = abs_units(entries_.front().amount);
    abs_units_.erase(std::lower_bound(abs_units_.begin(), abs_units_.end(), dropped));
    ids_.erase(entries_.front().tx_id);
    entries_.pop_front();
  }
  return true;
}

bool wallet_history::remove(std::string_view tx_id) {
  if (!contains(tx_id)) {
    return false;
  }
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [tx_id](const history_entry& e) { return e.tx_id == tx_id; });
  if (it == entries_.end()) {
    return false;
  }
  auto a = abs_units(it->amount);
  abs_units_.erase(std::lower_bound(abs_units_.begin(), abs_units_.end(), a));
  ids_.erase(it->tx_id);
  entries_.erase(it);
  return true;
}

bool wallet_history::contains(std::string_view tx_id) const noexcept {
  // (C++17 unordered_set has no heterogeneous lookup; tx_ids are short.)
  return ids_.count(std::string{tx_id}) > 0;
}

std::optional<model::decimal> wallet_history::median_abs_amount() const noexcept {
  const auto n = abs_units_.size();
  if (n == 0) {
    return std::nullopt;
  }
  if (n % 2 == 1) {
    return model::decimal::from_units(abs_units_[n / 2]);
  }
  // Both are non-negative and below 2^127, so the unsigned sum cannot overflow.
  u128 sum = static_cast<u128>(abs_units_[n / 2 - 1]) + static_cast<u128>(abs_units_[n / 2]);
  return model::decimal::from_units(static_cast<units>(sum / 2));
}

bool wallet_history::exceeds_median(model::decimal amount, int factor,
                                    std::string_view skip_tx_id) const {
  // The median of the sorted amounts with at most one of them (the skipped entry's) left out:
  // index i of the reduced sequence is i or i + 1 of the full one.
  std::size_t n = abs_units_.size();
  std::size_t skip = n;
  if (!skip_tx_id.empty() && contains(skip_tx_id)) {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [skip_tx_id](const history_entry& e) { return e.tx_id == skip_tx_id; });
    if (it != entries_.end()) {
      auto a = abs_units(it->amount);
      skip = static_cast<std::size_t>(std::distance(
        abs_units_.begin(), std::lower_bound(abs_units_.begin(), abs_units_.end(), a)));
      --n;
    }
  }
  if (n == 0) {
    return false;
  }
  auto at = [&](std::size_t i) {
    return static_cast<u128>(abs_units_[i < skip ? i : i + 1]);
  };
  auto f = static_cast<uint64_t>(std::max(factor, 0));
  auto x = static_cast<u128>(abs_units(amount));
  if (n % 2 == 1) {
    return model::compare_scaled(x, 1, at(n / 2), f) > 0;
  }
  // |amount| > f * (m1 + m2) / 2  <=>  2 |amount| > f * (m1 + m2)
  return model::compare_scaled(x, 2, at(n / 2 - 1) + at(n / 2), f) > 0;
}

assessment evaluate(const wallet_history& history, const model::transaction& tx,
                    const signal_config& config) {
  assessment a;
  const auto& entries = history.entries();
  const bool own = history.contains(tx.tx_id);

  // velocity: the entries are sorted by time, so the window is a range found by binary search
  auto by_time = [](const history_entry& e, model::timestamp t) {
    return e.time < t;
  };
  auto time_before = [](model::timestamp t, const history_entry& e) {
    return t < e.time;
  };
  auto velocity_first =
    std::lower_bound(entries.begin(), entries.end(), tx.time - config.velocity_window, by_time);
  auto window_end = std::upper_bound(entries.begin(), entries.end(), tx.time, time_before);
  long recent = 1; // this transaction
  if (velocity_first < window_end) {
    recent += static_cast<long>(window_end - velocity_first);
    if (own) {
      recent -= static_cast<long>(std::count_if(
        velocity_first, window_end, [&](const auto& e) { return e.tx_id == tx.tx_id; }));
    }
  }
  if (recent > config.velocity_max_tx) {
    a.score += weights::high_velocity;
    a.flags.emplace_back("high_velocity");
  }

  // structuring
  if (tx.amount.sign() != 0 && !tx.to_addr.empty()) {
    const auto amount = tx.amount.abs();
    std::set<std::string_view> recipients{tx.to_addr};
    auto first = std::lower_bound(entries.begin(), entries.end(),
                                  tx.time - config.structuring_window, by_time);
    for (auto e = first; e < window_end; ++e) {
      if (!e->to_addr.empty() && e->amount.abs() == amount
          && in_window(*e, tx, config.structuring_window, own)) {
        recipients.insert(e->to_addr);
      }
    }
    if (static_cast<long>(recipients.size()) >= config.structuring_min_recipients) {
      a.score += weights::structuring;
      a.flags.emplace_back("structuring");
    }
  }

  // anomaly
  std::size_t known = history.size() - (own ? 1 : 0);
  if (known >= config.anomaly_min_history
      && history.exceeds_median(tx.amount, config.anomaly_factor, tx.tx_id)) {
    a.score += weights::amount_anomaly;
    a.flags.emplace_back("amount_anomaly");
  }
  return a;
}

} // namespace klerno::actors::scoring
