#include "tests/api/api_support.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/support/env_file.hpp"
#include "tests/support/http.hpp"
#include "tests/support/tcp_client.hpp"

#ifndef KLERNO_PG_SCRIPT
#  error "KLERNO_PG_SCRIPT must name scripts/pg"
#endif
#ifndef KLERNO_API_PG_BASE
#  error "KLERNO_API_PG_BASE must name the directory for private clusters"
#endif

namespace klerno::test::api {

namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::mt19937_64& random_engine() {
  static std::mt19937_64 engine{[] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(::getpid());
  }()};
  return engine;
}

} // namespace

// -- commands and PostgreSQL -------------------------------------------------------------------

command_result run_command(const std::string& command) {
  command_result r;
  auto full = command + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) {
    r.output = "popen failed: " + std::string{std::strerror(errno)};
    return r;
  }
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    r.output.append(buf, n);
  }
  int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string require_command(const std::string& command) {
  auto r = run_command(command);
  INFO("command: " << command << "\nexit code " << r.code << ", output:\n" << r.output);
  REQUIRE(r.code == 0);
  return r.output;
}

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string pg_script() {
  return KLERNO_PG_SCRIPT;
}

namespace {

std::string chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
    s.pop_back();
  }
  return s;
}

std::string psql_command(const std::string& url, const std::string& sql) {
  return "\"$(pg_config --bindir)/psql\" -X -v ON_ERROR_STOP=1 " + shell_quote(url) + " -Atc "
         + shell_quote(sql);
}

} // namespace

std::string psql(const std::string& url, const std::string& sql) {
  return chomp(require_command(psql_command(url, sql)));
}

bool psql_succeeds(const std::string& url, const std::string& sql) {
  return run_command(psql_command(url, sql)).code == 0;
}

shared_servers shared_pg() {
  const char* file = std::getenv("KLERNO_PG_ENV_FILE");
  if (file == nullptr || *file == 0) {
    FAIL("KLERNO_PG_ENV_FILE is not set: run these tests through ctest (fixture pg)");
  }
  std::ifstream probe{file};
  if (!probe) {
    FAIL("no PostgreSQL for the API tests: env file " << file << " is missing (CTest fixture pg)");
  }
  shared_servers s;
  s.primary_url = env_file_value(file, "DATABASE_URL");
  auto replicas = env_file_value(file, "DATABASE_READ_URLS");
  s.replica_url = replicas.substr(0, replicas.find(','));
  s.dir = env_file_value(file, "PG_DIR");
  REQUIRE_FALSE(s.primary_url.empty());
  REQUIRE_FALSE(s.dir.empty());
  return s;
}

std::string with_database(const std::string& url, const std::string& database) {
  // postgresql://user:pass@host:port/db[?params]
  auto scheme = url.find("://");
  REQUIRE(scheme != std::string::npos);
  auto slash = url.find('/', scheme + 3);
  REQUIRE(slash != std::string::npos);
  auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + database
         + (query == std::string::npos ? std::string{} : url.substr(query));
}

scratch_database::scratch_database() : servers_(shared_pg()) {
  name_ = "kt_" + unique_id("db").substr(3);
  for (auto& c : name_) {
    if (c == '-') {
      c = '_';
    }
  }
  require_command(pg_script() + " psql " + shell_quote(servers_.dir) + " -X -Atc "
                  + shell_quote("CREATE DATABASE " + name_));
  primary_url_ = with_database(servers_.primary_url, name_);
  if (!servers_.replica_url.empty()) {
    replica_url_ = with_database(servers_.replica_url, name_);
    // The replica replays CREATE DATABASE asynchronously: wait until it accepts connections to
    // it, so a node's replica pool does not start against a database that is not there yet.
    try {
      bool visible = poll_until([this] { return psql_succeeds(replica_url_, "SELECT 1"); }, 30s);
      REQUIRE(visible);
    } catch (...) {
      drop();
      throw;
    }
  }
}

void scratch_database::drop() {
  run_command(pg_script() + " psql " + shell_quote(servers_.dir) + " -X -Atc "
              + shell_quote("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)"));
}

scratch_database::~scratch_database() {
  drop();
}

