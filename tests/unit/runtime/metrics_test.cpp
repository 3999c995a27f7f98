#include "runtime/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

using namespace klerno::runtime::metrics;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// Runs `f` on `n` threads at once and joins them.
template <class F>
void run_on_threads(int n, F f) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back(f);
  }
  for (auto& t : threads) {
    t.join();
  }
}

// Emits one gauge family, to check where collector output lands.
class fixed_collector : public collector {
public:
  fixed_collector(std::string name, double value) : name_(std::move(name)), value_(value) {}

  void collect(visitor& v) const override {
    static const std::vector<std::string> names{"src"};
    static const label_values values{"collector"};
    v.begin_family(name_, "Emitted by a collector.", kind::gauge);
    v.value(sample_view{names, values}, value_);
    v.end_family();
  }

private:
  std::string name_;
  double value_;
};

// Returns the full path of `program` if an executable of that name is on PATH.
std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) {
    return {};
  }
  std::istringstream dirs{path};
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    auto candidate = (dir.empty() ? std::string{"."} : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return {};
}

} // namespace

// -- counter, gauge, histogram ------------------------------------------------------------------

TEST_CASE("a counter adds increments") {
  counter c;
  CHECK(c.value() == 0);
  c.inc();
  c.inc(41);
  CHECK(c.value() == 42);
}

TEST_CASE("a gauge sets, adds and subtracts") {
  gauge g;
  CHECK(g.value() == 0);
  g.set(2.5);
  g.add(-1);
  g.inc();
  g.inc();
  g.dec();
  CHECK(g.value() == 2.5);
  g.add(-10);
  CHECK(g.value() == -7.5);
}

TEST_CASE("concurrent updates from several threads sum exactly") {
  constexpr int threads = 8;
  constexpr int per_thread = 100'000;
  counter c;
  gauge g;
  histogram h{{0.25, 1}};
  run_on_threads(threads, [&] {
    for (int i = 0; i < per_thread; ++i) {
      c.inc();
      g.add(0.5); // dyadic values keep the double sum exact
      h.observe(i % 2 == 0 ? 0.25 : 2);
    }
  });
  constexpr uint64_t total = uint64_t{threads} * per_thread;
  CHECK(c.value() == total);
  CHECK(g.value() == 0.5 * total);
  CHECK(h.count() == total);
  CHECK(h.sum() == (0.25 + 2) * (total / 2));
  CHECK(h.cumulative_counts() == std::vector<uint64_t>{total / 2, total / 2, total});
}

TEST_CASE("a histogram counts a value equal to a bound in that bound's bucket") {
  histogram h{{1, 2, 5}};
  h.observe(1);         // le=1
  h.observe(-3);        // le=1
  h.observe(1.0000001); // le=2
  h.observe(5);         // le=5
  h.observe(5.5);       // +Inf
  CHECK(h.cumulative_counts() == std::vector<uint64_t>{2, 3, 4, 5});
  CHECK(h.count() == 5);
  CHECK(h.sum() == Approx(1 - 3 + 1.0000001 + 5 + 5.5));
}

TEST_CASE("a histogram counts NaN and infinities in the edge buckets") {
  histogram h{{1}};
  h.observe(std::nan(""));
  h.observe(inf);
  h.observe(-inf);
  CHECK(h.cumulative_counts() == std::vector<uint64_t>{1, 3});
}

TEST_CASE("a histogram without bounds has only the +Inf bucket") {
  histogram h{{}};
  h.observe(7);
  CHECK(h.bounds().empty());
  CHECK(h.cumulative_counts() == std::vector<uint64_t>{1});
}

