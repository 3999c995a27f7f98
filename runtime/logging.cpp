#include "runtime/logging.hpp"

#include "runtime/text.hpp"

#include <atomic>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace klerno::runtime::logging {

namespace {

constexpr std::size_t queue_size = 32768;

spdlog::level::level_enum to_spdlog(config::log_level x) {
  switch (x) {
    case config::log_level::trace:
      return spdlog::level::trace;
    case config::log_level::debug:
      return spdlog::level::debug;
    case config::log_level::info:
      return spdlog::level::info;
    case config::log_level::warn:
      return spdlog::level::warn;
    case config::log_level::error:
      return spdlog::level::err;
    case config::log_level::critical:
      return spdlog::level::critical;
    case config::log_level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

const char* level_name(spdlog::level::level_enum lvl) {
  switch (lvl) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

/// JSON lines: {"ts":...,"level":...,"logger":...,"msg":...} or, for structured loggers,
/// {"ts":...,"level":...,"logger":..., <members>}.
class json_formatter final : public spdlog::formatter {
public:
  explicit json_formatter(bool structured) : structured_(structured) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    line.reserve(128 + msg.payload.size());
    line += "{\"ts\":\"";
    append_rfc3339(line, msg.time);
    line += "\",\"level\":\"";
    line += level_name(msg.level);
    line += "\",\"logger\":\"";
    append_json_escaped(line, std::string_view{msg.logger_name.data(), msg.logger_name.size()});
    line += '"';
    std::string_view payload{msg.payload.data(), msg.payload.size()};
    if (structured_) {
      if (!payload.empty()) {
        line += ',';
        line += payload;
      }
    } else {
      line += ",\"msg\":\"";
      append_json_escaped(line, payload);
      line += '"';
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>(structured_);
  }

private:
  bool structured_;
};

struct state {
  std::mutex mtx;
  config::log_settings cfg;
  std::shared_ptr<spdlog::details::thread_pool> pool;
  // The formatter belongs to the sink in spdlog, so plain and structured loggers need their own
  // sinks (both write to stdout, from the one logging thread).
  spdlog::sink_ptr sink;
  spdlog::sink_ptr structured_sink;
  std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> loggers;
  std::set<std::string> structured;
  bool stopped = false;
  std::atomic<bool> json{false}; // read per access-log line, without the lock
};

state& global() {
  static state s;
  return s;
}

std::unique_ptr<spdlog::formatter> make_formatter(const config::log_settings& cfg,
                                                  bool structured) {
  if (cfg.format == config::log_format::json) {
    return std::make_unique<json_formatter>(structured);
  }
  // 2026-11-28T20:17:22.123Z info  [http] message
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v",
                                                     spdlog::pattern_time_type::utc);
}

// Requires the state's lock.
std::shared_ptr<spdlog::logger> make_logger(state& s, const std::string& name) {
  std::shared_ptr<spdlog::logger> result;
  bool structured = s.structured.count(name) > 0;
  auto& sink = structured ? s.structured_sink : s.sink;
  if (s.pool && !s.stopped) {
    result = std::make_shared<spdlog::async_logger>(name, sink, s.pool,
                                                    spdlog::async_overflow_policy::overrun_oldest);
  } else {
    result = std::make_shared<spdlog::logger>(name, sink);
  }
  result->set_formatter(make_formatter(s.cfg, structured));
  result->set_level(to_spdlog(s.cfg.level));
  result->flush_on(spdlog::level::warn);
  return result;
}

// Requires the state's lock.
void ensure_sink(state& s) {
  if (!s.sink) {
    s.sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    s.structured_sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  }
}

std::shared_ptr<spdlog::logger> get_impl(std::string_view module, bool structured) {
  auto& s = global();
  std::lock_guard<std::mutex> guard{s.mtx};
  std::string name{module};
  if (structured && s.structured.insert(name).second) {
    s.loggers.erase(name); // re-create with the structured formatter
  }
  auto i = s.loggers.find(name);
  if (i != s.loggers.end()) {
    return i->second;
  }
  ensure_sink(s);
  auto lg = make_logger(s, name);
  s.loggers.emplace(name, lg);
  return lg;
}

} // namespace

void init(const config::log_settings& cfg) {
  auto& s = global();
  std::lock_guard<std::mutex> guard{s.mtx};
  s.cfg = cfg;
  s.json.store(cfg.format == config::log_format::json, std::memory_order_relaxed);
  ensure_sink(s);
  if (!s.pool || s.stopped) {
    s.pool = std::make_shared<spdlog::details::thread_pool>(queue_size, 1);
    s.stopped = false;
  }
  for (auto& [name, lg] : s.loggers) {
    lg = make_logger(s, name);
  }
}

std::shared_ptr<spdlog::logger> get(std::string_view module) {
  return get_impl(module, false);
}

std::shared_ptr<spdlog::logger> get_structured(std::string_view module) {
  return get_impl(module, true);
}

bool json_enabled() noexcept {
  return global().json.load(std::memory_order_relaxed);
}

void shutdown() {
  auto& s = global();
  std::shared_ptr<spdlog::details::thread_pool> pool;
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    for (auto& [name, lg] : s.loggers) {
      lg->flush();
    }
    s.stopped = true;
    pool.swap(s.pool);
  }
  // The pool's destructor writes what is still queued and joins its thread (outside the lock).
}

uint64_t dropped() noexcept {
  auto& s = global();
  std::lock_guard<std::mutex> guard{s.mtx};
  return s.pool ? s.pool->overrun_counter() : 0;
}

} // namespace klerno::runtime::logging
