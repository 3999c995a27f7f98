#include "actors/storage/pg/connection.hpp"

#include <algorithm>

#include "actors/storage/url.hpp"
#include "runtime/logging.hpp"

namespace klerno::actors::storage::pg {

notice_logger::notice_logger(pqxx::connection_base& conn, std::string password, std::string label)
    : pqxx::errorhandler(conn), password_(std::move(password)), label_(std::move(label)) {}

bool notice_logger::operator()(const char msg[]) noexcept {
  try {
    std::string text{msg};
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
      text.pop_back();
    }
    runtime::logging::get("db")->debug("{}: {}", label_, scrub(std::move(text), password_));
  } catch (...) {
    // Logging must not throw into libpq.
  }
  return false;
}

std::string session_settings(std::chrono::milliseconds statement_timeout) {
  return "SET statement_timeout = "
         + std::to_string(std::max<long long>(statement_timeout.count(), 0))
         + "; SET client_min_messages = warning";
}

opened_connection open_connection(const std::string& conninfo, const std::string& password,
                                  std::chrono::milliseconds statement_timeout,
                                  const statement* statements, std::size_t count,
                                  std::string notice_label) {
  opened_connection c;
  c.conn = std::make_unique<pqxx::connection>(conninfo);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  // The owner reconnects itself (fresh connection, SETs, statements); libpqxx must not silently
  // reconnect behind its back and lose the session settings.
  c.conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  c.notices = std::make_unique<notice_logger>(*c.conn, password, std::move(notice_label));
  {
    pqxx::nontransaction n{*c.conn};
    n.exec(session_settings(statement_timeout));
  }
  for (std::size_t i = 0; i < count; ++i) {
    c.conn->prepare(statements[i].first, statements[i].second);
  }
  return c;
}

} // namespace klerno::actors::storage::pg
