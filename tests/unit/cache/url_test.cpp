// REDIS_URL parsing: the accepted forms, the refused ones (with messages that say what is wrong
// and never contain the password) and the display form used in logs.

#include "actors/cache/redis/url.hpp"

#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

using klerno::cache::redis::parse_redis_url;
using klerno::cache::redis::redis_url;
using klerno::cache::redis::to_display;

namespace {

/// Returns the message of the std::invalid_argument thrown by parse_redis_url(url), or "" when
/// it does not throw.
std::string error_of(const std::string& url) {
  try {
    parse_redis_url(url);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("a bare host gets the default port and database and no credentials") {
  redis_url u = parse_redis_url("redis://cache.internal");
  CHECK(u.host == "cache.internal");
  CHECK(u.port == 6379);
  CHECK(u.db == 0);
  CHECK(u.username.empty());
  CHECK(u.password.empty());
}

TEST_CASE("host, port and database are all read") {
  redis_url u = parse_redis_url("redis://10.0.0.7:6380/3");
  CHECK(u.host == "10.0.0.7");
  CHECK(u.port == 6380);
  CHECK(u.db == 3);
}

TEST_CASE("a trailing slash after the host or the database is accepted") {
  CHECK(parse_redis_url("redis://h:1234/").db == 0);
  CHECK(parse_redis_url("redis://h:1234/").port == 1234);
  CHECK(parse_redis_url("redis://h/5/").db == 5);
}

TEST_CASE("the scheme is case-insensitive") {
  CHECK(parse_redis_url("REDIS://h:7000/1").port == 7000);
}

TEST_CASE("an IPv6 address is written in brackets and stored without them") {
  redis_url u = parse_redis_url("redis://[::1]:6390/2");
  CHECK(u.host == "::1");
  CHECK(u.port == 6390);
  CHECK(u.db == 2);
  CHECK(parse_redis_url("redis://[fe80::1]").port == 6379);
}

TEST_CASE("a password alone and a user with a password are read") {
  redis_url a = parse_redis_url("redis://:s3cret@h:6379/0");
  CHECK(a.username.empty());
  CHECK(a.password.reveal() == "s3cret");

  redis_url b = parse_redis_url("redis://app:s3cret@h/1");
  CHECK(b.username == "app");
  CHECK(b.password.reveal() == "s3cret");
  CHECK(b.db == 1);
}

TEST_CASE("user and password are percent-decoded") {
  redis_url u = parse_redis_url("redis://us%65r:p%40ss%3Aw%2Fd%25@h");
  CHECK(u.username == "user");
  CHECK(u.password.reveal() == "p@ss:w/d%");
}

TEST_CASE("an unencoded @ in the password belongs to the password") {
  redis_url u = parse_redis_url("redis://:a@b@h:6379");
  CHECK(u.password.reveal() == "a@b");
  CHECK(u.host == "h");
}

TEST_CASE("empty credentials mean no AUTH") {
  redis_url u = parse_redis_url("redis://:@h");
  CHECK(u.password.empty());
  CHECK(u.username.empty());
}

TEST_CASE("rediss:// is refused with the TLS explanation") {
  std::string msg = error_of("rediss://:pw@h:6380/0");
  CHECK(msg
        == "REDIS_URL: rediss:// (TLS) is not supported by this build (hiredis 0.14 has no TLS); "
           "reach Redis over a private network or through a local TLS tunnel (e.g. stunnel) with "
           "redis://");
  CHECK_THAT(error_of("RediSS://h"), Catch::StartsWith("REDIS_URL: rediss:// (TLS)"));
}

TEST_CASE("malformed URLs are refused with a message that names the problem") {
  CHECK_THAT(error_of("http://h"), Catch::Contains("must start with redis://"));
  CHECK_THAT(error_of("h:6379"), Catch::Contains("must start with redis://"));
  CHECK_THAT(error_of(""), Catch::Contains("must start with redis://"));
  CHECK_THAT(error_of("redis://"), Catch::Contains("host is missing"));
  CHECK_THAT(error_of("redis://:6379/0"), Catch::Contains("host is missing"));
  CHECK_THAT(error_of("redis://[]:6379"), Catch::Contains("host is missing"));
  CHECK_THAT(error_of("redis://[::1"), Catch::Contains("unterminated '['"));
  CHECK_THAT(error_of("redis://[::1]x"), Catch::Contains("after the IPv6 address"));
  CHECK_THAT(error_of("redis://::1:6379"), Catch::Contains("must be written in brackets"));
  CHECK_THAT(error_of("redis://h:0"), Catch::Contains("port must be 1..65535"));
  CHECK_THAT(error_of("redis://h:65536"), Catch::Contains("port must be 1..65535"));
  CHECK_THAT(error_of("redis://h:"), Catch::Contains("port must be 1..65535"));
  CHECK_THAT(error_of("redis://h:63x9"), Catch::Contains("port must be 1..65535"));
  CHECK_THAT(error_of("redis://h/x"), Catch::Contains("database must be a number"));
  CHECK_THAT(error_of("redis://h/-1"), Catch::Contains("database must be a number"));
  CHECK_THAT(error_of("redis://h/1/2"), Catch::Contains("database must be a number"));
  CHECK_THAT(error_of("redis://h/99999999999"), Catch::Contains("database must be a number"));
  CHECK_THAT(error_of("redis://h/0?timeout=1"), Catch::Contains("query strings"));
  CHECK_THAT(error_of("redis://h?db=1"), Catch::Contains("query strings"));
  CHECK_THAT(error_of("redis://h#x"), Catch::Contains("query strings"));
}

TEST_CASE("every error message starts with REDIS_URL: ") {
  for (const char* url : {"rediss://h", "http://h", "redis://", "redis://h:0", "redis://h/x",
                          "redis://h?x", "redis://pw@h", "redis://u:@h", "redis://:%zz@h"}) {
    INFO(url);
    CHECK_THAT(error_of(url), Catch::StartsWith("REDIS_URL: "));
  }
}

TEST_CASE("credentials without a colon or a user without a password are refused") {
  CHECK_THAT(error_of("redis://justaname@h"), Catch::Contains("user:password@"));
  CHECK_THAT(error_of("redis://app:@h"), Catch::Contains("needs a password"));
  CHECK_THAT(error_of("redis://:%4@h"), Catch::Contains("percent-encoding in the password"));
  CHECK_THAT(error_of("redis://u%G1:pw@h"), Catch::Contains("percent-encoding in the user name"));
}

TEST_CASE("no error message contains the password") {
  const std::string pw = "Sup3rS3cretPw";
  for (const std::string& url : {
         "rediss://:" + pw + "@h:6379/0",
         "redis://u:" + pw + "@h:0",
         "redis://u:" + pw + "@h:99999",
         "redis://u:" + pw + "@h/notadb",
         "redis://u:" + pw + "@h/0?x=1",
         "redis://u:" + pw + "@/0",
         "redis://u:" + pw + "%zz@h",
         "redis://" + pw + "@h",
         "redis://" + pw + ":@h",
         "redis://u:" + pw + "@[::1",
         "ftp://u:" + pw + "@h",
       }) {
    INFO(url);
    std::string msg = error_of(url);
    CHECK_FALSE(msg.empty());
    CHECK(msg.find(pw) == std::string::npos);
  }
}

TEST_CASE("to_display redacts the password and keeps everything else") {
  CHECK(to_display(parse_redis_url("redis://h")) == "redis://h:6379/0");
  CHECK(to_display(parse_redis_url("redis://:pw@h:7000/2")) == "redis://:***@h:7000/2");
  CHECK(to_display(parse_redis_url("redis://app:pw@h/1")) == "redis://app:***@h:6379/1");
  CHECK(to_display(parse_redis_url("redis://[::1]:6380/0")) == "redis://[::1]:6380/0");
  std::string shown = to_display(parse_redis_url("redis://app:Sup3rS3cretPw@h/1"));
  CHECK(shown.find("Sup3rS3cretPw") == std::string::npos);
}
