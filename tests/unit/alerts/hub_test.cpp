// The alert hub (actors/alerts/hub.hpp) on CAF's deterministic test_coordinator: deliveries by
// watched address, watch-set replacement, unsubscribing, and the boundary to the cluster's
// fan-out (local alerts are forwarded, remote ones never).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <catch2/catch.hpp>

#include "actors/alerts/hub.hpp"

using namespace klerno::actors::alerts;
namespace model = klerno::actors::model;

namespace {

/// Records what the hub delivers (everything runs on the test thread).
class recording_sink : public subscriber_sink {
public:
  bool deliver(const alert_ptr& a) override {
    received.push_back(a);
    return !gone;
  }

  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& a : received) {
      out.push_back(a->tx.tx_id);
    }
    return out;
  }

  std::vector<alert_ptr> received;
  bool gone = false; ///< answer "gone" to the next deliveries
};

model::transaction tx(const std::string& id, const std::string& from, const std::string& to) {
  model::transaction t;
  t.tx_id = id;
  t.from_addr = from;
  t.to_addr = to;
  t.risk_score = 90;
  t.risk_bucket = "high";
  return t;
}

/// The alerts a fake fan-out actor received.
struct fan_log {
  std::vector<alert_ptr> broadcasts;
};

fan_out_actor::behavior_type fake_fan_out(fan_out_actor::pointer, fan_log* log) {
  return {
    [log](broadcast_atom, const alert_ptr& a) { log->broadcasts.push_back(a); },
  };
}

class fixture {
public:
  fixture()
      : sys(init(cfg)), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    hub = caf::actor_cast<hub_actor>(spawn_hub(sys, {"node-a"}));
    sched.run();
  }

  ~fixture() {
    caf::anon_send_exit(hub, caf::exit_reason::kill);
    if (fan) {
      caf::anon_send_exit(fan, caf::exit_reason::kill);
    }
    sys.registry().erase(alert_fan_name);
    sys.registry().erase(hub_name);
    sched.run();
  }

  /// Subscribes `sink` under `id` with `watch` and returns the hub's answer.
  uint64_t subscribe(subscriber_id id, std::shared_ptr<subscriber_sink> sink,
                     std::vector<std::string> watch) {
    std::optional<uint64_t> answer;
    subscription sub;
    sub.id = id;
    sub.sink = std::move(sink);
    sub.watch = std::move(watch);
    sys.spawn([this, &answer, sub](caf::event_based_actor* self) {
      self->request(hub, caf::infinite, subscribe_atom::value, sub).then([&answer](uint64_t n) {
        answer = n;
      });
    });
    sched.run();
    REQUIRE(answer);
    return *answer;
  }

  void unsubscribe(subscriber_id id) {
    caf::anon_send(hub, unsubscribe_atom::value, id);
    sched.run();
  }

  void publish_local(model::transaction t, std::string origin = {}) {
    caf::anon_send(hub, publish_local_atom::value, make_alert(std::move(t), std::move(origin)));
    sched.run();
  }

  void publish_remote(model::transaction t, std::string origin) {
    caf::anon_send(hub, publish_remote_atom::value, make_alert(std::move(t), std::move(origin)));
    sched.run();
  }

  /// Registers a fake fan-out actor under alert_fan_name.
  void start_fan_out() {
    fan = sys.spawn(fake_fan_out, &fans);
    sys.registry().put(alert_fan_name, fan);
    sched.run();
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  hub_actor hub;
  fan_log fans;
  fan_out_actor fan;

private:
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }
};

using ids = std::vector<std::string>;

} // namespace

TEST_CASE_METHOD(fixture, "an alert reaches the watchers of its sender or receiver, once each",
                 "[alerts]") {
  auto sender = std::make_shared<recording_sink>();
  auto receiver = std::make_shared<recording_sink>();
  auto both = std::make_shared<recording_sink>();
  auto other = std::make_shared<recording_sink>();
  CHECK(subscribe(1, sender, {"rA"}) == 1);
  CHECK(subscribe(2, receiver, {"rB", "rZ"}) == 2);
  CHECK(subscribe(3, both, {"rA", "rB", "rA"}) == 2); // duplicates count once
  CHECK(subscribe(4, other, {"rC"}) == 1);

  publish_local(tx("t1", "rA", "rB"));
  CHECK(sender->ids() == ids{"t1"});
  CHECK(receiver->ids() == ids{"t1"});
  CHECK(both->ids() == ids{"t1"}); // watches both ends, gets it once
  CHECK(other->received.empty());

  publish_local(tx("t2", "rX", "rZ"));
  CHECK(sender->ids() == ids{"t1"});
  CHECK(receiver->ids() == ids{"t1", "t2"});
  CHECK(both->ids() == ids{"t1"});
  CHECK(other->received.empty());
}

TEST_CASE_METHOD(fixture, "every watcher gets the same alert object, stamped with this node",
                 "[alerts]") {
  auto a = std::make_shared<recording_sink>();
  auto b = std::make_shared<recording_sink>();
  subscribe(1, a, {"rA"});
  subscribe(2, b, {"rA"});
  publish_local(tx("t1", "rA", "rB"));
  REQUIRE(a->received.size() == 1);
  REQUIRE(b->received.size() == 1);
  CHECK(a->received[0] == b->received[0]); // one copy, shared
  CHECK(a->received[0]->origin_node == "node-a");
  CHECK(a->received[0]->tx.risk_score == 90);
}

