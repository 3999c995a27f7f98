// A running pool when its database stops and comes back: requests fail fast with unavailable,
// the circuit opens, and once the server is back requests succeed again without recreating
// anything. Uses a private PostgreSQL cluster (scripts/pg), never the shared fixture servers.

#include "actors/storage/storage.hpp"

#include <chrono>
#include <filesystem>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <catch2/catch.hpp>

#include "actors/storage/pg/pg_session.hpp"
#include "runtime/errc.hpp"
#include "runtime/metrics.hpp"
#include "tests/storage/pg_env.hpp"
#include "tests/support/env_file.hpp"

using namespace klerno::actors::storage;
namespace model = klerno::actors::model;
namespace pgt = klerno::test::pg;
using klerno::runtime::errc;
using namespace std::chrono_literals;

namespace {

/// A private cluster in its own directory, stopped (and removed) at the end, also on failure.
class private_cluster {
public:
  private_cluster() : dir_(KLERNO_PG_PRIVATE_DIR) {
    pgt::pg_script("stop " + dir_ + " >/dev/null 2>&1");
    std::filesystem::remove_all(dir_);
    REQUIRE(pgt::pg_script("start " + dir_ + " --no-replica --fast") == 0);
    url = klerno::test::env_file_value(dir_ + "/env", "DATABASE_URL");
    REQUIRE(!url.empty());
  }

  ~private_cluster() {
    pgt::pg_script("stop " + dir_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void stop_primary() {
    REQUIRE(pgt::pg_script("stop-primary " + dir_) == 0);
  }

  void start_primary() {
    REQUIRE(pgt::pg_script("start-primary " + dir_) == 0);
  }

  std::string url;

private:
  std::string dir_;
};

} // namespace

TEST_CASE("a running pool fails fast while the database is down and recovers when it returns",
          "[pg][restart]") {
  private_cluster db;
  // Before the actor system: actors may update metrics until the system is gone.
  klerno::runtime::metrics::registry reg;
  auto metrics = std::make_shared<storage_metrics>(reg);
  caf::actor_system_config cfg;
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  settings s;
  s.primary_url = klerno::config::secret{db.url};
  s.pool_min = 2;
  s.pool_max = 4;
  s.circuit_failures = 3;
  s.circuit_cooldown = 300ms;
  s.reconnect_backoff_min = 50ms;
  s.reconnect_backoff_max = 200ms;
  s.connect_timeout = 2s;
  auto storage = spawn_storage(sys, s, pg::session_factories(s), metrics);

  auto ping = [&]() -> caf::error {
    caf::error result = caf::make_error(caf::sec::request_timeout);
    self->request(storage.primary, 30s, ping_atom::value)
      .receive([&](caf::timespan) { result = caf::error{}; },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  };
  auto circuit = [&] {
    circuit_state result = circuit_state::closed;
    self->request(storage.primary, 30s, stats_atom::value)
      .receive([&](pool_stats& x) { result = x.circuit; },
               [&](caf::error& err) { FAIL(error_text(err)); });
    return result;
  };
  auto store = [&](const std::string& id) -> caf::error {
    model::transaction t;
    t.tx_id = id;
    t.time =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    t.from_addr = "rA";
    t.to_addr = "rB";
    caf::error result = caf::make_error(caf::sec::request_timeout);
    self->request(storage.writer, 30s, store_atom::value, tx_list{t})
      .receive([&](stored_list&) { result = caf::error{}; },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  };

  self->request(storage.primary, 60s, migrate_atom::value)
    .receive([](uint64_t) {}, [](caf::error& err) { FAIL(error_text(err)); });
  REQUIRE_FALSE(store("before"));
  REQUIRE_FALSE(ping());

  db.stop_primary();
  // Every request fails with unavailable (none hangs), and the circuit opens.
  auto err = store("during");
  CHECK(klerno::runtime::is(err, errc::unavailable));
  CHECK(pgt::eventually([&] {
    auto e = ping();
    REQUIRE(e);
    CHECK(klerno::runtime::is(e, errc::unavailable));
    return circuit() == circuit_state::open;
  }));
  auto fast = ping();
  CHECK(klerno::runtime::is(fast, errc::unavailable));
  CHECK(metrics->circuit_opened.with({"primary"}).value() >= 1);

  db.start_primary();
  // The same actors recover by themselves: the next probe after the cooldown closes the circuit.
  CHECK(pgt::eventually([&] { return !ping(); }, 60s));
  CHECK(circuit() == circuit_state::closed);
  CHECK_FALSE(store("after"));
  self->request(storage.reads, 30s, get_atom::value, std::string{"before"})
    .receive([](maybe_tx& x) { CHECK(x.has_value()); }, [](caf::error& e) { FAIL(error_text(e)); });
  stop_storage(storage);
}
