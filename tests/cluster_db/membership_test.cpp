// The membership table on real PostgreSQL: every case gets a schema of its own, migrated by the
// storage session (as a node does at start), and talks to it through membership_pg.

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "actors/storage/pg/membership_pg.hpp"
#include "actors/storage/pg/pg_session.hpp"
#include "cluster/membership_db.hpp"
#include "tests/storage/pg_env.hpp"

using namespace klerno;
using namespace klerno::cluster;
using namespace std::chrono_literals;
namespace pgt = klerno::test::pg;
namespace spg = klerno::actors::storage::pg;

namespace {

/// A migrated schema of its own and a way to open connections to its membership table.
struct table_fixture {
  pgt::schema schema{pgt::load_env()};

  table_fixture() {
    spg::options o;
    o.url = schema.primary_url();
    auto session = spg::make_session(o);
    session->connect();
    session->migrate();
  }

  std::unique_ptr<membership_db> open(std::string application_name = "klerno-membership") const {
    spg::membership_options o;
    o.url = schema.primary_url();
    o.application_name = std::move(application_name);
    return spg::make_membership_db(o);
  }
};

member_row row(const std::string& name, uint64_t incarnation,
               member_role role = member_role::both) {
  member_row r;
  r.name = name;
  r.incarnation = incarnation;
  r.address = "127.0.0.1:" + std::to_string(7000 + incarnation % 1000);
  r.app_version = "0.1.0";
  r.role = role;
  return r;
}

/// Adds every member and moves it to up; returns the table version afterwards.
uint64_t add_up(membership_db& db, const std::vector<member_ref>& members) {
  auto v = db.read().version;
  for (const auto& m : members) {
    REQUIRE(db.add(row(m.name, m.incarnation), v) == outcome::applied);
    ++v;
    REQUIRE(db.set_status(m, member_status::up, v) == outcome::applied);
    ++v;
  }
  return v;
}

/// Runs `f(i)` on `n` threads that start together; returns when all are done.
void run_together(int n, const std::function<void(int)>& f) {
  std::promise<void> go;
  auto start = go.get_future().share();
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      start.wait();
      f(i);
    });
  }
  go.set_value();
  for (auto& t : threads) {
    t.join();
  }
}

const member_ref a{"node-a", 1};
const member_ref b{"node-b", 2};
const member_ref c{"node-c", 3};
const member_ref d{"node-d", 4};

} // namespace

TEST_CASE("the migration creates an empty table at version 0") {
  table_fixture t;
  CHECK(t.schema.query_value("SELECT count(*) FROM schema_migrations WHERE version = 2") == "1");
  auto db = t.open();
  auto view = db->read();
  CHECK(view.version == 0);
  CHECK(view.members.empty());
  // read_at is the database's clock; on one machine it agrees with ours.
  auto skew = std::chrono::system_clock::now() - view.read_at;
  CHECK(skew < 60s);
  CHECK(skew > -60s);
}

TEST_CASE("an added member reads back as joining, and the version moves by one") {
  table_fixture t;
  auto db = t.open();
  auto self = row("node-a", 1700000000123, member_role::worker);
  self.status = member_status::up; // ignored: a new member starts joining
  REQUIRE(db->add(self, 0) == outcome::applied);
  auto view = db->read();
  CHECK(view.version == 1);
  REQUIRE(view.members.size() == 1);
  const auto& m = view.members[0];
  CHECK(m.name == "node-a");
  CHECK(m.incarnation == 1700000000123);
  CHECK(m.address == self.address);
  CHECK(m.app_version == "0.1.0");
  CHECK(m.role == member_role::worker);
  CHECK(m.status == member_status::joining);
  CHECK(m.row_version == 1);
  CHECK(m.suspecters.empty());
  CHECK(m.heartbeat_at == m.joined_at);
  CHECK(m.heartbeat_at <= view.read_at);
  CHECK(view.find(m.ref()) == &view.members[0]);
}

