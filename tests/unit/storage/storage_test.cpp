// The storage assembly on a real actor system with fake sessions: spawn_storage wiring, and the
// storage supervisor publishing its children and restarting the dependents of a pool.

#include "actors/storage/storage.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <catch2/catch.hpp>

#include "runtime/errc.hpp"
#include "runtime/metrics.hpp"
#include "runtime/supervisor.hpp"
#include "tests/unit/storage/fake_session.hpp"

using namespace klerno::actors::storage;
using klerno::test::storage::fake_session;
using klerno::test::storage::script;
namespace model = klerno::actors::model;
using namespace std::chrono_literals;

namespace {

class storage_fixture {
public:
  storage_fixture() : sys(init(cfg)), self(sys) {}

  /// A maker of fake sessions that records which URL and role each factory was made for.
  session_factory_maker maker() {
    return [this](const std::string& url, pool_role role) -> session_factory {
      made[url] = role;
      return [s = steps] {
        return std::make_unique<fake_session>(s);
      };
    };
  }

  settings config() {
    settings s;
    s.primary_url = klerno::config::secret{"postgresql://u:pw@primary/db?max_connections=3"};
    s.replica_urls.emplace_back("postgresql://u:pw@replica/db");
    s.pool_min = 1;
    s.writer_batch_max_delay = 0us;
    return s;
  }

  caf::expected<stored_list> store(const writer_actor& w, const std::string& id) {
    model::transaction t;
    t.tx_id = id;
    t.from_addr = "rA";
    t.to_addr = "rB";
    caf::expected<stored_list> result = caf::make_error(caf::sec::request_timeout);
    self->request(w, 30s, store_atom::value, tx_list{t})
      .receive([&](stored_list& x) { result = std::move(x); },
               [&](caf::error& err) { result = err; });
    return result;
  }

  /// Polls until `f` holds (for asynchronous supervisor restarts).
  static bool eventually(const std::function<bool()>& f) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!f()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  caf::actor lookup(caf::atom_value name) {
    return caf::actor_cast<caf::actor>(sys.registry().get(name));
  }

  // Before the actor system: actors may update metrics until the system is gone.
  klerno::runtime::metrics::registry reg;
  metrics_ptr metrics = std::make_shared<storage_metrics>(reg);
  std::shared_ptr<script> steps = std::make_shared<script>();
  std::map<std::string, pool_role> made;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;

private:
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }
};

} // namespace

TEST_CASE_METHOD(storage_fixture, "spawn_storage wires pools, writer and router", "[storage]") {
  auto actors = spawn_storage(sys, config(), maker(), metrics);
  CHECK(made.size() == 2);
  CHECK(made["postgresql://u:pw@primary/db?max_connections=3"] == pool_role::primary);
  CHECK(made["postgresql://u:pw@replica/db"] == pool_role::replica);
  REQUIRE(actors.replicas.size() == 1);
  auto out = store(actors.writer, "t1");
  REQUIRE(out);
  CHECK(out->at(0).inserted);
  caf::expected<maybe_tx> got = caf::make_error(caf::sec::request_timeout);
  self->request(actors.reads, 30s, get_atom::value, std::string{"t1"})
    .receive([&](maybe_tx& x) { got = std::move(x); }, [&](caf::error& e) { got = e; });
  REQUIRE(got);
  CHECK((*got)->tx_id == "t1");
  self->request(actors.primary, 30s, stats_atom::value)
    .receive([](pool_stats& s) { CHECK(s.connections >= 1); },
             [](caf::error& e) { FAIL(error_text(e)); });
  stop_storage(actors);
}

TEST_CASE_METHOD(storage_fixture, "spawn_storage refuses bad pool parameters before spawning",
                 "[storage]") {
  auto s = config();
  s.primary_url = klerno::config::secret{"postgresql://h/db?max_connections=many"};
  CHECK_THROWS_AS(spawn_storage(sys, s, maker(), metrics), std::invalid_argument);
}

TEST_CASE_METHOD(storage_fixture,
                 "the storage supervisor publishes its children and restarts those after a pool",
                 "[storage]") {
  auto spec = storage_supervisor(config(), maker(), metrics);
  CHECK(spec.strategy == klerno::runtime::restart_strategy::rest_for_one);
  std::vector<std::string> names;
  for (auto& c : spec.children) {
    names.push_back(c.name);
  }
  CHECK(names == std::vector<std::string>{"db_primary", "db_writer", "db_rep_0", "db_reads"});
  auto sup = klerno::runtime::spawn_supervisor(sys, std::move(spec));
  REQUIRE(eventually([&] {
    return lookup(primary_name) && lookup(writer_name) && lookup(replica_name(0))
           && lookup(reads_name);
  }));
  auto writer = caf::actor_cast<writer_actor>(lookup(writer_name));
  REQUIRE(store(writer, "before"));
  auto old_primary = lookup(primary_name);
  auto old_writer = lookup(writer_name);
  caf::anon_send_exit(old_primary, caf::exit_reason::kill);
  REQUIRE(eventually([&] {
    auto p = lookup(primary_name);
    auto w = lookup(writer_name);
    return p && w && p != old_primary && w != old_writer && lookup(reads_name);
  }));
  auto out = store(caf::actor_cast<writer_actor>(lookup(writer_name)), "after");
  REQUIRE(out);
  CHECK(out->at(0).row.tx_id == "after");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  self->wait_for(sup);
}
