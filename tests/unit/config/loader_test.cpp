#include "config/loader.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

using namespace klerno::config;
using namespace std::chrono_literals;

namespace {

using env_map = std::map<std::string, std::string>;

load_result load_args(const std::vector<std::string>& args, const env_map& env = {}) {
  std::vector<const char*> argv{"klerno-node"};
  for (const auto& a : args) {
    argv.push_back(a.c_str());
  }
  return load(static_cast<int>(argv.size()), argv.data(), env);
}

settings load_env(const env_map& env) {
  return load_args({}, env).values;
}

// Returns the error `load` throws; fails the test if it throws none.
error load_error(const std::vector<std::string>& args, const env_map& env = {}) {
  try {
    load_args(args, env);
  } catch (const error& e) {
    return e;
  }
  FAIL("load() accepted the configuration");
  throw std::logic_error("unreachable");
}

error env_error(const env_map& env) {
  return load_error({}, env);
}

// Adds what a cluster member needs besides its seeds (a database and a secret) to `env`.
env_map member_env(env_map env) {
  env.emplace("DATABASE_URL", "postgresql://klerno:pw@db/klerno");
  env.emplace("CLUSTER_SECRET", "a-cluster-secret-0123456789");
  return env;
}

/// A file in the temporary directory, removed at the end of the scope.
class temp_file {
public:
  explicit temp_file(const std::string& content) {
    auto pattern = (std::filesystem::temp_directory_path() / "klerno-config-XXXXXX").string();
    int fd = mkstemp(pattern.data());
    REQUIRE(fd >= 0);
    close(fd);
    path_ = pattern;
    std::ofstream out{path_, std::ios::binary};
    out << content;
    REQUIRE(out.good());
  }

  ~temp_file() {
    std::remove(path_.c_str());
  }

  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  const std::string& path() const {
    return path_;
  }

private:
  std::string path_;
};

// Compares two settings field by field: render() covers every key, the secrets are compared by
// their revealed values (render() redacts them).
void require_same(const settings& a, const settings& b) {
  CHECK(render(a) == render(b));
  CHECK(a.auth.api_key.reveal() == b.auth.api_key.reveal());
  CHECK(a.auth.secret_key.reveal() == b.auth.secret_key.reveal());
  CHECK(a.cluster.cluster_secret.reveal() == b.cluster.cluster_secret.reveal());
  CHECK(a.storage.database_url.reveal() == b.storage.database_url.reveal());
  CHECK(a.storage.redis_url.reveal() == b.storage.redis_url.reveal());
}

const std::string strong_api_key = "k3y-0f-at-least-16-chars";
const std::string strong_secret_key = "an0ther-l0ng-s1gning-key";

} // namespace

// -- defaults and precedence ---------------------------------------------------------------------

