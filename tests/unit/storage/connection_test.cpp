// The connection actor with a fake session, on a real actor system (connection actors are
// detached: they need threads of their own). Requests are synchronous from a scoped actor, so no
// test waits for time to pass.

#include "actors/storage/connection.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>

#include <catch2/catch.hpp>

#include "runtime/errc.hpp"
#include "runtime/metrics.hpp"
#include "tests/unit/storage/fake_session.hpp"

using namespace klerno::actors::storage;
using klerno::runtime::errc;
using klerno::test::storage::fake_session;
using klerno::test::storage::script;
namespace model = klerno::actors::model;
using namespace std::chrono_literals;

namespace {

std::function<void()> throws(db_error_kind kind, std::string msg = "boom", bool in_doubt = false) {
  return [kind, msg, in_doubt] {
    throw db_error(kind, msg, {}, in_doubt);
  };
}

class connection_fixture {
public:
  connection_fixture() : sys(init(cfg)), self(sys) {}

  ~connection_fixture() {
    for (auto& c : conns) {
      caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
    }
  }

  db_actor start(std::chrono::milliseconds backoff = 1h) {
    connection_config c;
    c.factory = [s = steps]() {
      return std::make_unique<fake_session>(s);
    };
    c.backoff_min = backoff;
    c.backoff_max = backoff;
    c.metrics = metrics;
    auto hdl = spawn_connection(sys, std::move(c));
    conns.push_back(hdl);
    return hdl;
  }

  /// Asks `conn` for tx "t1"; returns the error (none on success).
  caf::error get(const db_actor& conn) {
    caf::error result = caf::make_error(caf::sec::request_timeout);
    self->request(conn, 30s, get_atom::value, std::string{"t1"})
      .receive(
        [&](maybe_tx& x) {
          result =
            x && x->tx_id == "t1" ? caf::error{} : caf::make_error(caf::sec::invalid_argument);
        },
        [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  int connects() {
    std::lock_guard<std::mutex> guard{steps->mtx};
    return steps->connects;
  }

  int gets() {
    std::lock_guard<std::mutex> guard{steps->mtx};
    return steps->gets;
  }

  // Declared before the actor system: actors may update metrics until the system is gone.
  klerno::runtime::metrics::registry reg;
  metrics_ptr metrics = std::make_shared<storage_metrics>(reg);
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::shared_ptr<script> steps = std::make_shared<script>();
  std::vector<db_actor> conns;

private:
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }
};

} // namespace

TEST_CASE_METHOD(connection_fixture, "a connection connects at its first request", "[connection]") {
  auto conn = start();
  CHECK(connects() == 0);
  CHECK_FALSE(get(conn));
  CHECK(connects() == 1);
  CHECK_FALSE(get(conn));
  CHECK(connects() == 1);
  CHECK(metrics->query_duration.with({"get"}).count() == 2);
}

TEST_CASE_METHOD(connection_fixture, "a lost connection is re-established and the request retried",
                 "[connection]") {
  steps->get_steps.push_back(throws(db_error_kind::unavailable, "server closed the connection"));
  auto conn = start();
  CHECK_FALSE(get(conn));
  CHECK(connects() == 2);
  CHECK(gets() == 2);
}

TEST_CASE_METHOD(connection_fixture, "a request is retried once only", "[connection]") {
  steps->get_steps.push_back(throws(db_error_kind::unavailable));
  steps->get_steps.push_back(throws(db_error_kind::unavailable, "still down"));
  auto conn = start();
  auto err = get(conn);
  CHECK(klerno::runtime::is(err, errc::unavailable));
  CHECK(error_text(err) == "still down");
  CHECK(gets() == 2);
  // The next request reconnects again.
  CHECK_FALSE(get(conn));
  CHECK(connects() == 3);
}

TEST_CASE_METHOD(connection_fixture, "a commit in doubt is not retried", "[connection]") {
  steps->get_steps.push_back(throws(db_error_kind::unavailable, "in doubt", true));
  auto conn = start();
  CHECK(klerno::runtime::is(get(conn), errc::unavailable));
  CHECK(gets() == 1);
}

TEST_CASE_METHOD(connection_fixture,
                 "a failed connect backs off and requests fail at once without connecting",
                 "[connection]") {
  steps->connect_steps.push_back(throws(db_error_kind::unavailable, "connection refused"));
  auto conn = start(1h);
  auto first = get(conn);
  CHECK(klerno::runtime::is(first, errc::unavailable));
  CHECK(error_text(first) == "connection refused");
  auto second = get(conn);
  CHECK(klerno::runtime::is(second, errc::unavailable));
  CHECK(error_text(second).find("next connection attempt") != std::string::npos);
  CHECK(connects() == 1);
  CHECK(metrics->errors.with({"unavailable"}).value() == 2);
}

TEST_CASE_METHOD(connection_fixture,
                 "without backoff a failed connect is retried at the next request",
                 "[connection]") {
  steps->connect_steps.push_back(throws(db_error_kind::unavailable, "connection refused"));
  auto conn = start(0ms);
  CHECK(klerno::runtime::is(get(conn), errc::unavailable));
  CHECK_FALSE(get(conn));
  CHECK(connects() == 2);
}

TEST_CASE_METHOD(connection_fixture, "database errors map to runtime error codes", "[connection]") {
  auto conn = start();
  SECTION("timeout -> deadline_exceeded") {
    steps->get_steps.push_back(throws(db_error_kind::timeout, "canceling statement"));
    auto err = get(conn);
    CHECK(klerno::runtime::is(err, errc::deadline_exceeded));
    CHECK(error_text(err) == "canceling statement");
    CHECK(connects() == 1); // the connection stays
  }
  SECTION("invalid -> invalid_argument") {
    steps->get_steps.push_back(throws(db_error_kind::invalid));
    CHECK(klerno::runtime::is(get(conn), errc::invalid_argument));
  }
  SECTION("internal -> caf runtime_error") {
    steps->get_steps.push_back(throws(db_error_kind::internal));
    CHECK(get(conn) == caf::sec::runtime_error);
  }
  SECTION("conflict is retried twice, then unavailable") {
    for (int i = 0; i < 3; ++i) {
      steps->get_steps.push_back(throws(db_error_kind::conflict, "deadlock detected"));
    }
    CHECK(klerno::runtime::is(get(conn), errc::unavailable));
    CHECK(gets() == 3);
  }
  SECTION("a conflict that clears is invisible") {
    steps->get_steps.push_back(throws(db_error_kind::conflict));
    CHECK_FALSE(get(conn));
    CHECK(gets() == 2);
  }
  SECTION("an exception of another type -> caf runtime_error") {
    steps->get_steps.push_back([] { throw std::runtime_error("bug"); });
    CHECK(get(conn) == caf::sec::runtime_error);
  }
}

TEST_CASE_METHOD(connection_fixture, "ping and migrate answer through the session",
                 "[connection]") {
  auto conn = start();
  self->request(conn, 30s, ping_atom::value)
    .receive([](caf::timespan t) { CHECK(t.count() >= 0); },
             [](caf::error& err) { FAIL(caf::to_string(err)); });
  self->request(conn, 30s, migrate_atom::value)
    .receive([](uint64_t n) { CHECK(n == 2); }, [](caf::error& err) { FAIL(caf::to_string(err)); });
}
