#include "runtime/supervisor.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include <catch2/catch.hpp>

#include "runtime/errc.hpp"

using namespace klerno::runtime;
using namespace std::chrono_literals;

namespace {

using events = std::vector<std::string>;

/// Tells a test child to quit with the given reason.
using crash_atom = caf::atom_constant<caf::atom("crash")>;

/// A custom abnormal exit reason.
caf::error boom() {
  return caf::error{1, caf::atom("test")};
}

/// A cooperative child: quits when told to, and on any exit message (CAF's default).
caf::behavior worker_impl(caf::event_based_actor* self) {
  return {
    [self](crash_atom, caf::error& reason) { self->quit(std::move(reason)); },
  };
}

/// A child that ignores user_shutdown (only `kill` ends it) but still crashes when told to.
caf::behavior stubborn_impl(caf::event_based_actor* self) {
  self->set_exit_handler([](caf::exit_msg&) {});
  return worker_impl(self);
}

/// A deterministic actor system (CAF's test_coordinator) plus an event log written by the test
/// children. Everything runs on the test thread, so the log needs no locking.
class fixture {
public:
  fixture()
      : sys(init(cfg)),
        sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
        self(sys, true) {
    // nop
  }

  // Tests stop their supervisors; killing them here only keeps a failed test from hanging in
  // ~actor_system (which waits for every running actor).
  ~fixture() {
    for (auto& sup : supervisors) {
      caf::anon_send_exit(sup, caf::exit_reason::kill);
    }
    sched.run();
  }

  /// Returns a child spec whose start function logs "start <name>#<n>" and whose actor logs
  /// "stop <name>" when it terminates. The start fails (after logging) while `fail_starts` holds
  /// a positive count for `name`.
  child_spec child(const std::string& name, restart_type restart = restart_type::permanent,
                   bool stubborn = false) {
    child_spec result;
    result.name = name;
    result.restart = restart;
    result.start = [this, name, stubborn](caf::actor_system& sys) -> caf::expected<caf::actor> {
      log.push_back("start " + name + "#" + std::to_string(++starts[name]));
      if (fail_starts[name] > 0) {
        --fail_starts[name];
        return boom();
      }
      auto hdl = stubborn ? sys.spawn(stubborn_impl) : sys.spawn(worker_impl);
      hdl->attach_functor([this, name](const caf::error&) { log.push_back("stop " + name); });
      return hdl;
    };
    return result;
  }

  /// Returns and clears the event log.
  events take_log() {
    events result;
    result.swap(log);
    return result;
  }

  /// Spawns a supervisor and records its exit reason in `exits[spec.name]`.
  caf::actor start(supervisor_spec spec) {
    auto name = spec.name;
    auto sup = spawn_supervisor(sys, std::move(spec));
    watch(sup, name);
    supervisors.push_back(sup);
    sched.run();
    return sup;
  }

  /// Records the exit reason of `hdl` in `exits[name]`.
  void watch(const caf::actor& hdl, const std::string& name) {
    hdl->attach_functor([this, name](const caf::error& reason) { exits[name] = reason; });
  }

  /// Asks `sup` for its children (processing all messages on the way).
  child_list children_of(const caf::actor& sup) {
    child_list result;
    auto rh = self->request(sup, caf::infinite, which_children_atom::value);
    sched.run();
    rh.receive([&](child_list& xs) { result = std::move(xs); },
               [&](caf::error& err) { FAIL("which_children failed: " << to_string(err)); });
    return result;
  }

  /// Returns the current handle of the child `name` of `sup`.
  caf::actor child_of(const caf::actor& sup, const std::string& name) {
    for (auto& [child_name, hdl] : children_of(sup)) {
      if (child_name == name) {
        return hdl;
      }
    }
    FAIL("no child named " << name);
    return {};
  }

  /// Makes `hdl` quit with `reason` and processes all resulting messages.
  void crash(const caf::actor& hdl, caf::error reason = boom()) {
    REQUIRE(hdl);
    caf::anon_send(hdl, crash_atom::value, std::move(reason));
    sched.run();
  }

  /// Sends `user_shutdown` to `sup`, processes all messages and checks it exited that way.
  void shut_down(const caf::actor& sup, const std::string& name) {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    sched.run();
    REQUIRE(exits.count(name) == 1);
    CHECK(exits[name] == caf::exit_reason::user_shutdown);
  }

