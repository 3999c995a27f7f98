// Client input is validated strictly (http/api/transaction_json.hpp, http/api/body.hpp): a refused
// transaction gets a 400/422 envelope naming the field and is not stored; in a batch, each item
// answers on its own, in input order, and only the valid ones are stored.

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/api/api_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using nlohmann::json;

namespace {

/// Small limits, so the boundaries are cheap to reach.
node_process::env_map limits(const std::string& url) {
  return db_settings(
    url, {}, {{"MAX_MEMO_BYTES", "100"}, {"MAX_AMOUNT", "1000000"}, {"BATCH_MAX_ITEMS", "5"}});
}

/// A valid transaction with a fresh id.
json valid_tx(const std::string& wallet) {
  return make_tx("api-val", wallet, unique_id("rTo"), 10);
}

/// Checks that nothing is stored under `tx_id`.
void require_not_stored(const test_node& node, const std::string& tx_id) {
  INFO("tx_id " << tx_id);
  require_error_envelope(get(node, "/transactions/" + tx_id), 404, "not_found");
}

struct refusal {
  std::string name;  ///< what the case shows
  json body;         ///< the transaction (or any JSON value) sent
  std::string field; ///< the field the envelope must name
};

} // namespace

TEST_CASE("an invalid transaction is refused with an envelope naming the field and not stored",
          "[api]") {
  auto pg = shared_pg();
  test_node node{limits(pg.primary_url)};
  // A wallet per transaction: no stateful signal changes the scores checked here.
  auto with = [](const char* key, json value) {
    auto tx = valid_tx(unique_id("rVal"));
    tx[key] = std::move(value);
    return tx;
  };
  auto without = [](const char* key) {
    auto tx = valid_tx(unique_id("rVal"));
    tx.erase(key);
    return tx;
  };
  const std::vector<refusal> cases = {
    {"an unknown field", with("colour", "red"), "colour"},
    {"an amount of the wrong type", with("amount", true), "amount"},
    {"an amount that is an object", with("amount", {{"value", "1"}}), "amount"},
    {"tags of the wrong type", with("tags", "a,b"), "tags"},
    {"a tag of the wrong type", with("tags", {"ok", 7}), "tags"},
    {"is_internal of the wrong type", with("is_internal", "yes"), "is_internal"},
    {"a timestamp of the wrong type", with("timestamp", 1700000000), "timestamp"},
    {"an impossible date", with("timestamp", "2026-02-30T00:00:00Z"), "timestamp"},
    {"a missing amount", without("amount"), "amount"},
    {"a null amount", with("amount", nullptr), "amount"},
    {"NaN as a string", with("amount", "NaN"), "amount"},
    {"Infinity as a string", with("amount", "Infinity"), "amount"},
    {"-Infinity as a string", with("amount", "-Infinity"), "amount"},
    {"a fee of NaN", with("fee", "NaN"), "fee"},
    {"a negative fee", with("fee", -1), "fee"},
    {"an amount above MAX_AMOUNT", with("amount", 1000001), "amount"},
    {"an amount above MAX_AMOUNT as a string", with("amount", "1000000.000000000000000001"),
     "amount"},
    {"an amount below -MAX_AMOUNT", with("amount", "-1e7"), "amount"},
    {"an absurd amount", with("amount", "1e300"), "amount"},
    {"a fee above MAX_AMOUNT", with("fee", 2000000), "fee"},
    {"a memo above MAX_MEMO_BYTES", with("memo", std::string(101, 'm')), "memo"},
    {"a memo above MAX_MEMO_BYTES in bytes, not characters",
     with("memo",
          [] {
            std::string s;
            for (int i = 0; i < 51; ++i) {
              s += "\xc3\xa9"; // U+00E9: 2 bytes
            }
            return s;
          }()),
     "memo"},
  };

  SECTION("fields of the wrong type, missing, non-finite or beyond the limits") {
    for (const auto& c : cases) {
      INFO("case: " << c.name << ": " << c.body.dump());
      auto res = post(node, "/transactions", c.body);
      auto env = require_error_envelope(res, 422, "unprocessable_entity");
      CHECK(env["error"]["details"]["field"] == c.field);
      CHECK(env["error"]["message"].get<std::string>().find(c.field) != std::string::npos);
      require_not_stored(node, c.body["tx_id"].get<std::string>());
      // The analysis route applies the same rules.
      require_error_envelope(post(node, "/analyze/tx", c.body), 422, "unprocessable_entity");
    }
  }

  SECTION("a tx_id that is missing, of the wrong type or not printable") {
    for (const auto& body : {without("tx_id"), with("tx_id", 42), with("tx_id", "has space"),
                             with("tx_id", std::string(129, 'x')), with("tx_id", "")}) {
      INFO(body.dump());
      auto env =
        require_error_envelope(post(node, "/transactions", body), 422, "unprocessable_entity");
      CHECK(env["error"]["details"]["field"] == "tx_id");
    }
  }

  SECTION("a document that is not an object") {
    auto env = require_error_envelope(post(node, "/transactions", json::array({with("memo", "")})),
                                      422, "unprocessable_entity");
    CHECK(env["error"]["details"]["field"] == "");
  }

  SECTION("a body that is not JSON") {
    auto tx = valid_tx(unique_id("rVal"));
    auto text = tx.dump();
    text.pop_back(); // drop the closing brace
    auto env =
      require_error_envelope(api_request(node, "POST", "/transactions", text), 400, "bad_request");
    CHECK(env["error"]["details"].contains("reason"));
    require_not_stored(node, tx["tx_id"].get<std::string>());
    require_error_envelope(api_request(node, "POST", "/transactions", "NaN"), 400, "bad_request");
  }

  SECTION("JSON nested too deeply") {
    const auto id = unique_id("api-deep");
    // 33 levels: the object itself and 32 arrays.
    std::string deep = "{\"tx_id\":\"" + id + "\",\"amount\":1,\"tags\":";
    deep += std::string(32, '[') + std::string(32, ']') + "}";
    auto env =
      require_error_envelope(api_request(node, "POST", "/transactions", deep), 400, "bad_request");
    CHECK(env["error"]["details"]["reason"].get<std::string>().find("nested") != std::string::npos);
    require_not_stored(node, id);
    std::string very_deep = std::string(100000, '[') + std::string(100000, ']');
    require_error_envelope(api_request(node, "POST", "/transactions", very_deep), 400,
                           "bad_request");
  }

  SECTION("the limits themselves are accepted") {
    std::vector<json> accepted = {with("amount", 1000000), with("amount", "-1000000"),
                                  with("fee", "1000000"), with("memo", std::string(100, 'm')),
                                  // brackets inside a string are not nesting
                                  with("memo", std::string(40, '[')),
                                  with("amount", "0.000000000000000001"),
                                  with("category", "ignored"), with("risk_score", 0.99)};
    for (const auto& tx : accepted) {
      INFO(tx.dump());
      auto out = require_status_json(post(node, "/transactions", tx), 201);
      CHECK(out["tx_id"] == tx["tx_id"]);
    }
    // Output-only fields are recomputed, not taken from the client.
    auto last = require_status_json(
      get(node, "/transactions/" + accepted.back()["tx_id"].get<std::string>()), 200);
    CHECK(last["risk_score"] == 0.20);
  }
}

