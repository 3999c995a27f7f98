#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "http/api/xrpl.hpp"

using namespace klerno;
using actors::model::timestamp;
using actors::model::transaction;
using http::api::parse_xrpl;
using http::api::xrpl_error;
using http::api::xrpl_options;
using nlohmann::json;

namespace {

const timestamp now = timestamp(std::chrono::seconds(1796242642));

json payment() {
  return json::parse(R"({
    "Account": "rf1BiGeXwwQoi8Z2ueFYTEXSwuJYfV2Jpn",
    "Amount": "1000000",
    "Destination": "ra5nK24KXen9AHvsdFTKHSANinZseWnPcX",
    "Fee": "12",
    "Flags": 2147483648,
    "Sequence": 2,
    "SigningPubKey": "03AB40A0490F9B7ED8DF29D246BF2D6269820A0EE7742ACDD457BEA7C7D0931EDB",
    "TransactionType": "Payment",
    "TxnSignature": "3045022100D184EB4AE5956FF600E7536EE459345C7BBCF097A84CC61A93B9AF7197EDB98702201CEA8009B7BEEBAA2AACC0359B41C427C1C5B550A4CA4B80CF2174AF2D6D5DCE",
    "hash": "E08D6E9754025BA2534A78707605E0601F03ACE063687A0CA1BDDACFCD1698C7",
    "date": 800000000,
    "ledger_index": 56865245,
    "validated": true
  })");
}

transaction map_ok(const json& j, const xrpl_options& options = {}) {
  auto r = parse_xrpl(j, options, now);
  if (auto* e = std::get_if<xrpl_error>(&r)) {
    FAIL("unexpected error on " << e->field << ": " << e->message);
  }
  return std::get<transaction>(r);
}

xrpl_error map_err(const json& j, const xrpl_options& options = {}) {
  auto r = parse_xrpl(j, options, now);
  REQUIRE(std::holds_alternative<xrpl_error>(r));
  return std::get<xrpl_error>(r);
}

} // namespace

TEST_CASE("an XRP payment maps drops, fee, accounts, hash and the ripple-epoch date") {
  auto tx = map_ok(payment());
  CHECK(tx.tx_id == "E08D6E9754025BA2534A78707605E0601F03ACE063687A0CA1BDDACFCD1698C7");
  CHECK(tx.chain == "XRPL");
  CHECK(tx.from_addr == "rf1BiGeXwwQoi8Z2ueFYTEXSwuJYfV2Jpn");
  CHECK(tx.to_addr == "ra5nK24KXen9AHvsdFTKHSANinZseWnPcX");
  CHECK(tx.amount.to_string() == "1");
  CHECK(tx.symbol == "XRP");
  CHECK(tx.fee.to_string() == "0.000012");
  CHECK(tx.direction == "out");
  CHECK_FALSE(tx.is_internal);
  CHECK(tx.memo.empty());
  // 800000000 s after 2000-01-01T00:00:00Z
  CHECK(tx.time.time_since_epoch() == std::chrono::seconds(800000000 + 946684800));
  CHECK(http::api::format_timestamp(tx.time) == "2025-05-08T06:13:20Z");
}

TEST_CASE("drops convert exactly with six decimal places") {
  auto j = payment();
  j["Amount"] = "1";
  CHECK(map_ok(j).amount.to_string() == "0.000001");
  j["Amount"] = "100000000000000000"; // the whole XRP supply
  CHECK(map_ok(j).amount.to_string() == "100000000000");
  j["Amount"] = "123456789";
  CHECK(map_ok(j).amount.to_string() == "123.456789");
  j["Amount"] = 2500000; // tolerated as a JSON integer
  CHECK(map_ok(j).amount.to_string() == "2.5");
  for (const char* bad : {"", "-5", "1.5", "1e6", "12a", "99999999999999999999"}) {
    INFO(bad);
    j["Amount"] = bad;
    auto e = map_err(j);
    CHECK(e.field == "Amount");
    CHECK(e.what == xrpl_error::kind::invalid);
  }
  j["Amount"] = -5;
  CHECK(map_err(j).field == "Amount");
}

