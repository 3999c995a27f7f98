#pragma once

// The PostgreSQL implementation of storage::session, on libpqxx 6.4 (blocking; used only from
// connection actors). This header does not include libpqxx: the node assembly links
// klerno_storage_pg and hands `session_factories(settings)` to the storage layer.
//
// Per connection: libpq connect_timeout, application_name=klerno-node, TCP keepalives and
// tcp_user_timeout are added to the URL unless it sets them; a primary URL listing several hosts
// gets target_session_attrs=read-write unless it says otherwise (after a failover libpq finds the
// new primary at the next connect); statement_timeout and client_min_messages=warning are SET after
// connecting; the statements of queries.hpp are prepared on first use. Server notices go to the
// "db" logger at debug level. Error texts never contain the password (scrubbed).
//
// Error mapping (to db_error_kind): broken connection, SQLSTATE 08xxx, 57P01-57P03 (shutdown,
// starting up), 53xxx (too many connections, out of resources), 25006 (read-only: a replica, or
// a demoted primary) -> unavailable (and the session disconnects); 57014 (statement_timeout,
// cancel), 55P03 (lock not available) -> timeout; 40001, 40P01 -> conflict; 22xxx, 23xxx ->
// invalid; anything else -> internal. A COMMIT whose outcome is unknown is `unavailable` with
// `in_doubt()`.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "actors/storage/session.hpp"
#include "actors/storage/settings.hpp"

namespace klerno::actors::storage::pg {

/// Settings of one PostgreSQL session.
struct options {
  std::string url;                                    ///< as configured (may hold pool params)
  pool_role role = pool_role::primary;                ///< primary: multi-host -> read-write
  std::chrono::milliseconds statement_timeout{5'000}; ///< 0: none
  std::chrono::milliseconds connect_timeout{3'000};   ///< rounded up to whole seconds
  std::string application_name = "klerno-node";       ///< shown in pg_stat_activity
  std::size_t insert_chunk_rows = 5'000;              ///< rows per INSERT statement
};

/// Returns the libpq connection string for `o` (pool parameters stripped, defaults added).
/// Throws `std::invalid_argument` on bad pool parameters.
std::string conninfo(const options& o);

/// Returns a new, unconnected session.
std::unique_ptr<session> make_session(options o);

/// Returns the session factory maker of the storage settings (statement and connect timeouts).
session_factory_maker session_factories(const settings& cfg);

} // namespace klerno::actors::storage::pg