  /// Advances the test clock, delivering due delayed messages, and processes all messages.
  void advance(caf::timespan x) {
    sched.clock().advance_time(x);
    sched.run();
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  events log;
  std::map<std::string, int> starts;
  std::map<std::string, int> fail_starts;
  std::map<std::string, caf::error> exits;
  std::vector<caf::actor> supervisors;

private:
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    return cfg;
  }
};

supervisor_spec make_spec(std::string name, restart_strategy strategy,
                          std::vector<child_spec> children) {
  supervisor_spec result;
  result.name = std::move(name);
  result.strategy = strategy;
  result.max_restarts = 10;
  result.period = 10s;
  result.children = std::move(children);
  return result;
}

/// Returns the id of `hdl`, or 0 for an invalid handle.
caf::actor_id id_of(const caf::actor& hdl) {
  return hdl ? hdl.id() : 0;
}

std::vector<std::string> names_of(const child_list& xs) {
  std::vector<std::string> result;
  for (auto& x : xs) {
    result.push_back(x.first);
  }
  return result;
}

} // namespace

TEST_CASE_METHOD(fixture, "a supervisor starts its children in order and lists them in order",
                 "[supervisor]") {
  auto sup =
    start(make_spec("sup", restart_strategy::one_for_one, {child("a"), child("b"), child("c")}));
  CHECK(take_log() == events{"start a#1", "start b#1", "start c#1"});
  auto xs = children_of(sup);
  CHECK(names_of(xs) == std::vector<std::string>{"a", "b", "c"});
  for (auto& x : xs) {
    CHECK(x.second);
  }
  shut_down(sup, "sup");
}

TEST_CASE_METHOD(fixture, "one_for_one restarts only the failed child", "[supervisor]") {
  auto sup =
    start(make_spec("sup", restart_strategy::one_for_one, {child("a"), child("b"), child("c")}));
  auto before = children_of(sup);
  take_log();
  crash(before[1].second);
  CHECK(take_log() == events{"stop b", "start b#2"});
  auto after = children_of(sup);
  REQUIRE(names_of(after) == std::vector<std::string>{"a", "b", "c"});
  CHECK(id_of(after[0].second) == id_of(before[0].second));
  CHECK(after[1].second);
  CHECK(id_of(after[1].second) != id_of(before[1].second));
  CHECK(id_of(after[2].second) == id_of(before[2].second));
  shut_down(sup, "sup");
}

TEST_CASE_METHOD(fixture,
                 "one_for_all stops the others in reverse start order and restarts all in order",
                 "[supervisor]") {
  auto spec = make_spec("sup", restart_strategy::one_for_all,
                        {child("a"), child("b"), child("c"), child("d")});
  for (auto& c : spec.children) {
    c.shutdown_timeout = 1s;
  }
  auto sup = start(std::move(spec));
  auto before = children_of(sup);
  take_log();
  crash(before[1].second);
  CHECK(take_log()
        == events{"stop b", "stop d", "stop c", "stop a", "start a#2", "start b#2", "start c#2",
                  "start d#2"});
  auto after = children_of(sup);
  REQUIRE(after.size() == 4);
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].second);
    CHECK(id_of(after[i].second) != id_of(before[i].second));
  }
  // The stop timers of the first instances fire late and must not touch the new ones.
  advance(2s);
  CHECK(take_log().empty());
  CHECK(children_of(sup) == after);
  shut_down(sup, "sup");
  CHECK(take_log() == events{"stop d", "stop c", "stop b", "stop a"});
}

TEST_CASE_METHOD(fixture, "rest_for_one restarts the failed child and the ones started after it",
                 "[supervisor]") {
  auto sup = start(make_spec("sup", restart_strategy::rest_for_one,
                             {child("a"), child("b"), child("c"), child("d")}));
  auto before = children_of(sup);
  take_log();
  crash(before[1].second);
  CHECK(take_log() == events{"stop b", "stop d", "stop c", "start b#2", "start c#2", "start d#2"});
  auto after = children_of(sup);
  REQUIRE(after.size() == 4);
  CHECK(id_of(after[0].second) == id_of(before[0].second));
  for (size_t i = 1; i < after.size(); ++i) {
    CHECK(after[i].second);
    CHECK(id_of(after[i].second) != id_of(before[i].second));
  }
  shut_down(sup, "sup");
}

