// The AML API routes answer as documented (http/api/routes.hpp, http/openapi.json, the rule
// table of actors/scoring/rules.hpp): analysis, the XRPL mapping, storage and reads, on a node
// backed by the shared PostgreSQL servers; every route of /openapi.json is served; and without
// a database the storage routes answer 503 while the analysis routes keep working.

#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/api/api_support.hpp"
#include "tests/support/http.hpp"
#include "tests/support/tcp_client.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using nlohmann::json;

namespace {

/// The fields of a TaggedTransaction, in the documented order (transaction_json.hpp).
const std::vector<std::string> transaction_fields = {
  "tx_id",       "timestamp", "chain",      "from_addr",  "to_addr",    "amount",
  "symbol",      "direction", "fee",        "memo",       "notes",      "tags",
  "is_internal", "category",  "risk_score", "risk_flags", "risk_bucket"};

/// Checks that `body` (raw text) is a transaction object with exactly the documented fields in
/// the documented order.
void require_transaction_shape(const std::string& body) {
  INFO("body: " << body);
  auto j = json::parse(body, nullptr, false);
  REQUIRE(j.is_object());
  REQUIRE(j.size() == transaction_fields.size());
  std::size_t last = 0;
  for (const auto& f : transaction_fields) {
    INFO("field " << f);
    REQUIRE(j.contains(f));
    auto at = body.find("\"" + f + "\":");
    REQUIRE(at != std::string::npos);
    CHECK(at >= last);
    last = at;
  }
}

/// The outgoing 150 with fee 2 of the rule table's example: 0.40, medium.
json medium_tx(const std::string& from, const std::string& to) {
  auto tx = make_tx("api-med", from, to, 150);
  tx["fee"] = 2;
  return tx;
}

const json medium_flags = {"outgoing", "medium_outgoing", "fee_present", "high_fee_ratio"};

/// An incoming 50: 0.05, low.
json incoming_tx(const std::string& from, const std::string& to) {
  auto tx = make_tx("api-in", from, to, 50);
  tx["direction"] = "in";
  return tx;
}

/// Every outgoing step, a suspicious memo and a mixer tag: 1.00 (clamped), high.
json high_tx(const std::string& from, const std::string& to) {
  auto tx = make_tx("api-high", from, to, "20000");
  tx["memo"] = "scam payout";
  tx["tags"] = {"mixer"};
  return tx;
}

const json high_flags = {"outgoing",        "medium_outgoing",
                         "large_outgoing",  "very_large_outgoing",
                         "suspicious_memo", "sanctioned_or_mixer"};

/// Splits `text` into CRLF-terminated lines (the CSV of the export has no multi-line fields here).
std::vector<std::string> crlf_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto eol = text.find("\r\n", pos);
    REQUIRE(eol != std::string::npos);
    out.push_back(text.substr(pos, eol - pos));
    pos = eol + 2;
  }
  return out;
}

const std::string csv_header = "tx_id,timestamp,chain,from_addr,to_addr,amount,symbol,direction,"
                               "fee,memo,notes,tags,is_internal,category,risk_score,risk_bucket,"
                               "risk_flags";

std::vector<std::string> ids_of(const json& items) {
  std::vector<std::string> ids;
  for (const auto& it : items) {
    ids.push_back(it.at("tx_id").get<std::string>());
  }
  return ids;
}

} // namespace

