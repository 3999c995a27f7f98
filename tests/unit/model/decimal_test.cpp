#include <catch2/catch.hpp>

#include <string>

#include "actors/model/decimal.hpp"

using klerno::actors::model::decimal;
using klerno::actors::model::exceeds_ratio;

namespace {

std::string round_trip(const char* text) {
  auto d = decimal::parse(text);
  REQUIRE(d);
  return d->to_string();
}

decimal dec(const char* text) {
  auto d = decimal::parse(text);
  REQUIRE(d);
  return *d;
}

constexpr decimal::units_type e18 = 1000000000000000000;

} // namespace

TEST_CASE("decimal parses plain numbers into exact units") {
  CHECK(dec("0").units() == 0);
  CHECK(dec("1").units() == e18);
  CHECK(dec("-12.5").units() == -12 * e18 - e18 / 2);
  CHECK(dec("0.000001").units() == e18 / 1000000);
  CHECK(dec("0.000000000000000001").units() == 1);
  CHECK(dec("+7").units() == 7 * e18);
  CHECK(dec("007.50").units() == 7 * e18 + e18 / 2);
}

TEST_CASE("decimal parses exponents as JSON and nlohmann print them") {
  CHECK(dec("1e3") == decimal::from_integer(1000));
  CHECK(dec("1E3") == decimal::from_integer(1000));
  CHECK(dec("1e+3") == decimal::from_integer(1000));
  CHECK(dec("1.5E-7").units() == 150000000000);
  CHECK(dec("1e-07").to_string() == "0.0000001");
  CHECK(dec("100.0").to_string() == "100");
  CHECK(dec("1.2345e2").to_string() == "123.45");
  CHECK(dec("12345e-2").to_string() == "123.45");
  CHECK(dec("1e20").to_string() == "100000000000000000000");
  CHECK(dec("0e999999999999").units() == 0);
  CHECK(dec("1e-999999999999").units() == 0);
}

TEST_CASE("decimal prints the shortest exact text without exponent") {
  CHECK(decimal{}.to_string() == "0");
  CHECK(round_trip("12.5") == "12.5");
  CHECK(round_trip("-0.000001") == "-0.000001");
  CHECK(round_trip("-0") == "0");
  CHECK(round_trip("0.10") == "0.1");
  CHECK(round_trip("1000") == "1000");
  CHECK(round_trip("123456789012345678.123456789012345678")
        == "123456789012345678.123456789012345678");
  CHECK(round_trip("0.000000000000000001") == "0.000000000000000001");
  CHECK(decimal::from_integer(-42).to_string() == "-42");
  std::string out = "x=";
  dec("3.25").append_to(out);
  CHECK(out == "x=3.25");
}

TEST_CASE("decimal round-trips its own text for many values") {
  for (const char* text : {"1", "-1", "0.1", "0.2", "0.3", "99999999999999.999999", "1e15",
                           "-170141183460469231731.687303715884105727", "3.14159265358979323"}) {
    auto d = dec(text);
    CHECK(decimal::parse(d.to_string()) == d);
  }
}

TEST_CASE("decimal arithmetic is exact: 0.1 + 0.2 is 0.3") {
  CHECK(dec("0.1") + dec("0.2") == dec("0.3"));
  CHECK((dec("0.1") + dec("0.2")).to_string() == "0.3");
  CHECK((dec("1") - dec("1.000000000000000001")).to_string() == "-0.000000000000000001");
  CHECK((-dec("2.5")).to_string() == "-2.5");
  CHECK(dec("-2.5").abs() == dec("2.5"));
  CHECK(dec("-2.5").sign() == -1);
  CHECK(dec("0").sign() == 0);
  CHECK(dec("2.5").sign() == 1);
  CHECK(dec("100") < dec("100.000001"));
}

