#include "actors/storage/pg/membership_pg.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <pqxx/pqxx>

#include "actors/storage/pg/connection.hpp"
#include "actors/storage/pg/pg_session.hpp"
#include "actors/storage/url.hpp"
#include "runtime/logging.hpp"

namespace klerno::actors::storage::pg {

namespace {

using cluster::member_ref;
using cluster::member_row;
using cluster::member_status;
using cluster::membership_error;
using cluster::membership_error_kind;
using cluster::outcome;
using cluster::table_view;
using cluster::vote_result;

/// The prepared statements (names and SQL). Times come back as microseconds since the Unix
/// epoch (exact: extract returns numeric).
constexpr std::array<statement, 15> statements = {{
  {"m_lock_version", "SELECT version FROM cluster_version WHERE id FOR UPDATE"},
  {"m_bump_version", "UPDATE cluster_version SET version = version + 1 WHERE id"},
  {"m_read_version", "SELECT version, (extract(epoch from clock_timestamp()) * 1000000)::int8 "
                     "FROM cluster_version WHERE id"},
  {"m_read_members",
   "SELECT name, incarnation, address, app_version, role, status, "
   "(extract(epoch from heartbeat_at) * 1000000)::int8, "
   "(extract(epoch from joined_at) * 1000000)::int8, "
   "(extract(epoch from updated_at) * 1000000)::int8, row_version FROM cluster_members"},
  {"m_read_votes", "SELECT name, incarnation, voter_name, voter_incarnation, "
                   "(extract(epoch from at) * 1000000)::int8 FROM cluster_suspicions"},
  {"m_max_incarnation", "SELECT max(incarnation) FROM cluster_members WHERE name = $1"},
  {"m_supersede",
   "UPDATE cluster_members SET status = 'dead', updated_at = now(), row_version = row_version + 1 "
   "WHERE name = $1 AND incarnation < $2 AND status <> 'dead'"},
  {"m_insert",
   "INSERT INTO cluster_members (name, incarnation, address, app_version, role, status) "
   "VALUES ($1, $2, $3, $4, $5, 'joining')"},
  {"m_status", "SELECT status FROM cluster_members WHERE name = $1 AND incarnation = $2"},
  {"m_set_status",
   "UPDATE cluster_members SET status = $3, updated_at = now(), row_version = row_version + 1 "
   "WHERE name = $1 AND incarnation = $2"},
  {"m_touch", "UPDATE cluster_members SET updated_at = now(), row_version = row_version + 1 "
              "WHERE name = $1 AND incarnation = $2"},
  {"m_heartbeat", "UPDATE cluster_members SET heartbeat_at = now() "
                  "WHERE name = $1 AND incarnation = $2 AND status <> 'dead'"},
  {"m_vote",
   "INSERT INTO cluster_suspicions (name, incarnation, voter_name, voter_incarnation, at) "
   "VALUES ($1, $2, $3, $4, now()) "
   "ON CONFLICT (name, incarnation, voter_name, voter_incarnation) DO UPDATE SET at = excluded.at"},
  // Fresh votes: cast within $3 ms of the current time (not of the transaction's start, which
  // may lie before a lock wait), by distinct voter names other than the target's, whose rows are
  // not dead.
  {"m_count_votes",
   "SELECT count(DISTINCT s.voter_name) FROM cluster_suspicions s "
   "JOIN cluster_members v ON v.name = s.voter_name AND v.incarnation = s.voter_incarnation "
   "WHERE s.name = $1 AND s.incarnation = $2 AND s.voter_name <> s.name "
   "AND v.status <> 'dead' AND s.at >= clock_timestamp() - $3::int8 * interval '1 millisecond'"},
  {"m_remove_dead", "DELETE FROM cluster_members WHERE status = 'dead' "
                    "AND updated_at < clock_timestamp() - $1::int8 * interval '1 millisecond'"},
}};

constexpr uint64_t max_db_int = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

/// Returns `x` as a bigint, or nullopt when it does not fit (no such row can exist).
std::optional<int64_t> to_db(uint64_t x) noexcept {
  if (x > max_db_int) {
    return std::nullopt;
  }
  return static_cast<int64_t>(x);
}

std::chrono::system_clock::time_point from_micros(int64_t us) {
  return std::chrono::system_clock::time_point{
    std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::microseconds{us})};
}

uint64_t as_u64(const pqxx::field& f) {
  auto v = f.as<int64_t>();
  if (v < 0) {
    throw membership_error(membership_error_kind::other,
                           "negative value in the membership table: " + std::to_string(v));
  }
  return static_cast<uint64_t>(v);
}

member_status parse_status(const pqxx::field& f) {
  auto s = cluster::parse_member_status(f.c_str());
  if (!s) {
    throw membership_error(membership_error_kind::other,
                           std::string{"unknown member status in the table: "} + f.c_str());
  }
  return *s;
}

bool unavailable_sqlstate(const std::string& state) {
  return starts_with(state, "08") || starts_with(state, "53") || state == "57P01"
         || state == "57P02" || state == "57P03" || state == "25006" || state == "57014"
         || state == "55P03" || state == "40001" || state == "40P01";
}

class membership_pg final : public cluster::membership_db {
public:
  explicit membership_pg(membership_options o) : opts_(std::move(o)) {
    options so;
    so.url = opts_.url;
    so.role = pool_role::primary;
    so.statement_timeout = opts_.statement_timeout;
    so.connect_timeout = opts_.connect_timeout;
    so.application_name = opts_.application_name;
    conninfo_ = conninfo(so);
    password_ = url_password(conninfo_);
  }