TEST_CASE("loading without any source gives the documented defaults") {
  auto r = load_args({});
  const auto& s = r.values;
  CHECK_FALSE(r.print_config);
  CHECK_FALSE(r.show_help);
  CHECK_FALSE(r.show_version);
  CHECK(r.config_file.empty());
  CHECK(s.env == app_env::development);
  CHECK(s.http.bind_address == "0.0.0.0");
  CHECK(s.http.port == 8000);
  auto threads = std::max(1u, std::thread::hardware_concurrency());
  CHECK(s.http.workers == threads);
  CHECK(s.http.max_header_bytes == 8 * 1024);
  CHECK(s.http.max_body_bytes == 1024 * 1024);
  CHECK(s.http.read_timeout == 15s);
  CHECK(s.http.idle_timeout == 75s);
  CHECK(s.http.write_timeout == 15s);
  CHECK(s.http.request_timeout == 10s);
  CHECK(s.http.linger_timeout == 2s);
  CHECK(s.http.pipeline_limit == 16);
  CHECK(s.http.max_connections == 10'000);
  CHECK(s.http.access_log);
  CHECK(s.http.prometheus_enabled);
  CHECK_FALSE(s.http.metrics_port.has_value());
  CHECK(s.auth.api_key.reveal() == "dev-api-key");
  CHECK(s.auth.secret_key.reveal() == "dev-secret-key");
  CHECK(s.health.check_interval == 10s);
  CHECK(s.health.liveness_timeout == 2s);
  CHECK(s.lifecycle.shutdown_grace == 5s);
  CHECK(s.lifecycle.drain_timeout == 20s);
  CHECK(s.lifecycle.stop_timeout == 5s);
  CHECK(s.log.format == log_format::text);
  CHECK(s.log.level == log_level::info);
  CHECK(s.scaling.min_replicas == 2);
  CHECK(s.scaling.max_replicas == 10);
  CHECK(s.scaling.target_cpu_utilization == 70);
  CHECK(s.scaling.target_memory_utilization == 80);
  CHECK_FALSE(s.cluster.node_name.empty());
  CHECK(s.cluster.bind_address == "127.0.0.1");
  CHECK(s.cluster.port == 4370);
  CHECK(s.cluster.seeds.empty());
  CHECK(s.cluster.cluster_secret.empty());
  CHECK(s.storage.database_url.empty());
  CHECK(s.storage.redis_url.empty());
  CHECK(s.runtime.actor_threads == threads);
  CHECK(s.runtime.ports_file.empty());
}

TEST_CASE("a later source overrides an earlier one: file < environment < command line") {
  temp_file file{"PORT=1001\nLOG_LEVEL=debug\nACCESS_LOG=false\n"};
  SECTION("the file overrides the default") {
    auto s = load_args({"--config", file.path()}).values;
    CHECK(s.http.port == 1001);
    CHECK(s.log.level == log_level::debug);
    CHECK_FALSE(s.http.access_log);
  }
  SECTION("the environment overrides the file") {
    auto s = load_args({"--config", file.path()}, {{"PORT", "1002"}, {"LOG_LEVEL", "warn"}}).values;
    CHECK(s.http.port == 1002);
    CHECK(s.log.level == log_level::warn);
    CHECK_FALSE(s.http.access_log);
  }
  SECTION("the command line overrides the environment") {
    auto s = load_args({"--config", file.path(), "--port=1003", "--access-log"},
                       {{"PORT", "1002"}, {"LOG_LEVEL", "warn"}})
               .values;
    CHECK(s.http.port == 1003);
    CHECK(s.log.level == log_level::warn);
    CHECK(s.http.access_log);
  }
}

TEST_CASE("the config file is named by --config or else by KLERNO_CONFIG") {
  temp_file from_env{"PORT=2001\n"};
  temp_file from_cli{"PORT=2002\n"};
  auto r = load_args({}, {{"KLERNO_CONFIG", from_env.path()}});
  CHECK(r.values.http.port == 2001);
  CHECK(r.config_file == from_env.path());
  r = load_args({"--config=" + from_cli.path()}, {{"KLERNO_CONFIG", from_env.path()}});
  CHECK(r.values.http.port == 2002);
  CHECK(r.config_file == from_cli.path());
}

TEST_CASE("unknown environment variables are ignored and KEYs are matched exactly") {
  auto s = load_env({{"PATH", "/usr/bin"}, {"KLERNO_PORT", "1"}, {"port", "1"}});
  CHECK(s.http.port == 8000);
}

// -- value types ---------------------------------------------------------------------------------

TEST_CASE("integers are decimal without sign or junk and within their range") {
  CHECK(load_env({{"PORT", "0"}}).http.port == 0);
  CHECK(load_env({{"PORT", "65535"}}).http.port == 65535);
  CHECK(load_env({{"PORT", "08080"}}).http.port == 8080);
  auto e = env_error({{"PORT", "abc"}});
  CHECK(e.key() == "PORT");
  CHECK(std::string{e.what()} == R"(PORT: "abc" is not an integer in 0..65535 (from environment))");
  for (auto bad :
       {"", "80x", "-1", "+1", "0x10", "65536", " 80", "8.0", "99999999999999999999999"}) {
    INFO("PORT=" << bad);
    CHECK(env_error({{"PORT", bad}}).key() == "PORT");
  }
}

TEST_CASE("counts are range-checked with a message naming the key and the range") {
  struct row {
    const char* key;
    const char* too_low;
    const char* too_high;
    const char* range;
  };
  for (auto r :
       {row{"WORKERS", "0", "257", "1..256"}, row{"ACTOR_THREADS", "0", "257", "1..256"},
        row{"HTTP_PIPELINE_LIMIT", "0", "1025", "1..1024"},
        row{"HTTP_MAX_CONNECTIONS", "0", "1000001", "1..1000000"},
        row{"MIN_REPLICAS", "0", "1001", "1..1000"}, row{"MAX_REPLICAS", "0", "1001", "1..1000"},
        row{"CLUSTER_PORT", "-1", "65536", "0..65535"}}) {
    INFO(r.key);
    for (auto bad : {r.too_low, r.too_high}) {
      auto e = env_error({{r.key, bad}});
      CHECK(e.key() == r.key);
      CHECK(std::string{e.what()}
            == std::string{r.key} + ": \"" + bad + "\" is not an integer in " + r.range
                 + " (from environment)");
    }
  }
  auto s = load_env({{"WORKERS", "256"},
                     {"ACTOR_THREADS", "1"},
                     {"HTTP_PIPELINE_LIMIT", "1024"},
                     {"HTTP_MAX_CONNECTIONS", "1000000"},
                     {"MIN_REPLICAS", "1000"},
                     {"MAX_REPLICAS", "1000"},
                     {"CLUSTER_PORT", "1"}});
  CHECK(s.http.workers == 256);
  CHECK(s.runtime.actor_threads == 1);
  CHECK(s.http.pipeline_limit == 1024);
  CHECK(s.http.max_connections == 1'000'000);
  CHECK(s.scaling.min_replicas == 1000);
  CHECK(s.scaling.max_replicas == 1000);
  CHECK(s.cluster.port == 1);
}

TEST_CASE("sizes accept bytes or a 1024-based suffix within their range") {
  CHECK(load_env({{"HTTP_MAX_HEADER_BYTES", "1024"}}).http.max_header_bytes == 1024);
  CHECK(load_env({{"HTTP_MAX_HEADER_BYTES", "16KiB"}}).http.max_header_bytes == 16 * 1024);
  CHECK(load_env({{"HTTP_MAX_HEADER_BYTES", "16k"}}).http.max_header_bytes == 16 * 1024);
  CHECK(load_env({{"HTTP_MAX_HEADER_BYTES", "16KB"}}).http.max_header_bytes == 16 * 1024);
  CHECK(load_env({{"HTTP_MAX_HEADER_BYTES", "1MiB"}}).http.max_header_bytes == 1024 * 1024);
  CHECK(load_env({{"HTTP_MAX_BODY_BYTES", "1"}}).http.max_body_bytes == 1);
  CHECK(load_env({{"HTTP_MAX_BODY_BYTES", "10m"}}).http.max_body_bytes == 10 * 1024 * 1024);
  CHECK(load_env({{"HTTP_MAX_BODY_BYTES", "10MB"}}).http.max_body_bytes == 10 * 1024 * 1024);
  CHECK(load_env({{"HTTP_MAX_BODY_BYTES", "1GiB"}}).http.max_body_bytes == 1024 * 1024 * 1024);
  auto e = env_error({{"HTTP_MAX_HEADER_BYTES", "1023"}});
  CHECK(std::string{e.what()}
        == R"(HTTP_MAX_HEADER_BYTES: "1023" is not a size in 1KiB..1MiB (bytes, or with suffix )"
           R"(KiB/MiB) (from environment))");
  for (auto bad : {"", "2MiB", "1025KiB", "8 KiB", "8KiBs", "8TB", "-8k", "1.5k"}) {
    INFO("HTTP_MAX_HEADER_BYTES=" << bad);
    CHECK(env_error({{"HTTP_MAX_HEADER_BYTES", bad}}).key() == "HTTP_MAX_HEADER_BYTES");
  }
  for (auto bad : {"0", "1025MiB", "2g", "99999999999999999999"}) {
    INFO("HTTP_MAX_BODY_BYTES=" << bad);
    CHECK(env_error({{"HTTP_MAX_BODY_BYTES", bad}}).key() == "HTTP_MAX_BODY_BYTES");
  }
}

TEST_CASE("durations accept ms, s, m, h or bare seconds, above zero and up to 24h") {
  CHECK(load_env({{"HTTP_READ_TIMEOUT", "250ms"}}).http.read_timeout == 250ms);
  CHECK(load_env({{"HTTP_READ_TIMEOUT", "30s"}}).http.read_timeout == 30s);
  CHECK(load_env({{"HTTP_READ_TIMEOUT", "5m"}}).http.read_timeout == 5min);
  CHECK(load_env({{"HTTP_READ_TIMEOUT", "1h"}}).http.read_timeout == 1h);
  CHECK(load_env({{"HTTP_READ_TIMEOUT", "24h"}}).http.read_timeout == 24h);
  CHECK(load_env({{"HTTP_READ_TIMEOUT", "7"}}).http.read_timeout == 7s);
  CHECK(load_env({{"HTTP_READ_TIMEOUT", "1ms"}}).http.read_timeout == 1ms);
  auto e = env_error({{"HTTP_IDLE_TIMEOUT", "0s"}});
  CHECK(std::string{e.what()}
        == R"(HTTP_IDLE_TIMEOUT: "0s" is not a duration in 1ms..24h (like 250ms, 30s, 5m, 1h) )"
           R"((from environment))");
  for (auto key :
       {"HTTP_READ_TIMEOUT", "HTTP_IDLE_TIMEOUT", "HTTP_WRITE_TIMEOUT", "HTTP_REQUEST_TIMEOUT",
        "HTTP_LINGER_TIMEOUT", "HEALTH_CHECK_INTERVAL", "LIVENESS_TIMEOUT", "SHUTDOWN_GRACE",
        "SHUTDOWN_DRAIN_TIMEOUT", "SHUTDOWN_STOP_TIMEOUT"}) {
    for (auto bad : {"", "abc", "25h", "1441m", "86401s", "-1s", "1.5s", "10 s", "10sec", "1d",
                     "99999999999999999999h"}) {
      INFO(key << "=" << bad);
      CHECK(env_error({{key, bad}}).key() == key);
    }
  }
  auto s = load_env({{"HTTP_WRITE_TIMEOUT", "1s"},
                     {"HTTP_REQUEST_TIMEOUT", "2s"},
                     {"HEALTH_CHECK_INTERVAL", "30s"},
                     {"LIVENESS_TIMEOUT", "500ms"},
                     {"SHUTDOWN_GRACE", "0"},
                     {"SHUTDOWN_DRAIN_TIMEOUT", "1m"},
                     {"SHUTDOWN_STOP_TIMEOUT", "3s"}});
  CHECK(s.http.write_timeout == 1s);
  CHECK(s.http.request_timeout == 2s);
  CHECK(s.health.check_interval == 30s);
  CHECK(s.health.liveness_timeout == 500ms);
  CHECK(s.lifecycle.shutdown_grace == 0ms); // the one duration that may be zero
  CHECK(s.lifecycle.drain_timeout == 1min);
  CHECK(s.lifecycle.stop_timeout == 3s);
}

TEST_CASE("booleans accept true/false, 1/0, yes/no and on/off in any case") {
  for (auto yes : {"true", "TRUE", "1", "yes", "Yes", "on", "ON"}) {
    INFO(yes);
    CHECK(load_env({{"ACCESS_LOG", "false"}, {"PROMETHEUS_ENABLED", "off"}}).http.access_log
          == false);
    auto s = load_args({"--access-log=" + std::string{yes}}, {{"PROMETHEUS_ENABLED", yes}}).values;
    CHECK(s.http.access_log);
    CHECK(s.http.prometheus_enabled);
  }
  for (auto no : {"false", "False", "0", "no", "NO", "off", "Off"}) {
    INFO(no);
    auto s = load_env({{"ACCESS_LOG", no}, {"PROMETHEUS_ENABLED", no}});
    CHECK_FALSE(s.http.access_log);
    CHECK_FALSE(s.http.prometheus_enabled);
  }
  auto e = env_error({{"ACCESS_LOG", "maybe"}});
  CHECK(std::string{e.what()}
        == R"(ACCESS_LOG: "maybe" is not a boolean (true/false, 1/0, yes/no, on/off) )"
           R"((from environment))");
  for (auto bad : {"", "2", "y", "t", "enabled"}) {
    INFO(bad);
    CHECK(env_error({{"PROMETHEUS_ENABLED", bad}}).key() == "PROMETHEUS_ENABLED");
  }
}

TEST_CASE("the autoscale tolerance is a number from 0 up to but excluding 1") {
  CHECK(load_env({}).scaling.tolerance == 0.1);
  CHECK(load_env({{"AUTOSCALE_TOLERANCE", "0.25"}}).scaling.tolerance == 0.25);
  CHECK(load_env({{"AUTOSCALE_TOLERANCE", "0"}}).scaling.tolerance == 0);
  auto e = env_error({{"AUTOSCALE_TOLERANCE", "1"}});
  CHECK(std::string{e.what()}
        == R"(AUTOSCALE_TOLERANCE: "1" is not a number in [0, 1) like 0.1 (from environment))");
  for (auto bad : {"", "-0.1", "1.5", "nan", "inf", "10%", "abc", "0.1 "}) {
    INFO(bad);
    CHECK(env_error({{"AUTOSCALE_TOLERANCE", bad}}).key() == "AUTOSCALE_TOLERANCE");
  }
}

TEST_CASE("percentages accept a trailing % and must be above 0 and at most 100") {
  CHECK(load_env({{"TARGET_CPU_UTILIZATION", "50"}}).scaling.target_cpu_utilization == 50);
  CHECK(load_env({{"TARGET_CPU_UTILIZATION", "75%"}}).scaling.target_cpu_utilization == 75);
  CHECK(load_env({{"TARGET_CPU_UTILIZATION", "100"}}).scaling.target_cpu_utilization == 100);
  CHECK(load_env({{"TARGET_MEMORY_UTILIZATION", "12.5%"}}).scaling.target_memory_utilization
        == 12.5);
  auto e = env_error({{"TARGET_CPU_UTILIZATION", "0"}});
  CHECK(std::string{e.what()}
        == R"(TARGET_CPU_UTILIZATION: "0" is not a percentage in (0, 100] (from environment))");
  for (auto bad : {"", "%", "0%", "-5", "100.1", "101%", "70%%", "nan", "inf", "abc", "70 %"}) {
    INFO(bad);
    CHECK(env_error({{"TARGET_MEMORY_UTILIZATION", bad}}).key() == "TARGET_MEMORY_UTILIZATION");
  }
}

TEST_CASE("enumerations accept their documented names in any case and nothing else") {
  CHECK(load_env({{"APP_ENV", "test"}}).env == app_env::test);
  CHECK(load_env({{"APP_ENV", "Staging"}}).env == app_env::staging);
  CHECK(load_env({{"LOG_FORMAT", "json"}}).log.format == log_format::json);
  CHECK(load_env({{"LOG_LEVEL", "trace"}}).log.level == log_level::trace);
  CHECK(load_env({{"LOG_LEVEL", "critical"}}).log.level == log_level::critical);
  CHECK(load_env({{"LOG_LEVEL", "off"}}).log.level == log_level::off);
  auto e = env_error({{"APP_ENV", "prod"}});
  CHECK(std::string{e.what()}
        == R"(APP_ENV: "prod" is not one of development|test|staging|production )"
           R"((from environment))");
  CHECK(env_error({{"LOG_FORMAT", "xml"}}).key() == "LOG_FORMAT");
  CHECK(env_error({{"LOG_LEVEL", "warning"}}).key() == "LOG_LEVEL");
}

TEST_CASE("addresses accept IPv4, IPv6 and host names") {
  CHECK(load_env({{"BIND_ADDRESS", "127.0.0.1"}}).http.bind_address == "127.0.0.1");
  CHECK(load_env({{"BIND_ADDRESS", "::"}}).http.bind_address == "::");
  CHECK(load_env({{"BIND_ADDRESS", "[::1]"}}).http.bind_address == "::1");
  CHECK(load_env({{"BIND_ADDRESS", "localhost"}}).http.bind_address == "localhost");
  CHECK(load_env({{"CLUSTER_BIND_ADDRESS", "node-1.svc.cluster.local"}}).cluster.bind_address
        == "node-1.svc.cluster.local");
  auto e = env_error({{"BIND_ADDRESS", "bad host!"}});
  CHECK(std::string{e.what()}
        == R"(BIND_ADDRESS: "bad host!" is not an IP address or host name (from environment))");
  for (auto bad : {"", "256.1.1.1", "1.2.3", "-leading.example", "a..b", "[127.0.0.1]", "::g",
                   "example.com."}) {
    INFO(bad);
    CHECK(env_error({{"CLUSTER_BIND_ADDRESS", bad}}).key() == "CLUSTER_BIND_ADDRESS");
  }
}

TEST_CASE("METRICS_PORT is unset by default and by an empty value") {
  CHECK(load_env({{"METRICS_PORT", "9100"}}).http.metrics_port == std::optional<uint16_t>{9100});
  CHECK(load_env({{"METRICS_PORT", "0"}}).http.metrics_port == std::optional<uint16_t>{0});
  CHECK_FALSE(load_args({"--metrics-port=9100"}, {{"METRICS_PORT", ""}}).values.http.metrics_port
              == std::nullopt);
  CHECK(load_args({"--metrics-port="}, {{"METRICS_PORT", "9100"}}).values.http.metrics_port
        == std::nullopt);
  auto e = env_error({{"METRICS_PORT", "65536"}});
  CHECK(std::string{e.what()}
        == R"(METRICS_PORT: "65536" is not an integer in 0..65535 (from environment))");
}

TEST_CASE("NODE_NAME defaults to the host name and takes 1 to 63 letters, digits, dots, "
          "underscores or dashes") {
  auto name = load_env({}).cluster.node_name;
  CHECK_FALSE(name.empty());
  CHECK(name.size() <= 63);
  CHECK(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
        == std::string::npos);
  CHECK(load_env({{"NODE_NAME", "node_1.eu-west"}}).cluster.node_name == "node_1.eu-west");
  CHECK(load_env({{"NODE_NAME", std::string(63, 'n')}}).cluster.node_name.size() == 63);
  for (auto bad : {std::string{}, std::string(64, 'n'), std::string{"node 1"},
                   std::string{"node/1"}, std::string{"nöde"}}) {
    INFO(bad);
    CHECK(env_error({{"NODE_NAME", bad}}).key() == "NODE_NAME");
  }
}

TEST_CASE("PORTS_FILE takes any path") {
  CHECK(load_env({{"PORTS_FILE", "/run/klerno/ports.json"}}).runtime.ports_file
        == "/run/klerno/ports.json");
  CHECK(load_env({{"PORTS_FILE", ""}}).runtime.ports_file.empty());
}

TEST_CASE("CLUSTER_SEEDS parses comma-separated host:port entries including bracketed IPv6") {
  auto seeds =
    load_env(member_env({{"CLUSTER_SEEDS", " node-a:4370 , 10.0.0.2:4371,[::1]:4372,[fe80::1]:1"}}))
      .cluster.seeds;
  REQUIRE(seeds.size() == 4);
  CHECK(seeds[0] == host_port{"node-a", 4370});
  CHECK(seeds[1] == host_port{"10.0.0.2", 4371});
  CHECK(seeds[2] == host_port{"::1", 4372});
  CHECK(seeds[3] == host_port{"fe80::1", 1});
  CHECK(load_env({{"CLUSTER_SEEDS", ""}}).cluster.seeds.empty());
  CHECK(load_env({{"CLUSTER_SEEDS", "   "}}).cluster.seeds.empty());
  CHECK(load_env(member_env({{"CLUSTER_SEEDS", "node-b:65535"}})).cluster.seeds
        == std::vector<host_port>{{"node-b", 65535}});
}

TEST_CASE("CLUSTER_SEEDS rejects entries without a valid host and port, naming the entry") {
  auto e = env_error({{"CLUSTER_SEEDS", "node-a:4370,host:99999"}});
  CHECK(e.key() == "CLUSTER_SEEDS");
  CHECK(std::string{e.what()}
        == R"(CLUSTER_SEEDS: "host:99999" is not host:port with a port in 1..65535 )"
           R"(([::1]:4370 for IPv6) (from environment))");
  e = env_error({{"CLUSTER_SEEDS", "a:1,,b:2"}});
  CHECK(std::string{e.what()} == R"(CLUSTER_SEEDS: empty entry in "a:1,,b:2" (from environment))");
  for (auto bad :
       {"host", "host:", ":80", "host:99999", "host:0", "host:80x", "::1:4370", "[::1]",
        "[::1]4370", "[nothost]:80", "[::1:80", "a:1,", ",a:1", "a b:1", "256.0.0.1:80"}) {
    INFO(bad);
    CHECK(env_error({{"CLUSTER_SEEDS", bad}}).key() == "CLUSTER_SEEDS");
  }
}

TEST_CASE("rediss:// is refused with the reason and a way out, never the password") {
  auto e = env_error({{"REDIS_URL", "rediss://:hunter2@cache:6380/0"}});
  CHECK(e.key() == "REDIS_URL");
  CHECK_THAT(e.what(), Catch::Contains("rediss:// (TLS) is not supported"));
  CHECK_THAT(e.what(), Catch::Contains("stunnel"));
  CHECK(std::string{e.what()}.find("hunter2") == std::string::npos);
}

TEST_CASE("TRUSTED_PROXIES takes addresses and CIDR networks, and names a bad entry") {
  auto s = load_env({{"TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,fd00::/8"}});
  REQUIRE(s.cache.trusted_proxies.size() == 3);
  CHECK(s.cache.trusted_proxies[0].address == "127.0.0.1");
  CHECK(s.cache.trusted_proxies[0].prefix == 32);
  CHECK(s.cache.trusted_proxies[1].prefix == 8);
  CHECK(s.cache.trusted_proxies[2].address == "fd00::");
  CHECK(s.cache.trusted_proxies[2].prefix == 8);
  CHECK(load_env({{"TRUSTED_PROXIES", ""}}).cache.trusted_proxies.empty());
  for (auto bad : {"10.0.0.0/33", "nginx", "10.0.0.0/", "1.2.3.4,,", "::1/129"}) {
    INFO(bad);
    CHECK(env_error({{"TRUSTED_PROXIES", bad}}).key() == "TRUSTED_PROXIES");
  }
}

TEST_CASE("the Redis and session timings must be ordered") {
  CHECK(env_error({{"REDIS_RECONNECT_MIN", "10s"}, {"REDIS_RECONNECT_MAX", "1s"}}).key()
        == "REDIS_RECONNECT_MIN");
  CHECK(env_error({{"SESSION_TTL", "2h"}, {"SESSION_MAX_LIFETIME", "1h"}}).key() == "SESSION_TTL");
}

TEST_CASE("DATABASE_URL and REDIS_URL need their schemes and are stored as secrets") {
  auto s = load_env(
    {{"DATABASE_URL", "postgresql://app:pw@db/klerno"}, {"REDIS_URL", "redis://:pw@cache:6380/0"}});
  CHECK(s.storage.database_url.reveal() == "postgresql://app:pw@db/klerno");
  CHECK(s.storage.redis_url.reveal() == "redis://:pw@cache:6380/0");
  CHECK(load_env({{"DATABASE_URL", "postgres://db"}}).storage.database_url.reveal()
        == "postgres://db");
  CHECK(load_env({{"REDIS_URL", "redis://cache"}}).storage.redis_url.reveal() == "redis://cache");
  CHECK(load_env({{"REDIS_URL", ""}}).storage.redis_url.empty());
  auto e = env_error({{"DATABASE_URL", "mysql://app:hunter2@db/klerno"}});
  CHECK(std::string{e.what()}
        == "DATABASE_URL: must start with postgresql:// or postgres:// (value not shown) "
           "(from environment)");
  e = env_error({{"REDIS_URL", "http://:hunter2@cache"}});
  CHECK(std::string{e.what()}
        == "REDIS_URL: must start with redis:// or rediss:// (value not shown) (from environment)");
}

// -- sources and their errors --------------------------------------------------------------------

TEST_CASE("every error says which source the offending value came from") {
  temp_file file{"# ports\n\nPORT=abc\n"};
  CHECK(std::string{load_error({"--config", file.path()}).what()}
        == "PORT: \"abc\" is not an integer in 0..65535 (from file " + file.path() + ":3)");
  CHECK(std::string{env_error({{"PORT", "abc"}}).what()}
        == R"(PORT: "abc" is not an integer in 0..65535 (from environment))");
  CHECK(std::string{load_error({"--port=abc"}).what()}
        == R"(PORT: "abc" is not an integer in 0..65535 (from command line))");
  CHECK(std::string{env_error({{"APP_ENV", "production"}}).what()}
        == "API_KEY: must be set to a non-default secret of at least 16 characters when "
           "APP_ENV=production (from default)");
}

TEST_CASE("a value is validated even when a later source overrides it") {
  temp_file file{"PORT=abc\n"};
  auto e = load_error({"--config", file.path(), "--port=1"});
  CHECK(std::string{e.what()}
        == "PORT: \"abc\" is not an integer in 0..65535 (from file " + file.path() + ":1)");
}

TEST_CASE("an unknown key in the config file is an error naming the file and line") {
  temp_file file{"PORT=8001\n# HTTP\nHTTP_READ_TIMOUT=5s\n"};
  auto e = load_error({"--config", file.path()});
  CHECK(e.key() == "HTTP_READ_TIMOUT");
  CHECK(std::string{e.what()}
        == "HTTP_READ_TIMOUT: unknown key; did you mean HTTP_READ_TIMEOUT? (from file "
             + file.path() + ":3)");
  temp_file lower_case{"port=8001\n"};
  CHECK(std::string{load_error({"--config", lower_case.path()}).what()}
        == "port: unknown key; did you mean PORT? (from file " + lower_case.path() + ":1)");
  temp_file far_off{"FROBNICATE=1\n"};
  CHECK(std::string{load_error({"--config", far_off.path()}).what()}
        == "FROBNICATE: unknown key (from file " + far_off.path() + ":1)");
}

TEST_CASE("a config file line that is not KEY=VALUE is an error that does not echo the line") {
  temp_file file{"PORT=8001\nAPI_KEY hunter2-hunter2-hunter2\n"};
  auto e = load_error({"--config", file.path()});
  CHECK(e.key().empty());
  CHECK(std::string{e.what()} == "expected a KEY=VALUE line (from file " + file.path() + ":2)");
}

TEST_CASE("an unreadable config file is an error") {
  auto missing = (std::filesystem::temp_directory_path() / "klerno-config-does-not-exist").string();
  auto e = load_error({"--config", missing});
  CHECK(e.key() == "--config");
  CHECK(std::string{e.what()}
        == "--config: cannot read \"" + missing
             + "\": No such file or directory (from command line)");
  e = env_error({{"KLERNO_CONFIG", std::filesystem::temp_directory_path().string()}});
  CHECK(e.key() == "KLERNO_CONFIG");
  CHECK_THAT(e.what(), Catch::EndsWith("Is a directory (from environment)"));
}

TEST_CASE("the config file takes comments, export, quotes and surrounding whitespace") {
  temp_file file{"# a comment\n"
                 "   # an indented comment\n"
                 "\n"
                 "   \t\n"
                 "export PORT=8100\n"
                 "  BIND_ADDRESS =  127.0.0.2  \n"
                 "PORTS_FILE=\"/tmp/with space/ports \\\"q\\\" \\\\ \\n.json\"\n"
                 "NODE_NAME='node-#1'\n"
                 "API_KEY='  spaces kept, \"double\" and \\ kept'\n"
                 "SECRET_KEY=\"hash#inside\"   # trailing comment\n"
                 "LOG_LEVEL=debug\r\n"
                 "DATABASE_URL=postgresql://u:p#w@db/x\n"
                 "CLUSTER_SEEDS=\n"
                 "WORKERS=3"};
  auto e = load_error({"--config", file.path()});
  // NODE_NAME may not hold '#': the quoted value reached the parser intact.
  CHECK(std::string{e.what()}
        == R"(NODE_NAME: "node-#1" is not 1-63 characters of A-Z a-z 0-9 . _ - (from file )"
             + file.path() + ":8)");
  temp_file fixed{"export PORT=8100\n"
                  "  BIND_ADDRESS =  127.0.0.2  \n"
                  "PORTS_FILE=\"/tmp/with space/ports \\\"q\\\" \\\\ \\n.json\"\n"
                  "API_KEY='  spaces kept, \"double\" and \\ kept'\n"
                  "SECRET_KEY=\"hash#inside\"   # trailing comment\n"
                  "LOG_LEVEL=debug\r\n"
                  "DATABASE_URL=postgresql://u:p#w@db/x\n"
                  "CLUSTER_SEEDS=\n"
                  "WORKERS=3"};
  auto s = load_args({"--config", fixed.path()}).values;
  CHECK(s.http.port == 8100);
  CHECK(s.http.bind_address == "127.0.0.2");
  CHECK(s.runtime.ports_file == R"(/tmp/with space/ports "q" \ \n.json)");
  CHECK(s.auth.api_key.reveal() == R"(  spaces kept, "double" and \ kept)");
  CHECK(s.auth.secret_key.reveal() == "hash#inside");
  CHECK(s.log.level == log_level::debug);
  CHECK(s.storage.database_url.reveal() == "postgresql://u:p#w@db/x");
  CHECK(s.cluster.seeds.empty());
  CHECK(s.http.workers == 3);
}

TEST_CASE("a malformed quoted value in the config file is an error that hides the value") {
  temp_file unterminated{"API_KEY=\"hunter2-hunter2-hunter2\n"};
  auto e = load_error({"--config", unterminated.path()});
  CHECK(std::string{e.what()}
        == "API_KEY: unterminated double-quoted value (from file " + unterminated.path() + ":1)");
  temp_file single{"API_KEY='hunter2-hunter2-hunter2\n"};
  CHECK(std::string{load_error({"--config", single.path()}).what()}
        == "API_KEY: unterminated single-quoted value (from file " + single.path() + ":1)");
  temp_file trailing{"API_KEY=\"hunter2\"hunter2\n"};
  CHECK(std::string{load_error({"--config", trailing.path()}).what()}
        == "API_KEY: unexpected text after the quoted value (from file " + trailing.path() + ":1)");
}

TEST_CASE("a later line of the config file overrides an earlier one") {
  temp_file file{"PORT=1\nPORT=2\n"};
  CHECK(load_args({"--config", file.path()}).values.http.port == 2);
}

TEST_CASE("an unknown command-line option is an error that does not echo its value") {
  auto e = load_error({"--port=1", "--api-kye=hunter2-hunter2-hunter2"});
  CHECK(e.key() == "--api-kye");
  CHECK(std::string{e.what()}
        == "--api-kye: unknown option; did you mean --api-key? (from command line)");
  CHECK(std::string{load_error({"--frobnicate"}).what()}
        == "--frobnicate: unknown option (from command line)");
  CHECK(std::string{load_error({"--PORT=1"}).what()}
        == "--PORT: unknown option; did you mean --port? (from command line)");
  CHECK(load_error({"-p", "80"}).key() == "-p");
  CHECK(load_error({"serve"}).key() == "serve");
  CHECK(load_error({"--"}).key() == "--");
}

TEST_CASE("options take their value as --key=value or as --key value") {
  auto s = load_args({"--port", "8200", "--http-read-timeout=5s", "--log-level", "error",
                      "--cluster-seeds=a:1,b:2", "--api-key", "from-the-cli"},
                     member_env({}))
             .values;
  CHECK(s.http.port == 8200);
  CHECK(s.http.read_timeout == 5s);
  CHECK(s.log.level == log_level::error);
  CHECK(s.cluster.seeds.size() == 2);
  CHECK(s.auth.api_key.reveal() == "from-the-cli");
  CHECK(load_args({"--ports-file="}, {{"PORTS_FILE", "/x"}}).values.runtime.ports_file.empty());
}

TEST_CASE("an option without its value is an error") {
  auto e = load_error({"--port"});
  CHECK(e.key() == "PORT");
  CHECK(std::string{e.what()} == "PORT: --port needs a value (from command line)");
  CHECK(std::string{load_error({"--config"}).what()}
        == "--config: needs a value (from command line)");
}

TEST_CASE("a boolean option alone means true, and takes a following value") {
  auto off = env_map{{"ACCESS_LOG", "false"}, {"PROMETHEUS_ENABLED", "false"}};
  auto s = load_args({"--access-log"}, off).values;
  CHECK(s.http.access_log);
  s = load_args({"--access-log", "--prometheus-enabled", "--port", "1"}, off).values;
  CHECK(s.http.access_log);
  CHECK(s.http.prometheus_enabled);
  CHECK(s.http.port == 1);
  s = load_args({"--access-log", "no", "--prometheus-enabled=off"}).values;
  CHECK_FALSE(s.http.access_log);
  CHECK_FALSE(s.http.prometheus_enabled);
  CHECK(std::string{load_error({"--access-log", "sometimes"}).what()}
        == R"(ACCESS_LOG: "sometimes" is not a boolean (true/false, 1/0, yes/no, on/off) )"
           R"((from command line))");
}

TEST_CASE("the help and version flags are reported before anything else is read") {
  env_map broken{{"PORT", "abc"}, {"KLERNO_CONFIG", "/does/not/exist"}};
  auto r = load_args({"--bogus", "--help"}, broken);
  CHECK(r.show_help);
  CHECK_FALSE(r.show_version);
  CHECK(r.values.http.port == 8000);
  CHECK(load_args({"-h"}, broken).show_help);
  r = load_args({"--version"}, broken);
  CHECK(r.show_version);
  CHECK_FALSE(r.show_help);
}

TEST_CASE("the print-config flag is reported and the settings still load") {
  auto r = load_args({"--print-config", "--port=9"});
  CHECK(r.print_config);
  CHECK(r.values.http.port == 9);
  CHECK(load_error({"--print-config=yes"}).key() == "--print-config");
}

// -- rules across keys ---------------------------------------------------------------------------

TEST_CASE("MAX_REPLICAS below MIN_REPLICAS is an error naming MAX_REPLICAS") {
  auto e = load_error({"--max-replicas=3"}, {{"MIN_REPLICAS", "4"}});
  CHECK(e.key() == "MAX_REPLICAS");
  CHECK(std::string{e.what()} == "MAX_REPLICAS: 3 is below MIN_REPLICAS 4 (from command line)");
  e = env_error({{"MIN_REPLICAS", "11"}});
  CHECK(std::string{e.what()} == "MAX_REPLICAS: 10 is below MIN_REPLICAS 11 (from default)");
  auto s = load_env({{"MIN_REPLICAS", "5"}, {"MAX_REPLICAS", "5"}});
  CHECK(s.scaling.min_replicas == 5);
  CHECK(s.scaling.max_replicas == 5);
}

TEST_CASE("production refuses missing, default, weak and short secrets") {
  const std::string rule = "must be set to a non-default secret of at least 16 characters when "
                           "APP_ENV=production";
  env_map base{
    {"APP_ENV", "production"}, {"API_KEY", strong_api_key}, {"SECRET_KEY", strong_secret_key}};
  SECTION("missing") {
    auto env = base;
    env.erase("SECRET_KEY");
    auto e = env_error(env);
    CHECK(e.key() == "SECRET_KEY");
    CHECK(std::string{e.what()} == "SECRET_KEY: " + rule + " (from default)");
    env["SECRET_KEY"] = "";
    CHECK(std::string{env_error(env).what()} == "SECRET_KEY: " + rule + " (from environment)");
  }
  SECTION("default or weak, in any case") {
    for (auto weak : {"dev-api-key", "dev-secret-key", "changeme", "change-me", "secret", "default",
                      "password", "test", "CHANGEME", "Dev-Api-Key"}) {
      INFO(weak);
      auto env = base;
      env["API_KEY"] = weak;
      auto e = env_error(env);
      CHECK(std::string{e.what()} == "API_KEY: " + rule + " (from environment)");
    }
  }
  SECTION("shorter than 16 characters") {
    auto env = base;
    env["API_KEY"] = "fifteen-chars-x";
    auto e = env_error(env);
    CHECK(e.key() == "API_KEY");
    CHECK(std::string{e.what()}.find("fifteen") == std::string::npos);
  }
  SECTION("a weak CLUSTER_SECRET, when set") {
    auto e = load_error({"--cluster-secret", "changeme"}, base);
    CHECK(std::string{e.what()} == "CLUSTER_SECRET: " + rule + " (from command line)");
  }
  SECTION("production set by the config file") {
    temp_file file{"APP_ENV=production\n"};
    auto e = load_error({"--config", file.path()});
    CHECK(std::string{e.what()} == "API_KEY: " + rule + " (from default)");
  }
}

TEST_CASE("production accepts strong secrets and an unset CLUSTER_SECRET") {
  auto s = load_env(
    {{"APP_ENV", "production"}, {"API_KEY", strong_api_key}, {"SECRET_KEY", strong_secret_key}});
  CHECK(s.env == app_env::production);
  CHECK(s.auth.api_key.reveal() == strong_api_key);
  CHECK(s.auth.secret_key.reveal() == strong_secret_key);
  CHECK(s.cluster.cluster_secret.empty());
  s = load_env({{"APP_ENV", "production"},
                {"API_KEY", strong_api_key},
                {"SECRET_KEY", strong_secret_key},
                {"CLUSTER_SECRET", "0123456789abcdef"}});
  CHECK(s.cluster.cluster_secret.reveal() == "0123456789abcdef");
}

TEST_CASE("chaos endpoints are off by default and refused in production") {
  CHECK_FALSE(load_env({}).runtime.chaos_endpoints);
  CHECK(load_env({{"CHAOS_ENDPOINTS", "true"}}).runtime.chaos_endpoints);
  auto e = env_error({{"APP_ENV", "production"},
                      {"API_KEY", "a-strong-api-key-0123456789"},
                      {"SECRET_KEY", "a-strong-secret-key-0123456789"},
                      {"CHAOS_ENDPOINTS", "yes"}});
  CHECK(e.key() == "CHAOS_ENDPOINTS");
  CHECK_THAT(e.what(), Catch::Contains("must be false when APP_ENV=production"));
}

TEST_CASE("outside production weak secrets are accepted but an empty API key is not") {
  auto s = load_env({{"API_KEY", "test"}, {"CLUSTER_SECRET", "changeme"}});
  CHECK(s.auth.api_key.reveal() == "test");
  CHECK(s.cluster.cluster_secret.reveal() == "changeme");
  CHECK(std::string{env_error({{"API_KEY", ""}}).what()}
        == "API_KEY: must not be empty (from environment)");
  CHECK(std::string{env_error({{"SECRET_KEY", ""}}).what()}
        == "SECRET_KEY: must not be empty (from environment)");
}

TEST_CASE("a secret value never appears in an error message") {
  const std::string pw = "hunter2-hunter2-hunter2";
  std::vector<error> errors{
    env_error({{"APP_ENV", "production"}, {"API_KEY", "short-" + pw.substr(0, 5)}}),
    env_error({{"APP_ENV", "production"}, {"API_KEY", strong_api_key}, {"SECRET_KEY", "test"}}),
    env_error({{"DATABASE_URL", "mysql://u:" + pw + "@db"}}),
    env_error({{"REDIS_URL", pw}}),
    load_error({"--api-kye=" + pw}),
    load_error(
      {"--cluster-secret=" + pw.substr(0, 7)},
      {{"APP_ENV", "production"}, {"API_KEY", strong_api_key}, {"SECRET_KEY", strong_secret_key}}),
  };
  temp_file file{"SECRET_KEY \"" + pw + "\"\n"};
  errors.push_back(load_error({"--config", file.path()}));
  for (const auto& e : errors) {
    INFO(e.what());
    CHECK(std::string{e.what()}.find("hunter2") == std::string::npos);
    CHECK(std::string{e.what()}.find("short-") == std::string::npos);
  }
}

// -- render, help and the key list ---------------------------------------------------------------

TEST_CASE("render prints every key once, in order, with secrets and URL passwords redacted") {
  auto s = load_env({{"API_KEY", "api-key-value"},
                     {"SECRET_KEY", "secret-key-value"},
                     {"CLUSTER_SECRET", "cluster-secret-value"},
                     {"DATABASE_URL", "postgresql://app:db-password@db:5432/klerno"},
                     {"REDIS_URL", "redis://:redis-password@cache:6379/0"},
                     {"HTTP_READ_TIMEOUT", "250ms"},
                     {"HTTP_MAX_BODY_BYTES", "2MiB"},
                     {"CLUSTER_SEEDS", "a:1, [::1]:2"},
                     {"CLUSTER_SECRET", "cluster-secret-value"},
                     {"TARGET_CPU_UTILIZATION", "62.5%"},
                     {"PORTS_FILE", "/tmp/a b#c"}});
  auto text = render(s);
  for (auto leaked : {"api-key-value", "secret-key-value", "cluster-secret-value", "db-password",
                      "redis-password"}) {
    INFO(leaked);
    CHECK(text.find(leaked) == std::string::npos);
  }
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < text.size();) {
    auto eol = text.find('\n', start);
    REQUIRE(eol != std::string::npos);
    lines.push_back(text.substr(start, eol - start));
    start = eol + 1;
  }
  const auto& keys = known_keys();
  REQUIRE(lines.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(lines[i].rfind(keys[i] + "=", 0) == 0);
  }
  auto has = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  CHECK(has("API_KEY=<redacted>"));
  CHECK(has("SECRET_KEY=<redacted>"));
  CHECK(has("CLUSTER_SECRET=<redacted>"));
  CHECK(has("DATABASE_URL=postgresql://app:***@db:5432/klerno"));
  CHECK(has("REDIS_URL=redis://:***@cache:6379/0"));
  CHECK(has("HTTP_READ_TIMEOUT=250ms"));
  CHECK(has("HTTP_IDLE_TIMEOUT=75s"));
  CHECK(has("HTTP_MAX_BODY_BYTES=2097152"));
  CHECK(has("HTTP_MAX_HEADER_BYTES=8192"));
  CHECK(has("CLUSTER_SEEDS=a:1,[::1]:2"));
  CHECK(has("TARGET_CPU_UTILIZATION=62.5"));
  CHECK(has("METRICS_PORT="));
  CHECK(has("APP_ENV=development"));
  CHECK(has("ACCESS_LOG=true"));
  CHECK(has("PORTS_FILE=\"/tmp/a b#c\""));
  CHECK(has("PORT=8000"));
}

