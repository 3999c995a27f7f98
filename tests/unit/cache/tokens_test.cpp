#include "actors/cache/sessions.hpp"

#include <set>
#include <string>

#include <catch2/catch.hpp>

using namespace klerno::cache;

namespace {

bool base64url_alphabet(const std::string& s) {
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
              || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

} // namespace

TEST_CASE("new session tokens are 43 characters of base64url and all different", "[tokens]") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto t = new_session_token();
    REQUIRE(t.size() == 43);
    REQUIRE(base64url_alphabet(t));
    REQUIRE(well_formed_session_token(t));
    seen.insert(t);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("new session tokens use the whole alphabet", "[tokens]") {
  // 32 random bytes per token: over many tokens every character shows up, including the two
  // that differ from plain base64.
  std::string all;
  for (int i = 0; i < 200; ++i) {
    all += new_session_token();
  }
  CHECK(all.find('-') != std::string::npos);
  CHECK(all.find('_') != std::string::npos);
  CHECK(all.find('+') == std::string::npos);
  CHECK(all.find('/') == std::string::npos);
  CHECK(all.find('=') == std::string::npos);
}

TEST_CASE("well_formed_session_token rejects other shapes", "[tokens]") {
  auto good = new_session_token();
  REQUIRE(well_formed_session_token(good));

  CHECK_FALSE(well_formed_session_token(""));
  CHECK_FALSE(well_formed_session_token(good.substr(0, 42)));
  CHECK_FALSE(well_formed_session_token(good + "A"));
  CHECK_FALSE(well_formed_session_token(good + "="));

  for (char bad : std::string{"+/=. \n\0\x80", 9}) {
    auto t = good;
    t[10] = bad;
    CHECK_FALSE(well_formed_session_token(t));
  }
  // The last character encodes 4 bits and 2 zero bits: 'A' (0) fits, 'B' (1) cannot come from
  // 32 bytes.
  auto last = good.substr(0, 42);
  CHECK(well_formed_session_token(last + "A"));
  CHECK(well_formed_session_token(last + "E"));
  CHECK_FALSE(well_formed_session_token(last + "B"));
  CHECK_FALSE(well_formed_session_token(last + "_"));
}

TEST_CASE("session_token_hash is the lower-case hex SHA-256", "[tokens]") {
  CHECK(session_token_hash("abc")
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(session_token_hash("")
        == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  auto t = new_session_token();
  auto h = session_token_hash(t);
  CHECK(h.size() == 64);
  CHECK(h.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(session_token_hash(t) == h);
  CHECK(session_token_hash(new_session_token()) != h);
  CHECK(h.find(t) == std::string::npos);
}