  ~membership_pg() override {
    disconnect();
  }

  table_view read() override {
    return guarded([&](pqxx::connection& c) {
      table_view view;
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t{c};
      auto head = t.exec_prepared("m_read_version");
      if (head.empty()) {
        throw membership_error(membership_error_kind::other,
                               "cluster_version has no row (migration 0002 not applied?)");
      }
      view.version = as_u64(head[0][0]);
      view.read_at = from_micros(head[0][1].as<int64_t>());
      for (const auto& r : t.exec_prepared("m_read_members")) {
        member_row m;
        m.name = r[0].c_str();
        m.incarnation = as_u64(r[1]);
        m.address = r[2].c_str();
        m.app_version = r[3].c_str();
        auto role = cluster::parse_member_role(r[4].c_str());
        if (!role) {
          throw membership_error(membership_error_kind::other,
                                 std::string{"unknown member role in the table: "} + r[4].c_str());
        }
        m.role = *role;
        m.status = parse_status(r[5]);
        m.heartbeat_at = from_micros(r[6].as<int64_t>());
        m.joined_at = from_micros(r[7].as<int64_t>());
        m.updated_at = from_micros(r[8].as<int64_t>());
        m.row_version = as_u64(r[9]);
        view.members.push_back(std::move(m));
      }
      // Byte order (member_ref's), whatever the database's collation.
      std::sort(view.members.begin(), view.members.end(),
                [](const member_row& a, const member_row& b) { return a.ref() < b.ref(); });
      for (const auto& r : t.exec_prepared("m_read_votes")) {
        member_ref target{r[0].c_str(), as_u64(r[1])};
        auto it = std::lower_bound(
          view.members.begin(), view.members.end(), target,
          [](const member_row& row, const member_ref& m) { return row.ref() < m; });
        if (it == view.members.end() || it->ref() != target) {
          continue; // impossible (foreign key); tolerated
        }
        it->suspecters.push_back(cluster::suspicion{member_ref{r[2].c_str(), as_u64(r[3])},
                                                    from_micros(r[4].as<int64_t>())});
      }
      for (auto& m : view.members) {
        std::sort(m.suspecters.begin(), m.suspecters.end(),
                  [](const cluster::suspicion& a, const cluster::suspicion& b) {
                    return a.voter < b.voter;
                  });
      }
      t.commit();
      return view;
    });
  }