TEST_CASE("render prints unset secrets as empty values") {
  auto text = render(settings{});
  CHECK(text.find("API_KEY=\n") != std::string::npos);
  CHECK(text.find("CLUSTER_SECRET=\n") != std::string::npos);
  CHECK(text.find("DATABASE_URL=\n") != std::string::npos);
}

TEST_CASE("render output loaded again as a config file gives the same settings") {
  SECTION("the defaults, whose secrets come back from the defaults") {
    auto original = load_args({}).values;
    temp_file file{render(original)};
    require_same(load_args({"--config", file.path()}).values, original);
  }
  SECTION("every key changed, with the secrets supplied by the environment") {
    env_map secrets{{"API_KEY", strong_api_key},
                    {"SECRET_KEY", strong_secret_key},
                    {"CLUSTER_SECRET", "cluster-secret-0123456789"},
                    {"DATABASE_URL", "postgresql://app:db-password@db:5432/klerno"},
                    {"REDIS_URL", "redis://:redis-password@cache:6380/1"}};
    auto original = load_args({"--app-env=production",
                               "--bind-address=::1",
                               "--port=0",
                               "--workers=3",
                               "--http-max-header-bytes=16KiB",
                               "--http-max-body-bytes=3m",
                               "--http-read-timeout=1500ms",
                               "--http-idle-timeout=2m",
                               "--http-write-timeout=7",
                               "--http-request-timeout=1h",
                               "--http-linger-timeout=3s",
                               "--http-pipeline-limit=4",
                               "--http-max-connections=77",
                               "--access-log=off",
                               "--prometheus-enabled=no",
                               "--metrics-port=9100",
                               "--health-check-interval=30s",
                               "--liveness-timeout=750ms",
                               "--shutdown-grace=0",
                               "--shutdown-drain-timeout=45s",
                               "--shutdown-stop-timeout=2s",
                               "--log-format=json",
                               "--log-level=warn",
                               "--min-replicas=3",
                               "--max-replicas=30",
                               "--target-cpu-utilization=33.3%",
                               "--target-memory-utilization=0.1",
                               "--node-name=node_7.eu",
                               "--cluster-bind-address=10.1.2.3",
                               "--cluster-port=4999",
                               "--cluster-seeds=a.example:1,10.0.0.1:2,[2001:db8::1]:3",
                               "--actor-threads=5",
                               "--redis-command-timeout=150ms",
                               "--redis-key-prefix=k2:",
                               "--cache-enabled=false",
                               "--cache-l1-max-bytes=1MiB",
                               "--rate-limit-enabled=on",
                               "--rate-limit-write-burst=7",
                               "--trusted-proxies=10.0.0.0/8, ::1",
                               "--session-ttl=5m",
                               "--realtime-retention=2h",
                               "--ports-file=/tmp/klerno ports/\"p\".json"},
                              secrets)
                      .values;
    temp_file file{render(original)};
    auto reloaded = load_args({"--config", file.path()}, secrets).values;
    require_same(reloaded, original);
    CHECK(reloaded.env == app_env::production);
    CHECK(reloaded.scaling.target_memory_utilization == 0.1);
    CHECK(reloaded.runtime.ports_file == "/tmp/klerno ports/\"p\".json");
    CHECK(reloaded.cluster.seeds.size() == 3);
    REQUIRE(reloaded.cache.trusted_proxies.size() == 2);
    CHECK(reloaded.cache.trusted_proxies[1].address == "::1");
    CHECK(reloaded.cache.trusted_proxies[1].prefix == 128);
    CHECK(reloaded.cache.rate_limit_write.burst == 7);
  }
}

