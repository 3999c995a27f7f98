#pragma once

// One libpqxx connection set up the way every PostgreSQL session of the node wants it (the
// storage sessions of pg_session.cpp and the membership table of membership_pg.cpp): libpqxx's
// own silent reconnection off (the owner reconnects, so no session setting is lost), server
// notices to the "db" logger with the password scrubbed, statement_timeout and
// client_min_messages SET, and the owner's statements prepared. Internal to klerno_storage_pg
// (it includes libpqxx).

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include <pqxx/pqxx>

namespace klerno::actors::storage::pg {

/// Sends server notices (and libpqxx warnings) to the "db" logger at debug level instead of
/// stderr, as "<label>: <notice>" with the password scrubbed.
class notice_logger : public pqxx::errorhandler {
public:
  notice_logger(pqxx::connection_base& conn, std::string password, std::string label);

  bool operator()(const char msg[]) noexcept override;

private:
  std::string password_;
  std::string label_;
};

/// A connection and its notice logger (declared in this order, so the logger goes first).
struct opened_connection {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<notice_logger> notices;
};

/// A prepared statement: its name and SQL.
using statement = std::pair<const char*, const char*>;

/// Returns the SETs run on every new connection (statement_timeout; 0 means none).
std::string session_settings(std::chrono::milliseconds statement_timeout);

/// Connects to `conninfo` and sets the connection up (see above): notices logged under
/// `notice_label`, the `count` statements at `statements` prepared. Throws what libpqxx throws.
opened_connection open_connection(const std::string& conninfo, const std::string& password,
                                  std::chrono::milliseconds statement_timeout,
                                  const statement* statements, std::size_t count,
                                  std::string notice_label);

/// Returns whether `s` starts with `prefix` (SQLSTATE classes, error texts).
inline bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

} // namespace klerno::actors::storage::pg
