#pragma once

// The PostgreSQL implementation of cluster::membership_db (the membership table of
// migrations/0002_cluster_membership.sql), on libpqxx 6.4. This header does not include libpqxx.
//
// One object is one connection, opened on the first call and re-opened by the first call after
// it was lost (each call blocks for at most connect_timeout + statement_timeout). The URL gets
// the same treatment as the storage sessions' (pg_session.hpp: pool parameters stripped,
// connect_timeout, application_name, TCP keepalives and tcp_user_timeout added, read-write
// target for a multi-host URL); statement_timeout is SET after connecting, and the statements
// are prepared once per connection.
//
// Concurrency: every versioned write is one READ COMMITTED transaction that starts by locking
// the single cluster_version row (SELECT ... FOR UPDATE), compares it with the caller's expected
// version, changes the rows and bumps the version. Writers therefore run one at a time and see
// each other's committed changes, and they all take the same lock first (no deadlocks).
// Heartbeats update their own row only. read() is one REPEATABLE READ, read-only transaction
// (a consistent snapshot).
//
// Errors: connection failures, SQLSTATE 08xxx, 53xxx, 57P01-57P03, 25006 (read-only server),
// 57014 (statement timeout), 55P03, 40001, 40P01 -> membership_error unavailable (and the
// connection is dropped when it is unusable); everything else -> other. Texts are the first line
// of the client library's message with the password scrubbed.

#include <chrono>
#include <memory>
#include <string>

#include "cluster/membership_db.hpp"

namespace klerno::actors::storage::pg {

/// Settings of the membership table's connection.
struct membership_options {
  std::string url;                                    ///< DATABASE_URL (the primary)
  std::chrono::milliseconds statement_timeout{2'000}; ///< per statement, lock waits included
  std::chrono::milliseconds connect_timeout{3'000};   ///< rounded up to whole seconds
  std::string application_name = "klerno-membership"; ///< shown in pg_stat_activity
};

/// Returns the membership table on `o.url` (not connected yet: the first call connects).
/// Throws `std::invalid_argument` on bad pool parameters in the URL.
std::unique_ptr<cluster::membership_db> make_membership_db(membership_options o);

} // namespace klerno::actors::storage::pg
