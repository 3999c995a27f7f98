#pragma once

// The SQL of pg_session, one prepared statement each (prepared once per connection, on first
// use). Exposed so the database tests can EXPLAIN exactly what runs. Conventions:
// - times travel as timestamptz text ("YYYY-MM-DD HH:MM:SS.ffffff+00", "-infinity", "infinity")
//   and come back as microseconds since the Unix epoch (exact both ways);
// - amounts travel as numeric text; arrays as array literals;
// - keyset pagination compares (time, tx_id) row values, which the btree indexes of
//   migrations/0001_create_txs.sql answer directly (no sort);
// - a wallet's rows are the union of its sent rows and its received rows that it did not send
//   (a self-transfer appears once), each side read from its own index.

namespace klerno::actors::storage::pg::sql {

/// The columns every transaction query returns, in the order pg_session parses them.
#define KLERNO_TX_COLUMNS                                                                          \
  "tx_id, (extract(epoch from time) * 1000000)::int8 AS time_us, chain, from_addr, to_addr, "      \
  "amount::text, symbol, direction, fee::text, memo, notes, tags, is_internal, category, "         \
  "risk_score, risk_flags, risk_bucket"

/// $1..$17: arrays of the columns (tags and risk_flags as arrays of array literals). Returns the
/// tx_id of each row it inserted.
inline constexpr const char* insert = R"(INSERT INTO txs
  (tx_id, time, chain, from_addr, to_addr, amount, symbol, direction, fee, memo, notes, tags,
   is_internal, category, risk_score, risk_flags, risk_bucket)
SELECT u.tx_id, u.time, u.chain, u.from_addr, u.to_addr, u.amount, u.symbol, u.direction, u.fee,
       u.memo, u.notes, u.tags::text[], u.is_internal, u.category, u.risk_score,
       u.risk_flags::text[], u.risk_bucket
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::numeric[],
            $7::text[], $8::text[], $9::numeric[], $10::text[], $11::text[], $12::text[],
            $13::bool[], $14::text[], $15::int2[], $16::text[], $17::text[])
  AS u(tx_id, time, chain, from_addr, to_addr, amount, symbol, direction, fee, memo, notes, tags,
       is_internal, category, risk_score, risk_flags, risk_bucket)
ON CONFLICT (tx_id) DO NOTHING
RETURNING tx_id)";

/// $1: array of tx_ids.
inline constexpr const char* select_ids =
  "SELECT " KLERNO_TX_COLUMNS " FROM txs WHERE tx_id = ANY($1::text[])";

/// $1: tx_id.
inline constexpr const char* get = "SELECT " KLERNO_TX_COLUMNS " FROM txs WHERE tx_id = $1";

/// $1: wallet, $2: limit.
inline constexpr const char* list_first = "SELECT " KLERNO_TX_COLUMNS R"( FROM (
  (SELECT * FROM txs WHERE from_addr = $1
   ORDER BY time DESC, tx_id DESC LIMIT $2)
  UNION ALL
  (SELECT * FROM txs WHERE to_addr = $1 AND from_addr <> $1
   ORDER BY time DESC, tx_id DESC LIMIT $2)
) t ORDER BY time DESC, tx_id DESC LIMIT $2)";

/// $1: wallet, $2: limit, $3: cursor time, $4: cursor tx_id.
inline constexpr const char* list_after = "SELECT " KLERNO_TX_COLUMNS R"( FROM (
  (SELECT * FROM txs WHERE from_addr = $1 AND (time, tx_id) < ($3::timestamptz, $4::text)
   ORDER BY time DESC, tx_id DESC LIMIT $2)
  UNION ALL
  (SELECT * FROM txs WHERE to_addr = $1 AND from_addr <> $1
     AND (time, tx_id) < ($3::timestamptz, $4::text)
   ORDER BY time DESC, tx_id DESC LIMIT $2)
) t ORDER BY time DESC, tx_id DESC LIMIT $2)";

