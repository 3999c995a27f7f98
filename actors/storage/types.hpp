#pragma once

// The data types of the storage layer: what a session (one database connection) takes and
// returns, the storage error (`db_error`), and the row validation the writer applies before a row
// joins a group-commit batch. Plain structs, no database client types: actors, the HTTP layer and
// tests use them without libpqxx.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "actors/model/cursor.hpp"
#include "actors/model/decimal.hpp"
#include "actors/model/transaction.hpp"

namespace klerno::actors::storage {

/// What went wrong with a database operation (decides the caf::error an actor answers with).
enum class db_error_kind : uint8_t {
  /// Connection refused or lost, server shutting down or starting, too many connections, a
  /// read-only server where a write was needed (promoted replica / failover). Retry later;
  /// answered as `errc::unavailable` (HTTP 503) and counted by the circuit breaker.
  unavailable,
  /// The statement was canceled (statement_timeout, lock wait beyond it, admin cancel).
  /// Answered as `errc::deadline_exceeded` (HTTP 504).
  timeout,
  /// A transient concurrency failure (serialization failure 40001, deadlock 40P01): the
  /// connection actor retries it; if it persists it is answered as `errc::unavailable`.
  conflict,
  /// The request was invalid: constraint violation (23xxx), bad data (22xxx), a row that fails
  /// validation. Answered as `errc::invalid_argument` (HTTP 400/422).
  invalid,
  /// Anything else (a bug, a missing migration, an unexpected answer). Answered as
  /// `caf::sec::runtime_error` (HTTP 500).
  internal,
};

/// Returns "unavailable", "timeout", "conflict", "invalid" or "internal".
const char* to_string(db_error_kind x) noexcept;

/// A failed database operation. The message never contains credentials (sessions scrub the
/// password from every text they take from the client library).
class db_error : public std::runtime_error {
public:
  /// Creates an error of `kind` with a message and, when known, the SQLSTATE. `in_doubt` marks a
  /// COMMIT whose outcome is unknown (the connection broke while committing): never retried.
  db_error(db_error_kind kind, const std::string& message, std::string sqlstate = {},
           bool in_doubt = false)
      : std::runtime_error(message),
        kind_(kind),
        sqlstate_(std::move(sqlstate)),
        in_doubt_(in_doubt) {}

  /// Returns the kind.
  db_error_kind kind() const noexcept {
    return kind_;
  }

  /// Returns the SQLSTATE of a server error ("57014"), or the empty string.
  const std::string& sqlstate() const noexcept {
    return sqlstate_;
  }

  /// Returns `true` when the outcome of a COMMIT is unknown.
  bool in_doubt() const noexcept {
    return in_doubt_;
  }

private:
  db_error_kind kind_;
  std::string sqlstate_;
  bool in_doubt_;
};

/// The outcome of storing one transaction.
struct stored {
  bool inserted = false;  ///< `true`: this call inserted it; `false`: it existed (or repeated)
  model::transaction row; ///< the row as stored (the existing one when `inserted` is false)
};

/// Keyset pagination over one wallet's transactions (sent or received), newest first.
struct list_query {
  std::string wallet;                 ///< matches from_addr or to_addr
  std::size_t limit = 50;             ///< page size (0 gives an empty page)
  std::optional<model::cursor> after; ///< continue strictly after this row; none: first page
};

/// One page of a listing.
struct page {
  std::vector<model::transaction> items; ///< ordered by (time DESC, tx_id DESC)
  std::optional<model::cursor> next;     ///< set when more rows may follow
};

/// Stored transactions at or above a risk threshold, newest first.
struct alerts_query {
  model::score_centi min_score = 66; ///< hundredths (66 = 0.66)
  std::size_t limit = 100;           ///< most rows returned
};

/// Aggregates over the last `days` UTC days (today included).
struct summary_query {
  model::score_centi threshold = 66; ///< a transaction at or above it counts as an alert
  int days = 30;                     ///< 1..3660
};

/// One UTC day of a summary.
struct day_count {
  std::string date;    ///< "YYYY-MM-DD" (UTC)
  uint64_t count = 0;  ///< transactions of that day
  double avg_risk = 0; ///< mean risk score of that day, in [0, 1] (0 without transactions)
};

/// One UTC day of a summary, by risk bucket (low < 0.33 <= medium < 0.66 <= high).
struct day_buckets {
  std::string date;    ///< "YYYY-MM-DD" (UTC)
  uint64_t low = 0;    ///< risk score below 0.33
  uint64_t medium = 0; ///< risk score in [0.33, 0.66)
  uint64_t high = 0;   ///< risk score 0.66 and above
};

/// The analytics summary (the original Klerno /metrics body).
struct summary {
  uint64_t total = 0;                         ///< transactions in the window
  uint64_t alerts = 0;                        ///< of which risk_score >= threshold
  double avg_risk = 0;                        ///< mean risk score in [0, 1] (0 when empty)
  std::map<std::string, uint64_t> categories; ///< category -> count
  std::vector<day_count> series_by_day;       ///< one entry per day, oldest first, zeros included
  std::vector<day_buckets> series_by_day_lmh; ///< same days, by bucket
};

/// Recent transactions sent by one wallet (to rebuild a wallet actor's state), newest first.
struct history_query {
  std::string addr;       ///< from_addr
  model::timestamp since; ///< time >= since
  std::size_t limit = 1000;
};

/// One transaction of a wallet's history.
struct history_entry {
  std::string tx_id;     ///< its id
  model::timestamp time; ///< when
  model::decimal amount; ///< how much
  std::string to_addr;   ///< to whom
};

/// A page of the CSV export: rows in (time ASC, tx_id ASC) order after a cursor. The export pages
/// through this (no transaction, no server-side cursor held between pages), so memory is
/// constant for any number of rows.
struct export_query {
  std::optional<std::string> wallet;    ///< from_addr or to_addr; none: every wallet
  std::optional<model::timestamp> from; ///< time >= from (inclusive)
  std::optional<model::timestamp> to;   ///< time < to (exclusive)
  std::optional<model::cursor> after;   ///< continue strictly after this row
  std::size_t limit = 1000;             ///< rows per page
};

/// Largest `limit` a query accepts (larger is `db_error_kind::invalid`).
constexpr std::size_t max_query_limit = 100'000;

/// Longest tx_id / from_addr / to_addr in bytes (they are indexed; btree rows are bounded).
constexpr std::size_t max_key_bytes = 512;

/// Checks what the database would reject for one row, so one bad row is refused on its own
/// instead of failing a whole group-commit batch: tx_id non-empty, tx_id/from_addr/to_addr at most
/// `max_key_bytes`, every text valid UTF-8 without NUL bytes, risk_score within 0..100, time within
/// years 1..9999. Returns a description of the first problem, or nullopt.
std::optional<std::string> validate(const model::transaction& tx);

} // namespace klerno::actors::storage
