#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/scoring/rules.hpp"
#include "http/api/transaction_json.hpp"

using namespace klerno;
using actors::model::decimal;
using actors::model::timestamp;
using actors::model::transaction;
using http::api::field_error;
using http::api::input_limits;
using http::api::parse_transaction;
using nlohmann::json;
using strings = std::vector<std::string>;

namespace {

const timestamp now = timestamp(std::chrono::seconds(1796242642)); // 2026-12-02T20:17:22Z
const input_limits limits{};

json minimal() {
  return json{{"tx_id", "abc"}, {"amount", 12.5}};
}

transaction parse_ok(const json& j) {
  auto r = parse_transaction(j, limits, now);
  if (auto* e = std::get_if<field_error>(&r)) {
    FAIL("unexpected error on " << e->field << ": " << e->message);
  }
  return std::get<transaction>(r);
}

field_error parse_err(const json& j) {
  auto r = parse_transaction(j, limits, now);
  REQUIRE(std::holds_alternative<field_error>(r));
  return std::get<field_error>(r);
}

json with(const char* key, json value) {
  auto j = minimal();
  j[key] = std::move(value);
  return j;
}

timestamp at(const char* text) {
  auto t = http::api::parse_timestamp(text);
  REQUIRE(t);
  return *t;
}

int64_t micros(const char* text) {
  return at(text).time_since_epoch().count();
}

} // namespace

TEST_CASE("a minimal transaction gets the defaults") {
  auto tx = parse_ok(minimal());
  CHECK(tx.tx_id == "abc");
  CHECK(tx.amount.to_string() == "12.5");
  CHECK(tx.time == now);
  CHECK(tx.chain == "XRPL");
  CHECK(tx.symbol == "XRP");
  CHECK(tx.fee == decimal{});
  CHECK(tx.direction.empty());
  CHECK(tx.memo.empty());
  CHECK(tx.tags.empty());
  CHECK_FALSE(tx.is_internal);
}

TEST_CASE("every input field is read") {
  auto j = json::parse(R"({"tx_id":"rHash-1","timestamp":"2026-11-28T20:17:22Z","chain":"XRPL",
    "from_addr":"rFrom","to_addr":"rTo","amount":"-1500.25","symbol":"USD","direction":"out",
    "fee":0.000012,"memo":"invoice 7","notes":"n","tags":["exchange","vip"],"is_internal":true})");
  auto tx = parse_ok(j);
  CHECK(tx.tx_id == "rHash-1");
  CHECK(http::api::format_timestamp(tx.time) == "2026-11-28T20:17:22Z");
  CHECK(tx.from_addr == "rFrom");
  CHECK(tx.to_addr == "rTo");
  CHECK(tx.amount.to_string() == "-1500.25");
  CHECK(tx.symbol == "USD");
  CHECK(tx.direction == "out");
  CHECK(tx.fee.to_string() == "0.000012");
  CHECK(tx.memo == "invoice 7");
  CHECK(tx.notes == "n");
  CHECK(tx.tags == strings{"exchange", "vip"});
  CHECK(tx.is_internal);
}

TEST_CASE("JSON number amounts convert exactly through their shortest text") {
  CHECK(parse_ok(json::parse(R"({"tx_id":"a","amount":0.1})")).amount.to_string() == "0.1");
  CHECK(parse_ok(json::parse(R"({"tx_id":"a","amount":1e-7})")).amount.to_string() == "0.0000001");
  CHECK(parse_ok(json::parse(R"({"tx_id":"a","amount":-42})")).amount.to_string() == "-42");
  CHECK(parse_ok(json::parse(R"({"tx_id":"a","amount":999999999999999})")).amount.to_string()
        == "999999999999999");
  CHECK(parse_ok(json::parse(R"({"tx_id":"a","amount":"1e-07"})")).amount.to_string()
        == "0.0000001");
  CHECK(parse_ok(with("amount", 100.0)).amount.to_string() == "100");
}

TEST_CASE("output-only fields and nulls are accepted and ignored") {
  auto j = minimal();
  j["category"] = "trade";
  j["risk_score"] = 0.99;
  j["risk_flags"] = json::array({"x"});
  j["risk_bucket"] = 7;
  j["memo"] = nullptr;
  j["fee"] = nullptr;
  auto tx = parse_ok(j);
  CHECK(tx.category.empty());
  CHECK(tx.risk_score == 0);
  CHECK(tx.risk_flags.empty());
  CHECK(tx.memo.empty());
}

TEST_CASE("a document that is not an object is refused") {
  for (const auto& j : {json::array(), json(5), json("x"), json(nullptr)}) {
    auto e = parse_err(j);
    CHECK(e.field.empty());
    CHECK(e.message.find("object") != std::string::npos);
  }
}

