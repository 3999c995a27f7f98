#include "actors/storage/pg/pg_session.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "actors/storage/pg/codec.hpp"
#include "actors/storage/pg/connection.hpp"
#include "actors/storage/pg/migrations.hpp"
#include "actors/storage/pg/queries.hpp"
#include "actors/storage/url.hpp"
#include "runtime/logging.hpp"

namespace klerno::actors::storage::pg {

std::string conninfo(const options& o) {
  auto url = parse_pool_url(o.url).clean_url;
  auto secs = (o.connect_timeout.count() + 999) / 1000;
  url = with_url_param(url, "connect_timeout", std::to_string(std::max<long long>(secs, 1)));
  url = with_url_param(url, "application_name", o.application_name);
  url = with_url_param(url, "keepalives_idle", "30");
  url = with_url_param(url, "keepalives_interval", "10");
  url = with_url_param(url, "keepalives_count", "3");
  // A peer that vanished (no RST) is given up after 30 s of unacknowledged data, instead of
  // the kernel's ~15 minutes; a healthy long query is not affected.
  url = with_url_param(url, "tcp_user_timeout", "30000");
  if (o.role == pool_role::primary && has_several_hosts(url)) {
    url = with_url_param(url, "target_session_attrs", "read-write");
  }
  return url;
}

namespace {

/// Names of the prepared statements, with their SQL.
constexpr std::array<statement, 13> statements = {{
  {"k_insert", sql::insert},
  {"k_select_ids", sql::select_ids},
  {"k_get", sql::get},
  {"k_list_first", sql::list_first},
  {"k_list_after", sql::list_after},
  {"k_alerts", sql::alerts},
  {"k_summary_days", sql::summary_days},
  {"k_summary_categories", sql::summary_categories},
  {"k_history", sql::history},
  {"k_export_all_first", sql::export_all_first},
  {"k_export_all_after", sql::export_all_after},
  {"k_export_wallet_first", sql::export_wallet_first},
  {"k_export_wallet_after", sql::export_wallet_after},
}};

/// Returns the first line of a client library message, trimmed.
std::string first_line(std::string_view text) {
  auto nl = text.find('\n');
  auto line = text.substr(0, nl);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  return std::string{line};
}

db_error_kind kind_of_sqlstate(const std::string& state) {
  if (state == "57014" || state == "55P03") {
    return db_error_kind::timeout;
  }
  if (state == "40001" || state == "40P01") {
    return db_error_kind::conflict;
  }
  if (starts_with(state, "22") || starts_with(state, "23")) {
    return db_error_kind::invalid;
  }
  if (starts_with(state, "08") || state == "57P01" || state == "57P02" || state == "57P03"
      || starts_with(state, "53") || state == "25006") {
    return db_error_kind::unavailable;
  }
  return db_error_kind::internal;
}

int64_t as_int(const pqxx::field& f) {
  return f.as<int64_t>();
}

model::decimal as_decimal(const pqxx::field& f) {
  auto d = model::decimal::parse(f.c_str());
  if (!d) {
    throw db_error(db_error_kind::internal,
                   std::string{"unreadable numeric from the database: "} + f.c_str());
  }
  return *d;
}

model::transaction parse_tx(const pqxx::row& r) {
  model::transaction tx;
  tx.tx_id = r[0].c_str();
  tx.time = from_unix_micros(as_int(r[1]));
  tx.chain = r[2].c_str();
  tx.from_addr = r[3].c_str();
  tx.to_addr = r[4].c_str();
  tx.amount = as_decimal(r[5]);
  tx.symbol = r[6].c_str();
  tx.direction = r[7].c_str();
  tx.fee = as_decimal(r[8]);
  tx.memo = r[9].c_str();
  tx.notes = r[10].c_str();
  tx.tags = parse_array(r[11].c_str());
  tx.is_internal = r[12].as<bool>();
  tx.category = r[13].c_str();
  tx.risk_score = static_cast<model::score_centi>(as_int(r[14]));
  tx.risk_flags = parse_array(r[15].c_str());
  tx.risk_bucket = r[16].c_str();
  return tx;
}

std::vector<model::transaction> parse_txs(const pqxx::result& res) {
  std::vector<model::transaction> out;
  out.reserve(res.size());
  for (const auto& row : res) {
    out.push_back(parse_tx(row));
  }
  return out;
}

void check_limit(std::size_t limit) {
  if (limit > max_query_limit) {
    throw db_error(db_error_kind::invalid, "limit " + std::to_string(limit) + " exceeds "
                                             + std::to_string(max_query_limit));
  }
}

/// The 17 column arrays of one INSERT chunk.
struct insert_arrays {
  std::array<std::string, 17> cols;

