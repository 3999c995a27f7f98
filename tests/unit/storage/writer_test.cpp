#include "actors/storage/writer.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <catch2/catch.hpp>

#include "runtime/metrics.hpp"
#include "tests/unit/storage/fakes.hpp"

using namespace klerno::test::storage;
using klerno::runtime::errc;
using namespace std::chrono_literals;

namespace {

class writer_fixture : public fixture {
public:
  writer_actor start(std::size_t max_rows, std::chrono::microseconds max_delay,
                     std::size_t max_inflight = 4, std::size_t max_pending = 10'000) {
    writer_config c;
    c.pool = fake("pool");
    c.max_rows = max_rows;
    c.max_delay = max_delay;
    c.max_inflight = max_inflight;
    c.max_pending_rows = max_pending;
    c.metrics = metrics;
    auto hdl = spawn_writer(sys, std::move(c));
    stop_later(hdl);
    sched.run();
    return hdl;
  }

  outcome_ptr<stored_list> store(const writer_actor& w, tx_list rows) {
    auto out = ask<stored_list>(sys, w, store_atom::value, std::move(rows));
    sched.run();
    return out;
  }

  static std::vector<std::string> ids(const stored_list& xs) {
    std::vector<std::string> out;
    for (auto& x : xs) {
      out.push_back(x.row.tx_id);
    }
    return out;
  }

