#include "actors/storage/reads.hpp"

#include <map>
#include <string>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <catch2/catch.hpp>

#include "runtime/metrics.hpp"
#include "tests/unit/storage/fakes.hpp"

using namespace klerno::test::storage;
using klerno::runtime::errc;

namespace {

class reads_fixture : public fixture {
public:
  reads_actor start(std::size_t replicas) {
    reads_config c;
    c.primary = fake("primary");
    for (std::size_t i = 0; i < replicas; ++i) {
      c.replicas.push_back(fake("replica" + std::to_string(i)));
    }
    c.metrics = metrics;
    auto hdl = spawn_reads(sys, std::move(c));
    stop_later(hdl);
    sched.run();
    return hdl;
  }

  outcome_ptr<page> list(const reads_actor& r, const std::string& wallet) {
    list_query q;
    q.wallet = wallet;
    auto out = ask<page>(sys, r, list_atom::value, q);
    sched.run();
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(reads_fixture, "get and history go to the primary", "[reads]") {
  auto r = start(2);
  auto g = ask<maybe_tx>(sys, r, get_atom::value, std::string{"abc"});
  history_query hq;
  hq.addr = "rA";
  auto h = ask<history_list>(sys, r, history_atom::value, hq);
  sched.run();
  REQUIRE(db.calls.size() == 2);
  CHECK(db.calls[0].target == "primary");
  CHECK(db.calls[0].op == "get");
  CHECK(db.calls[1].target == "primary");
  CHECK(db.calls[1].op == "history");
  db.take().succeed();
  db.take().succeed();
  sched.run();
  REQUIRE(g->value);
  CHECK((*g->value)->tx_id == "abc");
  CHECK(h->value);
}

TEST_CASE_METHOD(reads_fixture, "lagging reads go to the replicas round robin", "[reads]") {
  auto r = start(2);
  auto a = list(r, "w1");
  auto b = ask<tx_list>(sys, r, alerts_atom::value, alerts_query{});
  auto c = ask<summary>(sys, r, summary_atom::value, summary_query{});
  auto d = ask<tx_list>(sys, r, export_atom::value, export_query{});
  sched.run();
  REQUIRE(db.calls.size() == 4);
  std::map<std::string, int> per_target;
  for (auto& c : db.calls) {
    ++per_target[c.target];
  }
  CHECK(per_target == std::map<std::string, int>{{"replica0", 2}, {"replica1", 2}});
  while (!db.calls.empty()) {
    db.take().succeed();
  }
  sched.run();
  REQUIRE(a->value);
  CHECK(a->value->items.at(0).tx_id == "listed-w1");
  CHECK(b->value);
  REQUIRE(c->value);
  CHECK(c->value->total == 1);
  CHECK(d->value);
}

TEST_CASE_METHOD(reads_fixture, "without replicas every read goes to the primary", "[reads]") {
  auto r = start(0);
  auto a = list(r, "w1");
  REQUIRE(db.calls.size() == 1);
  CHECK(db.calls.front().target == "primary");
  db.take().succeed();
  sched.run();
  CHECK(a->value);
}

TEST_CASE_METHOD(reads_fixture, "an unavailable replica falls back to the primary", "[reads]") {
  auto r = start(1);
  auto a = list(r, "w1");
  REQUIRE(db.calls.size() == 1);
  CHECK(db.calls.front().target == "replica0");
  db.take().fail(klerno::runtime::make_error(errc::unavailable));
  sched.run();
  REQUIRE(db.calls.size() == 1);
  CHECK(db.calls.front().target == "primary");
  CHECK(db.calls.front().op == "list");
  db.take().succeed();
  sched.run();
  REQUIRE(a->value);
  CHECK(a->value->items.at(0).tx_id == "listed-w1");
  CHECK(metrics->replica_fallbacks.with({}).value() == 1);
}

TEST_CASE_METHOD(reads_fixture, "other replica errors are answered as they are", "[reads]") {
  auto r = start(1);
  auto a = list(r, "w1");
  db.take().fail(klerno::runtime::make_error(errc::deadline_exceeded));
  sched.run();
  CHECK(db.calls.empty());
  CHECK(a->failed_with(errc::deadline_exceeded));
}

TEST_CASE_METHOD(reads_fixture, "stopping the router fails the reads it waits for", "[reads]") {
  auto r = start(1);
  auto a = list(r, "w1");
  caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  sched.run();
  CHECK(a->failed_with(errc::shutting_down));
}
