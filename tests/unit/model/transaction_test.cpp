#include <catch2/catch.hpp>

#include <string>

#include "actors/model/cursor.hpp"
#include "actors/model/transaction.hpp"

using namespace klerno::actors::model;

TEST_CASE("buckets split at 0.33 and 0.66") {
  CHECK(std::string(bucket_for(0)) == "low");
  CHECK(std::string(bucket_for(32)) == "low");
  CHECK(std::string(bucket_for(33)) == "medium");
  CHECK(std::string(bucket_for(65)) == "medium");
  CHECK(std::string(bucket_for(66)) == "high");
  CHECK(std::string(bucket_for(100)) == "high");
}

TEST_CASE("scores print with two decimals") {
  CHECK(format_score(45) == "0.45");
  CHECK(format_score(0) == "0.00");
  CHECK(format_score(7) == "0.07");
  CHECK(format_score(100) == "1.00");
  CHECK(format_score(-5) == "-0.05");
  std::string out = "s=";
  append_score(out, 66);
  CHECK(out == "s=0.66");
}

TEST_CASE("scores clamp to 0 and 100") {
  CHECK(clamp_score(-25) == 0);
  CHECK(clamp_score(0) == 0);
  CHECK(clamp_score(55) == 55);
  CHECK(clamp_score(100) == 100);
  CHECK(clamp_score(130) == 100);
}

TEST_CASE("a transaction has Klerno's defaults") {
  transaction tx;
  CHECK(tx.chain == "XRPL");
  CHECK(tx.symbol == "XRP");
  CHECK(tx.amount == decimal{});
  CHECK_FALSE(tx.is_internal);
  CHECK(tx.risk_score == 0);
}

TEST_CASE("cursors compare by time and tx_id") {
  cursor a{timestamp(std::chrono::microseconds(5)), "a"};
  cursor b{timestamp(std::chrono::microseconds(5)), "a"};
  CHECK(a == b);
  b.tx_id = "b";
  CHECK(a != b);
}
