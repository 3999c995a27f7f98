#include "config/secret.hpp"

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include <catch2/catch.hpp>

using klerno::config::constant_time_equals;
using klerno::config::redact_url;
using klerno::config::secret;

namespace {

template <class T, class = void>
struct is_streamable : std::false_type {};

template <class T>
struct is_streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<T>())>>
    : std::true_type {};

} // namespace

TEST_CASE("a secret can be neither streamed nor built implicitly from a string") {
  STATIC_REQUIRE_FALSE(is_streamable<const secret&>::value);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<std::string, secret>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<secret, std::string>);
}

TEST_CASE("a secret reveals its value only on request and redacts it otherwise") {
  secret s{"hunter2-hunter2-hunter2"};
  CHECK_FALSE(s.empty());
  CHECK(s.reveal() == "hunter2-hunter2-hunter2");
  CHECK(s.redacted() == "<redacted>");
}

TEST_CASE("an unset secret is empty and redacts to the empty string") {
  CHECK(secret{}.empty());
  CHECK(secret{}.redacted().empty());
  CHECK(secret{std::string{}}.empty());
}

TEST_CASE("redact_url replaces the password of a URL's userinfo") {
  CHECK(redact_url("postgresql://app:s3cr3t@db:5432/klerno")
        == "postgresql://app:***@db:5432/klerno");
  CHECK(redact_url("redis://:s3cr3t@cache:6379/0") == "redis://:***@cache:6379/0");
  CHECK(redact_url("rediss://user:pw@cache") == "rediss://user:***@cache");
  CHECK(redact_url("postgres://u:p@h?sslmode=require") == "postgres://u:***@h?sslmode=require");
  // An unencoded `@` in the password is redacted along with the rest of it.
  CHECK(redact_url("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db");
  // A `:` in the password stays behind the first `:`, which ends the user.
  CHECK(redact_url("redis://u:a:b@h") == "redis://u:***@h");
}

TEST_CASE("redact_url leaves URLs without a password unchanged") {
  CHECK(redact_url("") == "");
  CHECK(redact_url("postgresql://db:5432/klerno") == "postgresql://db:5432/klerno");
  CHECK(redact_url("postgresql://app@db/klerno") == "postgresql://app@db/klerno");
  CHECK(redact_url("redis://user:@cache") == "redis://user:@cache");
  CHECK(redact_url("redis://cache:6379/0?user=a:b@c") == "redis://cache:6379/0?user=a:b@c");
  CHECK(redact_url("redis://[::1]:6379") == "redis://[::1]:6379");
}

TEST_CASE("constant_time_equals is true exactly for equal strings") {
  CHECK(constant_time_equals("", ""));
  CHECK(constant_time_equals("dev-api-key", "dev-api-key"));
  CHECK_FALSE(constant_time_equals("dev-api-key", "dev-api-kez"));
  CHECK_FALSE(constant_time_equals("dev-api-key", "Dev-api-key"));
  CHECK_FALSE(constant_time_equals("dev-api-key", "dev-api-key "));
  CHECK_FALSE(constant_time_equals("dev-api-key", "dev"));
  CHECK_FALSE(constant_time_equals("", "x"));
  CHECK_FALSE(constant_time_equals("x", ""));
  using namespace std::string_literals;
  CHECK_FALSE(constant_time_equals("a\0b"s, "a\0c"s));
  CHECK(constant_time_equals("a\0b"s, "a\0b"s));
  std::string long_a(100'000, 'k');
  auto long_b = long_a;
  CHECK(constant_time_equals(long_a, long_b));
  long_b.back() = 'j';
  CHECK_FALSE(constant_time_equals(long_a, long_b));
}
