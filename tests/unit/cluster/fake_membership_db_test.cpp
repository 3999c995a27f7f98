// The fake membership table keeps the contract of cluster/membership_db.hpp (the same cases as
// tests/cluster_db/membership_test.cpp, on the fake's clock), so actor tests built on it test
// against the real semantics.

#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cluster/membership_db.hpp"
#include "tests/unit/cluster/fake_membership_db.hpp"

using namespace klerno::cluster;
using namespace std::chrono_literals;
using klerno::test::cluster::fake_membership_db;
using klerno::test::cluster::fake_table;

namespace {

member_row row(const std::string& name, uint64_t incarnation) {
  member_row r;
  r.name = name;
  r.incarnation = incarnation;
  r.address = "127.0.0.1:7000";
  r.app_version = "0.1.0";
  return r;
}

uint64_t add_up(membership_db& db, const std::vector<member_ref>& members) {
  auto v = db.read().version;
  for (const auto& m : members) {
    REQUIRE(db.add(row(m.name, m.incarnation), v++) == outcome::applied);
    REQUIRE(db.set_status(m, member_status::up, v++) == outcome::applied);
  }
  return v;
}

const member_ref a{"node-a", 1};
const member_ref b{"node-b", 2};
const member_ref c{"node-c", 3};
const member_ref d{"node-d", 4};

struct fixture {
  std::shared_ptr<fake_table> table = std::make_shared<fake_table>();
  fake_membership_db db{table};
};

} // namespace

TEST_CASE("fake table: writes are versioned, and a stale version is a conflict") {
  fixture f;
  fake_membership_db other{f.table}; // a second node on the same table
  CHECK(f.db.read().version == 0);
  REQUIRE(f.db.add(row("node-a", 1), 0) == outcome::applied);
  CHECK(other.add(row("node-b", 2), 0) == outcome::conflict);
  auto view = other.read();
  CHECK(view.version == 1);
  REQUIRE(view.members.size() == 1);
  CHECK(view.members[0].status == member_status::joining);
  CHECK(view.members[0].row_version == 1);
  CHECK(f.db.add(row("node-a", 1), 1) == outcome::rejected);
  CHECK(f.db.add(row("node-a", 0), 1) == outcome::rejected);
  CHECK_THROWS_AS(f.db.add(row("", 1), 1), std::invalid_argument);
}

TEST_CASE("fake table: statuses only move forward, and a new incarnation ends the old one") {
  fixture f;
  auto v = add_up(f.db, {a});
  CHECK(f.db.set_status(a, member_status::joining, v) == outcome::rejected);
  CHECK(f.db.set_status(b, member_status::up, v) == outcome::not_found);
  REQUIRE(f.db.add(row("node-a", 7), v++) == outcome::applied);
  auto view = f.db.read();
  CHECK(view.find(a)->status == member_status::dead);
  CHECK(view.find({"node-a", 7})->status == member_status::joining);
  CHECK(f.db.heartbeat(a) == outcome::rejected);
  CHECK(f.db.set_status(a, member_status::up, v) == outcome::rejected);
}

TEST_CASE("fake table: heartbeats bump no version and follow the fake clock") {
  fixture f;
  auto t0 = std::chrono::system_clock::time_point{} + 1000h;
  f.table->set_now(t0);
  auto v = add_up(f.db, {a});
  f.table->advance(1500ms);
  REQUIRE(f.db.heartbeat(a) == outcome::applied);
  auto view = f.db.read();
  CHECK(view.version == v);
  CHECK(view.read_at == t0 + 1500ms);
  CHECK(view.find(a)->heartbeat_at == t0 + 1500ms);
  CHECK(view.find(a)->row_version == 2);
  CHECK(f.db.heartbeat(b) == outcome::not_found);
}

TEST_CASE("fake table: death needs enough fresh votes of live voters") {
  fixture f;
  f.table->set_now(std::chrono::system_clock::time_point{} + 1000h);
  auto v = add_up(f.db, {a, b, c, d});
  CHECK(f.db.suspect(a, a, v) == outcome::rejected);
  CHECK(f.db.suspect(a, {"ghost", 1}, v) == outcome::rejected);
  CHECK(f.db.suspect({"ghost", 1}, a, v) == outcome::not_found);
  REQUIRE(f.db.suspect(a, b, v++) == outcome::applied);
  f.table->advance(20s); // b's vote goes stale
  REQUIRE(f.db.suspect(a, c, v++) == outcome::applied);
  auto stale = f.db.declare_dead_if(a, 2, 10s, v);
  CHECK(stale.result == outcome::rejected);
  CHECK(stale.fresh_votes == 1);
  REQUIRE(f.db.suspect(a, d, v++) == outcome::applied);
  REQUIRE(f.db.set_status(d, member_status::dead, v++) == outcome::applied); // d's vote lapses
  CHECK(f.db.declare_dead_if(a, 2, 10s, v).fresh_votes == 1);
  REQUIRE(f.db.suspect(a, b, v++) == outcome::applied); // b refreshes
  CHECK(f.db.declare_dead_if(a, 2, 10s, v - 1).result == outcome::conflict);
  auto verdict = f.db.declare_dead_if(a, 2, 10s, v++);
  CHECK(verdict.result == outcome::applied);
  CHECK(verdict.fresh_votes == 2);
  CHECK(f.db.declare_dead_if(a, 2, 10s, v).result == outcome::rejected);
  CHECK(f.db.suspect(a, b, v) == outcome::rejected);
  CHECK(f.db.read().find(a)->status == member_status::dead);
}

TEST_CASE("fake table: housekeeping removes long-dead rows and their votes") {
  fixture f;
  f.table->set_now(std::chrono::system_clock::time_point{} + 1000h);
  auto v = add_up(f.db, {a, b, c});
  REQUIRE(f.db.suspect(b, a, v++) == outcome::applied);
  REQUIRE(f.db.set_status(a, member_status::dead, v++) == outcome::applied);
  f.table->advance(2h);
  REQUIRE(f.db.set_status(c, member_status::dead, v++) == outcome::applied);
  CHECK(f.db.remove_dead_older_than(1h) == 1);
  auto view = f.db.read();
  CHECK(view.version == v + 1);
  CHECK(view.find(a) == nullptr);
  CHECK(view.find(c) != nullptr);
  CHECK(view.find(b)->suspecters.empty());
  CHECK(f.db.remove_dead_older_than(1h) == 0);
  CHECK(f.db.read().version == v + 1);
}

TEST_CASE("fake table: an unavailable table throws and changes nothing") {
  fixture f;
  f.table->set_available(false);
  try {
    f.db.add(row("node-a", 1), 0);
    FAIL("expected membership_error");
  } catch (const membership_error& e) {
    CHECK(e.kind() == membership_error_kind::unavailable);
  }
  CHECK_THROWS_AS(f.db.read(), membership_error);
  CHECK_THROWS_AS(f.db.heartbeat(a), membership_error);
  f.table->set_available(true);
  CHECK(f.db.read().members.empty());
  CHECK(f.table->calls() == 4);
}
