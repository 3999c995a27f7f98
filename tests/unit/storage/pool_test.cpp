#include "actors/storage/pool.hpp"

#include <chrono>

#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>

#include <catch2/catch.hpp>

#include "runtime/metrics.hpp"
#include "tests/unit/storage/fakes.hpp"

using namespace klerno::test::storage;
using klerno::runtime::errc;
using namespace std::chrono_literals;

namespace {

caf::error unavailable() {
  return klerno::runtime::make_error(errc::unavailable,
                                     caf::make_message(std::string{"connection refused"}));
}

class pool_fixture : public fixture {
public:
  /// Spawns a pool of fake connections.
  pool_actor start(std::size_t min, std::size_t max, std::size_t queue_max,
                   std::size_t circuit_failures = 3) {
    pool_config c;
    c.name = "primary";
    c.min = min;
    c.max = max;
    c.queue_max = queue_max;
    c.queue_timeout = 5s;
    c.circuit_failures = circuit_failures;
    c.circuit_cooldown = 10s;
    c.spawn = spawner();
    c.metrics = metrics;
    auto hdl = spawn_pool(sys, std::move(c));
    stop_later(hdl);
    sched.run();
    return hdl;
  }

  pool_stats stats(const pool_actor& pool) {
    auto out = ask<pool_stats>(sys, pool, stats_atom::value);
    sched.run();
    REQUIRE(out->value);
    return *out->value;
  }

