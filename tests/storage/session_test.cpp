// pg_session against the real PostgreSQL of the "pg" fixture: migrations, inserts, reads,
// pagination, aggregates, export, replica reads, error mapping and query plans. Each test works in
// a schema of its own (tests run in parallel on the shared servers).

#include "actors/storage/pg/pg_session.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include <catch2/catch.hpp>

#include "actors/storage/pg/codec.hpp"
#include "actors/storage/pg/migrations.hpp"
#include "actors/storage/pg/queries.hpp"
#include "tests/storage/pg_env.hpp"

using namespace klerno::actors::storage;
namespace model = klerno::actors::model;
namespace pgt = klerno::test::pg;
using namespace std::chrono_literals;

namespace {

model::timestamp now_us() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

/// Start of today (UTC).
model::timestamp today_start() {
  auto day = pg::day_of(now_us());
  return pg::from_unix_micros(day * 86'400'000'000LL);
}

model::decimal dec(const char* text) {
  auto d = model::decimal::parse(text);
  REQUIRE(d);
  return *d;
}

model::transaction make_tx(const std::string& id, model::timestamp time, const std::string& from,
                           const std::string& to, int score = 10,
                           const std::string& category = "transfer") {
  model::transaction t;
  t.tx_id = id;
  t.time = time;
  t.from_addr = from;
  t.to_addr = to;
  t.amount = dec("12.5");
  t.fee = dec("0.000012");
  t.direction = "out";
  t.category = category;
  t.risk_score = score;
  t.risk_bucket = model::bucket_for(score);
  return t;
}

void check_same(const model::transaction& a, const model::transaction& b) {
  CHECK(a.tx_id == b.tx_id);
  CHECK(a.time == b.time);
  CHECK(a.chain == b.chain);
  CHECK(a.from_addr == b.from_addr);
  CHECK(a.to_addr == b.to_addr);
  CHECK(a.amount == b.amount);
  CHECK(a.symbol == b.symbol);
  CHECK(a.direction == b.direction);
  CHECK(a.fee == b.fee);
  CHECK(a.memo == b.memo);
  CHECK(a.notes == b.notes);
  CHECK(a.tags == b.tags);
  CHECK(a.is_internal == b.is_internal);
  CHECK(a.category == b.category);
  CHECK(a.risk_score == b.risk_score);
  CHECK(a.risk_flags == b.risk_flags);
  CHECK(a.risk_bucket == b.risk_bucket);
}

/// A schema with the migrations applied and a connected session on it.
class db_fixture {
public:
  db_fixture() : env(pgt::load_env()), schema(env) {
    db = open(schema.primary_url());
    CHECK(db->migrate() == pg::migrations().size());
  }

  std::unique_ptr<session> open(const std::string& url, pool_role role = pool_role::primary,
                                std::chrono::milliseconds statement_timeout = 5s) {
    pg::options o;
    o.url = url;
    o.role = role;
    o.statement_timeout = statement_timeout;
    auto s = pg::make_session(o);
    s->connect();
    return s;
  }

  pgt::env env;
  pgt::schema schema;
  std::unique_ptr<session> db;
};

std::vector<std::string> ids_of(const std::vector<model::transaction>& xs) {
  std::vector<std::string> out;
  for (auto& x : xs) {
    out.push_back(x.tx_id);
  }
  return out;
}

} // namespace

TEST_CASE("migrations apply once even when two sessions race", "[pg][migrate]") {
  auto e = pgt::load_env();
  pgt::schema schema{e};
  auto run = [&] {
    pg::options o;
    o.url = schema.primary_url();
    auto s = pg::make_session(o);
    s->connect();
    return s->migrate();
  };
  auto a = std::async(std::launch::async, run);
  auto b = std::async(std::launch::async, run);
  auto applied = a.get() + b.get();
  CHECK(applied == pg::migrations().size());
  CHECK(schema.query_value("SELECT count(*) FROM schema_migrations")
        == std::to_string(pg::migrations().size()));
  CHECK(schema.query_value("SELECT name FROM schema_migrations WHERE version = 1") == "create_txs");
  CHECK(run() == 0);
}

TEST_CASE_METHOD(db_fixture, "insert stores rows exactly and is idempotent on tx_id",
                 "[pg][insert]") {
  auto a = make_tx("a", pg::from_unix_micros(1'700'000'000'123'456), "rA", "rB", 75, "trade");
  a.amount = dec("-170141183460469231731.687303715884105727");
  a.fee = dec("0.000000000000000001");
  a.memo = "payment \"quoted\" \\ back, {braces} caf\xc3\xa9";
  a.notes = "";
  a.tags = {"sanctioned", "a,b", "quote\"d", "{x}", "", "NULL"};
  a.risk_flags = {"large_amount", "memo_keyword"};
  a.is_internal = true;
  a.symbol = "USD";
  auto b = make_tx("b", pg::from_unix_micros(-86'400'000'001), "rB", "rC");
  auto a2 = make_tx("a", now_us(), "rX", "rY");
  a2.amount = dec("1");

  auto first = db->insert({a, b, a2});
  REQUIRE(first.size() == 3);
  CHECK(first[0].inserted);
  check_same(first[0].row, a);
  CHECK(first[1].inserted);
  CHECK_FALSE(first[2].inserted); // a repeated within the batch: the first one wins
  check_same(first[2].row, a);

  auto c = make_tx("c", now_us(), "rC", "rD");
  auto second = db->insert({b, c});
  REQUIRE(second.size() == 2);
  CHECK_FALSE(second[0].inserted);
  check_same(second[0].row, b);
  CHECK(second[1].inserted);

  auto got = db->get("a");
  REQUIRE(got);
  check_same(*got, a);
  CHECK_FALSE(db->get("nope"));
  CHECK(schema.query_value("SELECT count(*) FROM txs") == "3");
}

TEST_CASE_METHOD(db_fixture, "insert chunks large batches into several statements",
                 "[pg][insert]") {
  pg::options o;
  o.url = schema.primary_url();
  o.insert_chunk_rows = 7;
  auto s = pg::make_session(o);
  s->connect();
  std::vector<model::transaction> rows;
  for (int i = 0; i < 30; ++i) {
    rows.push_back(make_tx("k" + std::to_string(i), now_us(), "rA", "rB"));
  }
  rows.push_back(rows[3]); // a repeat across chunks
  auto out = s->insert(rows);
  REQUIRE(out.size() == 31);
  CHECK(std::count_if(out.begin(), out.end(), [](auto& x) { return x.inserted; }) == 30);
  CHECK_FALSE(out.back().inserted);
  CHECK(out.back().row.tx_id == "k3");
  CHECK(schema.query_value("SELECT count(*) FROM txs") == "30");
}

TEST_CASE_METHOD(db_fixture, "an invalid row fails the whole insert and stores nothing",
                 "[pg][insert]") {
  auto bad = make_tx("bad", now_us(), "rA", "rB");
  bad.memo = std::string{"nul\0byte", 8};
  try {
    db->insert({make_tx("ok", now_us(), "rA", "rB"), bad});
    FAIL("no error");
  } catch (const db_error& e) {
    CHECK(e.kind() == db_error_kind::invalid);
    CHECK(std::string{e.what()}.find("row 1") != std::string::npos);
  }
  CHECK(schema.query_value("SELECT count(*) FROM txs") == "0");
}

TEST_CASE_METHOD(db_fixture, "keyset pagination is stable under concurrent inserts", "[pg][list]") {
  // 60 rows of wallet W (sent, received, to itself), with ties on time, plus rows of others.
  auto base = pg::from_unix_micros(1'700'000'000'000'000);
  std::vector<model::transaction> rows;
  std::set<std::string> original;
  for (int i = 0; i < 60; ++i) {
    char id[16];
    std::snprintf(id, sizeof(id), "p%04d", i);
    auto time = base + std::chrono::seconds(i / 3); // three rows per second: ties
    auto from = i % 3 == 0 ? "W" : "rOther";
    auto to = i % 3 == 0 ? (i % 2 == 0 ? "W" : "rX") : "W";
    rows.push_back(make_tx(id, time, from, to));
    original.insert(id);
  }
  for (int i = 0; i < 10; ++i) {
    rows.push_back(make_tx("other" + std::to_string(i), base, "rY", "rZ"));
  }
  db->insert(rows);
  auto writer = open(schema.primary_url());

  list_query q;
  q.wallet = "W";
  q.limit = 7;
  std::vector<model::transaction> seen;
  int pages = 0;
  while (true) {
    auto p = db->list(q);
    ++pages;
    seen.insert(seen.end(), p.items.begin(), p.items.end());
    if (pages == 1) {
      // Rows arrive while the client pages: newer ones, older ones, and ties with existing ones.
      std::vector<model::transaction> late;
      for (int i = 0; i < 10; ++i) {
        late.push_back(make_tx("n" + std::to_string(i), base + std::chrono::hours(1), "W", "rQ"));
        late.push_back(make_tx("o" + std::to_string(i), base - std::chrono::hours(1), "rQ", "W"));
        late.push_back(
          make_tx("q" + std::to_string(i), base + std::chrono::seconds(10), "W", "rQ"));
      }
      writer->insert(late);
    }
    if (!p.next) {
      CHECK(p.items.size() <= q.limit);
      break;
    }
    CHECK(p.items.size() == q.limit);
    CHECK(*p.next == model::cursor{p.items.back().time, p.items.back().tx_id});
    q.after = p.next;
    REQUIRE(pages < 100);
  }
  std::set<std::string> ids;
  for (auto& x : seen) {
    CHECK(ids.insert(x.tx_id).second); // no duplicates
  }
  for (auto& id : original) {
    CHECK(ids.count(id) == 1); // no row that existed at the first page is skipped
  }
  for (std::size_t i = 1; i < seen.size(); ++i) {
    auto& prev = seen[i - 1];
    auto& cur = seen[i];
    CHECK((prev.time > cur.time || (prev.time == cur.time && prev.tx_id > cur.tx_id)));
  }
  // Rows inserted behind the cursor (older) show up on later pages; newer ones do not.
  CHECK(ids.count("o0") == 1);
  CHECK(ids.count("n0") == 0);
  CHECK(ids.count("other0") == 0);
}

TEST_CASE_METHOD(db_fixture, "a listing of an unknown wallet is empty", "[pg][list]") {
  list_query q;
  q.wallet = "nobody";
  auto p = db->list(q);
  CHECK(p.items.empty());
  CHECK_FALSE(p.next);
  q.limit = 0;
  CHECK(db->list(q).items.empty());
  q.limit = max_query_limit + 1;
  CHECK_THROWS_AS(db->list(q), db_error);
}

TEST_CASE_METHOD(db_fixture, "alerts are the rows at or above the threshold newest first",
                 "[pg][alerts]") {
  auto t0 = pg::from_unix_micros(1'700'000'000'000'000);
  db->insert({make_tx("low", t0, "a", "b", 20), make_tx("mid", t0 + 1s, "a", "b", 65),
              make_tx("edge", t0 + 2s, "a", "b", 66), make_tx("high", t0 + 3s, "a", "b", 99),
              make_tx("max", t0 - 1s, "a", "b", 100)});
  alerts_query q;
  q.min_score = 66;
  q.limit = 10;
  CHECK(ids_of(db->alerts(q)) == std::vector<std::string>{"high", "edge", "max"});
  q.limit = 2;
  CHECK(ids_of(db->alerts(q)) == std::vector<std::string>{"high", "edge"});
  q.min_score = 0;
  q.limit = 10;
  CHECK(db->alerts(q).size() == 5);
}

TEST_CASE_METHOD(db_fixture, "the summary counts known data by UTC day", "[pg][summary]") {
  auto today = today_start();
  auto yesterday = today - 24h;
  db->insert({
    make_tx("t1", today + 1s, "a", "b", 10, "transfer"),
    make_tx("t2", today + 2s, "a", "b", 40, "trade"),
    make_tx("t3", today + 3s, "a", "b", 90, "transfer"),
    make_tx("y1", yesterday + 5h, "a", "b", 70, "fee"),
    make_tx("y2", yesterday + 23h, "a", "b", 20, "transfer"),
    make_tx("old", today - 24h * 10, "a", "b", 99, "old"),      // outside a 3-day window
    make_tx("future", today + 24h * 2, "a", "b", 99, "future"), // after today: outside
  });
  summary_query q;
  q.threshold = 66;
  q.days = 3;
  summary s;
  // Retry if the UTC day changed while the test ran (the window moves with it).
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto before = pg::day_of(now_us());
    s = db->summarize(q);
    if (pg::day_of(now_us()) == before && before == pg::day_of(today)) {
      break;
    }
  }
  CHECK(s.total == 5);
  CHECK(s.alerts == 2);
  CHECK(s.avg_risk == Approx((10 + 40 + 90 + 70 + 20) / 5.0 / 100));
  CHECK(s.categories == std::map<std::string, uint64_t>{{"fee", 1}, {"trade", 1}, {"transfer", 3}});
  REQUIRE(s.series_by_day.size() == 3);
  REQUIRE(s.series_by_day_lmh.size() == 3);
  CHECK(s.series_by_day[0].date == pg::format_date(pg::day_of(today) - 2));
  CHECK(s.series_by_day[0].count == 0);
  CHECK(s.series_by_day[0].avg_risk == 0);
  CHECK(s.series_by_day[1].date == pg::format_date(pg::day_of(yesterday)));
  CHECK(s.series_by_day[1].count == 2);
  CHECK(s.series_by_day[1].avg_risk == Approx(0.45));
  CHECK(s.series_by_day[2].date == pg::format_date(pg::day_of(today)));
  CHECK(s.series_by_day[2].count == 3);
  CHECK(s.series_by_day[2].avg_risk == Approx(140.0 / 3 / 100));
  CHECK(s.series_by_day_lmh[1].low == 1);
  CHECK(s.series_by_day_lmh[1].medium == 0);
  CHECK(s.series_by_day_lmh[1].high == 1);
  CHECK(s.series_by_day_lmh[2].low == 1);
  CHECK(s.series_by_day_lmh[2].medium == 1);
  CHECK(s.series_by_day_lmh[2].high == 1);
  q.days = 0;
  CHECK_THROWS_AS(db->summarize(q), db_error);
}

TEST_CASE_METHOD(db_fixture, "the export pages through every row in ascending order",
                 "[pg][export]") {
  auto t0 = pg::from_unix_micros(1'700'000'000'000'000);
  std::vector<model::transaction> rows;
  for (int i = 0; i < 25; ++i) {
    char id[16];
    std::snprintf(id, sizeof(id), "e%03d", i);
    rows.push_back(make_tx(id, t0 + std::chrono::seconds(i / 2), i % 2 == 0 ? "W" : "V",
                           i % 5 == 0 ? "W" : "U"));
  }
  db->insert(rows);
  auto page_all = [&](export_query q) {
    std::vector<std::string> out;
    while (true) {
      auto page = db->export_rows(q);
      for (auto& x : page) {
        out.push_back(x.tx_id);
      }
      if (page.size() < q.limit) {
        return out;
      }
      q.after = model::cursor{page.back().time, page.back().tx_id};
    }
  };
  export_query q;
  q.limit = 7;
  auto all = page_all(q);
  REQUIRE(all.size() == 25);
  CHECK(std::is_sorted(all.begin(), all.end()));
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == 25);

  q.wallet = "W";
  auto mine = page_all(q);
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) {
    if (i % 2 == 0 || i % 5 == 0) {
      expected.push_back(rows[static_cast<std::size_t>(i)].tx_id);
    }
  }
  CHECK(mine == expected);

  q.wallet.reset();
  q.from = t0 + 3s; // rows 6.. (inclusive)
  q.to = t0 + 10s;  // .. 19 (exclusive bound: rows 20+ start at 10 s)
  auto window = page_all(q);
  REQUIRE(window.size() == 14);
  CHECK(window.front() == "e006");
  CHECK(window.back() == "e019");
}

TEST_CASE_METHOD(db_fixture,
                 "wallet history lists the rows a wallet sent since a time newest first",
                 "[pg][history]") {
  auto t0 = pg::from_unix_micros(1'700'000'000'000'000);
  db->insert({make_tx("h1", t0, "W", "a"), make_tx("h2", t0 + 1s, "W", "b"),
              make_tx("h3", t0 + 2s, "x", "W"), make_tx("h4", t0 - 1h, "W", "c")});
  history_query q;
  q.addr = "W";
  q.since = t0;
  q.limit = 10;
  auto h = db->wallet_history(q);
  REQUIRE(h.size() == 2);
  CHECK(h[0].tx_id == "h2");
  CHECK(h[0].to_addr == "b");
  CHECK(h[0].time == t0 + 1s);
  CHECK(h[0].amount == dec("12.5"));
  CHECK(h[1].tx_id == "h1");
}

TEST_CASE_METHOD(db_fixture, "rows written on the primary become visible on the replica",
                 "[pg][replica]") {
  REQUIRE(!env.replica.empty());
  auto replica = open(schema.replica_url(), pool_role::replica);
  db->insert({make_tx("r1", now_us(), "W", "x")});
  // Replication is asynchronous: even the schema may not have arrived yet.
  CHECK(pgt::eventually([&] {
    try {
      return replica->get("r1").has_value();
    } catch (const db_error&) {
      return false;
    }
  }));
  list_query q;
  q.wallet = "W";
  CHECK(replica->list(q).items.size() == 1);
  // A write on the replica is refused as unavailable (read-only server).
  try {
    replica->insert({make_tx("r2", now_us(), "W", "x")});
    FAIL("no error");
  } catch (const db_error& e) {
    CHECK(e.kind() == db_error_kind::unavailable);
    CHECK(e.sqlstate() == "25006");
  }
}

TEST_CASE_METHOD(db_fixture, "a primary URL listing several hosts finds the read-write server",
                 "[pg][replica]") {
  REQUIRE(!env.replica.empty());
  // postgresql://user:pw@REPLICA,PRIMARY/db: libpq tries the standby first and skips it.
  auto host_of = [](const std::string& url) {
    auto at = url.find('@') + 1;
    return url.substr(at, url.find('/', at) - at);
  };
  auto at = env.primary.find('@') + 1;
  auto url = env.primary.substr(0, at) + host_of(env.replica) + "," + host_of(env.primary)
             + env.primary.substr(env.primary.find('/', at));
  auto s = open(pgt::with_search_path(url, schema.name()), pool_role::primary);
  auto out = s->insert({make_tx("multi", now_us(), "a", "b")});
  REQUIRE(out.size() == 1);
  CHECK(out[0].inserted);
  // Without target_session_attrs (a replica pool's URL) libpq stays on the first host, the standby.
  auto any = open(pgt::with_search_path(url, schema.name()), pool_role::replica);
  CHECK(pgt::eventually([&] {
    try {
      return any->get("multi").has_value(); // replicated (schema, table and row)
    } catch (const db_error&) {
      return false;
    }
  }));
  try {
    any->insert({make_tx("multi2", now_us(), "a", "b")});
    FAIL("wrote on the standby");
  } catch (const db_error& e) {
    CHECK(e.kind() == db_error_kind::unavailable);
  }
}

TEST_CASE_METHOD(db_fixture, "a statement beyond statement_timeout fails as a timeout",
                 "[pg][timeout]") {
  db->insert({make_tx("x", now_us(), "a", "b")});
  auto slow = open(schema.primary_url(), pool_role::primary, 200ms);
  pqxx::connection blocker{schema.primary_url()};
  pqxx::work lock{blocker};
  lock.exec("LOCK TABLE txs IN ACCESS EXCLUSIVE MODE");
  try {
    slow->get("x");
    FAIL("no error");
  } catch (const db_error& e) {
    CHECK(e.kind() == db_error_kind::timeout);
    CHECK(e.sqlstate() == "57014");
  }
  lock.abort();
  // The session stays usable.
  CHECK(slow->connected());
  CHECK(slow->get("x"));
}

TEST_CASE("a failed connection is reported without the password", "[pg][errors]") {
  auto e = pgt::load_env();
  auto url = e.primary;
  auto at = url.find('@');
  auto colon = url.rfind(':', at);
  REQUIRE(at != std::string::npos);
  url = url.substr(0, colon + 1) + "Wr0ngPassw0rd" + url.substr(at);
  pg::options o;
  o.url = url;
  auto s = pg::make_session(o);
  try {
    s->connect();
    FAIL("connected with a wrong password");
  } catch (const db_error& err) {
    CHECK(err.kind() == db_error_kind::unavailable);
    CHECK(std::string{err.what()}.find("Wr0ngPassw0rd") == std::string::npos);
  }
  CHECK_FALSE(s->connected());
  // A refused connection is unavailable too.
  o.url = "postgresql://klerno:Wr0ngPassw0rd@127.0.0.1:1/klerno";
  auto refused = pg::make_session(o);
  CHECK_THROWS_AS(refused->connect(), db_error);
  CHECK_THROWS_AS(refused->ping(), db_error);
}

TEST_CASE_METHOD(db_fixture, "the queries use index scans", "[pg][plans]") {
  auto t0 = pg::from_unix_micros(1'700'000'000'000'000);
  std::vector<model::transaction> rows;
  for (int i = 0; i < 5000; ++i) {
    rows.push_back(make_tx("x" + std::to_string(i), t0 + std::chrono::seconds(i),
                           "w" + std::to_string(i % 500), "v" + std::to_string(i % 400),
                           i % 100 == 0 ? 90 : 10));
  }
  db->insert(rows);
  schema.exec("ANALYZE txs");
  auto explain = [&](const char* sql, const std::string& args) {
    pqxx::connection c{schema.primary_url()};
    pqxx::nontransaction n{c};
    n.exec(std::string{"PREPARE q AS "} + sql);
    std::string plan;
    for (const auto& row : n.exec("EXPLAIN EXECUTE q(" + args + ")")) {
      plan += row[0].c_str();
      plan += '\n';
    }
    return plan;
  };
  auto ts = "'" + pg::format_timestamp(t0 + 100s) + "'";
  struct probe {
    const char* name;
    const char* sql;
    std::string args;
  };
  std::vector<probe> probes = {
    {"list_first", pg::sql::list_first, "'w7', 51"},
    {"list_after", pg::sql::list_after, "'w7', 51, " + ts + ", 'x100'"},
    {"alerts", pg::sql::alerts, "66, 100"},
    {"history", pg::sql::history, "'w7', " + ts + ", 100"},
    {"get", pg::sql::get, "'x1'"},
    {"export_all_first", pg::sql::export_all_first, "'-infinity', 'infinity', 1000"},
    {"export_all_after", pg::sql::export_all_after,
     "'-infinity', 'infinity', 1000, " + ts + ", 'x100'"},
    {"export_wallet_first", pg::sql::export_wallet_first, "'w7', '-infinity', 'infinity', 1000"},
    {"export_wallet_after", pg::sql::export_wallet_after,
     "'w7', '-infinity', 'infinity', 1000, " + ts + ", 'x100'"},
  };
  for (auto& p : probes) {
    INFO(p.name);
    auto plan = explain(p.sql, p.args);
    INFO(plan);
    CHECK(plan.find("Index") != std::string::npos);
    CHECK(plan.find("Seq Scan") == std::string::npos);
  }
}