  insert_arrays() {
    for (auto& c : cols) {
      c = "{";
    }
  }

  void add(const model::transaction& tx) {
    if (cols[0].size() > 1) {
      for (auto& c : cols) {
        c += ',';
      }
    }
    append_array_element(cols[0], tx.tx_id);
    append_array_element(cols[1], format_timestamp(tx.time));
    append_array_element(cols[2], tx.chain);
    append_array_element(cols[3], tx.from_addr);
    append_array_element(cols[4], tx.to_addr);
    cols[5] += tx.amount.to_string();
    append_array_element(cols[6], tx.symbol);
    append_array_element(cols[7], tx.direction);
    cols[8] += tx.fee.to_string();
    append_array_element(cols[9], tx.memo);
    append_array_element(cols[10], tx.notes);
    append_array_element(cols[11], encode_array(tx.tags));
    cols[12] += tx.is_internal ? 't' : 'f';
    append_array_element(cols[13], tx.category);
    cols[14] += std::to_string(tx.risk_score);
    append_array_element(cols[15], encode_array(tx.risk_flags));
    append_array_element(cols[16], tx.risk_bucket);
  }

  void finish() {
    for (auto& c : cols) {
      c += '}';
    }
  }
};

/// The boundary of an optional time filter.
std::string bound(const std::optional<model::timestamp>& t, const char* none) {
  return t ? format_timestamp(*t) : std::string{none};
}

class pg_session final : public session {
public:
  explicit pg_session(options o)
      : opts_(std::move(o)), conninfo_(conninfo(opts_)), password_(url_password(conninfo_)) {}

  ~pg_session() override {
    disconnect();
  }

  void connect() override {
    disconnect();
    try {
      auto c = open_connection(conninfo_, password_, opts_.statement_timeout, statements.data(),
                               statements.size(), "postgres");
      conn_ = std::move(c.conn);
      notices_ = std::move(c.notices);
    } catch (...) {
      throw translate(std::current_exception());
    }
  }

  bool connected() const noexcept override {
    return conn_ != nullptr && conn_->is_open();
  }

  void disconnect() noexcept override {
    notices_.reset();
    if (conn_) {
      conn_->disconnect();
      conn_.reset();
    }
  }

  std::optional<replay_lag> ping() override {
    return guarded([&](pqxx::connection& c) -> std::optional<replay_lag> {
      pqxx::nontransaction n{c};
      // Caught up when everything received is replayed (an idle primary sends nothing, so the
      // age of the last replayed transaction alone would grow forever).
      auto r = n.exec("SELECT pg_is_in_recovery(),"
                      " pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()),"
                      " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
                      " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END");
      if (r.empty() || !r[0][0].as<bool>()) {
        return std::nullopt;
      }
      replay_lag lag;
      lag.bytes = r[0][1].is_null() ? 0.0 : std::max(0.0, r[0][1].as<double>());
      if (!r[0][2].is_null()) {
        lag.seconds = std::max(0.0, r[0][2].as<double>());
      }
      return lag;
    });
  }

  std::size_t migrate() override {
    return guarded([&](pqxx::connection& c) {
      {
        pqxx::nontransaction n{c};
        // Migrations may take long (index builds). Waiting for another node's lock is bounded
        // (lock_timeout), so a node that is told to stop meanwhile is not stuck in libpq: the
        // migrator simply tries again.
        n.exec("SET statement_timeout = 0");
        n.exec("SET lock_timeout = '10s'");
        try {
          n.exec("SELECT pg_advisory_lock(" + std::to_string(sql::migration_lock_key) + ")");
        } catch (const pqxx::sql_error&) {
          // Not acquired: put the connection's normal settings back before reporting it.
          n.exec("SET lock_timeout = 0; " + session_settings(opts_.statement_timeout));
          throw;
        }
        n.exec("SET lock_timeout = 0");
      }
      std::size_t applied = 0;
      try {
        applied = apply_migrations(c);
      } catch (...) {
        release_migration_lock(c);
        throw;
      }
      release_migration_lock(c);
      return applied;
    });
  }

