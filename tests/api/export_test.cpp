// GET /export/csv streams a large export in bounded memory: 100,000 rows (about 55 MB of CSV)
// read incrementally while the node's resident memory is sampled.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/api/api_support.hpp"

using namespace klerno::test;
using namespace klerno::test::api;
using nlohmann::json;

namespace {

constexpr int row_count = 100'000;
constexpr int batch_items = 1'000; // BATCH_MAX_ITEMS (the default)
constexpr int ingest_threads = 2;

/// The tx_id of row `i`: the prefix and six digits, so the export's order is the index order.
std::string row_id(const std::string& prefix, int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "-%06d", i);
  return prefix + buf;
}

/// A memo of about 400 bytes: the row number, then words that are neither suspicious nor a
/// category keyword, without commas or quotes (so the CSV field is not quoted).
std::string row_memo(int i) {
  static const std::string filler = [] {
    std::string f;
    while (f.size() < 390) {
      f += "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";
    }
    f.resize(390);
    return f;
  }();
  char head[16];
  std::snprintf(head, sizeof(head), "row %06d ", i);
  return head + filler;
}

} // namespace

TEST_CASE("a CSV export of 100000 rows streams in bounded memory", "[api][export]") {
  // A database of its own (dropped at the end: 100k rows do not stay in the shared servers),
  // no replica (the export reads the primary, which has every row at once).
  scratch_database db;
  test_node node{db_settings(db.primary_url(), {}, {{"WORKERS", "2"}})};
  const auto wallet = unique_id("rExport");
  const auto prefix = unique_id("api-exp");
  const auto base = std::chrono::system_clock::now() - std::chrono::hours(48);
  const auto started = std::chrono::steady_clock::now();

  // Ingest through /transactions/batch, two batches in flight at a time.
  std::atomic<int> next_batch{0};
  std::mutex errors_mtx;
  std::string first_error;
  auto ingest = [&] {
    for (;;) {
      int b = next_batch.fetch_add(1);
      if (b * batch_items >= row_count) {
        return;
      }
      std::string body = "[";
      for (int i = b * batch_items; i < std::min(row_count, (b + 1) * batch_items); ++i) {
        json tx = {{"tx_id", row_id(prefix, i)},
                   {"timestamp", iso_time(base + std::chrono::milliseconds(i))},
                   {"from_addr", wallet},
                   {"to_addr", "rExportPeer"},
                   {"amount", 1 + i % 1000},
                   {"direction", "out"},
                   {"memo", row_memo(i)}};
        body += (body.size() > 1 ? "," : "") + tx.dump();
      }
      body += "]";
      std::string error;
      try {
        auto res = api_request(node, "POST", "/transactions/batch", body, "application/json", 60s);
        auto j = json::parse(res.body, nullptr, false);
        if (res.status != 200 || j.is_discarded() || j["summary"]["stored"] != batch_items) {
          error = "batch " + std::to_string(b) + ": " + std::to_string(res.status) + " "
                  + res.body.substr(0, 2000);
        }
      } catch (const std::exception& e) {
        error = "batch " + std::to_string(b) + ": " + e.what();
      }
      if (!error.empty()) {
        std::lock_guard<std::mutex> lock{errors_mtx};
        if (first_error.empty()) {
          first_error = error;
        }
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < ingest_threads; ++t) {
    threads.emplace_back(ingest);
  }
  for (auto& t : threads) {
    t.join();
  }
  INFO("ingestion error: " << first_error);
  REQUIRE(first_error.empty());
  const auto ingested = std::chrono::steady_clock::now();

  // Stream the export: count lines and bytes, check the header and a few rows, keep only the
  // line being read; sample the node's resident memory every 5000 lines.
  const pid_t pid = node.process().pid();
  const auto rss_before = resident_bytes(pid);
  auto rss_max = rss_before;
  std::uint64_t lines = 0;
  std::string line; // the current line (bounded by one row)
  std::vector<std::string> problems;
  auto check_line = [&](std::uint64_t index, const std::string& text) {
    if (index == 0) {
      if (text
          != "tx_id,timestamp,chain,from_addr,to_addr,amount,symbol,direction,fee,memo,notes,tags,"
             "is_internal,category,risk_score,risk_bucket,risk_flags\r") {
        problems.push_back("header: " + text);
      }
      return;
    }
    auto i = static_cast<int>(index - 1);
    if (i == 0 || i == 1 || i == 4'999 || i == 50'000 || i == row_count - 1) {
      auto expected_start = row_id(prefix, i) + "," + iso_time(base + std::chrono::milliseconds(i))
                            + ",XRPL," + wallet + ",rExportPeer," + std::to_string(1 + i % 1000)
                            + ",XRP,out,0," + row_memo(i) + ",,,false,expense,";
      if (text.compare(0, expected_start.size(), expected_start) != 0) {
        problems.push_back("row " + std::to_string(i) + ": " + text);
      }
    }
  };
  stream_head head;
  auto bytes = stream_get(
    node.port(), "/export/csv?wallet=" + wallet, [&](const stream_head& h) { head = h; },
    [&](std::string_view data) {
      while (!data.empty()) {
        auto nl = data.find('\n');
        if (nl == std::string_view::npos) {
          line.append(data);
          break;
        }
        line.append(data.substr(0, nl));
        check_line(lines, line);
        line.clear();
        ++lines;
        if (lines % 5'000 == 0) {
          rss_max = std::max(rss_max, resident_bytes(pid));
        }
        data.remove_prefix(nl + 1);
      }
    });
  rss_max = std::max(rss_max, resident_bytes(pid));
  const auto exported = std::chrono::steady_clock::now();

  auto secs = [](auto d) {
    return std::chrono::duration<double>(d).count();
  };
  std::cout << "export test: ingested " << row_count << " rows in " << secs(ingested - started)
            << " s; exported " << lines << " lines, " << bytes << " bytes in "
            << secs(exported - ingested) << " s; node RSS " << rss_before
            << " bytes before, at most " << rss_max << " during" << std::endl;

  REQUIRE(head.status == 200);
  CHECK(head.header("Transfer-Encoding") == "chunked");
  CHECK(head.header("Content-Type").rfind("text/csv", 0) == 0);
  INFO("first problems: " << (problems.empty() ? std::string{"none"} : problems.front()));
  CHECK(problems.empty());
  CHECK(line.empty()); // the body ends with a complete line
  CHECK(lines == row_count + 1);
  CHECK(bytes > 50'000'000);
  // The bound: the node's resident memory grows by less than half the size of the CSV it
  // streamed (a node that buffered the export would grow by at least its size).
  INFO("RSS before " << rss_before << ", max " << rss_max << ", CSV bytes " << bytes);
  CHECK(rss_max - rss_before < bytes / 2);
}
