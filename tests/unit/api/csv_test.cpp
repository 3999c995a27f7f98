#include <catch2/catch.hpp>

#include <string>

#include "http/api/csv.hpp"
#include "http/api/transaction_json.hpp"

using namespace klerno;
using actors::model::decimal;
using actors::model::transaction;

namespace {

std::string field(std::string_view s) {
  std::string out;
  http::api::append_csv_field(out, s);
  return out;
}

} // namespace

TEST_CASE("the CSV header lists the columns in order") {
  std::string out;
  http::api::append_csv_header(out);
  CHECK(out
        == "tx_id,timestamp,chain,from_addr,to_addr,amount,symbol,direction,fee,memo,notes,tags,"
           "is_internal,category,risk_score,risk_bucket,risk_flags\r\n");
}

TEST_CASE("CSV fields are quoted per RFC 4180 only when needed") {
  CHECK(field("plain") == "plain");
  CHECK(field("") == "");
  CHECK(field("a,b") == "\"a,b\"");
  CHECK(field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(field("line1\nline2") == "\"line1\nline2\"");
  CHECK(field("cr\rhere") == "\"cr\rhere\"");
  CHECK(field("caf\xc3\xa9") == "caf\xc3\xa9");
}

TEST_CASE("CSV fields that look like formulas get a leading quote") {
  CHECK(field("=1+2") == "'=1+2");
  CHECK(field("+cmd") == "'+cmd");
  CHECK(field("-2+3") == "'-2+3");
  CHECK(field("@SUM(A1)") == "'@SUM(A1)");
  CHECK(field("\tx") == "'\tx");
  CHECK(field("=HYPERLINK(\"http://x\",\"y\")") == "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
  // Numbers stay numbers.
  CHECK(field("-12.5") == "-12.5");
  CHECK(field("+7") == "+7");
  CHECK(field("-") == "'-");
  CHECK(field("a=b") == "a=b");
}

TEST_CASE("a CSV row renders every column") {
  transaction tx;
  tx.tx_id = "t1";
  tx.time = *http::api::parse_timestamp("2026-11-28T20:17:22.5Z");
  tx.from_addr = "rA";
  tx.to_addr = "rB";
  tx.amount = *decimal::parse("-1500.25");
  tx.direction = "out";
  tx.fee = *decimal::parse("0.000012");
  tx.memo = "pay, \"now\"";
  tx.notes = "=cmd|' /C calc'!A0";
  tx.tags = {"vip", "exchange"};
  tx.category = "expense";
  tx.risk_score = 45;
  tx.risk_bucket = "medium";
  tx.risk_flags = {"outgoing", "medium_outgoing", "large_outgoing"};
  std::string out;
  http::api::append_csv_row(out, tx);
  CHECK(out
        == "t1,2026-11-28T20:17:22.500000Z,XRPL,rA,rB,-1500.25,XRP,out,0.000012,"
           "\"pay, \"\"now\"\"\",'=cmd|' /C calc'!A0,vip|exchange,false,expense,0.45,medium,"
           "outgoing|medium_outgoing|large_outgoing\r\n");
}

TEST_CASE("an empty CSV row keeps all seventeen columns") {
  transaction tx;
  std::string out;
  http::api::append_csv_row(out, tx);
  CHECK(out == ",1970-01-01T00:00:00Z,XRPL,,,0,XRP,,0,,,,false,,0.00,,\r\n");
}