  outcome_ptr<maybe_tx> get(const pool_actor& pool, const std::string& id) {
    auto out = ask<maybe_tx>(sys, pool, get_atom::value, id);
    sched.run();
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(pool_fixture, "a pool starts min connections and grows to max on demand",
                 "[pool]") {
  auto pool = start(1, 3, 10);
  CHECK(db.spawned == 1);
  auto a = get(pool, "a");
  auto b = get(pool, "b");
  auto c = get(pool, "c");
  CHECK(db.spawned == 3);
  REQUIRE(db.calls.size() == 3);
  CHECK(db.calls[0].target == "conn1");
  CHECK(db.calls[1].target == "conn2");
  CHECK(db.calls[2].target == "conn3");
  auto s = stats(pool);
  CHECK(s.connections == 3);
  CHECK(s.in_use == 3);
  CHECK(s.idle == 0);
  CHECK(metrics->pool_connections.with({"primary", "in_use"}).value() == 3);
  for (int i = 0; i < 3; ++i) {
    db.take().succeed();
  }
  sched.run();
  CHECK(a->value);
  CHECK((*a->value)->tx_id == "a");
  CHECK(b->value);
  CHECK(c->value);
  CHECK(stats(pool).idle == 3);
}

TEST_CASE_METHOD(pool_fixture, "an idle connection is reused before a new one is spawned",
                 "[pool]") {
  auto pool = start(1, 3, 10);
  for (int i = 0; i < 3; ++i) {
    auto out = get(pool, "x");
    db.take().succeed();
    sched.run();
    CHECK(out->value);
  }
  CHECK(db.spawned == 1);
}

TEST_CASE_METHOD(pool_fixture, "requests queue while every connection is busy and run in order",
                 "[pool]") {
  auto pool = start(1, 2, 2);
  auto r1 = get(pool, "r1");
  auto r2 = get(pool, "r2");
  auto r3 = get(pool, "r3");
  auto r4 = get(pool, "r4");
  CHECK(db.calls.size() == 2);
  auto s = stats(pool);
  CHECK(s.waiting == 2);
  CHECK(metrics->pool_waiting.with({"primary"}).value() == 2);
  SECTION("a full queue fails the next request at once with unavailable") {
    auto r5 = get(pool, "r5");
    CHECK(r5->failed_with(errc::unavailable));
    CHECK(retry_after(r5->err) == std::chrono::milliseconds{1000});
    CHECK(metrics->errors.with({"queue_full"}).value() == 1);
  }
  SECTION("a freed connection takes the oldest queued request") {
    auto first = db.take();
    CHECK(first.target == "conn1");
    first.succeed();
    sched.run();
    CHECK(r1->value);
    REQUIRE(db.calls.size() == 2);
    CHECK(db.calls.back().target == "conn1");
    CHECK(stats(pool).waiting == 1);
    while (!db.calls.empty()) {
      db.take().succeed();
      sched.run();
    }
    CHECK(r2->value);
    CHECK(r3->value);
    CHECK(r4->value);
    CHECK((*r3->value)->tx_id == "r3");
    CHECK((*r4->value)->tx_id == "r4");
  }
}

TEST_CASE_METHOD(pool_fixture,
                 "a request queued longer than queue_timeout fails instead of running", "[pool]") {
  auto pool = start(1, 1, 10);
  auto r1 = get(pool, "r1");
  auto r2 = get(pool, "r2");
  sched.clock().current_time += 6s;
  auto r3 = get(pool, "r3");
  db.take().succeed();
  sched.run();
  CHECK(r1->value);
  CHECK(r2->failed_with(errc::unavailable));
  CHECK(metrics->errors.with({"queue_timeout"}).value() == 1);
  REQUIRE(db.calls.size() == 1); // r3 runs
  db.take().succeed();
  sched.run();
  CHECK(r3->value);
}

TEST_CASE_METHOD(pool_fixture,
                 "the circuit opens after N consecutive unavailable answers and fails fast",
                 "[pool][circuit]") {
  auto pool = start(1, 1, 10, 3);
  auto r1 = get(pool, "r1");
  auto r2 = get(pool, "r2");
  auto r3 = get(pool, "r3");
  auto queued = get(pool, "queued");
  db.take().fail(unavailable());
  sched.run();
  db.take().fail(unavailable());
  sched.run();
  CHECK(stats(pool).circuit == circuit_state::closed);
  db.take().fail(unavailable());
  sched.run();
  CHECK(r3->failed_with(errc::unavailable));
  auto s = stats(pool);
  CHECK(s.circuit == circuit_state::open);
  CHECK(s.consecutive_failures == 3);
  // The queued request fails with the circuit instead of reaching the database.
  CHECK(queued->failed_with(errc::unavailable));
  CHECK(db.calls.empty());
  auto fast = get(pool, "fast");
  CHECK(fast->failed_with(errc::unavailable));
  CHECK(db.calls.empty());
  REQUIRE(retry_after(fast->err));
  CHECK(*retry_after(fast->err) == 10s);
  CHECK(metrics->circuit_state.with({"primary"}).value() == 2);
  CHECK(metrics->circuit_opened.with({"primary"}).value() == 1);
  CHECK(metrics->errors.with({"circuit_open"}).value() >= 1);
}

TEST_CASE_METHOD(pool_fixture, "answers other than unavailable reset the failure count",
                 "[pool][circuit]") {
  auto pool = start(1, 1, 10, 2);
  auto r1 = get(pool, "r1");
  db.take().fail(unavailable());
  sched.run();
  auto r2 = get(pool, "r2");
  db.take().fail(klerno::runtime::make_error(errc::deadline_exceeded));
  sched.run();
  CHECK(r2->failed_with(errc::deadline_exceeded));
  auto r3 = get(pool, "r3");
  db.take().fail(unavailable());
  sched.run();
  CHECK(stats(pool).circuit == circuit_state::closed);
  CHECK(stats(pool).consecutive_failures == 1);
}

TEST_CASE_METHOD(pool_fixture, "after the cooldown one probe goes through and decides",
                 "[pool][circuit]") {
  auto pool = start(1, 2, 10, 1);
  get(pool, "r1");
  db.take().fail(unavailable());
  sched.run();
  REQUIRE(stats(pool).circuit == circuit_state::open);
  sched.clock().current_time += 9s;
  CHECK(get(pool, "early")->failed_with(errc::unavailable));
  sched.clock().current_time += 1s;
  auto probe = get(pool, "probe");
  REQUIRE(db.calls.size() == 1);
  CHECK(stats(pool).circuit == circuit_state::half_open);
  auto other = get(pool, "other");
  CHECK(other->failed_with(errc::unavailable));
  CHECK(db.calls.size() == 1);
  SECTION("a successful probe closes the circuit") {
    db.take().succeed();
    sched.run();
    CHECK(probe->value);
    CHECK(stats(pool).circuit == circuit_state::closed);
    auto after = get(pool, "after");
    CHECK(db.calls.size() == 1);
    db.take().succeed();
    sched.run();
    CHECK(after->value);
  }
  SECTION("a failed probe opens the circuit again for a full cooldown") {
    db.take().fail(unavailable());
    sched.run();
    CHECK(probe->failed_with(errc::unavailable));
    CHECK(stats(pool).circuit == circuit_state::open);
    sched.clock().current_time += 9s;
    CHECK(get(pool, "still-open")->failed_with(errc::unavailable));
    CHECK(db.calls.empty());
    CHECK(metrics->circuit_opened.with({"primary"}).value() == 2);
  }
}

TEST_CASE_METHOD(pool_fixture, "a probe lost in the queue frees the half-open slot",
                 "[pool][circuit]") {
  auto pool = start(1, 1, 10, 1);
  auto busy = get(pool, "busy"); // occupies the only connection
  get(pool, "fail");             // queued
  db.take().fail(unavailable()); // "busy" fails: the circuit opens, "fail" is dropped
  sched.run();
  REQUIRE(stats(pool).circuit == circuit_state::open);
  sched.clock().current_time += 10s;
  auto probe = get(pool, "probe");
  REQUIRE(db.calls.size() == 1);
  db.take().succeed();
  sched.run();
  CHECK(probe->value);
  CHECK(stats(pool).circuit == circuit_state::closed);
}

TEST_CASE_METHOD(pool_fixture, "a pool without a circuit breaker never fails fast",
                 "[pool][circuit]") {
  auto pool = start(1, 1, 10, 0);
  for (int i = 0; i < 10; ++i) {
    auto out = get(pool, "x");
    db.take().fail(unavailable());
    sched.run();
    CHECK(out->failed_with(errc::unavailable));
  }
  CHECK(stats(pool).circuit == circuit_state::closed);
}

TEST_CASE_METHOD(pool_fixture, "every session operation is forwarded with its result", "[pool]") {
  auto pool = start(1, 1, 10);
  auto ins = ask<stored_list>(sys, pool, insert_atom::value, txs("t", 2));
  sched.run();
  REQUIRE(db.calls.size() == 1);
  CHECK(db.calls.front().op == "insert");
  CHECK(db.calls.front().rows.size() == 2);
  db.take().succeed();
  sched.run();
  REQUIRE(ins->value);
  CHECK(ins->value->size() == 2);
  auto ping = ask<caf::timespan>(sys, pool, ping_atom::value);
  sched.run();
  db.take().succeed();
  sched.run();
  REQUIRE(ping->value);
  CHECK(*ping->value == std::chrono::microseconds{250});
  auto mig = ask<uint64_t>(sys, pool, migrate_atom::value);
  sched.run();
  CHECK(db.calls.front().op == "migrate");
  db.take().succeed();
  sched.run();
  CHECK(mig->value == uint64_t{1});
  auto sum = ask<summary>(sys, pool, summary_atom::value, summary_query{});
  sched.run();
  db.take().succeed();
  sched.run();
  REQUIRE(sum->value);
  CHECK(sum->value->total == 1);
}

TEST_CASE_METHOD(pool_fixture, "a connection that dies fails its request and is replaced",
                 "[pool]") {
  auto pool = start(1, 1, 10);
  auto r1 = get(pool, "r1");
  auto r2 = get(pool, "r2"); // queued behind r1
  REQUIRE(conns.size() == 1);
  db.take(); // r1, held by conn1: never answered
  caf::anon_send_exit(conns[0], caf::exit_reason::unhandled_exception);
  sched.run();
  CHECK(r1->failed_with(errc::unavailable));
  // A new connection serves the queue.
  REQUIRE(db.calls.size() == 1);
  CHECK(db.calls.front().target == "conn2");
  db.take().succeed();
  sched.run();
  CHECK(r2->value);
  CHECK(stats(pool).connections == 1);
}

TEST_CASE_METHOD(pool_fixture, "stopping the pool fails queued and running requests", "[pool]") {
  auto pool = start(1, 1, 10);
  auto running = get(pool, "running");
  auto queued = get(pool, "queued");
  caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
  sched.run();
  CHECK(running->failed_with(errc::shutting_down));
  CHECK(queued->failed_with(errc::shutting_down));
  // The answer of the stopped connection reaches nobody.
  if (!db.calls.empty()) {
    db.take().succeed();
    sched.run();
  }
  CHECK(running->failed_with(errc::shutting_down));
}