TEST_CASE("a write with a stale version is a conflict and changes nothing") {
  table_fixture t;
  auto db = t.open();
  REQUIRE(db->add(row("node-a", 1), 0) == outcome::applied);
  CHECK(db->add(row("node-b", 2), 0) == outcome::conflict);
  CHECK(db->set_status(a, member_status::up, 0) == outcome::conflict);
  CHECK(db->set_status(a, member_status::up, 7) == outcome::conflict);
  CHECK(db->suspect(a, b, 0) == outcome::conflict);
  CHECK(db->declare_dead_if(a, 1, 10s, 0).result == outcome::conflict);
  auto view = db->read();
  CHECK(view.version == 1);
  REQUIRE(view.members.size() == 1);
  CHECK(view.members[0].status == member_status::joining);
  CHECK(view.members[0].row_version == 1);
}

TEST_CASE("a member is added once per incarnation, and only the newest incarnation may join") {
  table_fixture t;
  auto db = t.open();
  REQUIRE(db->add(row("node-a", 5), 0) == outcome::applied);
  CHECK(db->add(row("node-a", 5), 1) == outcome::rejected); // exists
  CHECK(db->add(row("node-a", 4), 1) == outcome::rejected); // older than the newest
  CHECK(db->read().version == 1);
  CHECK_THROWS_AS(db->add(row("", 1), 1), std::invalid_argument);
  CHECK_THROWS_AS(db->add(row("node-x", uint64_t{1} << 63), 1), std::invalid_argument);
}

TEST_CASE("a new incarnation of a node makes its older incarnations dead") {
  table_fixture t;
  auto db = t.open();
  auto v = add_up(*db, {{"node-a", 1}, b});
  REQUIRE(db->add(row("node-a", 9), v) == outcome::applied);
  auto view = db->read();
  CHECK(view.version == v + 1);
  CHECK(view.find({"node-a", 1})->status == member_status::dead);
  CHECK(view.find({"node-a", 9})->status == member_status::joining);
  CHECK(view.find(b)->status == member_status::up);
  CHECK(db->heartbeat({"node-a", 1}) == outcome::rejected);
}

TEST_CASE("statuses only move forward and dead is final") {
  table_fixture t;
  auto db = t.open();
  REQUIRE(db->add(row("node-a", 1), 0) == outcome::applied);
  CHECK(db->set_status(a, member_status::up, 1) == outcome::applied);
  CHECK(db->set_status(a, member_status::up, 2) == outcome::rejected);
  CHECK(db->set_status(a, member_status::joining, 2) == outcome::rejected);
  CHECK(db->set_status(a, member_status::exiting, 2) == outcome::applied); // skips leaving
  CHECK(db->set_status(a, member_status::leaving, 3) == outcome::rejected);
  CHECK(db->set_status(a, member_status::dead, 3) == outcome::applied);
  CHECK(db->set_status(a, member_status::dead, 4) == outcome::rejected);
  CHECK(db->set_status(a, member_status::up, 4) == outcome::rejected);
  CHECK(db->set_status(b, member_status::up, 4) == outcome::not_found);
  CHECK(db->set_status({"node-a", uint64_t{1} << 63}, member_status::up, 4) == outcome::not_found);
  auto view = db->read();
  CHECK(view.version == 4);
  CHECK(view.members[0].status == member_status::dead);
  CHECK(view.members[0].row_version == 4); // insert + three status changes
}

TEST_CASE("of two writers holding the same version, exactly one wins") {
  table_fixture t;
  auto setup = t.open();
  add_up(*setup, {a, b});
  for (int round = 0; round < 20; ++round) {
    auto v = setup->read().version;
    auto w1 = t.open();
    auto w2 = t.open();
    w1->read(); // connected before the race starts
    w2->read();
    std::vector<outcome> results(2);
    std::vector<member_ref> targets = {{"x" + std::to_string(round), 1},
                                       {"y" + std::to_string(round), 1}};
    run_together(2, [&](int i) {
      auto& db = i == 0 ? *w1 : *w2;
      results[static_cast<std::size_t>(i)] =
        db.add(row(targets[static_cast<std::size_t>(i)].name, 1), v);
    });
    INFO("round " << round);
    CHECK(((results[0] == outcome::applied) != (results[1] == outcome::applied)));
    CHECK((results[0] == outcome::conflict || results[1] == outcome::conflict));
    auto view = setup->read();
    CHECK(view.version == v + 1);
    CHECK(((view.find(targets[0]) != nullptr) != (view.find(targets[1]) != nullptr)));
  }
}

