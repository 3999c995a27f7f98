#include "actors/storage/url.hpp"

#include <stdexcept>

#include <catch2/catch.hpp>

#include "actors/storage/settings.hpp"

using namespace klerno::actors::storage;

TEST_CASE("parse_pool_url strips the seed's pool parameters", "[url]") {
  auto p = parse_pool_url(
    "postgresql://user:pass@host:5432/db?max_connections=20&sslmode=disable&min_connections=5");
  CHECK(p.clean_url == "postgresql://user:pass@host:5432/db?sslmode=disable");
  CHECK(p.max_connections == std::size_t{20});
  CHECK(p.min_connections == std::size_t{5});
}

TEST_CASE("parse_pool_url drops a query left empty and keeps URLs without pool parameters",
          "[url]") {
  auto p = parse_pool_url("postgresql://u:p@h/db?max_connections=3");
  CHECK(p.clean_url == "postgresql://u:p@h/db");
  CHECK(p.max_connections == std::size_t{3});
  CHECK_FALSE(p.min_connections);
  auto q = parse_pool_url("postgres://h1,h2/db?target_session_attrs=read-write");
  CHECK(q.clean_url == "postgres://h1,h2/db?target_session_attrs=read-write");
  CHECK_FALSE(q.max_connections);
}

TEST_CASE("parse_pool_url handles keyword/value strings", "[url]") {
  auto p = parse_pool_url("host=h dbname=d max_connections=7 password='a b\\'c'");
  CHECK(p.clean_url == "host=h dbname=d password='a b\\'c'");
  CHECK(p.max_connections == std::size_t{7});
  CHECK(url_password("host=h password='a b\\'c'") == "a b'c");
}

TEST_CASE("parse_pool_url rejects bad pool parameters without echoing the URL", "[url]") {
  try {
    parse_pool_url("postgresql://u:secretpw@h/db?max_connections=lots");
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    CHECK(what.find("max_connections") != std::string::npos);
    CHECK(what.find("secretpw") == std::string::npos);
  }
  CHECK_THROWS_AS(parse_pool_url("postgresql://h/db?min_connections=10001"), std::invalid_argument);
  CHECK_THROWS_AS(parse_pool_url("postgresql://h/db?min_connections="), std::invalid_argument);
}

TEST_CASE("a password with '?' or '&' in the userinfo does not confuse the query", "[url]") {
  auto p = parse_pool_url("postgresql://u:p?a&b@h/db?max_connections=2");
  CHECK(p.clean_url == "postgresql://u:p?a&b@h/db");
  CHECK(url_password("postgresql://u:p%40ss@h/db") == "p@ss");
}

TEST_CASE("with_url_param adds a parameter unless present", "[url]") {
  CHECK(with_url_param("postgresql://h/db", "connect_timeout", "3")
        == "postgresql://h/db?connect_timeout=3");
  CHECK(with_url_param("postgresql://h/db?a=1", "connect_timeout", "3")
        == "postgresql://h/db?a=1&connect_timeout=3");
  CHECK(with_url_param("postgresql://h/db?connect_timeout=9", "connect_timeout", "3")
        == "postgresql://h/db?connect_timeout=9");
  CHECK(with_url_param("host=h", "connect_timeout", "3") == "host=h connect_timeout=3");
  CHECK(has_url_param("host=h application_name=x", "application_name"));
}

TEST_CASE("has_several_hosts finds host lists", "[url]") {
  CHECK(has_several_hosts("postgresql://u:p@h1:5432,h2:5432/db"));
  CHECK_FALSE(has_several_hosts("postgresql://u:p@h1:5432/db"));
  CHECK(has_several_hosts("postgresql:///db?host=h1,h2"));
  CHECK(has_several_hosts("host=h1,h2 dbname=d"));
  CHECK_FALSE(has_several_hosts("host=h1 dbname=d"));
}

TEST_CASE("scrub removes the password from error texts", "[url]") {
  CHECK(scrub("auth failed for s3cretpw and s3cretpw", "s3cretpw")
        == "auth failed for *** and ***");
  CHECK(scrub("short pw a stays", "a") == "short pw a stays");
}

TEST_CASE("pool bounds come from the settings first then the URL then the defaults", "[url]") {
  settings cfg;
  auto b = resolve_pool_bounds(cfg, "postgresql://h/db");
  CHECK(b.min == default_pool_min);
  CHECK(b.max == default_pool_max);
  b = resolve_pool_bounds(cfg, "postgresql://h/db?max_connections=20&min_connections=5");
  CHECK(b.min == 5);
  CHECK(b.max == 20);
  cfg.pool_max = 4;
  b = resolve_pool_bounds(cfg, "postgresql://h/db?max_connections=20&min_connections=5");
  CHECK(b.max == 4);
  CHECK(b.min == 4); // min never exceeds max
  cfg.pool_max = 0;
  CHECK(resolve_pool_bounds(cfg, "postgresql://h/db").max == 1);
}
