#include "http/bridge.hpp"

#include <boost/asio/post.hpp>
#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include "runtime/logging.hpp"

namespace klerno::http {

actor_bridge::actor_bridge(caf::actor_system& sys, boost::asio::io_context& ioc)
    : sys_(sys), ioc_(ioc), unit_(&sys) {
  // The companion is made by start(), on the io thread.
}

actor_bridge::~actor_bridge() {
  if (!closed_ && !dead_ && self_ != nullptr) {
    // The io thread is gone (stopped without close): detach so nothing posts to a dead context.
    self_->on_enqueue(nullptr);
    self_->cleanup(caf::make_error(caf::exit_reason::user_shutdown), &unit_);
  }
}

void actor_bridge::spawn_companion() {
  handle_ = sys_.spawn<io_companion>();
  self_ = static_cast<io_companion*>(caf::actor_cast<caf::abstract_actor*>(handle_));
  dead_ = false;
  // Runs on whichever thread enqueues (CAF workers, the clock thread): hand the message to the io
  // thread, where `activate` consumes it. Posting to an io_context is thread-safe.
  auto* self = self_;
  auto* unit = &unit_;
  self_->on_enqueue([this, self, unit](caf::mailbox_element_ptr ptr) {
    boost::asio::post(ioc_,
                      [self, unit, ptr = std::move(ptr)]() mutable { self->activate(unit, *ptr); });
  });
  // Runs on the io thread when the companion terminates: from close(), or because a response
  // handler threw (CAF then quits the actor).
  self_->on_exit([this, self] {
    if (self == self_) {
      dead_ = true;
    }
  });
  self_->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      runtime::logging::get("http")->error("a response handler threw: {}", e.what());
    } catch (...) {
      runtime::logging::get("http")->error("a response handler threw a non-exception");
    }
    return caf::make_error(caf::sec::runtime_error);
  });
  // A scheduled actor without a behavior terminates after its first message; keep a behavior so
  // the companion stays alive between requests.
  self_->become([](caf::unit_t) {});
  self_->set_default_handler(caf::drop);
  self_->activate(&unit_);
}

void actor_bridge::start() {
  started_ = true;
  spawn_companion();
}

io_companion* actor_bridge::self() {
  if (dead_ && !closed_) {
    runtime::logging::get("http")->warn("replacing the actor bridge of an io thread");
    spawn_companion();
  }
  return self_;
}

void actor_bridge::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  if (self_ != nullptr && !dead_) {
    self_->on_enqueue(nullptr);
    self_->cleanup(caf::make_error(caf::exit_reason::user_shutdown), &unit_);
  }
}

} // namespace klerno::http