TEST_CASE("analyzing a transaction applies the rule table and stores nothing", "[api]") {
  auto pg = shared_pg();
  test_node node{db_settings(pg.primary_url)};
  auto tx = medium_tx(unique_id("rA"), unique_id("rB"));
  tx["timestamp"] = "2026-01-15T10:00:00Z";

  auto res = post(node, "/analyze/tx", tx);
  auto out = require_status_json(res, 200);
  CHECK(res.header("Content-Type") == "application/json");
  require_transaction_shape(res.body);
  CHECK(out["tx_id"] == tx["tx_id"]);
  CHECK(out["timestamp"] == "2026-01-15T10:00:00Z");
  CHECK(out["chain"] == "XRPL");
  CHECK(out["symbol"] == "XRP");
  CHECK(out["amount"] == 150);
  CHECK(out["fee"] == 2);
  CHECK(out["direction"] == "out");
  CHECK(out["category"] == "expense");
  CHECK(out["risk_score"] == 0.40);
  CHECK(out["risk_bucket"] == "medium");
  CHECK(out["risk_flags"] == medium_flags);
  // risk_score is rendered with two decimals.
  CHECK(res.body.find("\"risk_score\":0.40") != std::string::npos);

  // The high-risk example is clamped to 1.00.
  auto high = require_status_json(post(node, "/analyze/tx", high_tx("rX", "rY")), 200);
  CHECK(high["risk_score"] == 1.0);
  CHECK(high["risk_bucket"] == "high");
  CHECK(high["risk_flags"] == high_flags);

  // Nothing was stored.
  auto missing = get(node, "/transactions/" + tx["tx_id"].get<std::string>());
  require_error_envelope(missing, 404, "not_found");
}

TEST_CASE("a batch analysis scores JSON arrays and NDJSON alike and summarizes them", "[api]") {
  auto pg = shared_pg();
  test_node node{db_settings(pg.primary_url)};
  auto a = medium_tx("rA", "rB");
  auto b = incoming_tx("rC", "rA");
  auto c = high_tx("rA", "rD");
  json bad = {{"tx_id", unique_id("api-bad")}, {"amount", "NaN"}};

  auto check_summary = [](const json& s) {
    CHECK(s["count"] == 4);
    CHECK(s["scored"] == 3);
    CHECK(s["failed"] == 1);
    CHECK(s["alerts"] == 1);
    CHECK(s["avg_risk"] == 0.48); // (0.40 + 0.05 + 1.00) / 3, rounded to hundredths
    CHECK(s["buckets"] == json({{"low", 1}, {"medium", 1}, {"high", 1}}));
    CHECK(s["categories"] == json({{"expense", 2}, {"unknown", 1}}));
  };
  auto check_scored = [](const json& items, std::size_t i, const json& in, double score) {
    INFO("item " << i);
    CHECK(items[i]["index"] == i);
    CHECK(items[i]["status"] == 200);
    CHECK(items[i]["transaction"]["tx_id"] == in["tx_id"]);
    CHECK(items[i]["transaction"]["risk_score"] == score);
  };

  SECTION("as a JSON array") {
    auto out = require_status_json(post(node, "/analyze/batch", json::array({a, b, c, bad})), 200);
    INFO(out.dump());
    check_summary(out["summary"]);
    auto& items = out["items"];
    REQUIRE(items.size() == 4);
    check_scored(items, 0, a, 0.40);
    check_scored(items, 1, b, 0.05);
    check_scored(items, 2, c, 1.0);
    CHECK(items[1]["transaction"]["risk_flags"] == json({"incoming"}));
    CHECK(items[3]["index"] == 3);
    CHECK(items[3]["status"] == 422);
    CHECK(items[3]["error"]["code"] == "unprocessable_entity");
    CHECK(items[3]["error"]["field"] == "amount");
  }

  SECTION("as NDJSON, where an unparsable line fails alone") {
    std::string body = a.dump() + "\n" + b.dump() + "\r\n\n" + c.dump() + "\n{\"tx_id\": oops\n";
    auto res = api_request(node, "POST", "/analyze/batch", body, "application/x-ndjson");
    auto out = require_status_json(res, 200);
    INFO(out.dump());
    check_summary(out["summary"]);
    auto& items = out["items"];
    REQUIRE(items.size() == 4);
    check_scored(items, 0, a, 0.40);
    check_scored(items, 1, b, 0.05);
    check_scored(items, 2, c, 1.0);
    CHECK(items[3]["index"] == 3);
    CHECK(items[3]["status"] == 400);
    CHECK(items[3]["error"]["code"] == "bad_request");
  }
}