  std::vector<stored> insert(const std::vector<model::transaction>& rows) override {
    if (rows.empty()) {
      return {};
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (auto problem = validate(rows[i])) {
        throw db_error(db_error_kind::invalid, "row " + std::to_string(i) + ": " + *problem);
      }
    }
    // The first occurrence of each tx_id is inserted; sorting them gives every transaction the
    // same lock order, so concurrent batches with common ids cannot deadlock.
    std::unordered_map<std::string_view, std::size_t> first;
    std::vector<std::size_t> unique;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (first.emplace(rows[i].tx_id, i).second) {
        unique.push_back(i);
      }
    }
    std::sort(unique.begin(), unique.end(),
              [&](std::size_t a, std::size_t b) { return rows[a].tx_id < rows[b].tx_id; });
    std::unordered_set<std::string> inserted;
    std::unordered_map<std::string, model::transaction> existing;
    guarded([&](pqxx::connection& c) {
      inserted.clear();
      existing.clear();
      pqxx::work w{c};
      auto chunk = std::max<std::size_t>(opts_.insert_chunk_rows, 1);
      for (std::size_t begin = 0; begin < unique.size(); begin += chunk) {
        insert_arrays arrays;
        auto end = std::min(unique.size(), begin + chunk);
        for (auto k = begin; k < end; ++k) {
          arrays.add(rows[unique[k]]);
        }
        arrays.finish();
        auto& a = arrays.cols;
        auto res = w.exec_prepared("k_insert", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                                   a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16]);
        for (const auto& row : res) {
          inserted.emplace(row[0].c_str());
        }
      }
      std::vector<std::string> missing;
      for (auto k : unique) {
        if (inserted.count(rows[k].tx_id) == 0) {
          missing.push_back(rows[k].tx_id);
        }
      }
      if (!missing.empty()) {
        for (const auto& row : w.exec_prepared("k_select_ids", encode_array(missing))) {
          auto tx = parse_tx(row);
          auto id = tx.tx_id;
          existing.emplace(std::move(id), std::move(tx));
        }
      }
      w.commit();
    });
    std::vector<stored> out;
    out.reserve(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& id = rows[i].tx_id;
      auto f = first[id];
      if (inserted.count(id) > 0) {
        out.push_back(stored{f == i, rows[f]});
        continue;
      }
      auto e = existing.find(id);
      if (e == existing.end()) {
        throw db_error(db_error_kind::internal, "stored row " + id + " not found after insert");
      }
      out.push_back(stored{false, e->second});
    }
    return out;
  }

  std::optional<model::transaction> get(const std::string& tx_id) override {
    return guarded([&](pqxx::connection& c) -> std::optional<model::transaction> {
      pqxx::nontransaction n{c};
      auto res = n.exec_prepared("k_get", tx_id);
      if (res.empty()) {
        return std::nullopt;
      }
      return parse_tx(res[0]);
    });
  }

  page list(const list_query& q) override {
    check_limit(q.limit);
    page out;
    if (q.limit == 0) {
      return out;
    }
    auto fetch = std::to_string(q.limit + 1); // one more tells whether a next page exists
    out.items = guarded([&](pqxx::connection& c) {
      pqxx::nontransaction n{c};
      if (q.after) {
        return parse_txs(n.exec_prepared("k_list_after", q.wallet, fetch,
                                         format_timestamp(q.after->time), q.after->tx_id));
      }
      return parse_txs(n.exec_prepared("k_list_first", q.wallet, fetch));
    });
    if (out.items.size() > q.limit) {
      out.items.resize(q.limit);
      out.next = model::cursor{out.items.back().time, out.items.back().tx_id};
    }
    return out;
  }

