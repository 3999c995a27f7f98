// Measures registry::render() for a node-sized registry (~300 samples): counters and gauges with
// labels, a labelled latency histogram and, optionally, the process collector.
//
// usage: bench_metrics_render [iterations]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/metrics.hpp"

using namespace klerno::runtime::metrics;

namespace {

struct result {
  double min_us;
  double median_us;
  size_t samples;
  size_t bytes;
};

size_t count_samples(const std::string& text) {
  size_t n = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    auto eol = text.find('\n', pos);
    if (text[pos] != '#') {
      ++n;
    }
    pos = eol == std::string::npos ? text.size() : eol + 1;
  }
  return n;
}

result measure(const registry& reg, int iterations) {
  std::vector<double> times;
  times.reserve(static_cast<size_t>(iterations));
  std::string out;
  for (int i = 0; i < iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    out = reg.render();
    auto stop = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
  }
  std::sort(times.begin(), times.end());
  return {times.front(), times[times.size() / 2], count_samples(out), out.size()};
}

void fill(registry& reg) {
  for (int f = 0; f < 10; ++f) {
    auto& fam = reg.counter("klerno_bench_events_" + std::to_string(f) + "_total",
                            "Events of kind " + std::to_string(f) + ".", {"route", "code"});
    for (int c = 0; c < 10; ++c) {
      fam.with({"/api/v1/items/" + std::to_string(c), c % 2 == 0 ? "200" : "500"})
        .inc(static_cast<uint64_t>(f * 1000 + c));
    }
  }
  for (int f = 0; f < 5; ++f) {
    auto& fam = reg.gauge("klerno_bench_depth_" + std::to_string(f), "Queue depth.", {"actor"});
    for (int c = 0; c < 10; ++c) {
      fam.with({"actor-" + std::to_string(c)}).set(c * 0.37);
    }
  }
  auto& latency =
    reg.histogram("klerno_bench_request_duration_seconds", "Request latency.", {"route"});
  for (int c = 0; c < 8; ++c) {
    auto& h = latency.with({"/route/" + std::to_string(c)});
    for (int i = 0; i < 100; ++i) {
      h.observe(0.0001 * i * (c + 1));
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 2000;
  if (iterations <= 0) {
    std::fprintf(stderr, "usage: %s [iterations > 0]\n", argv[0]);
    return 1;
  }
  registry reg;
  fill(reg);
  auto families_only = measure(reg, iterations);
  reg.add(make_process_collector());
  auto with_process = measure(reg, iterations);
  std::printf("families only:      %zu samples, %zu bytes: min %.1f us, median %.1f us\n",
              families_only.samples, families_only.bytes, families_only.min_us,
              families_only.median_us);
  std::printf("+ process collector: %zu samples, %zu bytes: min %.1f us, median %.1f us\n",
              with_process.samples, with_process.bytes, with_process.min_us,
              with_process.median_us);
  return 0;
}