TEST_CASE("the XRPL integration maps a Payment and refuses other transaction types", "[api]") {
  auto pg = shared_pg();
  test_node node{db_settings(pg.primary_url)};
  auto hash = unique_id("XRPLHASH");
  json payment = {
    {"TransactionType", "Payment"},
    {"Account", "rSenderAccount111"},
    {"Destination", "rDestinationAcct22"},
    {"Amount", "1500000"}, // drops: 1.5 XRP
    {"Fee", "12"},
    {"hash", hash},
    {"date", 800000000},
    {"Sequence", 7},
    {"Memos", {{{"Memo", {{"MemoData", "6D6F6E74686C792073616C617279"}}}}}}, // "monthly salary"
  };

  auto res = post(node, "/integrations/xrpl/parse", payment);
  auto out = require_status_json(res, 200);
  require_transaction_shape(res.body);
  CHECK(out["tx_id"] == hash);
  CHECK(out["chain"] == "XRPL");
  CHECK(out["from_addr"] == "rSenderAccount111");
  CHECK(out["to_addr"] == "rDestinationAcct22");
  CHECK(out["amount"] == 1.5);
  CHECK(out["symbol"] == "XRP");
  CHECK(out["fee"] == 0.000012);
  CHECK(out["memo"] == "monthly salary");
  CHECK(out["timestamp"] == "2025-05-08T06:13:20Z"); // ripple epoch + 800000000 s
  CHECK(out["direction"] == "out");
  CHECK(out["category"] == "income");
  CHECK(out["risk_score"] == 0.25);
  CHECK(out["risk_flags"] == json({"outgoing", "fee_present"}));
  CHECK(out["risk_bucket"] == "low");

  // Wrapped as account_tx returns it, seen from the destination's side.
  auto in = require_status_json(
    post(node, "/integrations/xrpl/parse?owner=rDestinationAcct22", {{"tx", payment}}), 200);
  CHECK(in["tx_id"] == hash);
  CHECK(in["direction"] == "in");
  CHECK(in["risk_flags"] == json({"incoming", "fee_present"}));
  CHECK(in["risk_score"] == 0.10);

  json offer = {{"TransactionType", "OfferCreate"},
                {"Account", "rSenderAccount111"},
                {"TakerGets", "1000000"},
                {"TakerPays", {{"currency", "USD"}, {"issuer", "rIssuer"}, {"value", "1"}}},
                {"hash", unique_id("XRPLOFFER")}};
  auto refused = post(node, "/integrations/xrpl/parse", offer);
  auto env = require_error_envelope(refused, 422, "unsupported_transaction_type");
  CHECK(env["error"]["details"]["field"] == "TransactionType");
  CHECK(env["error"]["details"]["supported"] == "Payment");

  // Nothing was stored by parsing.
  require_error_envelope(get(node, "/transactions/" + hash), 404, "not_found");
}

TEST_CASE("a stored transaction is created with its location and read back by id", "[api]") {
  auto pg = shared_pg();
  test_node node{db_settings(pg.primary_url)};
  // '/' and ':' are valid in a tx_id: the Location must encode them so that it can be followed.
  auto tx = medium_tx(unique_id("rA"), unique_id("rB"));
  tx["tx_id"] = unique_id("api-loc") + "/leg:1";
  tx["timestamp"] = "2026-02-03T04:05:06.789Z";
  auto analyzed = require_status_json(post(node, "/analyze/tx", tx), 200);

  auto res = post(node, "/transactions", tx);
  auto stored = require_status_json(res, 201);
  require_transaction_shape(res.body);
  CHECK(stored == analyzed); // a fresh wallet has no stateful signals
  auto location = res.header("Location");
  INFO("Location: " << location);
  CHECK(location.rfind("/transactions/", 0) == 0);
  CHECK(location.find("/leg") == std::string::npos); // the '/' of the id is percent-encoded

  auto by_location = get(node, location);
  CHECK(require_status_json(by_location, 200) == stored);

  auto unknown_id = unique_id("api-unknown");
  auto missing = get(node, "/transactions/" + unknown_id);
  auto env = require_error_envelope(missing, 404, "not_found");
  CHECK(env["error"]["details"]["tx_id"] == unknown_id);
}