TEST_CASE("an unknown field is an error naming it") {
  auto e = parse_err(with("amout", 1));
  CHECK(e.field == "amout");
  CHECK(e.message == "unknown field \"amout\"");
  e = parse_err(with(std::string(100, 'k').c_str(), 1));
  CHECK(e.field.size() < 80);
}

TEST_CASE("missing tx_id or amount is an error naming the field") {
  auto e = parse_err(json{{"amount", 1}});
  CHECK(e.field == "tx_id");
  CHECK(e.message == "tx_id is required");
  e = parse_err(json{{"tx_id", "a"}});
  CHECK(e.field == "amount");
  e = parse_err(json{{"tx_id", nullptr}, {"amount", 1}});
  CHECK(e.field == "tx_id");
}

TEST_CASE("a tx_id must be 1 to 128 printable characters without spaces") {
  CHECK(parse_err(with("tx_id", "")).field == "tx_id");
  CHECK(parse_err(with("tx_id", "a b")).field == "tx_id");
  CHECK(parse_err(with("tx_id", "a\nb")).field == "tx_id");
  CHECK(parse_err(with("tx_id", "caf\xc3\xa9")).field == "tx_id");
  CHECK(parse_err(with("tx_id", std::string(129, 'x'))).field == "tx_id");
  CHECK(parse_ok(with("tx_id", std::string(128, 'x'))).tx_id.size() == 128);
  CHECK(parse_ok(with("tx_id", "E3FE6EA3D48F0C2B639448020EA4F03D4F4F8FFDB243A852A0F59177921B4879"))
          .tx_id.size()
        == 64);
}

TEST_CASE("wrong types are errors naming the field and the expected type") {
  struct probe {
    const char* field;
    json value;
    const char* expected;
  };
  for (const auto& p :
       {probe{"tx_id", 5, "string"}, probe{"timestamp", 1700000000, "string"},
        probe{"chain", true, "string"}, probe{"from_addr", 1, "string"},
        probe{"to_addr", json::array(), "string"}, probe{"amount", true, "number"},
        probe{"amount", json::object(), "number"}, probe{"symbol", 1, "string"},
        probe{"direction", 1.5, "string"}, probe{"fee", json::array(), "number"},
        probe{"memo", 3, "string"}, probe{"notes", false, "string"}, probe{"tags", "vip", "array"},
        probe{"tags", json::array({"ok", 5}), "string"}, probe{"is_internal", "true", "boolean"}}) {
    INFO(p.field << " = " << p.value.dump());
    auto e = parse_err(with(p.field, p.value));
    CHECK(e.field == p.field);
    CHECK(e.message.find(p.field) != std::string::npos);
    CHECK(e.message.find(p.expected) != std::string::npos);
  }
}

TEST_CASE("non-finite and unparsable amounts are refused") {
  for (const char* text : {"NaN", "nan", "inf", "-Infinity", "1.2.3", "", " 1", "0x10", "1e400"}) {
    INFO(text);
    CHECK(parse_err(with("amount", text)).field == "amount");
    CHECK(parse_err(with("fee", text)).field == "fee");
  }
  CHECK(parse_err(with("amount", std::numeric_limits<double>::infinity())).field == "amount");
  CHECK(parse_err(with("amount", std::numeric_limits<double>::quiet_NaN())).field == "amount");
  CHECK_THROWS(json::parse(R"({"tx_id":"a","amount":1e400})"));
}

TEST_CASE("absurd amounts and negative fees are refused") {
  auto e = parse_err(with("amount", 1e16));
  CHECK(e.field == "amount");
  CHECK(e.message.find("1000000000000000") != std::string::npos);
  CHECK(parse_err(with("amount", "-1000000000000000.000001")).field == "amount");
  CHECK(parse_ok(with("amount", "-1000000000000000")).amount.to_string() == "-1000000000000000");
  CHECK(parse_err(with("amount", 18446744073709551615ULL)).field == "amount");
  CHECK(parse_err(with("fee", -0.01)).field == "fee");
  CHECK(parse_err(with("fee", 1e16)).field == "fee");
  CHECK(parse_ok(with("fee", 0)).fee == decimal{});
  input_limits small;
  small.max_amount = decimal::from_integer(10);
  auto r = parse_transaction(with("amount", 10.5), small, now);
  CHECK(std::get<field_error>(r).field == "amount");
}