  static std::vector<std::string> ids(const tx_list& xs) {
    std::vector<std::string> out;
    for (auto& x : xs) {
      out.push_back(x.tx_id);
    }
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(writer_fixture, "with nothing in flight the first request goes out at once",
                 "[writer]") {
  auto w = start(512, 2ms);
  auto a = store(w, txs("a", 1));
  REQUIRE(db.calls.size() == 1); // waiting would only add latency
  CHECK(ids(db.calls.front().rows) == std::vector<std::string>{"a0"});
  db.take().succeed();
  sched.run();
  CHECK(a->value);
}

TEST_CASE_METHOD(writer_fixture,
                 "requests within the delay become one insert and each gets its slice",
                 "[writer]") {
  auto w = start(512, 2ms);
  auto primer = store(w, txs("p", 1)); // in flight: the next requests gather
  REQUIRE(db.calls.size() == 1);
  auto in_flight = db.take();
  auto a = store(w, txs("a", 1));
  auto b = store(w, txs("b", 2));
  auto c = store(w, txs("c", 3));
  CHECK(db.calls.empty()); // waiting for the delay
  advance(2ms);
  REQUIRE(db.calls.size() == 1);
  CHECK(db.calls.front().op == "insert");
  CHECK(ids(db.calls.front().rows) == std::vector<std::string>{"a0", "b0", "b1", "c0", "c1", "c2"});
  CHECK_FALSE(a->done); // nothing is answered before COMMIT
  db.take().succeed();
  in_flight.succeed();
  sched.run();
  CHECK(primer->value);
  REQUIRE(a->value);
  REQUIRE(b->value);
  REQUIRE(c->value);
  CHECK(ids(*a->value) == std::vector<std::string>{"a0"});
  CHECK(ids(*b->value) == std::vector<std::string>{"b0", "b1"});
  CHECK(ids(*c->value) == std::vector<std::string>{"c0", "c1", "c2"});
  auto& hist = metrics->batch_rows.with({});
  CHECK(hist.count() == 2);
  CHECK(hist.sum() == 7);
}

TEST_CASE_METHOD(writer_fixture, "a batch is sent as soon as it holds max rows", "[writer]") {
  auto w = start(4, 1s);
  auto primer = store(w, txs("p", 1)); // in flight: the next requests gather
  REQUIRE(db.calls.size() == 1);
  auto in_flight = db.take();
  auto a = store(w, txs("a", 2));
  auto b = store(w, txs("b", 2));
  REQUIRE(db.calls.size() == 1); // full: sent without waiting
  CHECK(db.calls.front().rows.size() == 4);
  auto c = store(w, txs("c", 3));
  auto d = store(w, txs("d", 2)); // would overflow c's batch: starts the next one
  CHECK(db.calls.size() == 2);
  CHECK(ids(db.calls.back().rows) == std::vector<std::string>{"c0", "c1", "c2"});
  advance(1s);
  REQUIRE(db.calls.size() == 3);
  CHECK(ids(db.calls.back().rows) == std::vector<std::string>{"d0", "d1"});
  while (!db.calls.empty()) {
    db.take().succeed();
  }
  in_flight.succeed();
  sched.run();
  CHECK(primer->value);
  CHECK(a->value);
  CHECK(b->value);
  CHECK(c->value);
  REQUIRE(d->value);
  CHECK(ids(*d->value) == std::vector<std::string>{"d0", "d1"});
}

TEST_CASE_METHOD(writer_fixture, "a request larger than max rows goes alone and is never split",
                 "[writer]") {
  auto w = start(3, 1s);
  auto small = store(w, txs("s", 1));
  auto big = store(w, txs("big", 7));
  REQUIRE(db.calls.size() == 2);
  CHECK(ids(db.calls[0].rows) == std::vector<std::string>{"s0"});
  CHECK(db.calls[1].rows.size() == 7);
  db.take().succeed();
  db.take().succeed();
  sched.run();
  REQUIRE(big->value);
  CHECK(big->value->size() == 7);
  CHECK(small->value);
}

TEST_CASE_METHOD(writer_fixture, "a failing batch fails exactly its requests", "[writer]") {
  auto w = start(2, 1s);
  auto primer = store(w, txs("p", 1)); // in flight: the next requests gather
  REQUIRE(db.calls.size() == 1);
  auto in_flight = db.take();
  auto a = store(w, txs("a", 1));
  auto b = store(w, txs("b", 1)); // batch 1 full: a, b
  auto c = store(w, txs("c", 2)); // batch 2: c
  REQUIRE(db.calls.size() == 2);
  auto first = db.take();
  auto second = db.take();
  first.fail(klerno::runtime::make_error(errc::unavailable,
                                         caf::make_message(std::string{"connection lost"})));
  sched.run();
  CHECK(a->failed_with(errc::unavailable));
  CHECK(b->failed_with(errc::unavailable));
  CHECK(error_text(a->err) == "connection lost");
  CHECK_FALSE(c->done);
  CHECK_FALSE(primer->done);
  second.succeed();
  in_flight.succeed();
  sched.run();
  REQUIRE(c->value);
  CHECK(c->value->size() == 2);
  CHECK(primer->value);
}

TEST_CASE_METHOD(writer_fixture,
                 "at most max_inflight batches are in flight; the next keeps gathering",
                 "[writer]") {
  auto w = start(100, 1ms, 1);
  auto a = store(w, txs("a", 1));
  advance(1ms);
  REQUIRE(db.calls.size() == 1);
  auto b = store(w, txs("b", 1));
  advance(1ms); // b's delay is over, but the only slot is busy
  auto c = store(w, txs("c", 2));
  advance(1ms);
  CHECK(db.calls.size() == 1);
  db.take().succeed();
  sched.run();
  CHECK(a->value);
  REQUIRE(db.calls.size() == 1); // b and c together
  CHECK(ids(db.calls.front().rows) == std::vector<std::string>{"b0", "c0", "c1"});
  db.take().succeed();
  sched.run();
  CHECK(b->value);
  CHECK(c->value);
}

TEST_CASE_METHOD(writer_fixture, "max rows 1 and no delay give one insert per request",
                 "[writer]") {
  auto w = start(1, 0us, 8);
  auto a = store(w, txs("a", 1));
  auto b = store(w, txs("b", 1));
  auto c = store(w, txs("c", 2));
  REQUIRE(db.calls.size() == 3);
  CHECK(db.calls[2].rows.size() == 2);
  while (!db.calls.empty()) {
    db.take().succeed();
  }
  sched.run();
  CHECK(a->value);
  CHECK(b->value);
  CHECK(c->value);
  CHECK(metrics->batch_rows.with({}).count() == 3);
}

TEST_CASE_METHOD(writer_fixture, "an invalid row is refused alone before batching", "[writer]") {
  auto w = start(10, 1ms);
  auto good = store(w, txs("g", 1));
  auto rows = txs("bad", 2);
  rows[1].risk_score = 250;
  auto bad = store(w, rows);
  CHECK(bad->failed_with(errc::invalid_argument));
  CHECK(error_text(bad->err).find("row 1") != std::string::npos);
  advance(1ms);
  REQUIRE(db.calls.size() == 1);
  CHECK(ids(db.calls.front().rows) == std::vector<std::string>{"g0"});
  db.take().succeed();
  sched.run();
  CHECK(good->value);
}

TEST_CASE_METHOD(writer_fixture, "the writer refuses rows beyond max pending with unavailable",
                 "[writer]") {
  auto w = start(100, 1s, 1, 5);
  auto primer = store(w, txs("p", 1)); // takes the only slot: the rest waits
  REQUIRE(db.calls.size() == 1);
  auto a = store(w, txs("a", 4));
  auto b = store(w, txs("b", 2));
  CHECK(b->failed_with(errc::unavailable));
  CHECK(retry_after(b->err) == std::chrono::milliseconds{1000});
  CHECK(metrics->errors.with({"writer_full"}).value() == 1);
  CHECK_FALSE(a->done);
}

TEST_CASE_METHOD(writer_fixture, "an empty request is answered at once", "[writer]") {
  auto w = start(10, 1s);
  auto out = store(w, tx_list{});
  REQUIRE(out->value);
  CHECK(out->value->empty());
  CHECK(db.calls.empty());
}

TEST_CASE_METHOD(writer_fixture, "stopping the writer fails what it holds", "[writer]") {
  auto w = start(2, 1s, 1);
  auto a = store(w, txs("a", 2)); // in flight
  auto b = store(w, txs("b", 2)); // ready, waiting for the slot
  auto c = store(w, txs("c", 1)); // open batch
  caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  sched.run();
  CHECK(a->failed_with(errc::shutting_down));
  CHECK(b->failed_with(errc::shutting_down));
  CHECK(c->failed_with(errc::shutting_down));
}