TEST_CASE("stored transactions are listed, alerted on, summarized and exported as documented",
          "[api]") {
  // A database of its own: the alerts, the summary and the export cover the whole database, so
  // their numbers are exact. Reads go to the replica: poll until it has caught up.
  scratch_database db;
  test_node node{db_settings(db.primary_url(), db.replica_url())};
  // The node migrated the fresh database on the primary; wait until the replica has replayed
  // the schema (reads during that window are the subject of replica_test.cpp).
  if (!db.replica_url().empty()) {
    bool replayed =
      poll_until([&] { return psql_succeeds(db.replica_url(), "SELECT count(*) FROM txs"); }, 30s);
    REQUIRE(replayed);
  }
  const auto wallet = unique_id("rWallet");
  const auto now = std::chrono::system_clock::now();
  auto at = [&](int minutes_ago) {
    return iso_time(now - std::chrono::minutes(minutes_ago));
  };

  auto t1 = medium_tx(wallet, "rX"); // 0.40 medium, expense
  t1["timestamp"] = at(50);
  auto t2 = incoming_tx("rY", wallet); // 0.05 low, unknown (received by the wallet)
  t2["timestamp"] = at(40);
  auto t3 = high_tx(wallet, "rZ"); // 1.00 high, expense
  t3["timestamp"] = at(30);
  auto t4 = make_tx("api-fee", wallet, "rX", 5); // 0.20 low, fee
  t4["memo"] = "network fee";
  t4["timestamp"] = at(20);
  auto t5 = make_tx("api-trade", wallet, "rX", 2000); // 0.45 medium, trade
  t5["memo"] = "trade settlement";
  t5["timestamp"] = at(10);
  const std::vector<json> all = {t1, t2, t3, t4, t5};
  const std::vector<double> scores = {0.40, 0.05, 1.00, 0.20, 0.45};
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto out = require_status_json(post(node, "/transactions", all[i]), 201);
    INFO("transaction " << i << ": " << out.dump());
    CHECK(out["risk_score"] == scores[i]);
  }
  auto id = [](const json& tx) {
    return tx["tx_id"].get<std::string>();
  };

  SECTION("a wallet's list holds what it sent and received, newest first, in keyset pages") {
    json page;
    bool complete = poll_until(
      [&] {
        page = require_status_json(get(node, "/transactions?wallet=" + wallet), 200);
        return page["items"].size() == 5;
      },
      30s);
    INFO(page.dump());
    REQUIRE(complete);
    CHECK(ids_of(page["items"])
          == std::vector<std::string>{id(t5), id(t4), id(t3), id(t2), id(t1)});
    CHECK(page["next_cursor"].is_null());

    auto first = require_status_json(get(node, "/transactions?wallet=" + wallet + "&limit=3"), 200);
    REQUIRE(first["items"].size() == 3);
    REQUIRE(first["next_cursor"].is_string());
    auto second =
      require_status_json(get(node, "/transactions?wallet=" + wallet + "&limit=3&cursor="
                                      + first["next_cursor"].get<std::string>()),
                          200);
    CHECK(ids_of(second["items"]) == std::vector<std::string>{id(t2), id(t1)});
    CHECK(second["next_cursor"].is_null());

    auto no_wallet = require_error_envelope(get(node, "/transactions"), 400, "bad_request");
    CHECK(no_wallet["error"]["details"]["parameter"] == "wallet");
    auto big = require_error_envelope(get(node, "/transactions?wallet=" + wallet + "&limit=501"),
                                      400, "bad_request");
    CHECK(big["error"]["details"]["parameter"] == "limit");
  }

  SECTION("alerts hold the stored transactions at or above min_score, newest first") {
    auto alerts = [&](const std::string& query, std::size_t expected) {
      json out;
      bool complete = poll_until(
        [&] {
          out = require_status_json(get(node, "/alerts" + query), 200);
          return out["items"].size() >= expected;
        },
        30s);
      INFO(query << ": " << out.dump());
      CHECK(complete);
      CHECK(out["count"] == out["items"].size());
      for (const auto& it : out["items"]) {
        CHECK(it["risk_score"].get<double>() >= out["min_score"].get<double>());
      }
      return out;
    };
    auto deflt = alerts("", 1);
    CHECK(deflt["min_score"] == 0.75); // RISK_THRESHOLD
    CHECK(ids_of(deflt["items"]) == std::vector<std::string>{id(t3)});
    auto low = alerts("?min_score=0.4", 3);
    CHECK(low["min_score"] == 0.40);
    CHECK(ids_of(low["items"]) == std::vector<std::string>{id(t5), id(t3), id(t1)});
    auto mid = alerts("?min_score=0.45", 2);
    CHECK(ids_of(mid["items"]) == std::vector<std::string>{id(t5), id(t3)});
    auto limited = alerts("?min_score=0&limit=2", 2);
    CHECK(ids_of(limited["items"]) == std::vector<std::string>{id(t5), id(t4)});
    auto bad = require_error_envelope(get(node, "/alerts?min_score=1.5"), 400, "bad_request");
    CHECK(bad["error"]["details"]["parameter"] == "min_score");
  }

  SECTION("the summary counts exactly what was stored") {
    const auto today_before = iso_date(std::chrono::system_clock::now());
    json s;
    bool complete = poll_until(
      [&] {
        s = require_status_json(get(node, "/analytics/summary?days=7"), 200);
        return s["total"] == 5;
      },
      30s);
    INFO(s.dump());
    REQUIRE(complete);
    CHECK(s["days"] == 7);
    CHECK(s["threshold"] == 0.75);
    CHECK(s["alerts"] == 1);
    CHECK(s["avg_risk"] == 0.42); // (0.40 + 0.05 + 1.00 + 0.20 + 0.45) / 5
    CHECK(s["categories"] == json({{"expense", 2}, {"unknown", 1}, {"fee", 1}, {"trade", 1}}));
    REQUIRE(s["series_by_day"].size() == 7);
    REQUIRE(s["series_by_day_lmh"].size() == 7);
    std::map<std::string, int> per_day;
    for (const auto& tx : all) {
      ++per_day[tx["timestamp"].get<std::string>().substr(0, 10)];
    }
    int total = 0;
    int low = 0;
    int medium = 0;
    int high = 0;
    for (std::size_t i = 0; i < 7; ++i) {
      const auto& d = s["series_by_day"][i];
      const auto& lmh = s["series_by_day_lmh"][i];
      CHECK(lmh["date"] == d["date"]);
      auto date = d["date"].get<std::string>();
      CHECK(d["count"] == per_day[date]);
      total += d["count"].get<int>();
      low += lmh["low"].get<int>();
      medium += lmh["medium"].get<int>();
      high += lmh["high"].get<int>();
      if (i > 0) {
        CHECK(date > s["series_by_day"][i - 1]["date"].get<std::string>());
      }
    }
    CHECK(total == 5);
    CHECK(low == 2);
    CHECK(medium == 2);
    CHECK(high == 1);
    // Today (UTC) is the last day of the series (either side of a midnight during the test).
    auto last_day = s["series_by_day"][6]["date"].get<std::string>();
    CHECK((last_day == today_before || last_day == iso_date(std::chrono::system_clock::now())));

    auto lower = require_status_json(get(node, "/analytics/summary?days=7&threshold=0.4"), 200);
    CHECK(lower["threshold"] == 0.40);
    CHECK(lower["total"] == 5);
    CHECK(lower["alerts"] == 3);
    require_error_envelope(get(node, "/analytics/summary?days=0"), 400, "bad_request");
    require_error_envelope(get(node, "/analytics/summary?days=367"), 400, "bad_request");
  }

  SECTION("the CSV export streams the wallet's rows in time order") {
    http_response res;
    std::vector<std::string> lines;
    bool complete = poll_until(
      [&] {
        res = api_request(node, "GET", "/export/csv?wallet=" + wallet);
        REQUIRE(res.status == 200);
        lines = crlf_lines(res.body);
        return lines.size() == 6;
      },
      30s);
    INFO(res.body);
    REQUIRE(complete);
    CHECK(res.header("Content-Type").rfind("text/csv", 0) == 0);
    CHECK(res.header("Transfer-Encoding") == "chunked");
    CHECK(res.header("Content-Disposition").find("attachment") != std::string::npos);
    CHECK(lines[0] == csv_header);
    CHECK(lines[1]
          == id(t1) + "," + t1["timestamp"].get<std::string>() + ",XRPL," + wallet
               + ",rX,150,XRP,out,2,,,,false,expense,0.40,medium,"
                 "outgoing|medium_outgoing|fee_present|high_fee_ratio");
    CHECK(lines[2].rfind(id(t2) + ",", 0) == 0);
    CHECK(lines[3]
          == id(t3) + "," + t3["timestamp"].get<std::string>() + ",XRPL," + wallet
               + ",rZ,20000,XRP,out,0,scam payout,,mixer,false,expense,1.00,high,"
                 "outgoing|medium_outgoing|large_outgoing|very_large_outgoing|suspicious_memo|"
                 "sanctioned_or_mixer");
    CHECK(lines[4].rfind(id(t4) + ",", 0) == 0);
    CHECK(lines[5].rfind(id(t5) + ",", 0) == 0);

    // from is inclusive, to exclusive.
    auto window =
      api_request(node, "GET",
                  "/export/csv?wallet=" + wallet + "&from=" + t2["timestamp"].get<std::string>()
                    + "&to=" + t4["timestamp"].get<std::string>());
    REQUIRE(window.status == 200);
    auto wl = crlf_lines(window.body);
    REQUIRE(wl.size() == 3);
    CHECK(wl[1].rfind(id(t2) + ",", 0) == 0);
    CHECK(wl[2].rfind(id(t3) + ",", 0) == 0);

    auto bad = require_error_envelope(get(node, "/export/csv?wallet=" + wallet + "&from=yesterday"),
                                      400, "bad_request");
    CHECK(bad["error"]["details"]["parameter"] == "from");
  }
}

