#include "http/bridge.hpp"

#include <boost/asio/post.hpp>
#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

namespace klerno::http {

actor_bridge::actor_bridge(caf::actor_system& sys, boost::asio::io_context& ioc)
    : sys_(sys), ioc_(ioc), unit_(&sys) {
  handle_ = sys_.spawn<io_companion>();
  self_ = static_cast<io_companion*>(caf::actor_cast<caf::abstract_actor*>(handle_));
  // Runs on whichever thread enqueues (CAF workers, the clock thread): hand the message to the io
  // thread; it is consumed there by `activate`. A companion's enqueue handler must be thread-safe;
  // posting to an io_context is.
  auto* self = self_;
  auto* unit = &unit_;
  self_->on_enqueue([this, self, unit](caf::mailbox_element_ptr ptr) {
    boost::asio::post(ioc_,
                      [self, unit, ptr = std::move(ptr)]() mutable { self->activate(unit, *ptr); });
  });
}

actor_bridge::~actor_bridge() {
  if (!closed_ && self_ != nullptr) {
    // The io thread is gone (stopped without close): detach so nothing posts to a dead context.
    self_->on_enqueue(nullptr);
    self_->cleanup(caf::make_error(caf::exit_reason::user_shutdown), &unit_);
  }
}

void actor_bridge::start() {
  // A scheduled actor without a behavior terminates after its first message; keep a behavior so
  // the companion stays alive between requests.
  self_->become([](caf::unit_t) {});
  self_->set_default_handler(caf::drop);
  self_->activate(&unit_);
}

void actor_bridge::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  self_->on_enqueue(nullptr);
  self_->cleanup(caf::make_error(caf::exit_reason::user_shutdown), &unit_);
}

} // namespace klerno::http
