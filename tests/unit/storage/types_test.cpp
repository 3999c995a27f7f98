#include "actors/storage/types.hpp"

#include <catch2/catch.hpp>

#include "actors/storage/connection.hpp"
#include "runtime/errc.hpp"

using namespace klerno::actors::storage;
namespace model = klerno::actors::model;

namespace {

model::transaction valid_tx() {
  model::transaction t;
  t.tx_id = "ABC123";
  t.time = model::timestamp{std::chrono::microseconds{1'700'000'000'000'000}};
  t.from_addr = "rA";
  t.to_addr = "rB";
  t.memo = "caf\xc3\xa9";
  t.tags = {"exchange"};
  t.risk_score = 45;
  return t;
}

} // namespace

TEST_CASE("validate accepts a plausible row", "[types]") {
  CHECK_FALSE(validate(valid_tx()));
}

TEST_CASE("validate names what the database would reject", "[types]") {
  auto t = valid_tx();
  SECTION("empty tx_id") {
    t.tx_id.clear();
    CHECK(validate(t) == std::string{"tx_id is empty"});
  }
  SECTION("long keys") {
    t.to_addr.assign(max_key_bytes + 1, 'x');
    CHECK(validate(t)->find("to_addr") != std::string::npos);
  }
  SECTION("NUL bytes") {
    t.memo = std::string{"a\0b", 3};
    CHECK(validate(t)->find("memo") != std::string::npos);
  }
  SECTION("invalid UTF-8") {
    t.notes = "\xc3\x28";
    CHECK(validate(t)->find("notes") != std::string::npos);
    t.notes = "\xed\xa0\x80"; // a surrogate
    CHECK(validate(t));
    t.notes = "\xc0\xaf"; // overlong
    CHECK(validate(t));
  }
  SECTION("bad tags") {
    t.tags.push_back("\xff");
    CHECK(validate(t)->find("tags") != std::string::npos);
  }
  SECTION("score out of range") {
    t.risk_score = 101;
    CHECK(validate(t)->find("risk_score") != std::string::npos);
  }
  SECTION("time out of range") {
    t.time = model::timestamp{std::chrono::microseconds{-70'000'000'000'000'000}};
    CHECK(validate(t)->find("time") != std::string::npos);
  }
}

TEST_CASE("to_error maps each kind of database error to its runtime code", "[types]") {
  using klerno::runtime::errc;
  using klerno::runtime::is;
  CHECK(is(to_error(db_error(db_error_kind::unavailable, "x")), errc::unavailable));
  CHECK(is(to_error(db_error(db_error_kind::conflict, "x")), errc::unavailable));
  CHECK(is(to_error(db_error(db_error_kind::timeout, "x")), errc::deadline_exceeded));
  CHECK(is(to_error(db_error(db_error_kind::invalid, "x")), errc::invalid_argument));
  CHECK(to_error(db_error(db_error_kind::internal, "x")) == caf::sec::runtime_error);
  CHECK(error_text(to_error(db_error(db_error_kind::timeout, "canceled"))) == "canceled");
  CHECK_FALSE(retry_after(to_error(db_error(db_error_kind::timeout, "canceled"))));
}
