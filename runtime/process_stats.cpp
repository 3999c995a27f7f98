#include "runtime/process_stats.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace klerno::runtime {

namespace {

// Reads up to `size` bytes of `path` into `buf`; returns the byte count (0 on error). /proc files
// have no size, so read until EOF.
size_t read_file(const char* path, char* buf, size_t size) noexcept {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  size_t len = 0;
  while (len < size) {
    ssize_t n = ::read(fd, buf + len, size - len);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    len += static_cast<size_t>(n);
  }
  ::close(fd);
  return len;
}

// Parses the unsigned decimal at the start of `s` (after spaces) and advances `s` past it.
bool next_uint(std::string_view& s, uint64_t& out) noexcept {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{}) {
    return false;
  }
  s.remove_prefix(static_cast<size_t>(end - s.data()));
  return true;
}

// Skips one space-separated field.
void skip_field(std::string_view& s) noexcept {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
  while (!s.empty() && s.front() != ' ') {
    s.remove_prefix(1);
  }
}

// The boot time in seconds since the epoch (`btime` in /proc/stat). It never changes, and
// /proc/stat is long on machines with many CPUs, so it is read once, in chunks, without
// allocating.
uint64_t boot_time_seconds() noexcept {
  static const uint64_t btime = [] {
    constexpr std::string_view key = "\nbtime ";
    constexpr size_t chunk = 4096;
    constexpr size_t carry_max = 64; // more than the key plus a 20-digit number
    int fd = ::open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return uint64_t{0};
    }
    uint64_t value = 0;
    char buf[chunk + carry_max];
    size_t have = 0;
    for (;;) {
      ssize_t n = ::read(fd, buf + have, chunk);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      have += static_cast<size_t>(n);
      std::string_view text{buf, have};
      size_t keep = std::min(have, carry_max);
      if (auto pos = text.find(key); pos != std::string_view::npos) {
        std::string_view rest = text.substr(pos + key.size());
        if (rest.find('\n') != std::string_view::npos) {
          next_uint(rest, value);
          break;
        }
        keep = have - pos; // the line continues in the next chunk
        if (keep > carry_max) {
          break;
        }
      }
      std::memmove(buf, buf + have - keep, keep);
      have = keep;
    }
    ::close(fd);
    return value;
  }();
  return btime;
}

// Counts the entries of /proc/self/fd, leaving out the descriptor of the directory stream.
uint64_t count_open_fds() noexcept {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 0;
  }
  char own[24];
  auto own_end = std::to_chars(own, own + sizeof(own) - 1, ::dirfd(dir)).ptr;
  *own_end = '\0';
  uint64_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.' || std::strcmp(e->d_name, own) == 0) {
      continue;
    }
    ++n;
  }
  ::closedir(dir);
  return n;
}

// Fills the /proc/self/stat fields of `st` (proc(5) numbering: 14 utime, 15 stime, 20
// num_threads, 22 starttime, 23 vsize, 24 rss).
void read_stat(process_stats& st) noexcept {
  // comm is at most 16 bytes and the rest is about 50 numbers: 1 KiB is plenty.
  char buf[1024];
  size_t len = read_file("/proc/self/stat", buf, sizeof(buf));
  std::string_view text{buf, len};
  // comm may contain spaces and parentheses; the last ')' closes it.
  auto close = text.rfind(')');
  if (close == std::string_view::npos) {
    return;
  }
  text.remove_prefix(close + 1);
  // Fields 3 (state) .. 13 (cmajflt) precede utime.
  for (int field = 3; field <= 13; ++field) {
    skip_field(text);
  }
  uint64_t utime = 0;
  uint64_t stime = 0;
  uint64_t threads = 0;
  uint64_t start_ticks = 0;
  uint64_t vsize = 0;
  uint64_t rss_pages = 0;
  if (!next_uint(text, utime) || !next_uint(text, stime)) {
    return;
  }
  for (int field = 16; field <= 19; ++field) { // cutime, cstime, priority, nice (may be < 0)
    skip_field(text);
  }
  if (!next_uint(text, threads)) {
    return;
  }
  skip_field(text); // 21: itrealvalue
  if (!next_uint(text, start_ticks) || !next_uint(text, vsize) || !next_uint(text, rss_pages)) {
    return;
  }
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  static const long page_size = ::sysconf(_SC_PAGESIZE);
  if (ticks_per_second > 0) {
    auto tps = static_cast<double>(ticks_per_second);
    st.cpu_seconds = static_cast<double>(utime + stime) / tps;
    if (uint64_t btime = boot_time_seconds(); btime > 0) {
      st.start_time_seconds = static_cast<double>(btime) + static_cast<double>(start_ticks) / tps;
    }
  }
  st.threads = threads;
  st.virtual_bytes = vsize;
  if (page_size > 0) {
    st.resident_bytes = rss_pages * static_cast<uint64_t>(page_size);
  }
}

} // namespace

process_stats read_process_stats() noexcept {
  process_stats st;
  read_stat(st);
  st.open_fds = count_open_fds();
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    st.max_fds = lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(lim.rlim_cur);
  }
  return st;
}

} // namespace klerno::runtime