TEST_CASE("every route of the OpenAPI document is served", "[api]") {
  auto pg = shared_pg();
  test_node node{db_settings(pg.primary_url, {}, {{"CHAOS_ENDPOINTS", "true"}})};
  auto doc_res = node.get("/openapi.json");
  auto doc = require_status_json(doc_res, 200);
  REQUIRE(doc["openapi"].get<std::string>().rfind("3.", 0) == 0);
  REQUIRE(doc["paths"].is_object());
  CHECK(doc["info"]["version"].get<std::string>().find('@') == std::string::npos);

  const auto wallet = unique_id("rDoc");
  auto tx = make_tx("api-doc", wallet, "rDocDest", 10);
  json payment = {{"TransactionType", "Payment"},
                  {"Account", wallet},
                  {"Destination", "rD"},
                  {"Amount", "1000"},
                  {"hash", unique_id("H")}};
  // Minimal valid bodies of the POST routes we know; a new route gets "{}" (still not 404/405).
  std::map<std::string, std::string> bodies = {
    {"/analyze/tx", tx.dump()},
    {"/analyze/batch", json::array({tx}).dump()},
    {"/integrations/xrpl/parse", payment.dump()},
    {"/transactions", make_tx("api-doc", wallet, "rDocDest", 11).dump()},
    {"/transactions/batch", json::array({make_tx("api-doc", wallet, "rDocDest", 12)}).dump()},
  };
  std::map<std::string, std::string> path_values = {
    {"tx_id", unique_id("api-doc-unknown")}, // unknown: a 404 envelope, not "no route"
    {"name", "nosuchactr"},                  // no such actor: the chaos route's 404
  };
  std::map<std::string, std::string> query_values = {{"wallet", wallet}};

  std::size_t operations = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") {
        continue;
      }
      ++operations;
      std::string target = path;
      std::string query;
      for (const auto& p : op.value("parameters", json::array())) {
        auto name = p.value("name", "");
        if (p.value("in", "") == "path") {
          auto v = path_values.count(name) ? path_values[name] : std::string{"x"};
          auto at = target.find("{" + name + "}");
          REQUIRE(at != std::string::npos);
          target.replace(at, name.size() + 2, v);
        } else if (p.value("in", "") == "query" && p.value("required", false)) {
          query += (query.empty() ? "?" : "&") + name + "="
                   + (query_values.count(name) ? query_values[name] : std::string{"x"});
        }
      }
      target += query;
      std::string verb = method;
      for (auto& ch : verb) {
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      }
      std::string body;
      if (verb == "POST" || verb == "PUT" || verb == "PATCH") {
        body = bodies.count(path) ? bodies[path] : std::string{"{}"};
      }
      auto res = api_request(node, verb, target, body);
      INFO(verb << " " << target << " -> " << res.status << " " << res.body.substr(0, 500));
      CHECK(res.status != 405);
      if (res.status == 404) {
        auto j = json::parse(res.body, nullptr, false);
        REQUIRE(j.is_object());
        auto message = j["error"].value("message", "");
        CHECK(message.rfind("no route", 0) != 0);
      }
      // The answer is one the document lists for this operation.
      CHECK(op["responses"].contains(std::to_string(res.status)));

      // An operation that requires the API key refuses a request without it.
      const auto& security = op.contains("security") ? op["security"] : doc["security"];
      if (!security.empty()) {
        tcp_client c{node.port()};
        header_list h;
        if (!body.empty()) {
          h.emplace_back("Content-Type", "application/json");
        }
        c.send(format_request(verb, target, h, body, true));
        require_error_envelope(c.read_response(), 401, "unauthorized");
      }
      // HEAD works on every GET route: the same status, no body.
      if (verb == "GET") {
        auto head = api_request(node, "HEAD", target);
        CHECK(head.status == res.status);
        CHECK(head.body.empty());
      }
    }
  }
  CHECK(operations >= 19);
}