TEST_CASE("oversized strings and tag lists are refused") {
  CHECK(parse_ok(with("memo", std::string(1024, 'm'))).memo.size() == 1024);
  auto e = parse_err(with("memo", std::string(1025, 'm')));
  CHECK(e.field == "memo");
  CHECK(e.message.find("1024") != std::string::npos);
  CHECK(parse_ok(with("notes", std::string(4096, 'n'))).notes.size() == 4096);
  CHECK(parse_err(with("notes", std::string(4097, 'n'))).field == "notes");
  CHECK(parse_err(with("from_addr", std::string(129, 'r'))).field == "from_addr");
  CHECK(parse_err(with("to_addr", std::string(129, 'r'))).field == "to_addr");
  CHECK(parse_err(with("chain", std::string(33, 'c'))).field == "chain");
  CHECK(parse_err(with("direction", std::string(33, 'd'))).field == "direction");
  CHECK(parse_ok(with("symbol", std::string(40, 'A'))).symbol.size() == 40);
  CHECK(parse_err(with("symbol", std::string(41, 'A'))).field == "symbol");
  CHECK(parse_err(with("tags", json::array({std::string(65, 't')}))).field == "tags");
  CHECK(parse_ok(with("tags", json(std::vector<std::string>(32, "t")))).tags.size() == 32);
  CHECK(parse_err(with("tags", json(std::vector<std::string>(33, "t")))).field == "tags");
  input_limits small;
  small.max_memo_bytes = 4;
  auto r = parse_transaction(with("memo", "12345"), small, now);
  CHECK(std::get<field_error>(r).field == "memo");
}

TEST_CASE("strings must be valid UTF-8") {
  CHECK(parse_ok(with("memo", "caf\xc3\xa9 \xe2\x82\xac")).memo == "caf\xc3\xa9 \xe2\x82\xac");
  for (const char* field :
       {"memo", "notes", "chain", "from_addr", "to_addr", "symbol", "direction"}) {
    INFO(field);
    auto e = parse_err(with(field, std::string("bad \xff byte")));
    CHECK(e.field == field);
    CHECK(e.message.find("UTF-8") != std::string::npos);
  }
  CHECK(parse_err(with("memo", std::string("\xc0\xaf"))).field == "memo"); // overlong '/'
  CHECK(parse_err(with("tags", json::array({std::string("\xed\xa0\x80")}))).field == "tags");
  auto j = minimal();
  j[std::string("bad\xff")] = 1;
  auto e = parse_err(j);
  CHECK(e.message.find('\xff') == std::string::npos);
}

TEST_CASE("timestamps are ISO 8601 converted to UTC microseconds") {
  CHECK(micros("1970-01-01T00:00:00Z") == 0);
  CHECK(micros("2026-11-28T20:17:22Z") == 1795897042LL * 1000000);
  CHECK(micros("2026-11-28T22:17:22+02:00") == micros("2026-11-28T20:17:22Z"));
  CHECK(micros("2026-11-28T15:47:22-04:30") == micros("2026-11-28T20:17:22Z"));
  CHECK(micros("2026-11-28T22:17:22+0200") == micros("2026-11-28T20:17:22Z"));
  CHECK(micros("2026-11-28T22:17:22+02") == micros("2026-11-28T20:17:22Z"));
  CHECK(micros("2026-11-28T20:17:22") == micros("2026-11-28T20:17:22Z"));
  CHECK(micros("2026-11-28 20:17:22z") == micros("2026-11-28T20:17:22Z"));
  CHECK(micros("2026-11-28T20:17Z") == micros("2026-11-28T20:17:00Z"));
  CHECK(micros("2026-11-28T20:17:22.5Z") == micros("2026-11-28T20:17:22Z") + 500000);
  CHECK(micros("2026-11-28T20:17:22.123456789Z") == micros("2026-11-28T20:17:22Z") + 123456);
  CHECK(micros("2024-02-29T00:00:00Z") == micros("2024-02-28T00:00:00Z") + 86400000000LL);
  CHECK(micros("1969-12-31T23:59:59.999999Z") == -1);
  CHECK(micros("0001-01-01T00:00:00Z") == -62135596800LL * 1000000);
}

TEST_CASE("bad timestamps are refused naming the field") {
  for (const char* text :
       {"", "yesterday", "2026-11-28", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T20:60:00Z",
        "2026-11-28T20:17:60Z", "2026-11-28T20:17:22.Z", "2026-11-28T20:17:22+25:00",
        "2026-11-28T20:17:22+02:", "2026-11-28T20:17:22ZZ", "0000-01-01T00:00:00Z",
        "26-11-28T20:17:22Z", "2026/11/28T20:17:22Z", "2026-11-28T20:17:22 UTC", "1700000000"}) {
    INFO(text);
    CHECK_FALSE(http::api::parse_timestamp(text));
    auto e = parse_err(with("timestamp", text));
    CHECK(e.field == "timestamp");
    CHECK(e.message.find("ISO 8601") != std::string::npos);
  }
}