TEST_CASE("a batch answers per item in input order and stores only the valid items", "[api]") {
  auto pg = shared_pg();
  test_node node{limits(pg.primary_url)};

  SECTION("a JSON array") {
    // Different senders: the items are stored by different wallet actors and may complete in any
    // order; the answer keeps the input order.
    auto v0 = valid_tx(unique_id("rB0"));
    auto bad1 = valid_tx(unique_id("rB1"));
    bad1["colour"] = "red";
    auto v2 = valid_tx(unique_id("rB2"));
    auto bad3 = valid_tx(unique_id("rB3"));
    bad3["amount"] = "NaN";
    auto out = require_status_json(
      post(node, "/transactions/batch", json::array({v0, bad1, v2, bad3, 42})), 200);
    INFO(out.dump());
    auto& items = out["items"];
    REQUIRE(items.size() == 5);
    const std::vector<int> statuses = {201, 422, 201, 422, 422};
    const std::vector<std::string> fields = {"", "colour", "", "amount", ""};
    for (std::size_t i = 0; i < items.size(); ++i) {
      INFO("item " << i);
      CHECK(items[i]["index"] == i);
      CHECK(items[i]["status"] == statuses[i]);
      if (statuses[i] == 422) {
        CHECK(items[i]["error"]["code"] == "unprocessable_entity");
        CHECK(items[i]["error"]["field"] == fields[i]);
        CHECK_FALSE(items[i].contains("transaction"));
      }
    }
    CHECK(items[0]["transaction"]["tx_id"] == v0["tx_id"]);
    CHECK(items[2]["transaction"]["tx_id"] == v2["tx_id"]);
    CHECK(out["summary"]["count"] == 5);
    CHECK(out["summary"]["succeeded"] == 2);
    CHECK(out["summary"]["failed"] == 3);
    CHECK(out["summary"]["stored"] == 2);
    CHECK(out["summary"]["duplicates"] == 0);
    for (const auto& tx : {v0, v2}) {
      CHECK(require_status_json(get(node, "/transactions/" + tx["tx_id"].get<std::string>()),
                                200)["tx_id"]
            == tx["tx_id"]);
    }
    require_not_stored(node, bad1["tx_id"].get<std::string>());
    require_not_stored(node, bad3["tx_id"].get<std::string>());
  }

  SECTION("NDJSON with an unparsable line") {
    auto v0 = valid_tx(unique_id("rN0"));
    auto v2 = valid_tx(unique_id("rN2"));
    auto bad3 = valid_tx(unique_id("rN3"));
    bad3["amount"] = "Infinity";
    const auto broken_id = unique_id("api-broken");
    std::string body = v0.dump() + "\n{\"tx_id\":\"" + broken_id + "\",\"amount\":\n" + v2.dump()
                       + "\n\n" + bad3.dump() + "\n";
    auto out = require_status_json(
      api_request(node, "POST", "/transactions/batch", body, "application/x-ndjson"), 200);
    INFO(out.dump());
    auto& items = out["items"];
    REQUIRE(items.size() == 4);
    const std::vector<int> statuses = {201, 400, 201, 422};
    for (std::size_t i = 0; i < items.size(); ++i) {
      INFO("item " << i);
      CHECK(items[i]["index"] == i);
      CHECK(items[i]["status"] == statuses[i]);
    }
    CHECK(items[1]["error"]["code"] == "bad_request");
    CHECK(items[3]["error"]["field"] == "amount");
    CHECK(out["summary"]["stored"] == 2);
    CHECK(out["summary"]["failed"] == 2);
    require_status_json(get(node, "/transactions/" + v0["tx_id"].get<std::string>()), 200);
    require_status_json(get(node, "/transactions/" + v2["tx_id"].get<std::string>()), 200);
    require_not_stored(node, broken_id);
    require_not_stored(node, bad3["tx_id"].get<std::string>());
  }

  SECTION("more than BATCH_MAX_ITEMS items") {
    const auto wallet = unique_id("rMany");
    json six = json::array();
    std::string ndjson;
    for (int i = 0; i < 6; ++i) {
      six.push_back(valid_tx(wallet));
      ndjson += six.back().dump() + "\n";
    }
    auto env =
      require_error_envelope(post(node, "/transactions/batch", six), 413, "payload_too_large");
    CHECK(env["error"]["details"]["max_items"] == 5);
    require_error_envelope(
      api_request(node, "POST", "/transactions/batch", ndjson, "application/x-ndjson"), 413,
      "payload_too_large");
    require_error_envelope(post(node, "/analyze/batch", six), 413, "payload_too_large");
    for (const auto& tx : six) {
      require_not_stored(node, tx["tx_id"].get<std::string>());
    }
    // Exactly the limit is fine.
    six.erase(six.begin());
    auto out = require_status_json(post(node, "/transactions/batch", six), 200);
    CHECK(out["summary"]["stored"] == 5);
  }

  SECTION("a batch that is not an array") {
    require_error_envelope(post(node, "/transactions/batch", valid_tx("rNotArray")), 400,
                           "bad_request");
  }
}
