#include "runtime/health_board.hpp"

namespace klerno::runtime {

const char* to_string(phase x) noexcept {
  switch (x) {
    case phase::starting:
      return "starting";
    case phase::serving:
      return "serving";
    case phase::draining:
      return "draining";
    case phase::stopping:
      return "stopping";
  }
  return "unknown";
}

health_board::health_board()
    : started_at_(std::chrono::system_clock::now()),
      snapshot_(std::make_shared<const health_snapshot>()) {}

void health_board::publish(health_snapshot x) {
  bool ok = true;
  for (const auto& c : x.checks) {
    if (c.required && !c.ok) {
      ok = false;
    }
  }
  auto ptr = std::make_shared<const health_snapshot>(std::move(x));
  {
    std::lock_guard<std::mutex> guard{mtx_};
    snapshot_ = std::move(ptr);
  }
  checks_ok_.store(ok, std::memory_order_release);
}

std::shared_ptr<const health_snapshot> health_board::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return snapshot_;
}

bool health_board::ready() const noexcept {
  return current_phase() == phase::serving && checks_ok_.load(std::memory_order_acquire);
}

} // namespace klerno::runtime
