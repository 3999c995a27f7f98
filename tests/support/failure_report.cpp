// The Catch listener lives in this file together with keep_for_failure_report(): a test binary
// that calls the function links this object, and with it the listener's registration.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "tests/support/failure_report.hpp"

#include <mutex>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace klerno::test {

namespace {

struct kept_text {
  std::string title;
  std::string text;
};

struct kept_state {
  std::mutex mtx;
  std::vector<kept_text> items;
};

kept_state& kept() {
  static kept_state s;
  return s;
}

class failure_report_listener : public Catch::TestEventListenerBase {
public:
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    TestEventListenerBase::testCaseStarting(info);
    std::lock_guard<std::mutex> guard{kept().mtx};
    kept().items.clear();
  }

  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    std::vector<kept_text> items;
    {
      std::lock_guard<std::mutex> guard{kept().mtx};
      items.swap(kept().items);
    }
    if (stats.totals.assertions.failed > 0) {
      for (const auto& k : items) {
        stream << "\n----- " << k.title << " -----\n" << k.text;
        if (!k.text.empty() && k.text.back() != '\n') {
          stream << '\n';
        }
        stream << "----- end of " << k.title << " -----\n";
      }
      stream.flush();
    }
    TestEventListenerBase::testCaseEnded(stats);
  }
};

} // namespace

CATCH_REGISTER_LISTENER(failure_report_listener)

void keep_for_failure_report(std::string title, std::string text) {
  std::lock_guard<std::mutex> guard{kept().mtx};
  kept().items.push_back({std::move(title), std::move(text)});
}

} // namespace klerno::test