TEST_CASE_METHOD(fixture, "restart types decide whether an exited child is restarted",
                 "[supervisor]") {
  auto sup = start(make_spec("sup", restart_strategy::one_for_one,
                             {child("perm"), child("trans_ok", restart_type::transient),
                              child("trans_stop", restart_type::transient),
                              child("trans_err", restart_type::transient),
                              child("temp", restart_type::temporary)}));
  take_log();
  SECTION("permanent is restarted after a normal exit") {
    crash(child_of(sup, "perm"), caf::exit_reason::normal);
    CHECK(take_log() == events{"stop perm", "start perm#2"});
    CHECK(child_of(sup, "perm"));
  }
  SECTION("transient is not restarted after normal or user_shutdown exits") {
    crash(child_of(sup, "trans_ok"), caf::exit_reason::normal);
    crash(child_of(sup, "trans_stop"), caf::exit_reason::user_shutdown);
    CHECK(take_log() == events{"stop trans_ok", "stop trans_stop"});
    // They keep their place in the list, without a running instance.
    auto xs = children_of(sup);
    CHECK(names_of(xs)
          == std::vector<std::string>{"perm", "trans_ok", "trans_stop", "trans_err", "temp"});
    CHECK(!child_of(sup, "trans_ok"));
    CHECK(!child_of(sup, "trans_stop"));
  }
  SECTION("transient is restarted after an abnormal exit") {
    crash(child_of(sup, "trans_err"));
    CHECK(take_log() == events{"stop trans_err", "start trans_err#2"});
    CHECK(child_of(sup, "trans_err"));
  }
  SECTION("temporary is never restarted and disappears") {
    crash(child_of(sup, "temp"));
    CHECK(take_log() == events{"stop temp"});
    CHECK(names_of(children_of(sup))
          == std::vector<std::string>{"perm", "trans_ok", "trans_stop", "trans_err"});
  }
  shut_down(sup, "sup");
}

TEST_CASE_METHOD(fixture, "exceeding the restart intensity makes the supervisor give up",
                 "[supervisor]") {
  auto spec = make_spec("sup", restart_strategy::one_for_one, {child("a"), child("b"), child("c")});
  spec.max_restarts = 2;
  spec.period = 10s;
  std::vector<std::string> gave_up;
  spec.hooks.on_give_up = [&](const std::string& name) {
    gave_up.push_back(name);
  };
  auto sup = start(std::move(spec));
  take_log();
  SECTION("three crashes within the period") {
    crash(child_of(sup, "b"));
    crash(child_of(sup, "b"));
    CHECK(gave_up.empty());
    CHECK(take_log() == events{"stop b", "start b#2", "stop b", "start b#3"});
    crash(child_of(sup, "b"));
    CHECK(take_log() == events{"stop b", "stop c", "stop a"});
    CHECK(gave_up == std::vector<std::string>{"sup"});
    REQUIRE(exits.count("sup") == 1);
    CHECK(is(exits["sup"], errc::restart_intensity_exceeded));
  }
  SECTION("three crashes spread over more than the period") {
    crash(child_of(sup, "b"));
    advance(11s);
    crash(child_of(sup, "b"));
    advance(11s);
    crash(child_of(sup, "b"));
    CHECK(take_log()
          == events{"stop b", "start b#2", "stop b", "start b#3", "stop b", "start b#4"});
    CHECK(gave_up.empty());
    CHECK(exits.count("sup") == 0);
    shut_down(sup, "sup");
  }
}

TEST_CASE_METHOD(fixture, "max_restarts of zero gives up on the first restart", "[supervisor]") {
  auto spec = make_spec("sup", restart_strategy::one_for_one, {child("a"), child("b")});
  spec.max_restarts = 0;
  auto sup = start(std::move(spec));
  take_log();
  crash(child_of(sup, "a"));
  CHECK(take_log() == events{"stop a", "stop b"});
  REQUIRE(exits.count("sup") == 1);
  CHECK(is(exits["sup"], errc::restart_intensity_exceeded));
}

