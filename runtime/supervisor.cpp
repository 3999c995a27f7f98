#include "runtime/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include <caf/actor_registry.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "runtime/errc.hpp"

namespace klerno::runtime {

namespace {

// Internal messages the supervisor sends to itself.
using stop_timeout_atom = caf::atom_constant<caf::atom("sup_stptmo")>;
using retry_atom = caf::atom_constant<caf::atom("sup_retry")>;

using time_point = caf::actor_clock::time_point;

bool has_registry_name(caf::atom_value x) {
  return x != caf::atom("") && x != caf::atom_value{};
}

// Children are monitored, not linked. With CAF 0.17 links, an exit_msg carrying
// `exit_reason::kill` terminates its receiver even when it traps exits, so a child killed by anyone
// (including by its supervisor after a shutdown timeout) would take the supervisor down with it;
// and an actor that receives an exit_msg unlinks from its source first, so a child stopped by its
// linked supervisor would never report back. The link's other direction (children die with their
// supervisor) is provided by `forward_exit`, attached to the supervisor.

// A running child, as far as the functor that outlives the supervisor's state needs to know.
struct running_child {
  caf::actor_addr addr;
  caf::atom_value registry_name;
};

using running_list = std::vector<running_child>;

// Sends the supervisor's exit reason to the children still running when it terminates (newest
// first) and unpublishes them. Empty unless the supervisor terminated without stopping them
// (killed, or an unhandled exception).
void forward_exit(caf::actor_system& sys, const caf::actor_addr& supervisor,
                  const running_list& children, const caf::error& reason) {
  auto fwd = reason ? reason : caf::make_error(caf::exit_reason::user_shutdown);
  for (auto i = children.rbegin(); i != children.rend(); ++i) {
    auto ptr = caf::actor_cast<caf::strong_actor_ptr>(i->addr);
    if (!ptr) {
      continue;
    }
    if (has_registry_name(i->registry_name) && sys.registry().get(i->registry_name) == ptr) {
      sys.registry().erase(i->registry_name);
    }
    ptr->enqueue(nullptr, caf::make_message_id(), caf::make_message(caf::exit_msg{supervisor, fwd}),
                 nullptr);
  }
}

bool needs_restart(restart_type type, const caf::error& reason) {
  switch (type) {
    case restart_type::permanent:
      return true;
    case restart_type::transient:
      return reason && reason != caf::exit_reason::user_shutdown;
    case restart_type::temporary:
      return false;
  }
  return false;
}

struct child {
  child_spec spec;
  uint64_t key = 0;  // stable identity of this entry, survives restarts
  uint64_t gen = 0;  // identity of the current start attempt
  caf::actor handle; // invalid while the child is not running
};

struct pending_exit {
  uint64_t key;
  uint64_t gen;
  caf::error reason;
};

enum class operation { none, restart, shutdown };

// All decisions are made here; the message handlers only route to these member functions. An
// "operation" is a sequence of asynchronous stops (one child at a time) followed by either a
// restart of a set of children or the supervisor's own exit. Child exits that belong to no running
// operation while one is in progress are queued and handled once it completes.
class supervisor_state {
public:
  static inline const char* name = "klerno.supervisor";

  explicit supervisor_state(caf::event_based_actor* self) : self_(self) {
    // nop
  }

  caf::behavior make_behavior(supervisor_spec spec) {
    name_ = std::move(spec.name);
    strategy_ = spec.strategy;
    max_restarts_ = spec.max_restarts;
    period_ = spec.period;
    hooks_ = std::move(spec.hooks);
    for (auto& x : spec.children) {
      children_.push_back(child{std::move(x), ++next_key_, 0, caf::actor{}});
    }
    self_->attach_functor([sys = &self_->system(), addr = self_->address(),
                           running = running_](const caf::error& reason) {
      forward_exit(*sys, addr, *running, reason);
    });
    self_->set_exit_handler([this](caf::exit_msg& x) { on_exit_msg(x); });
    self_->set_down_handler([this](caf::down_msg& x) { on_down_msg(x); });
    startup();
    return {
      [this](which_children_atom) { return which_children(); },
      [this](stop_timeout_atom, uint64_t key, uint64_t gen) { on_stop_timeout(key, gen); },
      [this](retry_atom, uint64_t key, uint64_t gen, caf::error& reason) {
        on_retry(key, gen, std::move(reason));
      },
    };
  }

private:
  // -- startup and child starts ----------------------------------------------------------------