  std::vector<model::transaction> alerts(const alerts_query& q) override {
    check_limit(q.limit);
    if (q.limit == 0) {
      return {};
    }
    return guarded([&](pqxx::connection& c) {
      pqxx::nontransaction n{c};
      return parse_txs(n.exec_prepared("k_alerts", std::to_string(clamp_score(q.min_score)),
                                       std::to_string(q.limit)));
    });
  }

  summary summarize(const summary_query& q) override {
    if (q.days < 1 || q.days > 3660) {
      throw db_error(db_error_kind::invalid,
                     "days " + std::to_string(q.days) + " is outside 1..3660");
    }
    auto today = day_of(
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()));
    auto first_day = today - (q.days - 1);
    auto since = format_date(first_day) + " 00:00:00+00";
    auto until = format_date(today + 1) + " 00:00:00+00";
    auto threshold = std::to_string(clamp_score(q.threshold));
    summary out;
    for (auto d = first_day; d <= today; ++d) {
      out.series_by_day.push_back(day_count{format_date(d), 0, 0});
      out.series_by_day_lmh.push_back(day_buckets{format_date(d), 0, 0, 0});
    }
    guarded([&](pqxx::connection& c) {
      out.total = 0;
      out.alerts = 0;
      out.categories.clear();
      // One snapshot for both statements, so the numbers agree with each other.
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t{c};
      int64_t score_sum = 0;
      for (const auto& row : t.exec_prepared("k_summary_days", since, until, threshold)) {
        auto index = as_int(row[0]) - first_day;
        if (index < 0 || index >= q.days) {
          continue;
        }
        auto count = static_cast<uint64_t>(as_int(row[1]));
        auto sum = as_int(row[3]);
        auto& day = out.series_by_day[static_cast<std::size_t>(index)];
        day.count = count;
        day.avg_risk =
          count == 0 ? 0.0 : static_cast<double>(sum) / static_cast<double>(count) / 100;
        auto& lmh = out.series_by_day_lmh[static_cast<std::size_t>(index)];
        lmh.low = static_cast<uint64_t>(as_int(row[4]));
        lmh.medium = static_cast<uint64_t>(as_int(row[5]));
        lmh.high = static_cast<uint64_t>(as_int(row[6]));
        out.total += count;
        out.alerts += static_cast<uint64_t>(as_int(row[2]));
        score_sum += sum;
      }
      out.avg_risk = out.total == 0
                       ? 0.0
                       : static_cast<double>(score_sum) / static_cast<double>(out.total) / 100;
      for (const auto& row : t.exec_prepared("k_summary_categories", since, until)) {
        out.categories[row[0].c_str()] = static_cast<uint64_t>(as_int(row[1]));
      }
      t.commit();
    });
    return out;
  }

  std::vector<history_entry> wallet_history(const history_query& q) override {
    check_limit(q.limit);
    if (q.limit == 0) {
      return {};
    }
    return guarded([&](pqxx::connection& c) {
      pqxx::nontransaction n{c};
      std::vector<history_entry> out;
      auto res =
        n.exec_prepared("k_history", q.addr, format_timestamp(q.since), std::to_string(q.limit));
      out.reserve(res.size());
      for (const auto& row : res) {
        out.push_back(history_entry{row[0].c_str(), from_unix_micros(as_int(row[1])),
                                    as_decimal(row[2]), row[3].c_str()});
      }
      return out;
    });
  }

  std::vector<model::transaction> export_rows(const export_query& q) override {
    check_limit(q.limit);
    if (q.limit == 0) {
      return {};
    }
    auto from = bound(q.from, "-infinity");
    auto to = bound(q.to, "infinity");
    auto limit = std::to_string(q.limit);
    return guarded([&](pqxx::connection& c) {
      pqxx::nontransaction n{c};
      if (q.wallet) {
        if (q.after) {
          return parse_txs(n.exec_prepared("k_export_wallet_after", *q.wallet, from, to, limit,
                                           format_timestamp(q.after->time), q.after->tx_id));
        }
        return parse_txs(n.exec_prepared("k_export_wallet_first", *q.wallet, from, to, limit));
      }
      if (q.after) {
        return parse_txs(n.exec_prepared("k_export_all_after", from, to, limit,
                                         format_timestamp(q.after->time), q.after->tx_id));
      }
      return parse_txs(n.exec_prepared("k_export_all_first", from, to, limit));
    });
  }

