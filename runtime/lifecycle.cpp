#include "runtime/lifecycle.hpp"

#include <exception>

namespace klerno::runtime {

lifecycle::lifecycle(observer obs) : obs_(std::move(obs)) {}

lifecycle::~lifecycle() {
  stop_all();
}

void lifecycle::add(std::string name, const std::function<void()>& start,
                    std::function<void()> stop) {
  if (obs_) {
    obs_("starting", name);
  }
  start();
  if (obs_) {
    obs_("started", name);
  }
  entries_.push_back(entry{std::move(name), std::move(stop)});
}

void lifecycle::stop_all() {
  while (!entries_.empty()) {
    auto e = std::move(entries_.back());
    entries_.pop_back();
    if (obs_) {
      obs_("stopping", e.name);
    }
    try {
      if (e.stop) {
        e.stop();
      }
      if (obs_) {
        obs_("stopped", e.name);
      }
    } catch (const std::exception& ex) {
      if (obs_) {
        obs_(std::string{"stop failed: "} + ex.what(), e.name);
      }
    } catch (...) {
      if (obs_) {
        obs_("stop failed", e.name);
      }
    }
  }
}

std::vector<std::string> lifecycle::started() const {
  std::vector<std::string> result;
  result.reserve(entries_.size());
  for (const auto& e : entries_) {
    result.push_back(e.name);
  }
  return result;
}

} // namespace klerno::runtime
