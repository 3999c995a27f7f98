// Keyset pagination of GET /transactions while the listed wallet keeps receiving rows: every row
// that existed when paging started is seen exactly once, in (timestamp desc, tx_id desc) order.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/api/api_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using nlohmann::json;

namespace {

/// Parses the API's timestamps ("2026-11-28T20:17:22Z", "2026-11-28T20:17:22.123400Z") into
/// microseconds since the epoch.
long long micros_of(const std::string& ts) {
  INFO("timestamp " << ts);
  std::tm tm{};
  int year = 0;
  int month = 0;
  int frac_at = 0;
  REQUIRE(std::sscanf(ts.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &frac_at)
          == 6);
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  long long micros = 0;
  auto rest = ts.substr(static_cast<std::size_t>(frac_at));
  if (rest.size() == 8 && rest[0] == '.') {
    micros = std::stoll(rest.substr(1, 6));
  } else {
    REQUIRE(rest == "Z");
  }
  return static_cast<long long>(::timegm(&tm)) * 1'000'000 + micros;
}

/// The sort key of a listed row.
struct position {
  long long time;
  std::string tx_id;

  bool operator<(const position& o) const {
    return time != o.time ? time < o.time : tx_id < o.tx_id;
  }
};

} // namespace

TEST_CASE("keyset pages cover every row exactly once while new rows arrive", "[api]") {
  auto pg = shared_pg();
  // No replica: the listing reads the primary, so the 60 stored rows are all visible at once.
  test_node node{db_settings(pg.primary_url)};
  const auto wallet = unique_id("rPages");
  const auto prefix = unique_id("api-page");
  const auto now = std::chrono::system_clock::now();
  const auto base = now - std::chrono::hours(2);

  // 60 rows in 20 groups of 3 sharing a timestamp (pages of 7 end inside groups, where only
  // tx_id orders): 7 of every 10 sent by the wallet, 2 received, 1 sent to itself.
  constexpr int original_count = 60;
  std::vector<std::string> timestamps;
  json batch = json::array();
  std::set<std::string> originals;
  for (int k = 0; k < original_count; ++k) {
    char id[256];
    std::snprintf(id, sizeof(id), "%s-%03d", prefix.c_str(), k);
    auto when = iso_time(base + std::chrono::seconds(10 * (k / 3)));
    timestamps.push_back(when);
    std::string from = wallet;
    std::string to = unique_id("rPeer");
    if (k % 10 == 7 || k % 10 == 8) {
      std::swap(from, to);
    } else if (k % 10 == 9) {
      to = wallet;
    }
    auto tx = make_tx("unused", from, to, 1 + k);
    tx["tx_id"] = id;
    tx["timestamp"] = when;
    batch.push_back(tx);
    originals.insert(id);
  }
  auto stored = require_status_json(post(node, "/transactions/batch", batch), 200);
  REQUIRE(stored["summary"]["stored"] == original_count);

  // Another thread keeps adding rows to the wallet: newer ones, and late arrivals inside the
  // listed range (some sharing a timestamp with an original row).
  std::atomic<bool> stop{false};
  std::atomic<int> inserted{0};
  std::mutex errors_mtx;
  std::vector<std::string> errors;
  std::thread inserter{[&] {
    for (int i = 0; !stop.load(); ++i) {
      json tx;
      if (i % 2 == 0) {
        tx = make_tx(prefix + "-new", wallet, unique_id("rPeer"), 1000 + i);
        tx["timestamp"] = iso_time(std::chrono::system_clock::now());
      } else {
        tx = make_tx(prefix + "-mid", unique_id("rPeer"), wallet, 2000 + i);
        tx["timestamp"] = timestamps[static_cast<std::size_t>((i * 7) % original_count)];
      }
      try {
        auto res = post(node, "/transactions", tx);
        if (res.status != 201) {
          std::lock_guard<std::mutex> lock{errors_mtx};
          errors.push_back(std::to_string(res.status) + " " + res.body);
          return;
        }
        ++inserted;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock{errors_mtx};
        errors.push_back(e.what());
        return;
      }
    }
  }};
  struct joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~joiner() {
      stop = true;
      t.join();
    }
  } join_inserter{stop, inserter};

  std::vector<position> seen;
  std::map<std::string, int> times_seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    // Each page is fetched after at least one more concurrent insert has landed.
    int before = inserted.load();
    bool progressed = poll_until(
      [&] {
        std::lock_guard<std::mutex> lock{errors_mtx};
        return inserted.load() > before || !errors.empty();
      },
      10s);
    {
      std::lock_guard<std::mutex> lock{errors_mtx};
      INFO("inserter errors: " << (errors.empty() ? std::string{"none"} : errors.front()));
      REQUIRE(errors.empty());
    }
    REQUIRE(progressed);
    auto target = "/transactions?wallet=" + wallet + "&limit=7";
    if (!cursor.empty()) {
      target += "&cursor=" + cursor;
    }
    auto page = require_status_json(get(node, target), 200);
    ++pages;
    INFO("page " << pages << ": " << page.dump());
    REQUIRE(page["items"].size() <= 7);
    for (const auto& it : page["items"]) {
      position p{micros_of(it["timestamp"].get<std::string>()), it["tx_id"].get<std::string>()};
      if (!seen.empty()) {
        INFO("previous " << seen.back().tx_id << ", this " << p.tx_id);
        CHECK(p < seen.back()); // strictly descending: no duplicate, no disorder
      }
      seen.push_back(p);
      ++times_seen[p.tx_id];
      CHECK((it["from_addr"] == wallet || it["to_addr"] == wallet));
    }
    if (page["next_cursor"].is_null()) {
      break;
    }
    REQUIRE(page["items"].size() == 7); // only the last page may be short
    cursor = page["next_cursor"].get<std::string>();
    REQUIRE(pages < 100);
  }
  stop = true;

  for (const auto& id : originals) {
    INFO("original row " << id);
    CHECK(times_seen[id] == 1);
  }
  for (const auto& [id, n] : times_seen) {
    INFO("row " << id);
    CHECK(n == 1);
  }
  CHECK(pages >= original_count / 7);
  CHECK(inserted.load() >= pages);

  // A cursor that the API did not issue is refused.
  for (const std::string bad : {"garbage!", "AAAA", "bm90LWEtY3Vyc29y", "%00"}) {
    INFO("cursor " << bad);
    auto env = require_error_envelope(
      get(node, "/transactions?wallet=" + wallet + "&limit=7&cursor=" + bad), 400, "bad_request");
    CHECK(env["error"]["details"]["parameter"] == "cursor");
  }
  require_error_envelope(get(node, "/transactions?wallet=" + wallet + "&limit=0"), 400,
                         "bad_request");
}
