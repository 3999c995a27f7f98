#pragma once

// The interface in front of the database: one `session` is one connection's worth of blocking
// operations. The PostgreSQL implementation lives in actors/storage/pg/ (library
// klerno_storage_pg, the only one linking libpqxx); tests use fakes. Every call blocks, so a
// session is only ever used from its own detached connection actor (storage/connection.hpp),
// never from a scheduler or io thread.
//
// Errors: every operation throws `db_error` (types.hpp) and nothing else; an `unavailable` error
// leaves the session disconnected (the next call needs `connect()` again).

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/storage/types.hpp"

namespace klerno::actors::storage {

/// One database connection's worth of blocking operations.
class session {
public:
  virtual ~session() = default;

  /// Opens (or re-opens) the connection: closes any previous one first. Throws `db_error`.
  virtual void connect() = 0;

  /// Returns `true` while a connection is open (as far as the client knows).
  virtual bool connected() const noexcept = 0;

  /// Closes the connection (no-op when closed).
  virtual void disconnect() noexcept = 0;

  /// How far a standby's replay is behind what it received from the primary.
  struct replay_lag {
    double bytes = 0;              ///< WAL received but not replayed yet
    std::optional<double> seconds; ///< age of the last replayed transaction while behind (0 when
                                   ///< caught up); unknown before the first replayed transaction
  };

  /// Runs a trivial statement that also reads, on a standby, its replay lag (nullopt on a
  /// primary).
  virtual std::optional<replay_lag> ping() = 0;

  /// Applies the pending versioned migrations, each in its own transaction, under a
  /// database-wide advisory lock (nodes starting at once wait for each other), recording each in
  /// `schema_migrations(version, name, applied_at)`. Returns how many it applied.
  virtual std::size_t migrate() = 0;

  /// Stores `rows` in ONE transaction (committed before returning), idempotently on tx_id:
  /// returns one `stored` per input row, in input order. A row whose tx_id exists is not
  /// changed and reports `inserted = false` with the stored row; of several rows with the same
  /// tx_id in one call, the first is inserted and the others report `inserted = false`.
  virtual std::vector<stored> insert(const std::vector<model::transaction>& rows) = 0;

  /// Returns the transaction `tx_id`, if stored.
  virtual std::optional<model::transaction> get(const std::string& tx_id) = 0;

  /// Returns one page of a wallet's transactions (sent or received), ordered by
  /// (time DESC, tx_id DESC), strictly after `q.after`. Keyset pagination: stable under
  /// concurrent inserts (no duplicates; no row that existed when the first page was read is
  /// skipped). `next` is set when a further page has rows.
  virtual page list(const list_query& q) = 0;

  /// Returns stored transactions with risk_score >= q.min_score, newest first.
  virtual std::vector<model::transaction> alerts(const alerts_query& q) = 0;

  /// Returns the aggregates over the last q.days UTC days (today included).
  virtual summary summarize(const summary_query& q) = 0;

  /// Returns transactions sent by q.addr since q.since, newest first.
  virtual std::vector<history_entry> wallet_history(const history_query& q) = 0;

  /// Returns up to q.limit rows in (time ASC, tx_id ASC) order strictly after q.after.
  virtual std::vector<model::transaction> export_rows(const export_query& q) = 0;
};

/// Creates an unconnected session (called once per connection actor, on its own thread).
using session_factory = std::function<std::unique_ptr<session>()>;

/// Whether a pool talks to the primary (reads and writes) or to a replica (lagging reads).
enum class pool_role { primary, replica };

/// Returns the session factory for one database URL (the pg library provides one; tests pass
/// fakes). `url` is the URL as configured (it may still carry pool parameters and a password).
using session_factory_maker =
  std::function<session_factory(const std::string& url, pool_role role)>;

} // namespace klerno::actors::storage
