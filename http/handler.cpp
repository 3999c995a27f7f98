#include "http/handler.hpp"

#include <atomic>

namespace klerno::http {

struct responder::state {
  std::shared_ptr<reply_sink> sink;
  uint64_t seq;
  std::string request_id;
  std::atomic<bool> done{false};

  ~state() {
    if (!done.load(std::memory_order_acquire) && sink) {
      sink->deliver(seq, make_error(status::internal_server_error,
                                    "the request was dropped before it was answered", request_id));
    }
  }
};

responder::responder(std::shared_ptr<reply_sink> sink, uint64_t seq, std::string request_id)
    : state_(std::make_shared<state>()) {
  state_->sink = std::move(sink);
  state_->seq = seq;
  state_->request_id = std::move(request_id);
}

void responder::operator()(response res) const {
  if (!state_->done.exchange(true, std::memory_order_acq_rel)) {
    state_->sink->deliver(state_->seq, std::move(res));
  }
}

void responder::stream(response head, std::shared_ptr<body_source> source) const {
  if (!state_->done.exchange(true, std::memory_order_acq_rel)) {
    state_->sink->deliver_stream(state_->seq, std::move(head), std::move(source));
  }
}

void responder::error(status s, std::string_view message, std::string_view details_json) const {
  (*this)(make_error(s, message, state_->request_id, details_json));
}

const std::string& responder::request_id() const noexcept {
  return state_->request_id;
}

std::string_view request_context::param(std::string_view name) const noexcept {
  for (const auto& [key, value] : params) {
    if (key == name) {
      return value;
    }
  }
  return {};
}

} // namespace klerno::http