private_cluster::private_cluster(replica r) {
  std::string pattern = std::string{KLERNO_API_PG_BASE} + "/pga-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  dir_ = pattern;
  try {
    require_command(pg_script() + " start " + shell_quote(dir_) + " --fast"
                    + (r == replica::none ? " --no-replica" : ""));
    url_ = env_file_value(dir_ + "/env", "DATABASE_URL");
    REQUIRE_FALSE(url_.empty());
    replica_url_ = env_file_value(dir_ + "/env", "DATABASE_READ_URLS");
    REQUIRE(replica_url_.empty() == (r == replica::none));
  } catch (...) {
    run_command(pg_script() + " stop " + shell_quote(dir_));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

private_cluster::~private_cluster() {
  run_command(pg_script() + " stop " + shell_quote(dir_));
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void private_cluster::stop_primary() {
  require_command(pg_script() + " stop-primary " + shell_quote(dir_));
}

void private_cluster::start_primary() {
  require_command(pg_script() + " start-primary " + shell_quote(dir_));
}

std::string private_cluster::psql(const std::string& sql) {
  return chomp(
    require_command(pg_script() + " psql " + shell_quote(dir_) + " -X -Atc " + shell_quote(sql)));
}

std::string private_cluster::superuser_sql(replica server, const std::string& sql) {
  auto port =
    env_file_value(dir_ + "/env", server == replica::none ? "PG_PRIMARY_PORT" : "PG_REPLICA_PORT");
  REQUIRE_FALSE(port.empty());
  return chomp(require_command("\"$(pg_config --bindir)/psql\" -X -v ON_ERROR_STOP=1 -h "
                               + shell_quote(dir_ + "/sock") + " -p " + port
                               + " -U postgres -d postgres -Atc " + shell_quote(sql)));
}

// -- ids and times -----------------------------------------------------------------------------

std::string unique_id(std::string_view prefix) {
  static const char digits[] = "0123456789abcdef";
  auto v = random_engine()();
  std::string out{prefix};
  out += '-';
  for (int i = 0; i < 16; ++i) {
    out += digits[(v >> (i * 4)) & 0xF];
  }
  return out;
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(us / 1'000'000);
  auto frac = us % 1'000'000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (frac != 0) {
    std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(frac));
    out += buf;
  }
  return out + "Z";
}

std::string iso_date(std::chrono::system_clock::time_point t) {
  return iso_time(t).substr(0, 10);
}

// -- nodes and requests ------------------------------------------------------------------------

node_process::env_map db_settings(const std::string& primary_url, const std::string& replica_url,
                                  const node_process::env_map& extra) {
  node_process::env_map env{
    {"DATABASE_URL", primary_url},
    {"HEALTH_CHECK_INTERVAL", "200ms"},
  };
  if (!replica_url.empty()) {
    env["DATABASE_READ_URLS"] = replica_url;
  }
  for (const auto& [k, v] : extra) {
    env[k] = v;
  }
  return env;
}

header_list api_headers(std::string_view content_type) {
  header_list h{{"X-API-Key", test_api_key}};
  if (!content_type.empty()) {
    h.emplace_back("Content-Type", std::string{content_type});
  }
  return h;
}

http_response api_request(const test_node& node, std::string_view method, std::string_view target,
                          std::string_view body, std::string_view content_type,
                          std::chrono::milliseconds timeout) {
  tcp_client c{node.port()};
  c.send(format_request(method, target, api_headers(body.empty() ? "" : content_type), body, true));
  return c.read_response(timeout, method == "HEAD");
}

http_response post(const test_node& node, std::string_view target, const nlohmann::json& body) {
  return api_request(node, "POST", target, body.dump());
}

http_response get(const test_node& node, std::string_view target) {
  return api_request(node, "GET", target);
}

nlohmann::json require_status_json(const http_response& res, unsigned status) {
  INFO("status " << res.status << ", body: " << res.body.substr(0, 4000));
  REQUIRE(res.status == status);
  auto j = nlohmann::json::parse(res.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

nlohmann::json make_tx(std::string_view prefix, const std::string& from_addr,
                       const std::string& to_addr, const nlohmann::json& amount) {
  return {{"tx_id", unique_id(prefix)},
          {"from_addr", from_addr},
          {"to_addr", to_addr},
          {"amount", amount},
          {"direction", "out"}};
}

nlohmann::json make_alert_tx(std::string_view prefix, const std::string& from_addr,
                             const std::string& to_addr) {
  auto tx = make_tx(prefix, from_addr, to_addr, "20000");
  tx["memo"] = "scam fraud ransom payout";
  tx["tags"] = {"sanctioned"};
  return tx;
}

// -- metrics -----------------------------------------------------------------------------------

std::optional<double> metric_sample(const std::string& text, const std::string& series) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0
        && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

double metric(const test_node& node, const std::string& series) {
  auto res = node.get("/metrics");
  REQUIRE(res.status == 200);
  return metric_sample(res.body, series).value_or(0.0);
}

// -- streaming and memory ----------------------------------------------------------------------

std::string stream_head::header(std::string_view name) const {
  auto wanted = lower(name);
  for (const auto& [k, v] : headers) {
    if (lower(k) == wanted) {
      return v;
    }
  }
  return {};
}

namespace {

/// A blocking loopback connection that reads what is there, waiting at most `idle` for a byte.
class raw_connection {
public:
  explicit raw_connection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      throw std::system_error(errno, std::generic_category(), "socket");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      auto e = errno;
      ::close(fd_);
      throw std::system_error(e, std::generic_category(), "connect");
    }
  }

  ~raw_connection() {
    ::close(fd_);
  }

  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  void send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        throw std::system_error(errno, std::generic_category(), "send");
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  /// Appends what arrives to `buf`; returns false on EOF. Fails the test after `idle` of silence.
  bool receive(std::string& buf, std::chrono::milliseconds idle) {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      auto rc = ::poll(&p, 1, static_cast<int>(idle.count()));
      if (rc < 0 && errno == EINTR) {
        continue;
      }
      if (rc == 0) {
        FAIL("no data from the node for " << idle.count() << " ms while streaming");
      }
      char chunk[64 * 1024];
      auto n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        buf.append(chunk, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0 || errno == ECONNRESET) {
        return false;
      }
      if (errno != EINTR && errno != EAGAIN) {
        throw std::system_error(errno, std::generic_category(), "recv");
      }
    }
  }

private:
  int fd_ = -1;
};

} // namespace

std::uint64_t stream_get(uint16_t port, std::string_view target,
                         const std::function<void(const stream_head&)>& on_head,
                         const std::function<void(std::string_view)>& on_data,
                         std::chrono::milliseconds idle_timeout) {
  raw_connection conn{port};
  conn.send_all(format_request("GET", target, api_headers(""), {}, true));
  std::string buf;
  std::size_t pos = 0; // consumed bytes of buf
  auto compact = [&] {
    if (pos > 0) {
      buf.erase(0, pos);
      pos = 0;
    }
  };
  auto fill = [&]() -> bool {
    compact();
    return conn.receive(buf, idle_timeout);
  };
  // Reads one CRLF-terminated line (without the CRLF).
  auto read_line = [&](std::string& line) {
    for (;;) {
      auto eol = buf.find("\r\n", pos);
      if (eol != std::string::npos) {
        line = buf.substr(pos, eol - pos);
        pos = eol + 2;
        return;
      }
      if (!fill()) {
        FAIL("the connection closed in the middle of a line");
      }
    }
  };

  stream_head head;
  std::string line;
  read_line(line);
  INFO("status line: " << line);
  REQUIRE(line.rfind("HTTP/1.1 ", 0) == 0);
  head.status = static_cast<unsigned>(std::stoul(line.substr(9, 3)));
  for (;;) {
    read_line(line);
    if (line.empty()) {
      break;
    }
    auto colon = line.find(':');
    REQUIRE(colon != std::string::npos);
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.erase(0, 1);
    }
    head.headers.emplace_back(line.substr(0, colon), value);
  }
  on_head(head);

  std::uint64_t total = 0;
  // Hands `n` body bytes (reading more as needed) to on_data.
  auto deliver = [&](std::uint64_t n) {
    while (n > 0) {
      if (pos == buf.size() && !fill()) {
        FAIL("the connection closed with " << n << " body bytes missing");
      }
      auto take = std::min<std::uint64_t>(n, buf.size() - pos);
      on_data(std::string_view{buf}.substr(pos, static_cast<std::size_t>(take)));
      pos += static_cast<std::size_t>(take);
      n -= take;
      total += take;
    }
  };
  if (lower(head.header("Transfer-Encoding")).find("chunked") != std::string::npos) {
    for (;;) {
      read_line(line);
      auto size = std::stoull(line.substr(0, line.find(';')), nullptr, 16);
      if (size == 0) {
        do {
          read_line(line); // trailers, then the empty line
        } while (!line.empty());
        break;
      }
      deliver(size);
      read_line(line);
      REQUIRE(line.empty());
    }
  } else if (auto length = head.header("Content-Length"); !length.empty()) {
    deliver(std::stoull(length));
  } else {
    for (;;) {
      if (pos < buf.size()) {
        deliver(buf.size() - pos);
      }
      if (!fill()) {
        break;
      }
    }
  }
  return total;
}

std::uint64_t resident_bytes(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoull(line.substr(6)) * 1024; // "VmRSS:   123456 kB"
    }
  }
  FAIL("no VmRSS in /proc/" << pid << "/status");
  return 0;
}

} // namespace klerno::test::api
