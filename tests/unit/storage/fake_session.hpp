#pragma once

// A fake storage::session for tests that run real connection actors: it connects and answers
// from memory, and follows a script of steps (throwing db_errors) shared with the test.

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/storage/session.hpp"

namespace klerno::test::storage {

using klerno::actors::storage::alerts_query;
using klerno::actors::storage::export_query;
using klerno::actors::storage::history_entry;
using klerno::actors::storage::history_query;
using klerno::actors::storage::list_query;
using klerno::actors::storage::page;
using klerno::actors::storage::stored;
using klerno::actors::storage::summary;
using klerno::actors::storage::summary_query;
namespace model = klerno::actors::model;

/// What the fake sessions of a test do and saw (used from the connection thread and the test).
struct script {
  std::mutex mtx;
  int connects = 0;
  int gets = 0;
  std::deque<std::function<void()>> connect_steps; ///< run by connect() in turn (may throw)
  std::deque<std::function<void()>> get_steps;     ///< run by get() in turn (may throw)
};

class fake_session : public klerno::actors::storage::session {
public:
  explicit fake_session(std::shared_ptr<script> s) : s_(std::move(s)) {}

  void connect() override {
    std::function<void()> step;
    {
      std::lock_guard<std::mutex> guard{s_->mtx};
      ++s_->connects;
      if (!s_->connect_steps.empty()) {
        step = std::move(s_->connect_steps.front());
        s_->connect_steps.pop_front();
      }
    }
    if (step) {
      step();
    }
    connected_ = true;
  }

  bool connected() const noexcept override {
    return connected_;
  }

  void disconnect() noexcept override {
    connected_ = false;
  }

  std::optional<replay_lag> ping() override {
    return std::nullopt;
  }

  std::size_t migrate() override {
    return 2;
  }

  std::vector<stored> insert(const std::vector<model::transaction>& rows) override {
    std::vector<stored> out;
    for (auto& r : rows) {
      out.push_back(stored{true, r});
    }
    return out;
  }

  std::optional<model::transaction> get(const std::string& tx_id) override {
    std::function<void()> step;
    {
      std::lock_guard<std::mutex> guard{s_->mtx};
      ++s_->gets;
      if (!s_->get_steps.empty()) {
        step = std::move(s_->get_steps.front());
        s_->get_steps.pop_front();
      }
    }
    if (step) {
      step();
    }
    model::transaction t;
    t.tx_id = tx_id;
    return t;
  }

  page list(const list_query&) override {
    return {};
  }

  std::vector<model::transaction> alerts(const alerts_query&) override {
    return {};
  }

  summary summarize(const summary_query&) override {
    return {};
  }

  std::vector<history_entry> wallet_history(const history_query&) override {
    return {};
  }

  std::vector<model::transaction> export_rows(const export_query&) override {
    return {};
  }

private:
  std::shared_ptr<script> s_;
  bool connected_ = false;
};

} // namespace klerno::test::storage