TEST_CASE_METHOD(fixture, "a nested supervisor that gives up is restarted by its parent",
                 "[supervisor]") {
  auto nested = make_spec("nested", restart_strategy::one_for_one, {child("x")});
  nested.max_restarts = 0;
  auto root_spec =
    make_spec("root", restart_strategy::one_for_one, {child("y"), supervisor_child(nested)});
  root_spec.max_restarts = 1;
  std::vector<std::string> restarts;
  root_spec.hooks.on_restart = [&](const std::string& sup, const std::string& child,
                                   const caf::error& reason) {
    if (is(reason, errc::restart_intensity_exceeded)) {
      restarts.push_back(sup + "/" + child);
    }
  };
  auto root = start(std::move(root_spec));
  CHECK(take_log() == events{"start y#1", "start x#1"});
  auto nested1 = child_of(root, "nested");
  watch(nested1, "nested#1");
  // The nested supervisor exceeds its intensity and escalates; the root restarts it.
  crash(child_of(nested1, "x"));
  REQUIRE(exits.count("nested#1") == 1);
  CHECK(is(exits["nested#1"], errc::restart_intensity_exceeded));
  CHECK(restarts == std::vector<std::string>{"root/nested"});
  CHECK(take_log() == events{"stop x", "start x#2"});
  auto nested2 = child_of(root, "nested");
  REQUIRE(nested2);
  CHECK(id_of(nested2) != id_of(nested1));
  CHECK(child_of(nested2, "x"));
  CHECK(exits.count("root") == 0);
  // Escalating again exceeds the root's own intensity.
  crash(child_of(nested2, "x"));
  CHECK(take_log() == events{"stop x", "stop y"});
  REQUIRE(exits.count("root") == 1);
  CHECK(is(exits["root"], errc::restart_intensity_exceeded));
}

TEST_CASE_METHOD(fixture, "shutting down a tree stops the nested supervisor's children first",
                 "[supervisor]") {
  auto nested = make_spec("nested", restart_strategy::one_for_one, {child("x1"), child("x2")});
  auto root = start(make_spec("root", restart_strategy::one_for_one,
                              {child("y"), supervisor_child(nested), child("z")}));
  take_log();
  shut_down(root, "root");
  CHECK(take_log() == events{"stop z", "stop x2", "stop x1", "stop y"});
}