TEST_CASE("the placeholders printed by render keep the value of an earlier source") {
  env_map env{{"API_KEY", "<redacted>"},
              {"CLUSTER_SECRET", "<redacted>"},
              {"DATABASE_URL", "postgresql://app:***@db/klerno"}};
  auto s = load_args({"--secret-key=<redacted>"}, env).values;
  CHECK(s.auth.api_key.reveal() == "dev-api-key");
  CHECK(s.auth.secret_key.reveal() == "dev-secret-key");
  CHECK(s.cluster.cluster_secret.empty());
  CHECK(s.storage.database_url.empty());
  temp_file file{"DATABASE_URL=postgresql://app:real@db/klerno\n"};
  s = load_args({"--config", file.path()}, env).values;
  CHECK(s.storage.database_url.reveal() == "postgresql://app:real@db/klerno");
  auto e = env_error({{"APP_ENV", "production"}, {"API_KEY", "<redacted>"}});
  CHECK(e.key() == "API_KEY");
  CHECK_THAT(e.what(), Catch::EndsWith("(from default)"));
}

TEST_CASE("known_keys lists every key once and help_text documents each of them") {
  const auto& keys = known_keys();
  CHECK(keys.size() == 120);
  CHECK(keys.front() == "APP_ENV");
  CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == keys.size());
  auto help = help_text();
  for (const auto& key : keys) {
    INFO(key);
    CHECK(help.find("  " + key + ", --") != std::string::npos);
  }
  CHECK(help.find("--config PATH") != std::string::npos);
  CHECK(help.find("--print-config") != std::string::npos);
  CHECK(help.find("--help") != std::string::npos);
  CHECK(help.find("--version") != std::string::npos);
  CHECK(help.find("  PORT, --port <integer 0..65535>\n") != std::string::npos);
  CHECK(help.find("Default: 8000.") != std::string::npos);
  CHECK(help.find("dev-api-key, none in production") != std::string::npos);
}