private:
  static int clamp_score(model::score_centi s) {
    return std::clamp(s, 0, 101);
  }

  /// Runs `f(connection)`, translating every failure into a db_error (and dropping the
  /// connection when it is unusable).
  template <class F>
  auto guarded(F&& f) -> decltype(f(std::declval<pqxx::connection&>())) {
    if (!connected()) {
      throw db_error(db_error_kind::unavailable, "not connected to the database");
    }
    try {
      return f(*conn_);
    } catch (...) {
      auto err = translate(std::current_exception());
      if (err.kind() == db_error_kind::unavailable) {
        disconnect();
        throw err;
      }
      if (!connected()) {
        // Whatever the statement said, the connection is gone with it.
        disconnect();
        throw db_error(db_error_kind::unavailable, err.what(), err.sqlstate(), err.in_doubt());
      }
      throw err;
    }
  }

  std::size_t apply_migrations(pqxx::connection& c) {
    {
      pqxx::nontransaction n{c};
      n.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
             "version integer PRIMARY KEY, name text NOT NULL, "
             "applied_at timestamptz NOT NULL DEFAULT now())");
    }
    std::set<int> done;
    {
      pqxx::nontransaction n{c};
      for (const auto& row : n.exec("SELECT version FROM schema_migrations")) {
        done.insert(row[0].as<int>());
      }
    }
    std::size_t applied = 0;
    for (const auto& m : migrations()) {
      if (done.count(m.version) > 0) {
        continue;
      }
      pqxx::work w{c};
      w.exec(std::string{m.sql});
      w.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                    std::string{m.name});
      w.commit();
      ++applied;
      runtime::logging::get("db")->info("applied migration {:04d}_{}", m.version, m.name);
    }
    return applied;
  }

  void release_migration_lock(pqxx::connection& c) noexcept {
    try {
      if (c.is_open()) {
        pqxx::nontransaction n{c};
        n.exec("SELECT pg_advisory_unlock(" + std::to_string(sql::migration_lock_key) + "); "
               + session_settings(opts_.statement_timeout));
      }
    } catch (...) {
      // The lock dies with the connection; the caller reports the original failure.
    }
  }

  /// Converts the exception in flight to a db_error without credentials.
  db_error translate(std::exception_ptr ep) const {
    try {
      std::rethrow_exception(ep);
    } catch (const db_error& e) {
      return e;
    } catch (const pqxx::in_doubt_error& e) {
      return db_error(db_error_kind::unavailable,
                      "commit outcome unknown (connection lost): " + clean(e.what()), {}, true);
    } catch (const pqxx::broken_connection& e) {
      return db_error(db_error_kind::unavailable, "database connection failed: " + clean(e.what()));
    } catch (const pqxx::sql_error& e) {
      auto kind = kind_of_sqlstate(e.sqlstate());
      return db_error(kind, "database error " + e.sqlstate() + ": " + clean(e.what()),
                      e.sqlstate());
    } catch (const std::exception& e) {
      return db_error(db_error_kind::internal, "database client error: " + clean(e.what()));
    } catch (...) {
      return db_error(db_error_kind::internal, "database client error");
    }
  }

  std::string clean(std::string_view text) const {
    auto line = first_line(text);
    if (line.empty()) {
      line = "(no message)";
    }
    return scrub(std::move(line), password_);
  }

  options opts_;
  std::string conninfo_;
  std::string password_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<notice_logger> notices_;
};

} // namespace

std::unique_ptr<session> make_session(options o) {
  return std::make_unique<pg_session>(std::move(o));
}

session_factory_maker session_factories(const settings& cfg) {
  auto statement_timeout = cfg.statement_timeout;
  auto connect_timeout = cfg.connect_timeout;
  return [statement_timeout, connect_timeout](const std::string& url,
                                              pool_role role) -> session_factory {
    options o;
    o.url = url;
    o.role = role;
    o.statement_timeout = statement_timeout;
    o.connect_timeout = connect_timeout;
    return [o] {
      return make_session(o);
    };
  };
}

} // namespace klerno::actors::storage::pg