TEST_CASE_METHOD(fixture, "a child that ignores user_shutdown is killed after its timeout",
                 "[supervisor]") {
  auto spec = make_spec("sup", restart_strategy::one_for_one,
                        {child("a"), child("s", restart_type::permanent, true), child("c")});
  spec.children[1].shutdown_timeout = 3s;
  auto sup = start(std::move(spec));
  take_log();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  CHECK(take_log() == events{"stop c"});
  advance(2s);
  CHECK(take_log().empty());
  CHECK(exits.count("sup") == 0);
  advance(1s);
  CHECK(take_log() == events{"stop s", "stop a"});
  REQUIRE(exits.count("sup") == 1);
  CHECK(exits["sup"] == caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "a start failure at startup stops the started children and exits",
                 "[supervisor]") {
  fail_starts["c"] = 1;
  start(make_spec("sup", restart_strategy::one_for_one,
                  {child("a"), child("b"), child("c"), child("d")}));
  CHECK(take_log() == events{"start a#1", "start b#1", "start c#1", "stop b", "stop a"});
  REQUIRE(exits.count("sup") == 1);
  CHECK(is(exits["sup"], errc::child_start_failed));
}

TEST_CASE_METHOD(fixture, "a start function that throws counts as a start failure",
                 "[supervisor]") {
  auto thrower = child("t");
  thrower.start = [](caf::actor_system&) -> caf::expected<caf::actor> {
    throw std::runtime_error("no");
  };
  start(make_spec("sup", restart_strategy::one_for_one, {child("a"), thrower}));
  CHECK(take_log() == events{"start a#1", "stop a"});
  REQUIRE(exits.count("sup") == 1);
  CHECK(is(exits["sup"], errc::child_start_failed));
}

TEST_CASE_METHOD(fixture, "a failed restart is retried and consumes restart intensity",
                 "[supervisor]") {
  auto spec = make_spec("sup", restart_strategy::one_for_one, {child("a"), child("b")});
  spec.max_restarts = 3;
  auto sup = start(std::move(spec));
  take_log();
  SECTION("a transient start failure") {
    fail_starts["b"] = 1;
    crash(child_of(sup, "b"));
    CHECK(take_log() == events{"stop b", "start b#2", "start b#3"});
    CHECK(child_of(sup, "b"));
    shut_down(sup, "sup");
  }
  SECTION("a persistent start failure") {
    fail_starts["b"] = 100;
    crash(child_of(sup, "b"));
    CHECK(take_log() == events{"stop b", "start b#2", "start b#3", "start b#4", "stop a"});
    REQUIRE(exits.count("sup") == 1);
    CHECK(is(exits["sup"], errc::restart_intensity_exceeded));
  }
}

TEST_CASE_METHOD(fixture, "shutdown from outside stops children in reverse start order",
                 "[supervisor]") {
  auto sup =
    start(make_spec("sup", restart_strategy::one_for_one, {child("a"), child("b"), child("c")}));
  take_log();
  shut_down(sup, "sup");
  CHECK(take_log() == events{"stop c", "stop b", "stop a"});
}

TEST_CASE_METHOD(fixture, "the registry returns the current instance of a registered child",
                 "[supervisor]") {
  auto reg_name = caf::atom("sup_reg_b");
  auto spec = make_spec("sup", restart_strategy::one_for_one, {child("a"), child("b")});
  spec.children[1].registry_name = reg_name;
  auto sup = start(std::move(spec));
  auto& reg = sys.registry();
  auto b1 = child_of(sup, "b");
  CHECK(reg.get<caf::actor>(reg_name) == b1);
  crash(b1);
  auto b2 = child_of(sup, "b");
  REQUIRE(b2);
  CHECK(b2 != b1);
  CHECK(reg.get<caf::actor>(reg_name) == b2);
  shut_down(sup, "sup");
  CHECK(!reg.get<caf::actor>(reg_name));
}

TEST_CASE_METHOD(fixture, "on_restart is called with the supervisor, the child and the reason",
                 "[supervisor]") {
  std::vector<std::tuple<std::string, std::string, caf::error>> calls;
  auto record = [&](const std::string& sup, const std::string& child, const caf::error& reason) {
    calls.emplace_back(sup, child, reason);
  };
  SECTION("one_for_one: once, for the failed child") {
    auto spec = make_spec("sup1", restart_strategy::one_for_one, {child("a"), child("b")});
    spec.hooks.on_restart = record;
    auto sup = start(std::move(spec));
    crash(child_of(sup, "b"));
    REQUIRE(calls.size() == 1);
    CHECK(std::get<0>(calls[0]) == "sup1");
    CHECK(std::get<1>(calls[0]) == "b");
    CHECK(std::get<2>(calls[0]) == boom());
    shut_down(sup, "sup1");
  }
  SECTION("one_for_all: once per restarted child, with the triggering reason") {
    auto spec = make_spec("sup2", restart_strategy::one_for_all, {child("a"), child("b")});
    spec.hooks.on_restart = record;
    auto sup = start(std::move(spec));
    crash(child_of(sup, "b"), caf::exit_reason::kill);
    REQUIRE(calls.size() == 2);
    CHECK(std::get<0>(calls[0]) == "sup2");
    CHECK(std::get<1>(calls[0]) == "a");
    CHECK(std::get<2>(calls[0]) == caf::exit_reason::kill);
    CHECK(std::get<1>(calls[1]) == "b");
    CHECK(std::get<2>(calls[1]) == caf::exit_reason::kill);
    shut_down(sup, "sup2");
  }
}

TEST_CASE_METHOD(fixture, "a child exit during a restart is handled after it, exactly once",
                 "[supervisor]") {
  // s ignores user_shutdown, so each stop of s waits for the test clock.
  auto spec = make_spec("sup", restart_strategy::rest_for_one,
                        {child("a"), child("b"), child("s", restart_type::permanent, true)});
  spec.children[2].shutdown_timeout = 1s;
  spec.max_restarts = 2;
  auto sup = start(std::move(spec));
  take_log();
  crash(child_of(sup, "b"));
  CHECK(take_log() == events{"stop b"}); // waiting for s
  // a is not part of the running restart: its exit waits until that restart completed.
  crash(child_of(sup, "a"));
  CHECK(take_log() == events{"stop a"});
  advance(1s);
  // Then a's rest_for_one restart begins: s#2 first, waiting again.
  CHECK(take_log() == events{"stop s", "start b#2", "start s#2"});
  advance(1s);
  CHECK(take_log() == events{"stop s", "stop b", "start a#2", "start b#3", "start s#3"});
  CHECK(exits.count("sup") == 0);
  auto xs = children_of(sup);
  for (auto& x : xs) {
    CHECK(x.second);
  }
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  advance(1s);
  CHECK(take_log() == events{"stop s", "stop b", "stop a"});
  CHECK(exits["sup"] == caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "a child exit of a child that is about to be stopped is folded in",
                 "[supervisor]") {
  auto spec =
    make_spec("sup", restart_strategy::one_for_all,
              {child("a"), child("b"), child("s", restart_type::permanent, true), child("c")});
  spec.children[2].shutdown_timeout = 1s;
  spec.max_restarts = 1; // a second counted restart would give up
  auto sup = start(std::move(spec));
  take_log();
  crash(child_of(sup, "a"));
  CHECK(take_log() == events{"stop a", "stop c"}); // waiting for s
  crash(child_of(sup, "b"));
  CHECK(take_log() == events{"stop b"});
  advance(1s);
  CHECK(take_log() == events{"stop s", "start a#2", "start b#2", "start s#2", "start c#2"});
  CHECK(exits.count("sup") == 0);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  advance(1s);
  CHECK(take_log() == events{"stop c", "stop s", "stop b", "stop a"});
  CHECK(exits["sup"] == caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "shutdown during a restart stops everything and skips the restart",
                 "[supervisor]") {
  auto spec = make_spec("sup", restart_strategy::one_for_all,
                        {child("a"), child("s", restart_type::permanent, true), child("c")});
  spec.children[1].shutdown_timeout = 1s;
  auto sup = start(std::move(spec));
  take_log();
  crash(child_of(sup, "a"));
  CHECK(take_log() == events{"stop a", "stop c"}); // waiting for s
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  CHECK(exits.count("sup") == 0);
  advance(1s);
  CHECK(take_log() == events{"stop s"});
  REQUIRE(exits.count("sup") == 1);
  CHECK(exits["sup"] == caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "a child killed from outside is restarted and the supervisor survives",
                 "[supervisor]") {
  auto sup = start(make_spec("sup", restart_strategy::one_for_one, {child("a"), child("b")}));
  take_log();
  caf::anon_send_exit(child_of(sup, "b"), caf::exit_reason::kill);
  sched.run();
  CHECK(take_log() == events{"stop b", "start b#2"});
  CHECK(exits.count("sup") == 0);
  shut_down(sup, "sup");
}

TEST_CASE_METHOD(fixture, "a shutdown timeout of zero kills the child at once", "[supervisor]") {
  auto spec = make_spec("sup", restart_strategy::one_for_one,
                        {child("a"), child("s", restart_type::permanent, true)});
  spec.children[1].shutdown_timeout = 0ms;
  auto sup = start(std::move(spec));
  take_log();
  shut_down(sup, "sup");
  CHECK(take_log() == events{"stop s", "stop a"});
}

TEST_CASE_METHOD(fixture, "killing a supervisor takes its running children down", "[supervisor]") {
  auto reg_name = caf::atom("sup_reg_k");
  auto nested = make_spec("nested", restart_strategy::one_for_one, {child("x")});
  auto spec =
    make_spec("sup", restart_strategy::one_for_one,
              {child("a"), supervisor_child(nested), child("s", restart_type::permanent, true)});
  spec.children[0].registry_name = reg_name;
  auto sup = start(std::move(spec));
  take_log();
  CHECK(sys.registry().get<caf::actor>(reg_name));
  caf::anon_send_exit(sup, caf::exit_reason::kill);
  sched.run();
  auto log = take_log();
  std::sort(log.begin(), log.end());
  CHECK(log == events{"stop a", "stop s", "stop x"});
  CHECK(exits["sup"] == caf::exit_reason::kill);
  CHECK(!sys.registry().get<caf::actor>(reg_name));
}

TEST_CASE_METHOD(fixture, "restart types and strategies have names", "[supervisor]") {
  CHECK(std::string{to_string(restart_type::transient)} == "transient");
  CHECK(std::string{to_string(restart_strategy::rest_for_one)} == "rest_for_one");
}
