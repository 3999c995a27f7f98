// A main actor answers the mailbox probe with the number of messages waiting behind it, typed
// actors included, and still refuses every other unexpected message.

#include <catch2/catch.hpp>

#include <chrono>
#include <future>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "runtime/mailbox_probe.hpp"

namespace {

using work_atom = caf::atom_constant<caf::atom("work")>;
using other_atom = caf::atom_constant<caf::atom("other")>;
using worker_actor = caf::typed_actor<caf::reacts_to<work_atom>>;

struct test_system {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  test_system() : sys(cfg.set("scheduler.max-threads", std::size_t{2})) {}
};

} // namespace

TEST_CASE("a typed actor answers the mailbox probe with the depth behind the probe") {
  test_system t;
  std::promise<void> release;
  auto released = release.get_future().share();
  auto worker = t.sys.spawn([released](worker_actor::pointer self) -> worker_actor::behavior_type {
    klerno::runtime::answer_mailbox_probes(self);
    return {[released](work_atom) {
      released.wait();
    }};
  });
  caf::scoped_actor self{t.sys};
  self->send(worker, work_atom::value); // the worker blocks on the first one
  auto probe = caf::actor_cast<caf::actor>(worker);
  uint64_t depth = 999;
  // The probe goes in behind the blocking message, then three more messages behind the probe.
  auto probe_request =
    self->request(probe, std::chrono::seconds(10), klerno::runtime::mailbox_atom::value);
  for (int i = 0; i < 3; ++i) {
    self->send(worker, work_atom::value);
  }
  release.set_value();
  probe_request.receive([&](uint64_t n) { depth = n; },
                        [&](caf::error& e) { FAIL("probe failed: " << t.sys.render(e)); });
  CHECK(depth == 3);
  // Other unexpected messages are refused as before.
  bool refused = false;
  self->request(probe, std::chrono::seconds(10), other_atom::value)
    .receive([&](caf::message&) {},
             [&](caf::error& e) { refused = e == caf::sec::unexpected_message; });
  CHECK(refused);
  self->send_exit(worker, caf::exit_reason::user_shutdown);
}

TEST_CASE("an idle actor reports an empty mailbox") {
  test_system t;
  auto idle = t.sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    klerno::runtime::answer_mailbox_probes(self);
    return {[](work_atom) {
    }};
  });
  caf::scoped_actor self{t.sys};
  uint64_t depth = 999;
  self->request(idle, std::chrono::seconds(10), klerno::runtime::mailbox_atom::value)
    .receive([&](uint64_t n) { depth = n; }, [&](caf::error&) {});
  CHECK(depth == 0);
  self->send_exit(idle, caf::exit_reason::user_shutdown);
}
