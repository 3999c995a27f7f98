#include "tests/unit/cluster/fake_membership_db.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>
#include <utility>

namespace klerno::test::cluster {

using namespace klerno::cluster;

namespace {

constexpr uint64_t max_db_int = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

void bump(member_row& r, fake_table::time_point now) {
  r.updated_at = now;
  ++r.row_version;
}

} // namespace

fake_table::time_point fake_table::now_locked() const {
  return fixed_now_ ? *fixed_now_ : std::chrono::system_clock::now();
}

fake_table::time_point fake_table::now() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return now_locked();
}

void fake_table::set_now(time_point t) {
  std::lock_guard<std::mutex> guard{mutex_};
  fixed_now_ = t;
}

void fake_table::advance(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> guard{mutex_};
  fixed_now_ = (fixed_now_ ? *fixed_now_ : std::chrono::system_clock::now()) + d;
}

void fake_table::use_system_clock() {
  std::lock_guard<std::mutex> guard{mutex_};
  fixed_now_.reset();
}

void fake_table::set_available(bool available) {
  std::lock_guard<std::mutex> guard{mutex_};
  available_ = available;
}

std::size_t fake_table::calls() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return calls_;
}

table_view fake_table::snapshot() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return snapshot_locked();
}

table_view fake_table::snapshot_locked() const {
  table_view view;
  view.version = version_;
  view.read_at = now_locked();
  for (const auto& [ref, row] : rows_) {
    view.members.push_back(row);
  }
  return view;
}

fake_membership_db::fake_membership_db(std::shared_ptr<fake_table> table)
    : table_(std::move(table)) {}

std::unique_lock<std::mutex> fake_membership_db::enter() {
  std::unique_lock<std::mutex> lock{table_->mutex_};
  ++table_->calls_;
  if (!table_->available_) {
    throw membership_error(membership_error_kind::unavailable,
                           "membership: database connection failed (fake: unavailable)");
  }
  return lock;
}

table_view fake_membership_db::read() {
  auto lock = enter();
  return table_->snapshot_locked();
}

outcome fake_membership_db::add(const member_row& self, uint64_t expected_version) {
  if (self.name.empty()) {
    throw std::invalid_argument("a member needs a name");
  }
  if (self.incarnation > max_db_int) {
    throw std::invalid_argument("incarnation exceeds the table's range (bigint)");
  }
  auto lock = enter();
  auto& t = *table_;
  if (t.version_ != expected_version) {
    return outcome::conflict;
  }
  auto now = t.now_locked();
  for (const auto& [ref, row] : t.rows_) {
    if (ref.name == self.name && ref.incarnation >= self.incarnation) {
      return outcome::rejected;
    }
  }
  for (auto& [ref, row] : t.rows_) {
    if (ref.name == self.name && row.status != member_status::dead) {
      row.status = member_status::dead;
      bump(row, now);
    }
  }
  member_row r = self;
  r.status = member_status::joining;
  r.heartbeat_at = now;
  r.joined_at = now;
  r.updated_at = now;
  r.suspecters.clear();
  r.row_version = 1;
  t.rows_.emplace(r.ref(), std::move(r));
  ++t.version_;
  return outcome::applied;
}

outcome fake_membership_db::set_status(const member_ref& member, member_status status,
                                       uint64_t expected_version) {
  auto lock = enter();
  auto& t = *table_;
  if (t.version_ != expected_version) {
    return outcome::conflict;
  }
  auto it = t.rows_.find(member);
  if (it == t.rows_.end()) {
    return outcome::not_found;
  }
  if (status <= it->second.status) {
    return outcome::rejected;
  }
  it->second.status = status;
  bump(it->second, t.now_locked());
  ++t.version_;
  return outcome::applied;
}

outcome fake_membership_db::heartbeat(const member_ref& self) {
  auto lock = enter();
  auto& t = *table_;
  auto it = t.rows_.find(self);
  if (it == t.rows_.end()) {
    return outcome::not_found;
  }
  if (it->second.status == member_status::dead) {
    return outcome::rejected;
  }
  it->second.heartbeat_at = t.now_locked();
  return outcome::applied;
}

outcome fake_membership_db::suspect(const member_ref& target, const member_ref& voter,
                                    uint64_t expected_version) {
  if (target == voter) {
    return outcome::rejected;
  }
  auto lock = enter();
  auto& t = *table_;
  if (t.version_ != expected_version) {
    return outcome::conflict;
  }
  auto it = t.rows_.find(target);
  if (it == t.rows_.end()) {
    return outcome::not_found;
  }
  auto v = t.rows_.find(voter);
  if (it->second.status == member_status::dead || v == t.rows_.end()
      || v->second.status == member_status::dead) {
    return outcome::rejected;
  }
  auto now = t.now_locked();
  auto& votes = it->second.suspecters;
  auto vote =
    std::find_if(votes.begin(), votes.end(), [&](const suspicion& s) { return s.voter == voter; });
  if (vote == votes.end()) {
    votes.push_back(suspicion{voter, now});
    std::sort(votes.begin(), votes.end(),
              [](const suspicion& a, const suspicion& b) { return a.voter < b.voter; });
  } else {
    vote->at = now;
  }
  bump(it->second, now);
  ++t.version_;
  return outcome::applied;
}

vote_result fake_membership_db::declare_dead_if(const member_ref& target,
                                                std::size_t required_votes,
                                                std::chrono::milliseconds vote_window,
                                                uint64_t expected_version) {
  if (required_votes == 0) {
    throw std::invalid_argument("declare_dead_if needs at least one vote");
  }
  auto lock = enter();
  auto& t = *table_;
  if (t.version_ != expected_version) {
    return {outcome::conflict, 0};
  }
  auto it = t.rows_.find(target);
  if (it == t.rows_.end()) {
    return {outcome::not_found, 0};
  }
  if (it->second.status == member_status::dead) {
    return {outcome::rejected, 0};
  }
  auto now = t.now_locked();
  std::set<std::string> voters;
  for (const auto& s : it->second.suspecters) {
    auto v = t.rows_.find(s.voter);
    if (s.voter.name != target.name && s.at >= now - vote_window && v != t.rows_.end()
        && v->second.status != member_status::dead) {
      voters.insert(s.voter.name);
    }
  }
  if (voters.size() < required_votes) {
    return {outcome::rejected, voters.size()};
  }
  it->second.status = member_status::dead;
  bump(it->second, now);
  ++t.version_;
  return {outcome::applied, voters.size()};
}

std::size_t fake_membership_db::remove_dead_older_than(std::chrono::milliseconds age) {
  auto lock = enter();
  auto& t = *table_;
  auto cutoff = t.now_locked() - age;
  std::set<member_ref> gone;
  for (const auto& [ref, row] : t.rows_) {
    if (row.status == member_status::dead && row.updated_at < cutoff) {
      gone.insert(ref);
    }
  }
  for (const auto& ref : gone) {
    t.rows_.erase(ref);
  }
  for (auto& [ref, row] : t.rows_) {
    auto& votes = row.suspecters;
    votes.erase(std::remove_if(votes.begin(), votes.end(),
                               [&](const suspicion& s) { return gone.count(s.voter) > 0; }),
                votes.end());
  }
  if (!gone.empty()) {
    ++t.version_;
  }
  return gone.size();
}

} // namespace klerno::test::cluster
