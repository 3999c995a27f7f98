#include <string>

#include <catch2/catch.hpp>

#include "cluster/membership_db.hpp"

using namespace klerno::cluster;

TEST_CASE("member statuses use the table's spelling and are ordered by life cycle") {
  for (auto s : {member_status::joining, member_status::up, member_status::leaving,
                 member_status::exiting, member_status::dead}) {
    CHECK(parse_member_status(to_string(s)) == s);
  }
  CHECK(std::string{to_string(member_status::up)} == "up");
  CHECK_FALSE(parse_member_status("UP").has_value());
  CHECK_FALSE(parse_member_status("").has_value());
  CHECK(member_status::joining < member_status::up);
  CHECK(member_status::up < member_status::leaving);
  CHECK(member_status::leaving < member_status::exiting);
  CHECK(member_status::exiting < member_status::dead);
}

TEST_CASE("member roles use the table's spelling, and edges own no partitions") {
  for (auto r : {member_role::edge, member_role::worker, member_role::both}) {
    CHECK(parse_member_role(to_string(r)) == r);
  }
  CHECK_FALSE(parse_member_role("master").has_value());
  CHECK_FALSE(owns_partitions(member_role::edge));
  CHECK(owns_partitions(member_role::worker));
  CHECK(owns_partitions(member_role::both));
}

TEST_CASE("a table view finds a member by name and incarnation") {
  table_view v;
  member_row a;
  a.name = "node-a";
  a.incarnation = 1;
  member_row b = a;
  b.incarnation = 2;
  v.members = {a, b};
  REQUIRE(v.find({"node-a", 2}) != nullptr);
  CHECK(v.find({"node-a", 2})->incarnation == 2);
  CHECK(v.find({"node-a", 3}) == nullptr);
  CHECK(v.find({"node-b", 1}) == nullptr);
  CHECK(b.ref() == member_ref{"node-a", 2});
}

TEST_CASE("outcomes have names") {
  CHECK(std::string{to_string(outcome::applied)} == "applied");
  CHECK(std::string{to_string(outcome::conflict)} == "conflict");
  CHECK(std::string{to_string(outcome::not_found)} == "not_found");
  CHECK(std::string{to_string(outcome::rejected)} == "rejected");
}

TEST_CASE("the ring of a view holds the up members that own partitions") {
  table_view v;
  auto add = [&](const char* name, member_status status, member_role role) {
    member_row r;
    r.name = name;
    r.incarnation = 1;
    r.status = status;
    r.role = role;
    v.members.push_back(r);
  };
  add("up-both", member_status::up, member_role::both);
  add("up-worker", member_status::up, member_role::worker);
  add("up-edge", member_status::up, member_role::edge);
  add("joining", member_status::joining, member_role::both);
  add("leaving", member_status::leaving, member_role::both);
  add("exiting", member_status::exiting, member_role::worker);
  add("dead", member_status::dead, member_role::both);
  auto r = ring_of(v);
  REQUIRE(r.members().size() == 2);
  CHECK(r.members()[0] == member_ref{"up-both", 1});
  CHECK(r.members()[1] == member_ref{"up-worker", 1});
  CHECK(r.partitions_of({"up-both", 1}) + r.partitions_of({"up-worker", 1}) == partition_count);
  CHECK(ring_of(table_view{}).empty());
}