TEST_CASE("an issued-currency amount maps value and currency") {
  auto j = payment();
  j["Amount"] = {
    {"currency", "USD"}, {"issuer", "rvYAfWj5gh67oV6fW32ZzP3Aw4Eubs59B"}, {"value", "1.5e-7"}};
  auto tx = map_ok(j);
  CHECK(tx.amount.to_string() == "0.00000015");
  CHECK(tx.symbol == "USD");
  j["Amount"]["value"] = "1234.5678";
  CHECK(map_ok(j).amount.to_string() == "1234.5678");
  j["Amount"]["value"] = "9999999999999999e80"; // valid on the ledger, beyond our limits
  CHECK(map_err(j).field == "Amount");
  j["Amount"]["value"] = 5; // value must be a string
  CHECK(map_err(j).field == "Amount");
  j["Amount"] = {{"currency", "USD"}};
  CHECK(map_err(j).field == "Amount");
}

TEST_CASE("40-hex currency codes decode to their text when printable") {
  using http::api::xrpl_currency_symbol;
  CHECK(*xrpl_currency_symbol("USD") == "USD");
  CHECK(*xrpl_currency_symbol("534F4C4F00000000000000000000000000000000") == "SOLO");
  CHECK(*xrpl_currency_symbol("0000000000000000000000005553440000000000") == "USD");
  CHECK(*xrpl_currency_symbol("03ac0a5d6bb8c2a6d43e7bc1c5ae8ab84a06fd2c")
        == "03AC0A5D6BB8C2A6D43E7BC1C5AE8AB84A06FD2C");
  CHECK(*xrpl_currency_symbol("0000000000000000000000000000000000000000")
        == "0000000000000000000000000000000000000000");
  CHECK_FALSE(xrpl_currency_symbol("US"));
  CHECK_FALSE(xrpl_currency_symbol("USDT"));
  CHECK_FALSE(xrpl_currency_symbol("534F4C4F0000000000000000000000000000000G"));
  auto j = payment();
  j["Amount"] = {{"currency", "534F4C4F00000000000000000000000000000000"},
                 {"issuer", "rHZwvHEs56GCmHupwjA4RY7oPA3EoAJWuN"},
                 {"value", "10"}};
  CHECK(map_ok(j).symbol == "SOLO");
  j["Amount"]["currency"] = "TOOLONG";
  auto e = map_err(j);
  CHECK(e.field == "Amount");
  CHECK(e.message.find("currency") != std::string::npos);
}

TEST_CASE("memos decode from hex and join with newlines") {
  auto j = payment();
  j["Memos"] = json::parse(R"([
    {"Memo": {"MemoType": "746578742F706C61696E", "MemoData": "72656E7420666F72204D6179"}},
    {"Memo": {"MemoFormat": "746578742F706C61696E"}},
    {"Memo": {"MemoData": "7468616e6b73"}}])");
  CHECK(map_ok(j).memo == "rent for May\nthanks");
  j["Memos"] = json::parse(R"([{"Memo": {"MemoData": "636166C3A9"}}])");
  CHECK(map_ok(j).memo == "caf\xc3\xa9");
}

TEST_CASE("bad memo hex or non-UTF-8 memo text is an error naming Memos") {
  auto j = payment();
  for (const char* data : {"7", "ZZ", "72656E7 4"}) {
    INFO(data);
    j["Memos"] = json::array({{{"Memo", {{"MemoData", data}}}}});
    auto e = map_err(j);
    CHECK(e.field == "Memos");
    CHECK(e.message.find("hex") != std::string::npos);
  }
  j["Memos"] = json::array({{{"Memo", {{"MemoData", "FF00"}}}}});
  auto e = map_err(j);
  CHECK(e.field == "Memos");
  CHECK(e.message.find("UTF-8") != std::string::npos);
  j["Memos"] = "72656E74";
  CHECK(map_err(j).field == "Memos");
  j["Memos"] = json::array({5});
  CHECK(map_err(j).field == "Memos");
  xrpl_options small;
  small.limits.max_memo_bytes = 3;
  j["Memos"] = json::array({{{"Memo", {{"MemoData", "72656E74"}}}}});
  CHECK(map_err(j, small).field == "Memos");
}