TEST_CASE("environment_from_process reads the process environment") {
  REQUIRE(setenv("KLERNO_CONFIG_TEST_VARIABLE", "a=b", 1) == 0);
  auto env = environment_from_process();
  unsetenv("KLERNO_CONFIG_TEST_VARIABLE");
  CHECK(env["KLERNO_CONFIG_TEST_VARIABLE"] == "a=b");
}

TEST_CASE("the storage, API and scoring settings parse lists, fractions and numbers") {
  auto s = load_env(
    {{"DATABASE_READ_URLS", "postgresql://r:pw1@replica1/klerno, postgres://r:pw2@replica2/klerno"},
     {"RISK_THRESHOLD", "0.8"},
     {"MAX_AMOUNT", "1e12"},
     {"CATEGORY_KEYWORDS_FEE", "Fee, gas ,commission"},
     {"WRITER_BATCH_MAX_DELAY", "0ms"},
     {"DB_POOL_MIN", "0"}});
  REQUIRE(s.storage.database_read_urls.size() == 2);
  CHECK(s.storage.database_read_urls[1].reveal() == "postgres://r:pw2@replica2/klerno");
  CHECK(s.api.risk_threshold == 80);
  CHECK(s.api.max_amount == "1e12");
  CHECK(s.scoring.fee_keywords == std::vector<std::string>{"fee", "gas", "commission"});
  CHECK(s.storage.writer_batch_max_delay == std::chrono::milliseconds{0});
  CHECK(s.storage.pool_min == 0);
  CHECK(load_env({{"RISK_THRESHOLD", "1"}}).api.risk_threshold == 100);
  CHECK(load_env({{"RISK_THRESHOLD", "0.05"}}).api.risk_threshold == 5);
  CHECK(load_env({}).api.risk_threshold == 75);
}

