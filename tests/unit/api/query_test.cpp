#include <catch2/catch.hpp>

#include <string>

#include "http/api/query.hpp"

using klerno::http::api::percent_decode;
using klerno::http::api::query_param;
using klerno::http::api::valid_utf8;

TEST_CASE("query_param finds parameters and decodes them") {
  CHECK(*query_param("wallet=rA&limit=10", "limit") == "10");
  CHECK(*query_param("wallet=rA&limit=10", "wallet") == "rA");
  CHECK(*query_param("?wallet=rA", "wallet") == "rA");
  CHECK(*query_param("q=a+b%20c%2B", "q") == "a b c+");
  CHECK(*query_param("my%20key=v", "my key") == "v");
  CHECK(*query_param("flag&x=1", "flag") == "");
  CHECK(*query_param("x=", "x") == "");
  CHECK(*query_param("x=1&x=2", "x") == "1");
  CHECK(*query_param("a=1&&b=2", "b") == "2");
  CHECK(*query_param("e=a=b", "e") == "a=b");
}

TEST_CASE("query_param returns nothing for an absent parameter") {
  CHECK_FALSE(query_param("", "x"));
  CHECK_FALSE(query_param("xx=1", "x"));
  CHECK_FALSE(query_param("a=x", "x"));
  CHECK_FALSE(query_param("&", "x"));
}

TEST_CASE("malformed percent escapes are kept literally") {
  CHECK(percent_decode("100%") == "100%");
  CHECK(percent_decode("%zz") == "%zz");
  CHECK(percent_decode("%4") == "%4");
  CHECK(percent_decode("%41%42") == "AB");
  CHECK(percent_decode("%ff") == "\xff");
  CHECK(percent_decode("%00").size() == 1);
}

TEST_CASE("valid_utf8 accepts well-formed text and refuses the rest") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("ascii"));
  CHECK(valid_utf8("caf\xc3\xa9"));
  CHECK(valid_utf8("\xe2\x82\xac"));
  CHECK(valid_utf8("\xf0\x9f\x98\x80"));
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf")); // U+10FFFF
  CHECK(valid_utf8(std::string("nul\0inside", 10)));
  CHECK_FALSE(valid_utf8("\xff"));
  CHECK_FALSE(valid_utf8("\x80"));
  CHECK_FALSE(valid_utf8("\xc3"));             // truncated
  CHECK_FALSE(valid_utf8("\xc0\xaf"));         // overlong
  CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));     // overlong
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));     // surrogate
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
  CHECK_FALSE(valid_utf8("\xf0\x9f\x98"));     // truncated
  CHECK_FALSE(valid_utf8("\xe2\x28\xa1"));     // bad continuation
}