TEST_CASE("a histogram rejects bounds that are not strictly increasing") {
  CHECK_THROWS_AS(histogram({2, 1}), std::invalid_argument);
  CHECK_THROWS_AS(histogram({1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(histogram({1, std::nan("")}), std::invalid_argument);
}

TEST_CASE("a histogram drops a trailing +Inf bound") {
  histogram h{{1, inf}};
  CHECK(h.bounds() == std::vector<double>{1});
}

TEST_CASE("latency buckets span 0.5 ms to 10 s") {
  CHECK(latency_buckets()
        == std::vector<double>{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2,
                               2.5, 5, 10});
}

// -- families and registry ----------------------------------------------------------------------

TEST_CASE("a family returns the same child for the same label values") {
  registry reg;
  auto& fam = reg.counter("jobs_total", "Jobs.", {"queue", "result"});
  auto& a = fam.with({"mail", "ok"});
  a.inc();
  for (int i = 0; i < 1000; ++i) { // many insertions must not move existing children
    fam.with({"q" + std::to_string(i), "ok"});
  }
  auto& again = fam.with(label_values{"mail", "ok"});
  CHECK(&a == &again);
  CHECK(again.value() == 1);
  CHECK(&fam.with({"mail", "failed"}) != &a);
}

TEST_CASE("a family rejects the wrong number of label values") {
  registry reg;
  auto& fam = reg.gauge("depth", "Depth.", {"queue"});
  CHECK_THROWS_AS(fam.with({}), std::invalid_argument);
  CHECK_THROWS_AS(fam.with({"a", "b"}), std::invalid_argument);
  auto& plain = reg.gauge("plain", "Plain.");
  CHECK_THROWS_AS(plain.with({"a"}), std::invalid_argument);
  CHECK_NOTHROW(plain.with({}));
}

TEST_CASE("registering the same name again returns the same family") {
  registry reg;
  auto& c = reg.counter("hits_total", "Hits.", {"route"});
  CHECK(&reg.counter("hits_total", "Other help is ignored.", {"route"}) == &c);
  CHECK(c.help() == "Hits.");
  auto& h = reg.histogram("lat_seconds", "Latency.", {});
  CHECK(&reg.histogram("lat_seconds", "Latency.", {}) == &h);
  CHECK(h.with({}).bounds() == latency_buckets());
}

TEST_CASE("registering the same name with another kind, labels or bounds throws") {
  registry reg;
  reg.counter("hits_total", "Hits.", {"route"});
  CHECK_THROWS_AS(reg.gauge("hits_total", "Hits.", {"route"}), std::logic_error);
  CHECK_THROWS_AS(reg.histogram("hits_total", "Hits.", {"route"}), std::logic_error);
  CHECK_THROWS_AS(reg.counter("hits_total", "Hits.", {"path"}), std::logic_error);
  CHECK_THROWS_AS(reg.counter("hits_total", "Hits.", {}), std::logic_error);
  CHECK_THROWS_AS(reg.counter("hits_total", "Hits.", {"route", "code"}), std::logic_error);
  reg.histogram("lat_seconds", "Latency.", {}, {0.1, 1});
  CHECK_THROWS_AS(reg.histogram("lat_seconds", "Latency.", {}, {0.1, 2}), std::logic_error);
  CHECK_NOTHROW(reg.histogram("lat_seconds", "Latency.", {}, {0.1, 1, inf}));
}

TEST_CASE("invalid metric and label names throw") {
  registry reg;
  CHECK_THROWS_AS(reg.counter("", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.counter("1st_total", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.counter("http-requests", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.counter("a b", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.counter("caf\xc3\xa9", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.gauge("g", "x", {"1a"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.gauge("g", "x", {"a:b"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.gauge("g", "x", {""}), std::invalid_argument);
  CHECK_THROWS_AS(reg.gauge("g", "x", {"__name"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.gauge("g", "x", {"a", "a"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.histogram("h", "x", {"le"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.histogram("h", "x", {}, {1, 0}), std::invalid_argument);
  // A failed registration leaves nothing behind.
  CHECK_NOTHROW(reg.counter("g", "x"));
}

TEST_CASE("valid metric and label names are accepted") {
  registry reg;
  CHECK_NOTHROW(reg.counter("_a:b_c9_total", "x", {"_x", "a1", "A_b"}));
  CHECK_NOTHROW(reg.gauge(":colon", "x", {"le"}));
  CHECK_NOTHROW(reg.histogram("h_seconds", "x", {"_le", "route"}));
}

// -- rendering ----------------------------------------------------------------------------------

TEST_CASE("render prints a small registry in the Prometheus text format") {
  registry reg;
  auto& requests = reg.counter("http_requests_total", "Requests handled.", {"method", "code"});
  requests.with({"POST", "500"}).inc();
  requests.with({"GET", "200"}).inc(3);
  reg.gauge("cache_hit_ratio", "Hit ratio.").with({}).set(0.25);
  auto& query = reg.histogram("db_query_seconds", "Query latency.", {}, {0.125, 1});
  query.with({}).observe(0.0625);
  query.with({}).observe(0.125);
  query.with({}).observe(3);
  reg.counter("unused_total", "Labelled and never used: skipped.", {"x"});
  reg.counter("idle_total", "Unlabelled: rendered from the start.");
  CHECK(reg.render()
        == "# HELP cache_hit_ratio Hit ratio.\n"
           "# TYPE cache_hit_ratio gauge\n"
           "cache_hit_ratio 0.25\n"
           "# HELP db_query_seconds Query latency.\n"
           "# TYPE db_query_seconds histogram\n"
           "db_query_seconds_bucket{le=\"0.125\"} 2\n"
           "db_query_seconds_bucket{le=\"1\"} 2\n"
           "db_query_seconds_bucket{le=\"+Inf\"} 3\n"
           "db_query_seconds_sum 3.1875\n"
           "db_query_seconds_count 3\n"
           "# HELP http_requests_total Requests handled.\n"
           "# TYPE http_requests_total counter\n"
           "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
           "http_requests_total{method=\"POST\",code=\"500\"} 1\n"
           "# HELP idle_total Unlabelled: rendered from the start.\n"
           "# TYPE idle_total counter\n"
           "idle_total 0\n");
}

TEST_CASE("render escapes label values and help text") {
  registry reg;
  reg.gauge("files", "Files \"seen\" in C:\\tmp\nper scan.", {"path"})
    .with({"C:\\dir \"x\"\nend"})
    .set(1);
  CHECK(reg.render()
        == "# HELP files Files \"seen\" in C:\\\\tmp\\nper scan.\n"
           "# TYPE files gauge\n"
           "files{path=\"C:\\\\dir \\\"x\\\"\\nend\"} 1\n");
}

TEST_CASE("render prints labelled histograms with cumulative buckets, sum and count") {
  registry reg;
  auto& fam = reg.histogram("rpc_seconds", "RPC latency.", {"peer", "op"}, {0.5, 2.5});
  auto& h = fam.with({"n1", "get"});
  h.observe(0.5);
  h.observe(1);
  h.observe(2);
  h.observe(100);
  fam.with({"n2", "put"});
  CHECK(reg.render()
        == "# HELP rpc_seconds RPC latency.\n"
           "# TYPE rpc_seconds histogram\n"
           "rpc_seconds_bucket{peer=\"n1\",op=\"get\",le=\"0.5\"} 1\n"
           "rpc_seconds_bucket{peer=\"n1\",op=\"get\",le=\"2.5\"} 3\n"
           "rpc_seconds_bucket{peer=\"n1\",op=\"get\",le=\"+Inf\"} 4\n"
           "rpc_seconds_sum{peer=\"n1\",op=\"get\"} 103.5\n"
           "rpc_seconds_count{peer=\"n1\",op=\"get\"} 4\n"
           "rpc_seconds_bucket{peer=\"n2\",op=\"put\",le=\"0.5\"} 0\n"
           "rpc_seconds_bucket{peer=\"n2\",op=\"put\",le=\"2.5\"} 0\n"
           "rpc_seconds_bucket{peer=\"n2\",op=\"put\",le=\"+Inf\"} 0\n"
           "rpc_seconds_sum{peer=\"n2\",op=\"put\"} 0\n"
           "rpc_seconds_count{peer=\"n2\",op=\"put\"} 0\n");
}

TEST_CASE("render prints integers without a decimal point and floats in shortest form") {
  registry reg;
  auto& fam = reg.gauge("v", "Values.", {"case"});
  fam.with({"a_int"}).set(42);
  fam.with({"b_negative"}).set(-2.5);
  fam.with({"c_tenth"}).set(0.1);
  fam.with({"d_third"}).set(1.0 / 3);
  fam.with({"e_tiny"}).set(1e-7);
  fam.with({"f_huge"}).set(1e20);
  fam.with({"g_pos_inf"}).set(inf);
  fam.with({"h_neg_inf"}).set(-inf);
  fam.with({"i_nan"}).set(std::nan(""));
  fam.with({"j_big_int"}).set(9007199254740991.0);
  fam.with({"k_zero"}).set(-0.0);
  CHECK(reg.render()
        == "# HELP v Values.\n"
           "# TYPE v gauge\n"
           "v{case=\"a_int\"} 42\n"
           "v{case=\"b_negative\"} -2.5\n"
           "v{case=\"c_tenth\"} 0.1\n"
           "v{case=\"d_third\"} 0.3333333333333333\n"
           "v{case=\"e_tiny\"} 1e-07\n"
           "v{case=\"f_huge\"} 1e+20\n"
           "v{case=\"g_pos_inf\"} +Inf\n"
           "v{case=\"h_neg_inf\"} -Inf\n"
           "v{case=\"i_nan\"} NaN\n"
           "v{case=\"j_big_int\"} 9007199254740991\n"
           "v{case=\"k_zero\"} 0\n");
}

TEST_CASE("render lists families in name order, then collectors in the order added") {
  registry reg;
  reg.add(std::make_shared<fixed_collector>("zz_from_collector", 2));
  reg.counter("zz_total", "Last family.").with({}).inc();
  reg.counter("aa_total", "First family.").with({}).inc();
  reg.add(std::make_shared<fixed_collector>("aa_from_collector", 1));
  reg.counter("mm_total", "Middle family.").with({}).inc();
  auto out = reg.render();
  auto aa = out.find("# HELP aa_total ");
  auto mm = out.find("# HELP mm_total ");
  auto zz = out.find("# HELP zz_total ");
  auto c1 = out.find("# HELP zz_from_collector ");
  auto c2 = out.find("# HELP aa_from_collector ");
  REQUIRE(c2 != std::string::npos);
  CHECK(aa < mm);
  CHECK(mm < zz);
  CHECK(zz < c1);
  CHECK(c1 < c2);
  CHECK(out.find("zz_from_collector{src=\"collector\"} 2\n") != std::string::npos);
}

TEST_CASE("render appends to an existing string") {
  registry reg;
  reg.gauge("g", "G.").with({}).set(1);
  std::string out = "prefix\n";
  reg.render(out);
  CHECK(out == "prefix\n# HELP g G.\n# TYPE g gauge\ng 1\n");
}

TEST_CASE("visit reports every family, including ones without children") {
  struct recorder : visitor {
    std::vector<std::string> events;
    void begin_family(std::string_view name, std::string_view, kind k) override {
      events.push_back("begin " + std::string{name} + " " + to_string(k));
    }
    void value(const sample_view& s, double x) override {
      events.push_back("value " + std::to_string(s.labels.size()) + " " + std::to_string(x));
    }
    void histogram_value(const sample_view&, const histogram& h) override {
      events.push_back("histogram " + std::to_string(h.count()));
    }
    void end_family() override {
      events.push_back("end");
    }
  };
  registry reg;
  reg.counter("b_total", "B.", {"x"}).with({"1"}).inc(2);
  reg.histogram("a_seconds", "A.", {}).with({}).observe(1);
  reg.gauge("c", "C.", {"y"});
  recorder r;
  reg.visit(r);
  CHECK(r.events
        == std::vector<std::string>{"begin a_seconds histogram", "histogram 1", "end",
                                    "begin b_total counter", "value 1 2.000000", "end",
                                    "begin c gauge", "end"});
}

TEST_CASE("promtool accepts a rendered registry") {
  auto promtool = find_on_path("promtool");
  if (promtool.empty()) {
    WARN("promtool is not on PATH: skipping the promtool check");
    return;
  }
  registry reg;
  auto& requests =
    reg.counter("klerno_http_requests_total",
                "Requests handled,\nby \"path\" (C:\\ style paths too).", {"path", "code"});
  requests.with({"C:\\dir \"x\"\nend", "200"}).inc(7);
  requests.with({"/api/v1", "500"}).inc();
  auto& depth = reg.gauge("klerno_mailbox_depth", "Messages waiting.", {"actor"});
  depth.with({"cache"}).set(3);
  depth.with({"db"}).set(std::nan(""));
  auto& latency = reg.histogram("klerno_request_duration_seconds", "Request latency.", {"route"});
  latency.with({"/"}).observe(0.003);
  latency.with({"/"}).observe(42);
  latency.with({"/health"}).observe(0.2);
  reg.add(make_process_collector());

  char in_path[] = "/tmp/klerno_metrics_promtool_in_XXXXXX";
  int in_fd = ::mkstemp(in_path);
  REQUIRE(in_fd >= 0);
  auto text = reg.render();
  REQUIRE(::write(in_fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(in_fd);
  std::string out_path = std::string{in_path} + ".out";
  auto command = promtool + " check metrics < " + in_path + " > " + out_path + " 2>&1";
  int status = std::system(command.c_str());
  std::ifstream out_file{out_path};
  std::string output{std::istreambuf_iterator<char>{out_file}, std::istreambuf_iterator<char>{}};
  std::remove(in_path);
  std::remove(out_path.c_str());
  INFO("input:\n" << text << "promtool output:\n" << output);
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