  void startup() {
    for (auto& c : children_) {
      if (auto err = start(c)) {
        begin_shutdown(make_error(errc::child_start_failed, caf::make_message(c.spec.name, err)));
        return;
      }
    }
  }

  // Starts `c` and monitors it; returns the reason if the start failed.
  caf::error start(child& c) {
    c.gen = ++next_gen_;
    caf::expected<caf::actor> res{caf::actor{}};
    try {
      res = c.spec.start(self_->system());
    } catch (const std::exception& e) {
      return make_error(errc::child_start_failed, caf::make_message(c.spec.name, e.what()));
    } catch (...) {
      return make_error(errc::child_start_failed, caf::make_message(c.spec.name));
    }
    if (!res) {
      if (res.error()) {
        return std::move(res.error());
      }
      return make_error(errc::child_start_failed, caf::make_message(c.spec.name));
    }
    if (!*res) {
      return make_error(errc::child_start_failed, caf::make_message(c.spec.name));
    }
    c.handle = std::move(*res);
    // If the child is already gone, its down_msg is enqueued right away.
    self_->monitor(c.handle);
    running_->push_back(running_child{c.handle.address(), c.spec.registry_name});
    if (has_registry_name(c.spec.registry_name)) {
      self_->system().registry().put(c.spec.registry_name, c.handle);
    }
    return caf::none;
  }

  // Forgets the handle of a child that exited.
  void release(child& c) {
    if (has_registry_name(c.spec.registry_name)) {
      auto& reg = self_->system().registry();
      // Only erase our own entry: someone else may have claimed the name meanwhile.
      if (reg.get(c.spec.registry_name) == caf::actor_cast<caf::strong_actor_ptr>(c.handle)) {
        reg.erase(c.spec.registry_name);
      }
    }
    auto addr = c.handle.address();
    running_->erase(std::remove_if(running_->begin(), running_->end(),
                                   [&](const running_child& x) { return x.addr == addr; }),
                    running_->end());
    c.handle = caf::actor{};
  }

  // -- exits -----------------------------------------------------------------------------------

  void on_exit_msg(caf::exit_msg& x) {
    if (find_running(x.source) != children_.end()) {
      return; // a child sending exits is no reason to stop; its own exit arrives as down_msg
    }
    // The parent supervisor, the node or a link: stop everything and leave with the same reason.
    begin_shutdown(std::move(x.reason));
  }

  void on_down_msg(caf::down_msg& x) {
    auto i = find_running(x.source);
    if (i != children_.end()) {
      child_exited(*i, std::move(x.reason));
    }
  }

  void child_exited(child& c, caf::error reason) {
    auto key = c.key;
    auto gen = c.gen;
    release(c);
    if (op_ == operation::none) {
      handle_exit(key, std::move(reason));
      return;
    }
    if (stopping_ && stopping_->first == key) {
      // The child we asked to stop (or it died on its own meanwhile: same outcome).
      stopping_.reset();
      remove_if_temporary(key);
      stop_next();
      return;
    }
    if (op_ == operation::shutdown || in_restart_set(key)) {
      // Already part of the running operation: it will not be stopped again and gets restarted
      // with the others (unless temporary), without counting as an extra restart.
      remove_if_temporary(key);
      return;
    }
    if (c.spec.restart == restart_type::temporary) {
      remove_if_temporary(key);
      return;
    }
    if (needs_restart(c.spec.restart, reason)) {
      pending_.push_back(pending_exit{key, gen, std::move(reason)});
    }
  }

