#include "runtime/process_stats.hpp"

#include <chrono>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "runtime/metrics.hpp"

using klerno::runtime::process_stats;
using klerno::runtime::read_process_stats;

namespace {

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

} // namespace

TEST_CASE("process stats are plausible") {
  auto st = read_process_stats();
  CHECK(st.resident_bytes > 0);
  CHECK(st.virtual_bytes >= st.resident_bytes);
  CHECK(st.threads >= 1);
  CHECK(st.open_fds >= 3);
  CHECK(st.max_fds >= st.open_fds);
  CHECK(st.cpu_seconds >= 0);
  auto now = unix_now();
  // /proc/stat's btime is whole seconds and may be off by one on some kernels: allow 1 s.
  CHECK(st.start_time_seconds <= now + 1);
  CHECK(st.start_time_seconds > now - 24 * 3600);
}

TEST_CASE("process open fds count a newly opened descriptor") {
  auto before = read_process_stats().open_fds;
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto during = read_process_stats().open_fds;
  ::close(fd);
  auto after = read_process_stats().open_fds;
  CHECK(during == before + 1);
  CHECK(after == before);
}

TEST_CASE("process cpu seconds increase after burning cpu") {
  auto before = read_process_stats().cpu_seconds;
  volatile uint64_t sink = 0;
  bool increased = false;
  // CPU time moves in clock ticks (usually 10 ms): burn until it moves, with a generous cap.
  for (int round = 0; round < 100'000 && !increased; ++round) {
    for (uint64_t i = 0; i < 100'000; ++i) {
      sink = sink + i;
    }
    increased = read_process_stats().cpu_seconds > before;
  }
  CHECK(increased);
}

TEST_CASE("process stats parse a command name containing spaces and parentheses") {
  // PR_SET_NAME on the main thread (Catch2 runs tests there) renames the comm field of
  // /proc/self/stat; a parser that stops at the first ')' would shift every field.
  auto before = read_process_stats();
  char old_name[17] = {};
  REQUIRE(::prctl(PR_GET_NAME, old_name) == 0);
  REQUIRE(::prctl(PR_SET_NAME, "a) (b c) d") == 0);
  auto renamed = read_process_stats();
  ::prctl(PR_SET_NAME, old_name);
  CHECK(renamed.start_time_seconds == before.start_time_seconds);
  CHECK(renamed.threads == before.threads);
  CHECK(renamed.resident_bytes > 0);
  CHECK(renamed.virtual_bytes > 0);
}

TEST_CASE("the process collector renders every process metric with its type") {
  klerno::runtime::metrics::registry reg;
  reg.add(klerno::runtime::metrics::make_process_collector());
  auto out = reg.render();
  INFO(out);
  const char* lines[] = {
    "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ",
    "# TYPE process_max_fds gauge\nprocess_max_fds ",
    "# TYPE process_open_fds gauge\nprocess_open_fds ",
    "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
    "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ",
    "# TYPE process_threads gauge\nprocess_threads ",
    "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes ",
  };
  for (const char* expected : lines) {
    CHECK(out.find(expected) != std::string::npos);
  }
  CHECK(out.find("# HELP process_cpu_seconds_total ") != std::string::npos);
}