TEST_CASE("writers that re-read and retry on conflict all get through, one version each") {
  table_fixture t;
  constexpr int writers = 6;
  constexpr int changes = 5; // each: add itself, then up, leaving, exiting, dead
  std::atomic<int> conflicts{0};
  run_together(writers, [&](int i) {
    auto db = t.open();
    member_ref self{"w" + std::to_string(i), 1};
    const member_status steps[] = {member_status::up, member_status::leaving,
                                   member_status::exiting, member_status::dead};
    for (int k = 0; k < changes; ++k) {
      while (true) {
        auto v = db->read().version;
        auto r = k == 0 ? db->add(row(self.name, 1), v) : db->set_status(self, steps[k - 1], v);
        if (r == outcome::applied) {
          break;
        }
        REQUIRE(r == outcome::conflict);
        ++conflicts;
      }
    }
  });
  auto view = t.open()->read();
  CHECK(view.version == writers * changes);
  REQUIRE(view.members.size() == writers);
  for (const auto& m : view.members) {
    CHECK(m.status == member_status::dead);
    CHECK(m.row_version == changes);
  }
}

TEST_CASE("a heartbeat moves heartbeat_at only, without bumping any version") {
  table_fixture t;
  auto db = t.open();
  auto v = add_up(*db, {a});
  t.schema.exec("UPDATE cluster_members SET heartbeat_at = now() - interval '1 hour'");
  auto before = db->read();
  REQUIRE(db->heartbeat(a) == outcome::applied);
  auto after = db->read();
  CHECK(after.version == v);
  CHECK(after.version == before.version);
  CHECK(after.members[0].row_version == before.members[0].row_version);
  CHECK(after.members[0].updated_at == before.members[0].updated_at);
  CHECK(after.members[0].heartbeat_at > before.members[0].heartbeat_at + 50min);
  CHECK(after.read_at - after.members[0].heartbeat_at < 60s);
  // A heartbeat needs no version, so it never conflicts with a writer.
  CHECK(db->heartbeat(b) == outcome::not_found);
}

TEST_CASE("a member declared dead learns it from its next heartbeat") {
  table_fixture t;
  auto db = t.open();
  auto v = add_up(*db, {a});
  REQUIRE(db->set_status(a, member_status::dead, v) == outcome::applied);
  CHECK(db->heartbeat(a) == outcome::rejected);
}

TEST_CASE("a member is declared dead only with enough fresh votes") {
  table_fixture t;
  auto db = t.open();
  auto v = add_up(*db, {a, b, c, d});
  REQUIRE(db->suspect(a, b, v) == outcome::applied);
  ++v;
  auto first = db->declare_dead_if(a, 2, 10s, v);
  CHECK(first.result == outcome::rejected);
  CHECK(first.fresh_votes == 1);
  CHECK(db->read().version == v); // nothing changed
  // b voting again refreshes its vote: still one voter.
  REQUIRE(db->suspect(a, b, v) == outcome::applied);
  ++v;
  CHECK(db->declare_dead_if(a, 2, 10s, v).fresh_votes == 1);
  REQUIRE(db->suspect(a, c, v) == outcome::applied);
  ++v;
  auto view = db->read();
  REQUIRE(view.find(a)->suspecters.size() == 2);
  CHECK(view.find(a)->suspecters[0].voter == b);
  CHECK(view.find(a)->suspecters[1].voter == c);
  CHECK(view.find(a)->suspecters[0].at <= view.read_at);
  CHECK(view.find(a)->status == member_status::up);
  auto verdict = db->declare_dead_if(a, 2, 10s, v);
  CHECK(verdict.result == outcome::applied);
  CHECK(verdict.fresh_votes == 2);
  ++v;
  view = db->read();
  CHECK(view.version == v);
  CHECK(view.find(a)->status == member_status::dead);
  CHECK(view.find(b)->status == member_status::up);
}

TEST_CASE("stale votes do not count") {
  table_fixture t;
  auto db = t.open();
  auto v = add_up(*db, {a, b, c});
  REQUIRE(db->suspect(a, b, v++) == outcome::applied);
  REQUIRE(db->suspect(a, c, v++) == outcome::applied);
  // c's vote was cast an hour ago (a fake clock, through the table).
  t.schema.exec("UPDATE cluster_suspicions SET at = now() - interval '1 hour' "
                "WHERE voter_name = 'node-c'");
  auto stale = db->declare_dead_if(a, 2, 10s, v);
  CHECK(stale.result == outcome::rejected);
  CHECK(stale.fresh_votes == 1);
  // A window covering the hour counts it.
  CHECK(db->declare_dead_if(a, 2, 2h, v).result == outcome::applied);
}

