#pragma once

// The typed interfaces of the storage actors. Every message stays on its node (the storage
// actors of a node serve that node), so the types are local-only (CAF_ALLOW_UNSAFE_MESSAGE_TYPE).
//
// Errors (as `caf::error`):
// - `errc::unavailable`: database unreachable, pool queue full, circuit open, writer full
//   (HTTP 503 + Retry-After; `retry_after(err)` gives the delay when the pool knows it);
// - `errc::deadline_exceeded`: statement_timeout or cancel (HTTP 504);
// - `errc::invalid_argument`: a rejected row or query (HTTP 400/422);
// - `errc::shutting_down`: the actor is stopping;
// - `caf::sec::runtime_error`: anything else (HTTP 500).
// The context of these errors is a message whose first element is a human-readable string
// without credentials (`error_text(err)`).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include "actors/model/transaction.hpp"
#include "actors/storage/types.hpp"

namespace klerno::actors::storage {

using insert_atom = caf::atom_constant<caf::atom("db_insert")>;
using get_atom = caf::atom_constant<caf::atom("db_get")>;
using list_atom = caf::atom_constant<caf::atom("db_list")>;
using alerts_atom = caf::atom_constant<caf::atom("db_alerts")>;
using summary_atom = caf::atom_constant<caf::atom("db_summary")>;
using history_atom = caf::atom_constant<caf::atom("db_history")>;
using export_atom = caf::atom_constant<caf::atom("db_export")>;
using ping_atom = caf::atom_constant<caf::atom("db_ping")>;
using migrate_atom = caf::atom_constant<caf::atom("db_migrate")>;
using stats_atom = caf::atom_constant<caf::atom("db_stats")>;
using store_atom = caf::atom_constant<caf::atom("db_store")>;

using tx_list = std::vector<model::transaction>;
using stored_list = std::vector<stored>;
using history_list = std::vector<history_entry>;
using maybe_tx = std::optional<model::transaction>;

/// Reads (answered by pools, connections and the `reads` router):
/// - `(get, tx_id)` -> optional transaction;
/// - `(list, list_query)` -> page (keyset pagination, newest first);
/// - `(alerts, alerts_query)` -> transactions at or above the threshold, newest first;
/// - `(summary, summary_query)` -> summary;
/// - `(history, history_query)` -> a wallet's recent sent transactions, newest first;
/// - `(export, export_query)` -> one page of rows in (time ASC, tx_id ASC) order.
using reads_actor =
  caf::typed_actor<caf::replies_to<get_atom, std::string>::with<maybe_tx>,
                   caf::replies_to<list_atom, list_query>::with<page>,
                   caf::replies_to<alerts_atom, alerts_query>::with<tx_list>,
                   caf::replies_to<summary_atom, summary_query>::with<summary>,
                   caf::replies_to<history_atom, history_query>::with<history_list>,
                   caf::replies_to<export_atom, export_query>::with<tx_list>>;

/// The insert operation alone (what the writer needs from the primary pool):
/// - `(insert, rows)` -> one `stored` per row, in input order, after COMMIT.
using insert_actor = caf::typed_actor<caf::replies_to<insert_atom, tx_list>::with<stored_list>>;

/// Every operation of a session (answered by pools and by connection actors): the reads, plus
/// - `(insert, rows)` -> stored rows (see insert_actor);
/// - `(ping)` -> round-trip time of `SELECT 1` (health checks, readiness);
/// - `(migrate)` -> number of migrations applied (run once at startup, on the primary).
using db_actor = reads_actor::extend<caf::replies_to<insert_atom, tx_list>::with<stored_list>,
                                     caf::replies_to<ping_atom>::with<caf::timespan>,
                                     caf::replies_to<migrate_atom>::with<uint64_t>>;

/// The state of a pool's circuit breaker.
enum class circuit_state : uint8_t {
  closed = 0,    ///< requests flow
  half_open = 1, ///< one probe request is let through
  open = 2,      ///< requests fail at once with errc::unavailable
};

/// Returns "closed", "half_open" or "open".
const char* to_string(circuit_state x) noexcept;

/// A snapshot of a pool.
struct pool_stats {
  uint64_t connections = 0; ///< connection actors alive
  uint64_t in_use = 0;      ///< of which busy with a request
  uint64_t idle = 0;        ///< of which idle
  uint64_t waiting = 0;     ///< requests queued for a connection
  circuit_state circuit = circuit_state::closed;
  uint64_t consecutive_failures = 0; ///< unavailable failures since the last success
};

/// A pool: every session operation, plus `(stats)` -> pool_stats.
using pool_actor = db_actor::extend<caf::replies_to<stats_atom>::with<pool_stats>>;

/// The group-commit writer: `(store, rows)` -> one `stored` per row, in input order, answered
/// after the batch holding the rows COMMITted.
using writer_actor = caf::typed_actor<caf::replies_to<store_atom, tx_list>::with<stored_list>>;

/// Returns the human-readable text of a storage error (the first string of its context), or the
/// rendering of its code when there is none.
std::string error_text(const caf::error& err);

/// Returns how long a client should wait before retrying after `err` (the remaining cooldown of
/// an open circuit, 1 s for a full queue), or nullopt when the error does not say.
std::optional<std::chrono::milliseconds> retry_after(const caf::error& err);

} // namespace klerno::actors::storage

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::tx_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::stored_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::history_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::maybe_tx)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::list_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::page)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::alerts_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::summary_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::summary)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::history_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::export_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::storage::pool_stats)