TEST_CASE("without a database the storage routes answer 503 and the analysis routes still work",
          "[api]") {
  test_node node; // no DATABASE_URL
  CHECK(node.get("/readiness").status == 200);
  auto tx = make_tx("api-nodb", "rA", "rB", 150);
  std::vector<std::pair<std::string, std::string>> storage_routes = {
    {"POST", "/transactions"},
    {"POST", "/transactions/batch"},
    {"GET", "/transactions/" + tx["tx_id"].get<std::string>()},
    {"GET", "/transactions?wallet=rA"},
    {"GET", "/alerts"},
    {"GET", "/analytics/summary"},
    {"GET", "/export/csv?wallet=rA"},
  };
  for (const auto& [method, target] : storage_routes) {
    std::string body;
    if (target == "/transactions") {
      body = tx.dump();
    } else if (target == "/transactions/batch") {
      body = json::array({tx}).dump();
    }
    auto res = api_request(node, method, target, body);
    INFO(method << " " << target);
    auto env = require_error_envelope(res, 503, "service_unavailable");
    CHECK(env["error"]["details"]["dependency"] == "database");
  }

  auto analyzed = require_status_json(post(node, "/analyze/tx", tx), 200);
  CHECK(analyzed["risk_score"] == 0.30);
  auto batch = require_status_json(post(node, "/analyze/batch", json::array({tx})), 200);
  CHECK(batch["summary"]["scored"] == 1);
  json payment = {{"TransactionType", "Payment"},
                  {"Account", "rA"},
                  {"Amount", "1000000"},
                  {"hash", unique_id("H")}};
  CHECK(require_status_json(post(node, "/integrations/xrpl/parse", payment), 200)["amount"] == 1);
}
