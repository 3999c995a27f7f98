// The storage actors end to end on a real actor system against the "pg" fixture: pools with
// detached connection actors, the group-commit writer, the reads router with its replica.

#include "actors/storage/storage.hpp"

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <catch2/catch.hpp>

#include "actors/storage/pg/codec.hpp"
#include "actors/storage/pg/migrations.hpp"
#include "actors/storage/pg/pg_session.hpp"
#include "runtime/errc.hpp"
#include "runtime/metrics.hpp"
#include "tests/storage/pg_env.hpp"

using namespace klerno::actors::storage;
namespace model = klerno::actors::model;
namespace pgt = klerno::test::pg;
using klerno::runtime::errc;
using namespace std::chrono_literals;

namespace {

model::transaction make_tx(const std::string& id, const std::string& from, const std::string& to) {
  model::transaction t;
  t.tx_id = id;
  t.time =
    std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  t.from_addr = from;
  t.to_addr = to;
  t.amount = model::decimal::from_integer(5);
  t.category = "transfer";
  t.risk_score = 70;
  t.risk_bucket = "high";
  return t;
}

class actors_fixture {
public:
  actors_fixture() : env(pgt::load_env()), schema(env), sys(init(cfg)), self(sys) {}

  ~actors_fixture() {
    stop_storage(storage);
  }

  void start(settings s) {
    s.primary_url = klerno::config::secret{schema.primary_url()};
    if (!env.replica.empty()) {
      s.replica_urls.emplace_back(schema.replica_url());
    }
    storage = spawn_storage(sys, s, pg::session_factories(s), metrics);
    self->request(storage.primary, 60s, migrate_atom::value)
      .receive([](uint64_t n) { CHECK(n == pg::migrations().size()); },
               [](caf::error& err) { FAIL("migrate failed: " << error_text(err)); });
  }

  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& hdl, Ts... xs) {
    caf::expected<T> result = caf::make_error(caf::sec::request_timeout);
    self->request(hdl, 30s, xs...)
      .receive([&](T& x) { result = std::move(x); }, [&](caf::error& err) { result = err; });
    return result;
  }

  pgt::env env;
  pgt::schema schema;
  // Declared before the actor system: actors may update metrics until the system is gone.
  klerno::runtime::metrics::registry reg;
  metrics_ptr metrics = std::make_shared<storage_metrics>(reg);
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  storage_actors storage;

private:
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }
};

} // namespace

TEST_CASE_METHOD(actors_fixture, "the writer group-commits concurrent requests through the pool",
                 "[pg][actors]") {
  settings s;
  s.pool_min = 1;
  s.pool_max = 4;
  s.writer_batch_max_rows = 64;
  s.writer_batch_max_delay = 20ms;
  start(s);
  // 20 requests of 5 rows in flight at once; every 4th repeats an earlier request's first row.
  std::vector<tx_list> sent;
  for (int r = 0; r < 20; ++r) {
    tx_list rows;
    for (int i = 0; i < 5; ++i) {
      rows.push_back(make_tx("w" + std::to_string(r) + "_" + std::to_string(i), "W", "x"));
    }
    if (r % 4 == 3) {
      rows[4] = sent[static_cast<std::size_t>(r - 1)][0];
    }
    sent.push_back(rows);
  }
  std::vector<caf::expected<stored_list>> answers(sent.size(), caf::error{});
  {
    std::vector<decltype(self->request(storage.writer, 30s, store_atom::value, tx_list{}))> handles;
    for (auto& rows : sent) {
      handles.push_back(self->request(storage.writer, 30s, store_atom::value, rows));
    }
    for (std::size_t i = 0; i < handles.size(); ++i) {
      handles[i].receive([&](stored_list& x) { answers[i] = std::move(x); },
                         [&](caf::error& err) { answers[i] = err; });
    }
  }
  std::size_t inserted = 0;
  for (std::size_t r = 0; r < sent.size(); ++r) {
    REQUIRE(answers[r]);
    auto& out = *answers[r];
    REQUIRE(out.size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
      CHECK(out[i].row.tx_id == sent[r][i].tx_id);
      inserted += out[i].inserted ? 1 : 0;
    }
    if (r % 4 == 3) {
      CHECK_FALSE(out[4].inserted);
    }
  }
  CHECK(inserted == 95);
  auto& batches = metrics->batch_rows.with({});
  CHECK(batches.sum() == 100);
  CHECK(batches.count() <= 20); // some requests shared a COMMIT (usually far fewer batches)
  // Read back: get from the primary, the listing through the router (replica, eventually).
  auto got = ask<maybe_tx>(storage.reads, get_atom::value, std::string{"w0_0"});
  REQUIRE(got);
  REQUIRE(*got);
  CHECK((*got)->tx_id == "w0_0");
  list_query q;
  q.wallet = "W";
  q.limit = 1000;
  CHECK(pgt::eventually([&] {
    auto p = ask<page>(storage.reads, list_atom::value, q);
    return p && p->items.size() == 95;
  }));
  alerts_query aq;
  aq.min_score = 66;
  aq.limit = 10;
  auto alerts = ask<tx_list>(storage.reads, alerts_atom::value, aq);
  REQUIRE(alerts);
  CHECK(alerts->size() == 10);
}

TEST_CASE_METHOD(actors_fixture, "the pool answers pings and reports its state", "[pg][actors]") {
  settings s;
  s.pool_min = 2;
  s.pool_max = 3;
  start(s);
  auto ping = ask<caf::timespan>(storage.primary, ping_atom::value);
  REQUIRE(ping);
  CHECK(ping->count() > 0);
  auto stats = ask<pool_stats>(storage.primary, stats_atom::value);
  REQUIRE(stats);
  CHECK(stats->connections == 2);
  CHECK(stats->in_use == 0);
  CHECK(stats->circuit == circuit_state::closed);
  CHECK(metrics->query_duration.with({"ping"}).count() >= 1);
}

TEST_CASE_METHOD(actors_fixture, "a statement timeout answers deadline_exceeded through the actors",
                 "[pg][actors]") {
  settings s;
  s.pool_min = 1;
  s.statement_timeout = 200ms;
  start(s);
  pqxx::connection blocker{schema.primary_url()};
  pqxx::work lock{blocker};
  lock.exec("LOCK TABLE txs IN ACCESS EXCLUSIVE MODE");
  auto got = ask<maybe_tx>(storage.primary, get_atom::value, std::string{"x"});
  REQUIRE_FALSE(got);
  CHECK(klerno::runtime::is(got.error(), errc::deadline_exceeded));
  lock.abort();
  auto again = ask<maybe_tx>(storage.primary, get_atom::value, std::string{"x"});
  CHECK(again);
  auto stats = ask<pool_stats>(storage.primary, stats_atom::value);
  REQUIRE(stats);
  CHECK(stats->circuit == circuit_state::closed);
}

TEST_CASE_METHOD(actors_fixture, "an invalid row is refused by the writer without a database trip",
                 "[pg][actors]") {
  settings s;
  start(s);
  auto bad = make_tx("", "W", "x");
  auto out = ask<stored_list>(storage.writer, store_atom::value, tx_list{bad});
  REQUIRE_FALSE(out);
  CHECK(klerno::runtime::is(out.error(), errc::invalid_argument));
}
