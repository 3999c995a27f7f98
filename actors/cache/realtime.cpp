#include "actors/cache/realtime.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <set>
#include <utility>

#include "runtime/text.hpp"

namespace klerno::cache {

namespace {

// The counters of one minute, summed over a batch before they are sent.
struct minute_delta {
  uint64_t transactions = 0;
  uint64_t alerts = 0;
  double volume = 0;
  std::map<std::string, uint64_t> buckets;
  std::map<std::string, uint64_t> categories;
  std::set<std::string> wallets;
};

int64_t minute_of(std::chrono::system_clock::time_point tp) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
  auto m = s / 60;
  if (s % 60 < 0) {
    --m; // floor for instants before 1970
  }
  return m * 60;
}

std::string hash_key(const std::string& prefix, int64_t minute) {
  return prefix + "rt:" + std::to_string(minute);
}

std::string hll_key(const std::string& prefix, int64_t minute) {
  return prefix + "rt:u:" + std::to_string(minute);
}

// Text that reads back as the same double (17 significant digits).
std::string format_double(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

uint64_t parse_u64(const std::string& s) {
  return std::strtoull(s.c_str(), nullptr, 10);
}

bool answered(const redis::result& r) {
  return r.ok && !r.value.is_error();
}

void count_update(const metrics_ptr& m, bool ok) {
  if (m) {
    m->realtime_updates.with({ok ? "ok" : "failed"}).inc();
  }
}

// "2026-11-29T01:02:00Z"
void append_minute(std::string& out, int64_t unix_seconds) {
  auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  runtime::append_json_string(out, buf);
}

// A JSON number rounded to 8 decimals, so sums of floats print as people wrote them.
void append_volume(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += '0';
    return;
  }
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.8f", v);
  std::string s{buf};
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') {
      s.pop_back();
    }
    if (s.back() == '.') {
      s.pop_back();
    }
  }
  if (s == "-0") {
    s = "0";
  }
  out += s;
}

void append_counts(std::string& out, const std::map<std::string, uint64_t>& counts) {
  out += '{';
  bool first = true;
  for (const auto& [name, n] : counts) {
    if (!first) {
      out += ',';
    }
    first = false;
    runtime::append_json_string(out, name);
    out += ':';
    out += std::to_string(n);
  }
  out += '}';
}

} // namespace

std::string to_json(const realtime_series& s) {
  std::string out;
  out.reserve(256 + s.series.size() * 200);
  out += "{\"minutes\":";
  out += std::to_string(s.minutes);
  out += ",\"from\":";
  if (s.series.empty()) {
    out += "null,\"to\":null";
  } else {
    append_minute(out, s.series.front().start);
    out += ",\"to\":";
    append_minute(out, s.series.back().start + 60);
  }
  // The four figures of the totals and of every minute.
  auto append_figures = [&out](uint64_t transactions, uint64_t alerts, double volume,
                               uint64_t unique_wallets) {
    out += "\"transactions\":";
    out += std::to_string(transactions);
    out += ",\"alerts\":";
    out += std::to_string(alerts);
    out += ",\"volume\":";
    append_volume(out, volume);
    out += ",\"unique_wallets\":";
    out += std::to_string(unique_wallets);
  };
  out += ",\"totals\":{";
  append_figures(s.transactions, s.alerts, s.volume, s.unique_wallets);
  out += "},\"series\":[";
  bool first = true;
  for (const auto& m : s.series) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += "{\"minute\":";
    append_minute(out, m.start);
    out += ",\"start\":";
    out += std::to_string(m.start);
    out += ',';
    append_figures(m.transactions, m.alerts, m.volume, m.unique_wallets);
    out += ",\"buckets\":";
    append_counts(out, m.buckets);
    out += ",\"categories\":";
    append_counts(out, m.categories);
    out += '}';
  }
  out += "]}";
  return out;
}

realtime_counters::realtime_counters(redis::connection& conn, realtime_settings cfg,
                                     metrics_ptr metrics, std::string prefix)
    : conn_(conn), cfg_(cfg), metrics_(std::move(metrics)), prefix_(std::move(prefix)) {}