  outcome add(const member_row& self, uint64_t expected_version) override {
    if (self.name.empty()) {
      throw std::invalid_argument("a member needs a name");
    }
    auto inc = to_db(self.incarnation);
    if (!inc) {
      throw std::invalid_argument("incarnation " + std::to_string(self.incarnation)
                                  + " exceeds the table's range (bigint)");
    }
    return versioned(expected_version, [&](pqxx::work& w) {
      auto max = w.exec_prepared("m_max_incarnation", self.name);
      if (!max.empty() && !max[0][0].is_null() && max[0][0].as<int64_t>() >= *inc) {
        return outcome::rejected;
      }
      w.exec_prepared("m_supersede", self.name, *inc);
      w.exec_prepared("m_insert", self.name, *inc, self.address, self.app_version,
                      std::string{cluster::to_string(self.role)});
      return outcome::applied;
    });
  }

  outcome set_status(const member_ref& member, member_status status,
                     uint64_t expected_version) override {
    return versioned(expected_version, [&](pqxx::work& w) {
      auto current = status_of(w, member);
      if (!current) {
        return outcome::not_found;
      }
      if (status <= *current) {
        return outcome::rejected;
      }
      w.exec_prepared("m_set_status", member.name, static_cast<int64_t>(member.incarnation),
                      std::string{cluster::to_string(status)});
      return outcome::applied;
    });
  }

  outcome heartbeat(const member_ref& self) override {
    if (!to_db(self.incarnation)) {
      return outcome::not_found;
    }
    return guarded([&](pqxx::connection& c) {
      pqxx::work w{c};
      auto inc = static_cast<int64_t>(self.incarnation);
      auto updated = w.exec_prepared("m_heartbeat", self.name, inc).affected_rows();
      outcome result = outcome::applied;
      if (updated == 0) {
        result = w.exec_prepared("m_status", self.name, inc).empty() ? outcome::not_found
                                                                     : outcome::rejected;
      }
      w.commit();
      return result;
    });
  }

  outcome suspect(const member_ref& target, const member_ref& voter,
                  uint64_t expected_version) override {
    if (target == voter) {
      return outcome::rejected;
    }
    return versioned(expected_version, [&](pqxx::work& w) {
      auto t = status_of(w, target);
      if (!t) {
        return outcome::not_found;
      }
      auto v = status_of(w, voter);
      if (*t == member_status::dead || !v || *v == member_status::dead) {
        return outcome::rejected;
      }
      auto inc = static_cast<int64_t>(target.incarnation);
      w.exec_prepared("m_vote", target.name, inc, voter.name,
                      static_cast<int64_t>(voter.incarnation));
      touch(w, target);
      return outcome::applied;
    });
  }

  vote_result declare_dead_if(const member_ref& target, std::size_t required_votes,
                              std::chrono::milliseconds vote_window,
                              uint64_t expected_version) override {
    if (required_votes == 0) {
      throw std::invalid_argument("declare_dead_if needs at least one vote");
    }
    std::size_t votes = 0;
    auto result = versioned(expected_version, [&](pqxx::work& w) {
      votes = 0;
      auto t = status_of(w, target);
      if (!t) {
        return outcome::not_found;
      }
      if (*t == member_status::dead) {
        return outcome::rejected;
      }
      auto counted =
        w.exec_prepared("m_count_votes", target.name, static_cast<int64_t>(target.incarnation),
                        static_cast<int64_t>(std::max<int64_t>(vote_window.count(), 0)));
      votes = static_cast<std::size_t>(counted[0][0].as<int64_t>());
      if (votes < required_votes) {
        return outcome::rejected;
      }
      w.exec_prepared("m_set_status", target.name, static_cast<int64_t>(target.incarnation),
                      std::string{cluster::to_string(member_status::dead)});
      return outcome::applied;
    });
    return vote_result{result, votes};
  }

  std::size_t remove_dead_older_than(std::chrono::milliseconds age) override {
    return guarded([&](pqxx::connection& c) {
      pqxx::work w{c};
      w.exec_prepared("m_lock_version");
      auto removed = static_cast<std::size_t>(
        w.exec_prepared("m_remove_dead", static_cast<int64_t>(std::max<int64_t>(age.count(), 0)))
          .affected_rows());
      if (removed > 0) {
        w.exec_prepared("m_bump_version");
      }
      w.commit();
      return removed;
    });
  }

private:
  /// Returns the status of `m`, or nullopt when it has no row.
  static std::optional<member_status> status_of(pqxx::work& w, const member_ref& m) {
    auto inc = to_db(m.incarnation);
    if (!inc) {
      return std::nullopt;
    }
    auto r = w.exec_prepared("m_status", m.name, *inc);
    if (r.empty()) {
      return std::nullopt;
    }
    return parse_status(r[0][0]);
  }

