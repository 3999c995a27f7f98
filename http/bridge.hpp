#pragma once

// The gateway from an io thread into the actor system.
//
// Each io thread owns one `actor_bridge`: a CAF actor companion whose mailbox is drained on that
// io thread (every message CAF enqueues for it is posted to the thread's io_context). Handlers
// call `bridge.self()->request(dest, timeout, msg...).then(on_ok, on_error)`; the request leaves
// without blocking, and the response handler runs later on the same io thread, where it can
// write the HTTP response directly. CAF's request timeout bounds every call (the handler answers
// 504 then), and a destination that is gone yields an error instead of silence.

#include <memory>

#include <boost/asio/io_context.hpp>
#include <caf/actor_companion.hpp>
#include <caf/actor_system.hpp>
#include <caf/mixin/requester.hpp>
#include <caf/scoped_execution_unit.hpp>

namespace klerno::http {

/// An actor companion that can issue requests (CAF 0.17's companion lacks the requester mixin).
class io_companion : public caf::mixin::requester<caf::actor_companion, io_companion> {
public:
  using super = caf::mixin::requester<caf::actor_companion, io_companion>;

  explicit io_companion(caf::actor_config& cfg) : super(cfg) {}
};

/// One io thread's gateway into the actor system.
class actor_bridge {
public:
  /// Spawns the companion and binds it to `ioc`. Call `start` on the io thread before use.
  actor_bridge(caf::actor_system& sys, boost::asio::io_context& ioc);

  ~actor_bridge();

  actor_bridge(const actor_bridge&) = delete;
  actor_bridge& operator=(const actor_bridge&) = delete;

  /// Initializes the companion; must run on the io thread.
  void start();

  /// Returns the companion for `request(...).then(...)`; use on the io thread only. Use `.then`
  /// (never `.await`, whose replies the companion cannot keep). If a response handler threw, CAF
  /// terminated the companion (its pending requests were answered 500 through their responders);
  /// a fresh one is made here.
  io_companion* self();

  /// Returns the actor system.
  caf::actor_system& system() noexcept {
    return sys_;
  }

  /// Returns the io_context of this io thread (for timers of handlers).
  boost::asio::io_context& context() noexcept {
    return ioc_;
  }

  /// Detaches from the io_context and terminates the companion: pending response handlers are
  /// dropped (their responders answer the clients). Must run on the io thread; idempotent.
  void close();

private:
  /// Spawns and initializes a companion bound to this thread's io_context (io thread).
  void spawn_companion();

  caf::actor_system& sys_;
  boost::asio::io_context& ioc_;
  caf::actor handle_;
  io_companion* self_ = nullptr;
  caf::scoped_execution_unit unit_;
  bool closed_ = false;
  bool started_ = false;
  bool dead_ = false; ///< the companion terminated (an exception in a response handler)
};

} // namespace klerno::http
