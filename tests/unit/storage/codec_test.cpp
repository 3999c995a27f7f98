#include "actors/storage/pg/codec.hpp"

#include <stdexcept>

#include <catch2/catch.hpp>

#include "actors/storage/pg/migrations.hpp"
#include "actors/storage/pg/pg_session.hpp"

using namespace klerno::actors::storage;
using namespace klerno::actors::storage::pg;
namespace model = klerno::actors::model;

TEST_CASE("timestamps are written exactly before and after the epoch", "[codec]") {
  CHECK(format_timestamp(from_unix_micros(0)) == "1970-01-01 00:00:00.000000+00");
  CHECK(format_timestamp(from_unix_micros(1'700'000'000'123'456))
        == "2023-11-14 22:13:20.123456+00");
  CHECK(format_timestamp(from_unix_micros(-1)) == "1969-12-31 23:59:59.999999+00");
  CHECK(format_timestamp(from_unix_micros(951'782'400'000'000)) == "2000-02-29 00:00:00.000000+00");
  CHECK(format_timestamp(from_unix_micros(-62'135'596'800'000'000))
        == "0001-01-01 00:00:00.000000+00");
}

TEST_CASE("days convert both ways", "[codec]") {
  CHECK(days_from_civil(1970, 1, 1) == 0);
  CHECK(days_from_civil(2000, 3, 1) == 11017);
  CHECK(format_date(11017) == "2000-03-01");
  CHECK(format_date(-1) == "1969-12-31");
  CHECK(day_of(from_unix_micros(-1)) == -1);
  CHECK(day_of(from_unix_micros(86'400'000'000)) == 1);
  CHECK_THROWS(format_date(days_from_civil(10000, 1, 1)));
}

TEST_CASE("arrays are encoded and parsed", "[codec]") {
  CHECK(encode_array({}) == "{}");
  CHECK(encode_array({"a", "b c", "q\"uote", "back\\slash"})
        == R"({"a","b c","q\"uote","back\\slash"})");
  CHECK(parse_array("{}").empty());
  CHECK(parse_array(R"({a,"b c","q\"uote","back\\slash",""})")
        == std::vector<std::string>{"a", "b c", "q\"uote", "back\\slash", ""});
  CHECK(parse_array("{sanctioned,mixer}") == std::vector<std::string>{"sanctioned", "mixer"});
  CHECK(parse_array("{a,NULL,\"NULL\"}") == std::vector<std::string>{"a", "NULL"});
  CHECK_THROWS_AS(parse_array("{a"), std::invalid_argument);
  CHECK_THROWS_AS(parse_array("{a,}"), std::invalid_argument);
  CHECK_THROWS_AS(parse_array("{{a}}"), std::invalid_argument);
}

TEST_CASE("the migrations are embedded in version order", "[codec]") {
  const auto& all = migrations();
  REQUIRE(!all.empty());
  CHECK(all.front().version == 1);
  CHECK(all.front().name == "create_txs");
  CHECK(all.front().sql.find("CREATE TABLE txs") != std::string_view::npos);
  for (std::size_t i = 1; i < all.size(); ++i) {
    CHECK(all[i - 1].version < all[i].version);
  }
}

TEST_CASE("conninfo strips pool parameters and adds the session defaults", "[codec]") {
  options o;
  o.url = "postgresql://u:p@h1,h2/db?max_connections=20";
  o.connect_timeout = std::chrono::milliseconds{2'500};
  auto info = conninfo(o);
  CHECK(info.find("max_connections") == std::string::npos);
  CHECK(info.find("connect_timeout=3") != std::string::npos);
  CHECK(info.find("application_name=klerno-node") != std::string::npos);
  CHECK(info.find("target_session_attrs=read-write") != std::string::npos);
  o.role = pool_role::replica;
  CHECK(conninfo(o).find("target_session_attrs") == std::string::npos);
  o.role = pool_role::primary;
  o.url = "postgresql://u:p@h1,h2/db?target_session_attrs=any";
  CHECK(conninfo(o).find("read-write") == std::string::npos);
  o.url = "postgresql://u:p@h1/db";
  CHECK(conninfo(o).find("target_session_attrs") == std::string::npos);
}