TEST_CASE_METHOD(fixture, "an alert without a counterparty reaches only its other end's watchers",
                 "[alerts]") {
  auto a = std::make_shared<recording_sink>();
  // An empty address is ignored: it must not match every alert that lacks one end.
  CHECK(subscribe(1, a, {"", "rA"}) == 1);
  auto nobody = std::make_shared<recording_sink>();
  CHECK(subscribe(2, nobody, {""}) == 0);
  publish_local(tx("t1", "rA", ""));
  publish_local(tx("t2", "", "rQ"));
  CHECK(a->ids() == ids{"t1"});
  CHECK(nobody->received.empty());
}

TEST_CASE_METHOD(fixture, "a subscribe with the same id replaces the whole watch set", "[alerts]") {
  auto s = std::make_shared<recording_sink>();
  subscribe(7, s, {"rA", "rB"});
  CHECK(subscribe(7, s, {"rC"}) == 1);
  publish_local(tx("t1", "rA", "rX"));
  publish_local(tx("t2", "rX", "rB"));
  publish_local(tx("t3", "rC", "rX"));
  CHECK(s->ids() == ids{"t3"});

  // A new sink under the same id takes over.
  auto next = std::make_shared<recording_sink>();
  subscribe(7, next, {"rC"});
  publish_local(tx("t4", "rC", "rX"));
  CHECK(s->ids() == ids{"t3"});
  CHECK(next->ids() == ids{"t4"});
}

TEST_CASE_METHOD(fixture, "unsubscribing, or watching nothing, stops the deliveries", "[alerts]") {
  auto a = std::make_shared<recording_sink>();
  auto b = std::make_shared<recording_sink>();
  auto c = std::make_shared<recording_sink>();
  subscribe(1, a, {"rA"});
  subscribe(2, b, {"rA"});
  subscribe(3, c, {"rA"});
  unsubscribe(1);
  CHECK(subscribe(2, b, {}) == 0);
  unsubscribe(99); // unknown: ignored
  publish_local(tx("t1", "rA", "rB"));
  CHECK(a->received.empty());
  CHECK(b->received.empty());
  CHECK(c->ids() == ids{"t1"});
}

TEST_CASE_METHOD(fixture, "a subscriber whose sink reports it gone is dropped", "[alerts]") {
  auto s = std::make_shared<recording_sink>();
  subscribe(1, s, {"rA"});
  s->gone = true;
  publish_local(tx("t1", "rA", "rB")); // delivered, answered "gone": the hub forgets it
  publish_local(tx("t2", "rA", "rB"));
  CHECK(s->ids() == ids{"t1"});
}

TEST_CASE_METHOD(fixture, "a local alert goes to the fan-out actor when one is registered",
                 "[alerts]") {
  auto s = std::make_shared<recording_sink>();
  subscribe(1, s, {"rA"});
  publish_local(tx("t0", "rA", "rB")); // no fan-out yet: local delivery only
  start_fan_out();
  publish_local(tx("t1", "rA", "rB"));
  publish_local(tx("t2", "rQ", "rR")); // watched by no one here: still broadcast
  CHECK(s->ids() == ids{"t0", "t1"});
  REQUIRE(fans.broadcasts.size() == 2);
  CHECK(fans.broadcasts[0]->tx.tx_id == "t1");
  CHECK(fans.broadcasts[0]->origin_node == "node-a");
  CHECK(fans.broadcasts[0] == s->received[1]);
  CHECK(fans.broadcasts[1]->tx.tx_id == "t2");
}

TEST_CASE_METHOD(fixture, "a local alert keeps an origin it already names", "[alerts]") {
  start_fan_out();
  publish_local(tx("t1", "rA", "rB"), "node-z");
  REQUIRE(fans.broadcasts.size() == 1);
  CHECK(fans.broadcasts[0]->origin_node == "node-z");
}

TEST_CASE_METHOD(fixture, "a remote alert is delivered locally and never forwarded", "[alerts]") {
  start_fan_out();
  auto s = std::make_shared<recording_sink>();
  subscribe(1, s, {"rB"});
  publish_remote(tx("t1", "rA", "rB"), "node-b");
  REQUIRE(s->received.size() == 1);
  CHECK(s->received[0]->origin_node == "node-b");
  CHECK(fans.broadcasts.empty());
}

TEST_CASE_METHOD(fixture,
                 "publish_local() reaches the hub in the registry, and nothing without one",
                 "[alerts]") {
  auto s = std::make_shared<recording_sink>();
  subscribe(1, s, {"rA"});
  klerno::actors::alerts::publish_local(sys, tx("t1", "rA", "rB")); // no hub registered yet
  sched.run();
  CHECK(s->received.empty());
  sys.registry().put(hub_name, hub);
  klerno::actors::alerts::publish_local(sys, tx("t2", "rA", "rB"));
  sched.run();
  CHECK(s->ids() == ids{"t2"});
  CHECK(s->received[0]->origin_node == "node-a");
}