/// $1: min score (hundredths), $2: limit.
inline constexpr const char* alerts =
  "SELECT " KLERNO_TX_COLUMNS " FROM txs WHERE risk_score >= $1::int2"
  " ORDER BY time DESC, tx_id DESC LIMIT $2";

/// $1: window start, $2: window end (exclusive), $3: alert threshold. One row per UTC day with
/// rows: day (days since 1970-01-01), count, alerts, sum of scores, low, medium, high.
inline constexpr const char* summary_days = R"(SELECT
  ((time AT TIME ZONE 'UTC')::date - DATE '1970-01-01') AS day,
  count(*),
  count(*) FILTER (WHERE risk_score >= $3::int2),
  coalesce(sum(risk_score), 0)::int8,
  count(*) FILTER (WHERE risk_score < 33),
  count(*) FILTER (WHERE risk_score >= 33 AND risk_score < 66),
  count(*) FILTER (WHERE risk_score >= 66)
FROM txs WHERE time >= $1::timestamptz AND time < $2::timestamptz
GROUP BY 1 ORDER BY 1)";

/// $1: window start, $2: window end (exclusive).
inline constexpr const char* summary_categories =
  "SELECT category, count(*) FROM txs WHERE time >= $1::timestamptz AND time < $2::timestamptz"
  " GROUP BY category";

/// $1: from_addr, $2: since, $3: limit.
inline constexpr const char* history =
  "SELECT tx_id, (extract(epoch from time) * 1000000)::int8, amount::text, to_addr FROM txs"
  " WHERE from_addr = $1 AND time >= $2::timestamptz ORDER BY time DESC, tx_id DESC LIMIT $3";

/// $1: from, $2: to (exclusive), $3: limit.
inline constexpr const char* export_all_first =
  "SELECT " KLERNO_TX_COLUMNS " FROM txs WHERE time >= $1::timestamptz AND time < $2::timestamptz"
  " ORDER BY time, tx_id LIMIT $3";

/// $1: from, $2: to (exclusive), $3: limit, $4: cursor time, $5: cursor tx_id.
inline constexpr const char* export_all_after =
  "SELECT " KLERNO_TX_COLUMNS " FROM txs WHERE time >= $1::timestamptz AND time < $2::timestamptz"
  " AND (time, tx_id) > ($4::timestamptz, $5::text) ORDER BY time, tx_id LIMIT $3";

/// $1: wallet, $2: from, $3: to (exclusive), $4: limit.
inline constexpr const char* export_wallet_first = "SELECT " KLERNO_TX_COLUMNS R"( FROM (
  (SELECT * FROM txs WHERE from_addr = $1 AND time >= $2::timestamptz AND time < $3::timestamptz
   ORDER BY time, tx_id LIMIT $4)
  UNION ALL
  (SELECT * FROM txs WHERE to_addr = $1 AND from_addr <> $1
     AND time >= $2::timestamptz AND time < $3::timestamptz
   ORDER BY time, tx_id LIMIT $4)
) t ORDER BY time, tx_id LIMIT $4)";

/// $1: wallet, $2: from, $3: to (exclusive), $4: limit, $5: cursor time, $6: cursor tx_id.
inline constexpr const char* export_wallet_after = "SELECT " KLERNO_TX_COLUMNS R"( FROM (
  (SELECT * FROM txs WHERE from_addr = $1 AND time >= $2::timestamptz AND time < $3::timestamptz
     AND (time, tx_id) > ($5::timestamptz, $6::text)
   ORDER BY time, tx_id LIMIT $4)
  UNION ALL
  (SELECT * FROM txs WHERE to_addr = $1 AND from_addr <> $1
     AND time >= $2::timestamptz AND time < $3::timestamptz
     AND (time, tx_id) > ($5::timestamptz, $6::text)
   ORDER BY time, tx_id LIMIT $4)
) t ORDER BY time, tx_id LIMIT $4)";

#undef KLERNO_TX_COLUMNS

/// Key of the advisory lock held while migrating ("klerno\0\1" as a big-endian int8).
inline constexpr long long migration_lock_key = 7740673401696485377LL;

} // namespace klerno::actors::storage::pg::sql