TEST_CASE("invalid storage, API and scoring settings name their key") {
  CHECK(env_error({{"RISK_THRESHOLD", "1.5"}}).key() == "RISK_THRESHOLD");
  CHECK(env_error({{"RISK_THRESHOLD", "0.755"}}).key() == "RISK_THRESHOLD");
  CHECK(env_error({{"RISK_THRESHOLD", "-0.1"}}).key() == "RISK_THRESHOLD");
  CHECK(env_error({{"MAX_AMOUNT", "0"}}).key() == "MAX_AMOUNT");
  CHECK(env_error({{"MAX_AMOUNT", "-5"}}).key() == "MAX_AMOUNT");
  CHECK(env_error({{"MAX_AMOUNT", "inf"}}).key() == "MAX_AMOUNT");
  CHECK(env_error({{"MAX_AMOUNT", "1e19"}}).key() == "MAX_AMOUNT");
  CHECK(env_error({{"CATEGORY_KEYWORDS_TRADE", "swap,,trade"}}).key() == "CATEGORY_KEYWORDS_TRADE");
  CHECK(env_error({{"SUSPICIOUS_MEMO_WORDS", ""}}).key() == "SUSPICIOUS_MEMO_WORDS");
  CHECK(env_error({{"DB_POOL_MIN", "9"}, {"DB_POOL_MAX", "4"}}).key() == "DB_POOL_MAX");
  CHECK(env_error({{"PAGE_LIMIT_DEFAULT", "600"}}).key() == "PAGE_LIMIT_MAX");
  auto e = env_error({{"DATABASE_READ_URLS", "postgresql://a:pw@h/db,mysql://b:secretpw@h/db"}});
  CHECK(e.key() == "DATABASE_READ_URLS");
  CHECK(std::string{e.what()}.find("secretpw") == std::string::npos);
}