TEST_CASE("votes of dead voters do not count, and dead voters cannot vote") {
  table_fixture t;
  auto db = t.open();
  auto v = add_up(*db, {a, b, c, d});
  REQUIRE(db->suspect(a, b, v++) == outcome::applied);
  REQUIRE(db->suspect(a, c, v++) == outcome::applied);
  REQUIRE(db->set_status(c, member_status::dead, v++) == outcome::applied);
  auto verdict = db->declare_dead_if(a, 2, 10s, v);
  CHECK(verdict.result == outcome::rejected);
  CHECK(verdict.fresh_votes == 1);
  CHECK(db->suspect(a, c, v) == outcome::rejected);
  CHECK(db->suspect(d, c, v) == outcome::rejected);
}

TEST_CASE("invalid votes are refused") {
  table_fixture t;
  auto db = t.open();
  auto v = add_up(*db, {a, b});
  CHECK(db->suspect(a, a, v) == outcome::rejected);            // against itself
  CHECK(db->suspect(a, {"ghost", 1}, v) == outcome::rejected); // voter is no member
  CHECK(db->suspect({"ghost", 1}, a, v) == outcome::not_found);
  CHECK(db->declare_dead_if({"ghost", 1}, 1, 10s, v).result == outcome::not_found);
  CHECK_THROWS_AS(db->declare_dead_if(a, 0, 10s, v), std::invalid_argument);
  CHECK(db->read().version == v);
}

TEST_CASE("a dead member stays dead, and its node comes back as a new incarnation") {
  table_fixture t;
  auto db = t.open();
  auto v = add_up(*db, {a, b});
  REQUIRE(db->suspect(a, b, v++) == outcome::applied);
  REQUIRE(db->declare_dead_if(a, 1, 10s, v++).result == outcome::applied);
  CHECK(db->declare_dead_if(a, 1, 10s, v).result == outcome::rejected);
  CHECK(db->suspect(a, b, v) == outcome::rejected);
  CHECK(db->set_status(a, member_status::up, v) == outcome::rejected);
  CHECK(db->heartbeat(a) == outcome::rejected);
  member_ref again{"node-a", 10};
  REQUIRE(db->add(row(again.name, again.incarnation), v++) == outcome::applied);
  REQUIRE(db->set_status(again, member_status::up, v++) == outcome::applied);
  auto view = db->read();
  CHECK(view.find(a)->status == member_status::dead);
  CHECK(view.find(again)->status == member_status::up);
  CHECK(view.find(again)->suspecters.empty());
}

TEST_CASE("two voters declaring the same member dead at once: it dies once") {
  table_fixture t;
  auto setup = t.open();
  auto v = add_up(*setup, {a, b, c});
  REQUIRE(setup->suspect(a, b, v++) == outcome::applied);
  REQUIRE(setup->suspect(a, c, v++) == outcome::applied);
  auto w1 = t.open();
  auto w2 = t.open();
  w1->read();
  w2->read();
  std::vector<vote_result> results(2);
  run_together(2, [&](int i) {
    auto& db = i == 0 ? *w1 : *w2;
    results[static_cast<std::size_t>(i)] = db.declare_dead_if(a, 2, 10s, v);
  });
  CHECK(((results[0].result == outcome::applied) != (results[1].result == outcome::applied)));
  CHECK((results[0].result == outcome::conflict || results[1].result == outcome::conflict));
  auto view = setup->read();
  CHECK(view.version == v + 1);
  CHECK(view.find(a)->status == member_status::dead);
  CHECK(view.find(a)->row_version == 5); // insert, up, two votes, dead
  // The loser re-reads and retries: the target is dead already.
  CHECK(w2->declare_dead_if(a, 2, 10s, view.version).result == outcome::rejected);
}