TEST_CASE("decimal rounds digits beyond 18 places half to even") {
  CHECK(dec("0.0000000000000000004").units() == 0);
  CHECK(dec("0.0000000000000000005").units() == 0);     // tie, 0 is even
  CHECK(dec("0.0000000000000000015").units() == 2);     // tie, 1 is odd -> 2
  CHECK(dec("0.0000000000000000025").units() == 2);     // tie, 2 is even
  CHECK(dec("0.00000000000000000050001").units() == 1); // above the tie
  CHECK(dec("0.0000000000000000006").units() == 1);
  CHECK(dec("-0.0000000000000000015").units() == -2);
  CHECK(dec("5e-19").units() == 0);
  CHECK(dec("15e-19").units() == 2);
  CHECK(dec("0.00000000000000000000001").units() == 0);
  CHECK(dec("1.9999999999999999999").to_string() == "2");
}

TEST_CASE("decimal rejects garbage, non-finite values and overflow") {
  for (const char* text : {"",         " ",     "-",     "+",   "NaN", "nan", "inf", "-inf",
                           "Infinity", "1.2.3", "0x10",  "1e",  "1e+", ".5",  "5.",  "1,5",
                           " 1",       "1 ",    "1_000", "--1", "+-1", "e5",  "1f",  "١"}) {
    INFO(text);
    CHECK_FALSE(decimal::parse(text));
  }
  CHECK_FALSE(decimal::parse("1e21"));
  CHECK_FALSE(decimal::parse("170141183460469231732"));
  CHECK_FALSE(decimal::parse("1e999999999999"));
  CHECK_FALSE(decimal::parse(std::string(60, '9')));
  CHECK(decimal::parse("170141183460469231731.687303715884105727"));
  CHECK_FALSE(decimal::parse("170141183460469231731.687303715884105728"));
  CHECK(decimal::parse("-170141183460469231731.687303715884105727"));
  CHECK_FALSE(decimal::parse("-170141183460469231731.687303715884105728"));
  // Rounding up into overflow.
  CHECK_FALSE(decimal::parse("170141183460469231731.6873037158841057275"));
}

TEST_CASE("decimal from_integer covers the whole int64 range") {
  CHECK(decimal::from_integer(0).units() == 0);
  CHECK(decimal::from_integer(INT64_MAX).to_string() == "9223372036854775807");
  CHECK(decimal::from_integer(INT64_MIN).to_string() == "-9223372036854775808");
}

TEST_CASE("decimal to_double returns the nearest double") {
  CHECK(dec("0.1").to_double() == 0.1);
  CHECK(dec("-12.5").to_double() == -12.5);
  CHECK(dec("0").to_double() == 0.0);
  CHECK(dec("1e20").to_double() == 1e20);
  CHECK(dec("0.000000000000000001").to_double() == 1e-18);
}

TEST_CASE("exceeds_ratio compares fee over amount exactly and strictly") {
  CHECK_FALSE(exceeds_ratio(dec("1"), dec("100"), 1, 100));
  CHECK(exceeds_ratio(dec("1.000000000000000001"), dec("100"), 1, 100));
  CHECK_FALSE(exceeds_ratio(dec("5"), dec("-100"), 5, 100));
  CHECK(exceeds_ratio(dec("5.01"), dec("-100"), 5, 100));
  CHECK(exceeds_ratio(dec("0.000000000000000001"), dec("0"), 1, 100));
  CHECK_FALSE(exceeds_ratio(dec("0"), dec("0"), 1, 100));
  CHECK_FALSE(exceeds_ratio(dec("-1"), dec("1"), 0, 1));
  CHECK_FALSE(exceeds_ratio(dec("1"), dec("1"), 1, 0));
  // Far beyond 1e15: still exact thanks to the wide products.
  auto big = decimal::from_units(decimal::max_units);
  CHECK_FALSE(exceeds_ratio(big, big, 1, 1));
  CHECK(exceeds_ratio(big, big, 999999, 1000000));
  CHECK_FALSE(exceeds_ratio(decimal::from_units(decimal::max_units - 1), big, 1, 1));
}