TEST_CASE("replica URLs are printed with their passwords redacted") {
  auto s = load_env({{"DATABASE_READ_URLS", "postgresql://r:pw1@a/k,postgresql://r:pw2@b/k"}});
  auto out = render(s);
  CHECK(out.find("DATABASE_READ_URLS=postgresql://r:***@a/k,postgresql://r:***@b/k\n")
        != std::string::npos);
  CHECK(out.find("pw1") == std::string::npos);
  CHECK(out.find("pw2") == std::string::npos);
}

TEST_CASE(
  "a cluster member needs a database and a secret, and roles other than both need a cluster") {
  auto e = env_error({{"CLUSTER_BOOTSTRAP", "true"}, {"CLUSTER_SECRET", "s-0123456789abcdef"}});
  CHECK(e.key() == "DATABASE_URL");
  e = env_error({{"CLUSTER_SEEDS", "a:1"}, {"DATABASE_URL", "postgresql://u:p@db/k"}});
  CHECK(e.key() == "CLUSTER_SECRET");
  CHECK(env_error({{"NODE_ROLE", "edge"}}).key() == "NODE_ROLE");
  CHECK(env_error(member_env({{"CLUSTER_SEEDS", "a:1"},
                              {"CLUSTER_HEARTBEAT_INTERVAL", "2s"},
                              {"CLUSTER_SUSPECT_TIMEOUT", "1s"}}))
          .key()
        == "CLUSTER_SUSPECT_TIMEOUT");
  auto s = load_env(member_env({{"CLUSTER_BOOTSTRAP", "yes"}, {"NODE_ROLE", "worker"}}));
  CHECK(s.cluster.enabled());
  CHECK(s.cluster.role == node_role::worker);
  CHECK_FALSE(load_env({}).cluster.enabled());
}

TEST_CASE("cluster TLS needs a certificate, a key and a CA") {
  CHECK(env_error(member_env({{"CLUSTER_BOOTSTRAP", "true"},
                              {"CLUSTER_TLS", "true"},
                              {"CLUSTER_TLS_CERT", "/etc/k/node.pem"}}))
          .key()
        == "CLUSTER_TLS");
  auto s = load_env(member_env({{"CLUSTER_BOOTSTRAP", "true"},
                                {"CLUSTER_TLS", "true"},
                                {"CLUSTER_TLS_CERT", "/etc/k/node.pem"},
                                {"CLUSTER_TLS_KEY", "/etc/k/node.key"},
                                {"CLUSTER_TLS_CA", "/etc/k/ca.pem"}}));
  CHECK(s.cluster.tls);
  CHECK(s.cluster.tls_ca == "/etc/k/ca.pem");
}