TEST_CASE("two members declaring each other dead at once: exactly one dies") {
  // A two-node cluster cut in half, both halves still reaching the database.
  table_fixture t;
  for (int round = 0; round < 10; ++round) {
    t.schema.exec("DELETE FROM cluster_members");
    auto setup = t.open();
    member_ref x{"x", static_cast<uint64_t>(round + 1)};
    member_ref y{"y", static_cast<uint64_t>(round + 1)};
    add_up(*setup, {x, y});
    run_together(2, [&](int i) {
      auto db = t.open();
      const auto& self = i == 0 ? x : y;
      const auto& other = i == 0 ? y : x;
      while (true) {
        auto view = db->read();
        if (view.find(self)->status == member_status::dead
            || view.find(other)->status == member_status::dead) {
          return;
        }
        auto r = db->suspect(other, self, view.version);
        if (r == outcome::conflict) {
          continue;
        }
        if (r != outcome::applied) {
          return; // refused: self was declared dead meanwhile
        }
        auto verdict = db->declare_dead_if(other, 1, 10s, view.version + 1);
        if (verdict.result == outcome::applied) {
          return;
        }
      }
    });
    auto view = setup->read();
    INFO("round " << round);
    CHECK(((view.find(x)->status == member_status::dead)
           != (view.find(y)->status == member_status::dead)));
  }
}

TEST_CASE("housekeeping removes only long-dead rows, with their votes") {
  table_fixture t;
  auto db = t.open();
  auto v = add_up(*db, {a, b, c, d});
  REQUIRE(db->suspect(b, a, v++) == outcome::applied); // a vote BY a
  REQUIRE(db->suspect(a, c, v++) == outcome::applied); // a vote AGAINST a
  REQUIRE(db->set_status(a, member_status::dead, v++) == outcome::applied);
  REQUIRE(db->set_status(d, member_status::dead, v++) == outcome::applied);
  t.schema.exec("UPDATE cluster_members SET updated_at = now() - interval '2 hours' "
                "WHERE name IN ('node-a', 'node-c')"); // c is old but not dead
  CHECK(db->remove_dead_older_than(1h) == 1);
  auto view = db->read();
  CHECK(view.version == v + 1);
  CHECK(view.find(a) == nullptr);
  CHECK(view.find(c) != nullptr); // not dead
  CHECK(view.find(d) != nullptr); // dead, but recently
  CHECK(view.find(b)->suspecters.empty());
  CHECK(t.schema.query_value("SELECT count(*) FROM cluster_suspicions") == "0");
  CHECK(db->remove_dead_older_than(1h) == 0);
  CHECK(db->read().version == v + 1); // nothing removed: no bump
}

TEST_CASE("an unreachable database is unavailable, and the error holds no password") {
  spg::membership_options o;
  o.url = "postgresql://klerno:s3cret-pass-word@127.0.0.1:1/klerno";
  o.connect_timeout = 1s;
  auto db = spg::make_membership_db(o);
  for (int i = 0; i < 2; ++i) { // and again: it tries to reconnect
    try {
      db->read();
      FAIL("expected membership_error");
    } catch (const membership_error& e) {
      CHECK(e.kind() == membership_error_kind::unavailable);
      CHECK(std::string{e.what()}.find("s3cret-pass-word") == std::string::npos);
    }
  }
  CHECK_THROWS_AS(db->heartbeat(a), membership_error);
}

TEST_CASE("a database without the migration is an error of kind other") {
  pgt::schema schema{pgt::load_env()};
  spg::membership_options o;
  o.url = schema.primary_url();
  auto db = spg::make_membership_db(o);
  try {
    db->read();
    FAIL("expected membership_error");
  } catch (const membership_error& e) {
    CHECK(e.kind() == membership_error_kind::other);
    CHECK(std::string{e.what()}.find("42P01") != std::string::npos);
  }
  // The connection survives such an error.
  CHECK_THROWS_AS(db->read(), membership_error);
}

TEST_CASE("the connection comes back after the server drops it") {
  table_fixture t;
  auto app = "klerno-membership-" + t.schema.name(); // ours only: other tests run in parallel
  auto db = t.open(app);
  add_up(*db, {a});
  CHECK(t.schema.query_value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE application_name = '"
                             + app + "'")
        == "1");
  // The next call may fail (the drop is noticed then) as unavailable; the one after works.
  bool recovered = pgt::eventually(
    [&] {
      try {
        return db->read().members.size() == 1;
      } catch (const membership_error& e) {
        CHECK(e.kind() == membership_error_kind::unavailable);
        return false;
      }
    },
    10s);
  CHECK(recovered);
}