  /// Counts a change of `m`'s row that is not a status change (a vote against it).
  static void touch(pqxx::work& w, const member_ref& m) {
    w.exec_prepared("m_touch", m.name, static_cast<int64_t>(m.incarnation));
  }

  /// Runs `body` in a transaction holding the version lock when the version is
  /// `expected_version`; commits and bumps the version when it returns applied, else rolls back.
  template <class F>
  outcome versioned(uint64_t expected_version, F&& body) {
    return guarded([&](pqxx::connection& c) {
      pqxx::work w{c};
      auto v = w.exec_prepared("m_lock_version");
      if (v.empty()) {
        throw membership_error(membership_error_kind::other,
                               "cluster_version has no row (migration 0002 not applied?)");
      }
      if (as_u64(v[0][0]) != expected_version) {
        w.abort();
        return outcome::conflict;
      }
      auto result = body(w);
      if (result != outcome::applied) {
        w.abort();
        return result;
      }
      w.exec_prepared("m_bump_version");
      w.commit();
      return outcome::applied;
    });
  }

  void connect() {
    disconnect();
    auto c = open_connection(conninfo_, password_, opts_.statement_timeout, statements.data(),
                             statements.size(), "postgres (membership)");
    conn_ = std::move(c.conn);
    notices_ = std::move(c.notices);
  }

  void disconnect() noexcept {
    notices_.reset();
    if (conn_) {
      try {
        conn_->disconnect();
      } catch (...) {
        // Closing is best effort.
      }
      conn_.reset();
    }
  }

  /// Runs `f(connection)` (connecting first when needed), translating every database failure
  /// into a membership_error and dropping the connection when it is unusable.
  template <class F>
  auto guarded(F&& f) -> decltype(f(std::declval<pqxx::connection&>())) {
    try {
      if (!conn_ || !conn_->is_open()) {
        connect();
      }
      return f(*conn_);
    } catch (...) {
      auto err = translate(std::current_exception());
      if (err.kind() == membership_error_kind::unavailable || !conn_ || !conn_->is_open()) {
        disconnect();
        throw membership_error(membership_error_kind::unavailable, err.what());
      }
      throw err;
    }
  }

  membership_error translate(std::exception_ptr ep) const {
    try {
      std::rethrow_exception(ep);
    } catch (const membership_error& e) {
      return e;
    } catch (const pqxx::in_doubt_error& e) {
      return membership_error(membership_error_kind::unavailable,
                              "membership: commit outcome unknown (connection lost): "
                                + clean(e.what()));
    } catch (const pqxx::broken_connection& e) {
      return membership_error(membership_error_kind::unavailable,
                              "membership: database connection failed: " + clean(e.what()));
    } catch (const pqxx::sql_error& e) {
      auto kind = unavailable_sqlstate(e.sqlstate()) ? membership_error_kind::unavailable
                                                     : membership_error_kind::other;
      return membership_error(kind, "membership: database error " + e.sqlstate() + ": "
                                      + clean(e.what()));
    } catch (const std::exception& e) {
      return membership_error(membership_error_kind::other,
                              "membership: database client error: " + clean(e.what()));
    } catch (...) {
      return membership_error(membership_error_kind::other, "membership: database client error");
    }
  }

  std::string clean(std::string_view text) const {
    auto line = text.substr(0, text.find('\n'));
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    return scrub(std::string{line.empty() ? std::string_view{"(no message)"} : line}, password_);
  }

  membership_options opts_;
  std::string conninfo_;
  std::string password_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<notice_logger> notices_;
};

} // namespace

std::unique_ptr<cluster::membership_db> make_membership_db(membership_options o) {
  return std::make_unique<membership_pg>(std::move(o));
}

} // namespace klerno::actors::storage::pg