TEST_CASE("an unsupported transaction type is its own error kind naming the type") {
  auto j = payment();
  j["TransactionType"] = "OfferCreate";
  j.erase("Amount");
  auto e = map_err(j);
  CHECK(e.what == xrpl_error::kind::unsupported_type);
  CHECK(e.field == "TransactionType");
  CHECK(e.message.find("OfferCreate") != std::string::npos);
  CHECK(e.message.find("Payment") != std::string::npos);
  j["TransactionType"] = 0;
  CHECK(map_err(j).what == xrpl_error::kind::invalid);
}

TEST_CASE("missing required fields are errors naming them") {
  for (const char* field : {"TransactionType", "Account", "Amount", "hash"}) {
    INFO(field);
    auto j = payment();
    j.erase(field);
    auto e = map_err(j);
    CHECK(e.what == xrpl_error::kind::invalid);
    CHECK(e.field == field);
    CHECK(e.message.find(field) != std::string::npos);
  }
  auto j = payment();
  j.erase("Account");
  j.erase("hash");
  auto e = map_err(j);
  CHECK(e.field == "Account");
  CHECK(e.message == "missing required fields: Account, hash");
  CHECK(map_err(json::array()).field.empty());
}

TEST_CASE("optional fields default and wrong types are refused") {
  auto j = payment();
  j.erase("Fee");
  j.erase("date");
  j.erase("Destination");
  auto tx = map_ok(j);
  CHECK(tx.fee.sign() == 0);
  CHECK(tx.time == now);
  CHECK(tx.to_addr.empty());
  j = payment();
  j["date"] = -1;
  CHECK(map_err(j).field == "date");
  j["date"] = "800000000";
  CHECK(map_err(j).field == "date");
  j = payment();
  j["Fee"] = "1.5";
  CHECK(map_err(j).field == "Fee");
  j = payment();
  j["Account"] = 5;
  CHECK(map_err(j).field == "Account");
  j = payment();
  j["Destination"] = std::string("r\xff");
  CHECK(map_err(j).field == "Destination");
  j = payment();
  j["hash"] = "has space";
  CHECK(map_err(j).field == "hash");
}

TEST_CASE("API v2 DeliverMax stands in for Amount") {
  auto j = payment();
  j.erase("Amount");
  j["DeliverMax"] = "2000000";
  CHECK(map_ok(j).amount.to_string() == "2");
}

TEST_CASE("a transaction wrapped in tx is unwrapped") {
  json wrapped = {{"tx", payment()}, {"meta", json::object()}, {"validated", true}};
  CHECK(map_ok(wrapped).tx_id
        == "E08D6E9754025BA2534A78707605E0601F03ACE063687A0CA1BDDACFCD1698C7");
  json result = {{"result", payment()}};
  CHECK(map_err(result).field == "TransactionType");
}

TEST_CASE("the owner option decides direction and internal transfers") {
  xrpl_options o;
  o.owner = "ra5nK24KXen9AHvsdFTKHSANinZseWnPcX";
  auto tx = map_ok(payment(), o);
  CHECK(tx.direction == "in");
  CHECK_FALSE(tx.is_internal);
  o.owner = "rf1BiGeXwwQoi8Z2ueFYTEXSwuJYfV2Jpn";
  tx = map_ok(payment(), o);
  CHECK(tx.direction == "out");
  CHECK_FALSE(tx.is_internal);
  auto self = payment();
  self["Destination"] = self["Account"];
  tx = map_ok(self, o);
  CHECK(tx.direction == "out");
  CHECK(tx.is_internal);
  o.owner = "rSomeoneElse";
  tx = map_ok(payment(), o);
  CHECK(tx.direction == "out");
  CHECK_FALSE(tx.is_internal);
}