  // Decides what to do about a child that is no longer running; only called when idle.
  void handle_exit(uint64_t key, caf::error reason) {
    auto i = find(key);
    if (i == children_.end()) {
      return;
    }
    if (i->spec.restart == restart_type::temporary) {
      children_.erase(i);
      return;
    }
    if (!needs_restart(i->spec.restart, reason)) {
      return; // a transient child that finished: keeps its place, not running
    }
    if (!record_restart()) {
      if (hooks_.on_give_up) {
        hooks_.on_give_up(name_);
      }
      begin_shutdown(make_error(errc::restart_intensity_exceeded, caf::make_message(name_)));
      return;
    }
    auto first = strategy_ == restart_strategy::one_for_all ? children_.begin() : i;
    auto last = strategy_ == restart_strategy::one_for_one ? std::next(i) : children_.end();
    op_ = operation::restart;
    restart_reason_ = std::move(reason);
    restart_set_.clear();
    stop_queue_.clear();
    for (auto j = first; j != last; ++j) {
      restart_set_.push_back(j->key);
    }
    for (auto j = std::make_reverse_iterator(last); j != std::make_reverse_iterator(first); ++j) {
      if (j->handle) {
        stop_queue_.push_back(j->key);
      }
    }
    stop_next();
  }

  // Adds a restart at the current time; returns false if that exceeds the intensity.
  bool record_restart() {
    auto now = self_->clock().now();
    while (!restarts_.empty() && now - restarts_.front() > period_) {
      restarts_.pop_front();
    }
    restarts_.push_back(now);
    return restarts_.size() <= max_restarts_;
  }

  // -- operations ------------------------------------------------------------------------------

  void begin_shutdown(caf::error reason) {
    if (op_ == operation::shutdown) {
      return; // the first reason wins
    }
    op_ = operation::shutdown;
    exit_reason_ = std::move(reason);
    restart_set_.clear();
    pending_.clear();
    stop_queue_.clear();
    for (auto i = children_.rbegin(); i != children_.rend(); ++i) {
      if (i->handle && !(stopping_ && stopping_->first == i->key)) {
        stop_queue_.push_back(i->key);
      }
    }
    stop_next();
  }

  // Stops the next child of the queue unless a stop is in flight; finishes the operation when
  // nothing is left to stop.
  void stop_next() {
    if (stopping_) {
      return;
    }
    while (!stop_queue_.empty()) {
      auto key = stop_queue_.front();
      stop_queue_.pop_front();
      auto i = find(key);
      if (i == children_.end() || !i->handle) {
        continue; // exited on its own meanwhile
      }
      stopping_.emplace(key, i->gen);
      auto timeout = i->spec.shutdown_timeout;
      if (timeout.count() <= 0) {
        self_->send_exit(i->handle, caf::exit_reason::kill);
      } else {
        self_->send_exit(i->handle, caf::exit_reason::user_shutdown);
        // Holds a reference to this actor until it fires, but a terminated actor does not delay
        // the actor system's shutdown; a late timeout is recognized by `gen` and ignored.
        self_->delayed_send(self_, timeout, stop_timeout_atom::value, key, i->gen);
      }
      return;
    }
    finish_operation();
  }

  void finish_operation() {
    if (op_ == operation::shutdown) {
      self_->quit(exit_reason_);
      return;
    }
    op_ = operation::none;
    auto keys = std::move(restart_set_);
    restart_set_.clear();
    auto reason = std::move(restart_reason_);
    for (auto key : keys) {
      auto i = find(key);
      if (i == children_.end() || i->handle) {
        continue;
      }
      if (i->spec.restart == restart_type::temporary) {
        children_.erase(i);
        continue;
      }
      if (hooks_.on_restart) {
        hooks_.on_restart(name_, i->spec.name, reason);
      }
      if (auto err = start(*i)) {
        // Counts as another exit of this child (consuming intensity) once the message arrives;
        // the children after it are left to that retry.
        self_->send(self_, retry_atom::value, i->key, i->gen, std::move(err));
        break;
      }
    }
    process_pending();
  }

  void process_pending() {
    if (processing_pending_) {
      return; // the outer loop continues
    }
    processing_pending_ = true;
    while (op_ == operation::none && !pending_.empty()) {
      auto x = std::move(pending_.front());
      pending_.pop_front();
      auto i = find(x.key);
      if (i == children_.end() || i->gen != x.gen || i->handle) {
        continue; // restarted by an operation in between
      }
      handle_exit(x.key, std::move(x.reason));
    }
    processing_pending_ = false;
  }

  // -- timers and retries ----------------------------------------------------------------------