void realtime_counters::record(const std::vector<realtime_event>& events,
                               std::function<void(bool ok)> done) {
  std::map<int64_t, minute_delta> minutes;
  for (const auto& e : events) {
    auto& d = minutes[minute_of(e.at)];
    ++d.transactions;
    if (e.alert) {
      ++d.alerts;
    }
    // Redis refuses an increment that makes the field NaN or infinite (and the whole update
    // would count as failed): such an amount adds nothing.
    if (std::isfinite(e.amount)) {
      d.volume += std::fabs(e.amount);
    }
    if (!e.bucket.empty()) {
      ++d.buckets[e.bucket];
    }
    if (!e.category.empty()) {
      ++d.categories[e.category];
    }
    for (const auto* w : {&e.from_addr, &e.to_addr}) {
      if (!w->empty()) {
        d.wallets.insert(*w);
      }
    }
  }

  std::vector<redis::command> cmds;
  auto retention = std::chrono::duration_cast<std::chrono::seconds>(cfg_.retention).count();
  for (const auto& [minute, d] : minutes) {
    auto h = hash_key(prefix_, minute);
    auto expire_at = std::to_string(minute + 60 + retention);
    cmds.push_back({"HINCRBY", h, "tx", std::to_string(d.transactions)});
    if (d.alerts > 0) {
      cmds.push_back({"HINCRBY", h, "alerts", std::to_string(d.alerts)});
    }
    if (d.volume > 0 && std::isfinite(d.volume)) {
      cmds.push_back({"HINCRBYFLOAT", h, "volume", format_double(d.volume)});
    }
    for (const auto& [name, n] : d.buckets) {
      cmds.push_back({"HINCRBY", h, "b:" + name, std::to_string(n)});
    }
    for (const auto& [name, n] : d.categories) {
      cmds.push_back({"HINCRBY", h, "c:" + name, std::to_string(n)});
    }
    cmds.push_back({"EXPIREAT", h, expire_at});
    if (!d.wallets.empty()) {
      auto u = hll_key(prefix_, minute);
      redis::command pfadd{"PFADD", u};
      pfadd.insert(pfadd.end(), d.wallets.begin(), d.wallets.end());
      cmds.push_back(std::move(pfadd));
      cmds.push_back({"EXPIREAT", u, expire_at});
    }
  }
  if (cmds.empty()) {
    // No events: nothing to add, but `done` must not run inside this call.
    if (done) {
      conn_.execute({"PING"}, [done = std::move(done)](redis::result) { done(true); });
    }
    return;
  }
  conn_.pipeline(std::move(cmds),
                 [metrics = metrics_, done = std::move(done)](std::vector<redis::result> rs) {
                   bool ok = std::all_of(rs.begin(), rs.end(), answered);
                   count_update(metrics, ok);
                   if (done) {
                     done(ok);
                   }
                 });
}

void realtime_counters::query(unsigned minutes, std::chrono::system_clock::time_point now,
                              std::function<void(std::optional<realtime_series>)> done) {
  auto max_minutes =
    std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::minutes>(cfg_.retention).count());
  auto n = static_cast<std::size_t>(std::clamp<int64_t>(minutes, 1, max_minutes));
  auto last = minute_of(now);
  auto first = last - static_cast<int64_t>(n - 1) * 60;

  std::vector<redis::command> cmds;
  cmds.reserve(2 * n + 1);
  for (std::size_t i = 0; i < n; ++i) {
    cmds.push_back({"HGETALL", hash_key(prefix_, first + static_cast<int64_t>(i) * 60)});
  }
  redis::command merged{"PFCOUNT"};
  for (std::size_t i = 0; i < n; ++i) {
    auto u = hll_key(prefix_, first + static_cast<int64_t>(i) * 60);
    cmds.push_back({"PFCOUNT", u});
    merged.push_back(std::move(u));
  }
  cmds.push_back(std::move(merged));

  conn_.pipeline(
    std::move(cmds), [n, first, done = std::move(done)](std::vector<redis::result> rs) {
      if (rs.size() != 2 * n + 1 || !std::all_of(rs.begin(), rs.end(), answered)) {
        done(std::nullopt);
        return;
      }
      realtime_series out;
      out.minutes = static_cast<unsigned>(n);
      out.series.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        realtime_minute m;
        m.start = first + static_cast<int64_t>(i) * 60;
        const auto& fields = rs[i].value;
        if (fields.type != redis::reply::kind::array
            || rs[n + i].value.type != redis::reply::kind::integer) {
          done(std::nullopt);
          return;
        }
        for (std::size_t f = 0; f + 1 < fields.elements.size(); f += 2) {
          const auto& name = fields.elements[f].str;
          const auto& value = fields.elements[f + 1].str;
          if (name == "tx") {
            m.transactions = parse_u64(value);
          } else if (name == "alerts") {
            m.alerts = parse_u64(value);
          } else if (name == "volume") {
            m.volume = std::strtod(value.c_str(), nullptr);
          } else if (name.compare(0, 2, "b:") == 0) {
            m.buckets[name.substr(2)] = parse_u64(value);
          } else if (name.compare(0, 2, "c:") == 0) {
            m.categories[name.substr(2)] = parse_u64(value);
          }
        }
        m.unique_wallets = static_cast<uint64_t>(std::max<int64_t>(0, rs[n + i].value.integer));
        out.transactions += m.transactions;
        out.alerts += m.alerts;
        out.volume += m.volume;
        out.series.push_back(std::move(m));
      }
      const auto& total = rs[2 * n].value;
      if (total.type != redis::reply::kind::integer) {
        done(std::nullopt);
        return;
      }
      out.unique_wallets = static_cast<uint64_t>(std::max<int64_t>(0, total.integer));
      done(std::move(out));
    });
}

} // namespace klerno::cache