TEST_CASE("timestamps print as UTC with microseconds only when nonzero") {
  using http::api::format_timestamp;
  CHECK(format_timestamp(at("2026-11-28T20:17:22Z")) == "2026-11-28T20:17:22Z");
  CHECK(format_timestamp(at("2026-11-28T20:17:22.1234Z")) == "2026-11-28T20:17:22.123400Z");
  CHECK(format_timestamp(at("2026-11-28T20:17:22.000001+01:00")) == "2026-11-28T19:17:22.000001Z");
  CHECK(format_timestamp(timestamp{}) == "1970-01-01T00:00:00Z");
  CHECK(format_timestamp(timestamp(std::chrono::microseconds(-1)))
        == "1969-12-31T23:59:59.999999Z");
  CHECK(format_timestamp(at("0001-01-01T00:00:00Z")) == "0001-01-01T00:00:00Z");
  CHECK(format_timestamp(at("9999-12-31T23:59:59.999999Z")) == "9999-12-31T23:59:59.999999Z");
  CHECK(format_timestamp(at("2000-02-29T12:00:00Z")) == "2000-02-29T12:00:00Z");
}

TEST_CASE("append_json renders every field and parses back with the same values") {
  transaction tx;
  tx.tx_id = "tx-1";
  tx.time = at("2026-11-28T20:17:22.25Z");
  tx.from_addr = "rFrom";
  tx.to_addr = "rTo";
  tx.amount = *decimal::parse("-1234.000001");
  tx.symbol = "USD";
  tx.direction = "out";
  tx.fee = *decimal::parse("0.000012");
  tx.memo = "line1\nline2 \"quoted\" \\ caf\xc3\xa9 \x01";
  tx.notes = "";
  tx.tags = {"a", "b\tc"};
  tx.is_internal = true;
  actors::scoring::score_static(tx, {});
  std::string out = "[";
  http::api::append_json(out, tx);
  out += "]";
  auto j = json::parse(out).at(0);
  CHECK(j.size() == 17);
  CHECK(j["tx_id"] == "tx-1");
  CHECK(j["timestamp"] == "2026-11-28T20:17:22.250000Z");
  CHECK(j["chain"] == "XRPL");
  CHECK(j["from_addr"] == "rFrom");
  CHECK(j["to_addr"] == "rTo");
  CHECK(j["amount"].is_number_float());
  CHECK(j["amount"].get<double>() == -1234.000001);
  CHECK(j["symbol"] == "USD");
  CHECK(j["direction"] == "out");
  CHECK(j["fee"].get<double>() == 0.000012);
  CHECK(j["memo"] == tx.memo);
  CHECK(j["notes"] == "");
  CHECK(j["tags"] == json::array({"a", "b\tc"}));
  CHECK(j["is_internal"] == true);
  CHECK(j["category"] == tx.category);
  CHECK(j["risk_score"].get<double>() == tx.risk_score / 100.0);
  CHECK(j["risk_flags"].get<strings>() == tx.risk_flags);
  CHECK(j["risk_bucket"] == tx.risk_bucket);
  // The text carries the exact decimals and the two-decimal score.
  CHECK(out.find("\"amount\":-1234.000001,") != std::string::npos);
  CHECK(out.find("\"fee\":0.000012,") != std::string::npos);
}

TEST_CASE("append_json renders 0.45 and the exact field order") {
  transaction tx;
  tx.tx_id = "t";
  tx.amount = decimal::from_integer(5000);
  tx.direction = "out";
  actors::scoring::score_static(tx, {});
  auto out = http::api::to_json(tx);
  CHECK(out
        == R"({"tx_id":"t","timestamp":"1970-01-01T00:00:00Z","chain":"XRPL","from_addr":"",)"
           R"("to_addr":"","amount":5000,"symbol":"XRP","direction":"out","fee":0,"memo":"",)"
           R"("notes":"","tags":[],"is_internal":false,"category":"expense","risk_score":0.45,)"
           R"("risk_flags":["outgoing","medium_outgoing","large_outgoing"],)"
           R"("risk_bucket":"medium"})");
}

TEST_CASE("a rendered transaction parses back as input to the same transaction") {
  auto j = json::parse(R"({"tx_id":"rt","timestamp":"2026-11-28T20:17:22.000123Z",
    "from_addr":"rA","to_addr":"rB","amount":"0.1","symbol":"XRP","direction":"in",
    "fee":"0.00001","memo":"m","notes":"n","tags":["t"],"is_internal":false})");
  auto tx = parse_ok(j);
  actors::scoring::score_static(tx, {});
  auto back = parse_ok(json::parse(http::api::to_json(tx)));
  CHECK(back.tx_id == tx.tx_id);
  CHECK(back.time == tx.time);
  CHECK(back.amount == tx.amount);
  CHECK(back.fee == tx.fee);
  CHECK(back.memo == tx.memo);
  CHECK(back.tags == tx.tags);
  CHECK(back.direction == tx.direction);
}