  void on_stop_timeout(uint64_t key, uint64_t gen) {
    if (!stopping_ || stopping_->first != key || stopping_->second != gen) {
      return;
    }
    auto i = find(key);
    if (i != children_.end() && i->handle) {
      self_->send_exit(i->handle, caf::exit_reason::kill);
    }
  }

  void on_retry(uint64_t key, uint64_t gen, caf::error reason) {
    auto i = find(key);
    if (i == children_.end() || i->gen != gen || i->handle) {
      return;
    }
    switch (op_) {
      case operation::shutdown:
        return;
      case operation::restart:
        if (!in_restart_set(key)) {
          pending_.push_back(pending_exit{key, gen, std::move(reason)});
        }
        return;
      case operation::none:
        handle_exit(key, std::move(reason));
        return;
    }
  }

  // -- queries and helpers ---------------------------------------------------------------------

  child_list which_children() const {
    child_list result;
    result.reserve(children_.size());
    for (auto& c : children_) {
      result.emplace_back(c.spec.name, c.handle);
    }
    return result;
  }

  std::vector<child>::iterator find(uint64_t key) {
    return std::find_if(children_.begin(), children_.end(),
                        [key](const child& c) { return c.key == key; });
  }

  std::vector<child>::iterator find_running(const caf::actor_addr& addr) {
    return std::find_if(children_.begin(), children_.end(),
                        [&](const child& c) { return c.handle && c.handle.address() == addr; });
  }

  bool in_restart_set(uint64_t key) const {
    return std::find(restart_set_.begin(), restart_set_.end(), key) != restart_set_.end();
  }

  void remove_if_temporary(uint64_t key) {
    auto i = find(key);
    if (i != children_.end() && i->spec.restart == restart_type::temporary) {
      children_.erase(i);
    }
  }

  caf::event_based_actor* self_;
  std::string name_;
  restart_strategy strategy_ = restart_strategy::one_for_one;
  std::size_t max_restarts_ = 0;
  std::chrono::milliseconds period_{0};
  supervisor_hooks hooks_;
  std::vector<child> children_; // in start order
  uint64_t next_key_ = 0;
  uint64_t next_gen_ = 0;
  std::deque<time_point> restarts_; // within the last `period_`
  std::shared_ptr<running_list> running_ = std::make_shared<running_list>();

  operation op_ = operation::none;
  std::deque<uint64_t> stop_queue_;                       // keys, in stop order
  std::optional<std::pair<uint64_t, uint64_t>> stopping_; // (key, gen) of the stop in flight
  std::vector<uint64_t> restart_set_;                     // keys, in start order
  caf::error restart_reason_;                             // passed to on_restart
  caf::error exit_reason_;                                // for operation::shutdown
  std::deque<pending_exit> pending_;
  bool processing_pending_ = false;
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

caf::behavior supervisor_impl(supervisor_actor* self, supervisor_spec spec) {
  return self->state.make_behavior(std::move(spec));
}

} // namespace

const char* to_string(restart_type x) noexcept {
  switch (x) {
    case restart_type::permanent:
      return "permanent";
    case restart_type::transient:
      return "transient";
    case restart_type::temporary:
      return "temporary";
  }
  return "restart_type(?)";
}

const char* to_string(restart_strategy x) noexcept {
  switch (x) {
    case restart_strategy::one_for_one:
      return "one_for_one";
    case restart_strategy::one_for_all:
      return "one_for_all";
    case restart_strategy::rest_for_one:
      return "rest_for_one";
  }
  return "restart_strategy(?)";
}

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec) {
  return sys.spawn(supervisor_impl, std::move(spec));
}

child_spec supervisor_child(supervisor_spec spec, restart_type restart) {
  child_spec result;
  result.name = spec.name;
  result.restart = restart;
  // The nested supervisor stops its children one at a time, each within its own timeout.
  std::chrono::milliseconds total{1'000};
  for (auto& c : spec.children) {
    total += std::max(c.shutdown_timeout, std::chrono::milliseconds{0});
  }
  result.shutdown_timeout = total;
  result.start = [spec = std::move(spec)](caf::actor_system& sys) -> caf::expected<caf::actor> {
    return spawn_supervisor(sys, spec);
  };
  return result;
}

} // namespace klerno::runtime
