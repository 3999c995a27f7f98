#include "config/loader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <regex>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

extern char** environ;

namespace klerno::config {

error::error(std::string key, const std::string& message)
    : std::runtime_error(message), key_(std::move(key)) {}

namespace {

using std::chrono::milliseconds;

constexpr std::string_view redacted_placeholder = "<redacted>";
constexpr std::string_view from_default = "default";
constexpr std::string_view from_environment = "environment";
constexpr std::string_view from_command_line = "command line";

// -- text helpers -------------------------------------------------------------------------------

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return lower(a) == lower(b);
}

std::string_view trim_left(std::string_view s) {
  auto first = s.find_first_not_of(" \t");
  return first == std::string_view::npos ? std::string_view{} : s.substr(first);
}

std::string_view trim(std::string_view s) {
  s = trim_left(s);
  return s.substr(0, s.find_last_not_of(" \t") + 1);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Quotes a value for an error message: escaped so that what() stays on one line, and shortened so
// that a pasted blob does not flood the terminal.
std::string quoted(std::string_view v) {
  constexpr std::size_t max_shown = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < v.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (v.size() > max_shown) {
    out += "...";
  }
  out += '"';
  return out;
}

[[noreturn]] void fail(std::string_view key, std::string_view message, std::string_view from) {
  std::string what{key};
  if (!key.empty()) {
    what += ": ";
  }
  what.append(message).append(" (from ").append(from).append(")");
  // A key, argument or path may hold control characters; what() stays one line regardless.
  std::string line;
  for (auto c : what) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      line += buf;
    } else {
      line += c;
    }
  }
  throw error(std::string{key}, line);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// -- value parsers: nullopt means "not of this type" ---------------------------------------------

std::optional<uint64_t> parse_decimal(std::string_view s) {
  uint64_t value = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (s.empty() || ec != std::errc{} || ptr != end) {
    return std::nullopt;
  }
  return value;
}

// Splits `s` into its leading digits and a case-insensitive unit, and scales the number by the
// unit's factor; nullopt if the unit is unknown or the product overflows.
std::optional<uint64_t>
parse_scaled(std::string_view s, const std::vector<std::pair<std::string_view, uint64_t>>& units) {
  auto digits_end = std::min(s.find_first_not_of("0123456789"), s.size());
  auto number = parse_decimal(s.substr(0, digits_end));
  if (!number) {
    return std::nullopt;
  }
  auto unit = lower(s.substr(digits_end));
  for (const auto& [name, factor] : units) {
    if (unit == name) {
      if (*number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / factor) {
        return std::nullopt;
      }
      return *number * factor;
    }
  }
  return std::nullopt;
}

std::optional<milliseconds> parse_duration(std::string_view s) {
  static const std::vector<std::pair<std::string_view, uint64_t>> units{
    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  auto ms = parse_scaled(s, units);
  if (!ms) {
    return std::nullopt;
  }
  return milliseconds{static_cast<milliseconds::rep>(*ms)};
}

constexpr uint64_t kib = 1024;
constexpr uint64_t mib = 1024 * kib;
constexpr uint64_t gib = 1024 * mib;

std::optional<uint64_t> parse_size(std::string_view s) {
  static const std::vector<std::pair<std::string_view, uint64_t>> units{
    {"", 1},     {"b", 1},     {"k", kib}, {"kb", kib}, {"kib", kib}, {"m", mib},
    {"mb", mib}, {"mib", mib}, {"g", gib}, {"gb", gib}, {"gib", gib}};
  return parse_scaled(s, units);
}

std::optional<bool> parse_bool(std::string_view s) {
  auto v = lower(s);
  if (v == "true" || v == "1" || v == "yes" || v == "on") {
    return true;
  }
  if (v == "false" || v == "0" || v == "no" || v == "off") {
    return false;
  }
  return std::nullopt;
}

std::optional<double> parse_percent(std::string_view s) {
  if (!s.empty() && s.back() == '%') {
    s.remove_suffix(1);
  }
  double value = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  // The negated form also rejects NaN.
  if (s.empty() || ec != std::errc{} || ptr != end || !(value > 0 && value <= 100)) {
    return std::nullopt;
  }
  return value;
}

bool is_ipv4(std::string_view s) {
  std::string z{s};
  in_addr addr{};
  return inet_pton(AF_INET, z.c_str(), &addr) == 1;
}

bool is_ipv6(std::string_view s) {
  std::string z{s};
  in6_addr addr{};
  return inet_pton(AF_INET6, z.c_str(), &addr) == 1;
}

// RFC 1123 host names (plus `_`, which container runtimes use); a name whose last label is all
// digits would read as a malformed IPv4 address and is rejected.
bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  std::string_view label;
  for (std::size_t start = 0;;) {
    auto dot = s.find('.', start);
    label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return label.find_first_not_of("0123456789") != std::string_view::npos;
}

bool is_node_name(std::string_view s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// -- value printers ------------------------------------------------------------------------------

std::string format_duration(milliseconds d) {
  auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// Formats a size limit for messages: 1KiB rather than 1024.
std::string format_size(uint64_t bytes) {
  if (bytes >= gib && bytes % gib == 0) {
    return std::to_string(bytes / gib) + "GiB";
  }
  if (bytes >= mib && bytes % mib == 0) {
    return std::to_string(bytes / mib) + "MiB";
  }
  if (bytes >= kib && bytes % kib == 0) {
    return std::to_string(bytes / kib) + "KiB";
  }
  return std::to_string(bytes);
}

// Shortest text that parses back to the same double.
std::string format_double(double x) {
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), x);
  return ec == std::errc{} ? std::string(buf, ptr) : std::to_string(x);
}

std::string format_host_port(const host_port& hp) {
  auto port = std::to_string(hp.port);
  return hp.host.find(':') == std::string::npos ? hp.host + ":" + port
                                                : "[" + hp.host + "]:" + port;
}

// Writes a value in the config-file syntax, double-quoted when the plain form would not read back.
std::string file_value(std::string_view v) {
  if (v.find_first_of(" \t\"'\\#") == std::string_view::npos) {
    return std::string{v};
  }
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

// -- the option table ----------------------------------------------------------------------------

using parse_fn = std::function<void(settings&, std::string_view value, std::string_view from)>;

/// One KEY: how it is spelled, documented, parsed and printed. `parse` validates and stores a
/// value or throws `config::error`; `print` returns the value in the syntax `parse` accepts.
struct option {
  std::string key;
  std::string flag;        // the command-line spelling, without the leading `--`
  std::string type;        // value syntax and range, for the help
  std::string default_doc; // for the help, when the rendered default would mislead
  std::string doc;         // one line, for the help
  bool is_bool = false;    // a bare `--flag` means true
  std::function<bool(std::string_view)> is_placeholder; // "not set by this source"
  parse_fn parse;
  std::function<std::string(const settings&)> print;
};

option make_option(std::string key, std::string type, std::string doc) {
  option o;
  o.flag = lower(key);
  std::replace(o.flag.begin(), o.flag.end(), '_', '-');
  o.key = std::move(key);
  o.type = std::move(type);
  o.doc = std::move(doc);
  return o;
}

// Each factory takes `at`, a generic lambda mapping `settings` (const or not) to the field.

template <class At>
option uint_option(std::string key, uint64_t min, uint64_t max, std::string doc, At at) {
  auto range = std::to_string(min) + ".." + std::to_string(max);
  auto o = make_option(key, "integer " + range, std::move(doc));
  o.parse = [key, min, max, range, at](settings& s, std::string_view v, std::string_view from) {
    auto n = parse_decimal(v);
    if (!n || *n < min || *n > max) {
      fail(key, quoted(v) + " is not an integer in " + range, from);
    }
    using field = std::remove_reference_t<decltype(at(s))>;
    at(s) = static_cast<field>(*n);
  };
  o.print = [at](const settings& s) {
    return std::to_string(at(s));
  };
  return o;
}

template <class At>
option size_option(std::string key, uint64_t min, uint64_t max, std::string doc, At at) {
  auto range = format_size(min) + ".." + format_size(max);
  auto o = make_option(key, "size " + range, std::move(doc));
  o.parse = [key, min, max, range, at](settings& s, std::string_view v, std::string_view from) {
    auto n = parse_size(v);
    if (!n || *n < min || *n > max) {
      fail(key, quoted(v) + " is not a size in " + range + " (bytes, or with suffix KiB/MiB)",
           from);
    }
    at(s) = static_cast<std::size_t>(*n);
  };
  o.print = [at](const settings& s) {
    return std::to_string(at(s));
  };
  return o;
}

constexpr milliseconds max_duration{24 * 3'600'000};

template <class At>
option duration_option(std::string key, milliseconds min, std::string doc, At at) {
  auto range = format_duration(min) + ".." + std::to_string(max_duration.count() / 3'600'000) + "h";
  auto o = make_option(key, "duration " + range, std::move(doc));
  o.parse = [key, min, range, at](settings& s, std::string_view v, std::string_view from) {
    auto d = parse_duration(v);
    if (!d || *d < min || *d > max_duration) {
      fail(key, quoted(v) + " is not a duration in " + range + " (like 250ms, 30s, 5m, 1h)", from);
    }
    at(s) = *d;
  };
  o.print = [at](const settings& s) {
    return format_duration(at(s));
  };
  return o;
}

template <class At>
option bool_option(std::string key, std::string doc, At at) {
  auto o = make_option(key, "boolean", std::move(doc));
  o.is_bool = true;
  o.parse = [key, at](settings& s, std::string_view v, std::string_view from) {
    auto b = parse_bool(v);
    if (!b) {
      fail(key, quoted(v) + " is not a boolean (true/false, 1/0, yes/no, on/off)", from);
    }
    at(s) = *b;
  };
  o.print = [at](const settings& s) {
    return std::string{at(s) ? "true" : "false"};
  };
  return o;
}

template <class At>
option percent_option(std::string key, std::string doc, At at) {
  auto o = make_option(key, "percentage in (0, 100], like 70 or 70%", std::move(doc));
  o.parse = [key, at](settings& s, std::string_view v, std::string_view from) {
    auto p = parse_percent(v);
    if (!p) {
      fail(key, quoted(v) + " is not a percentage in (0, 100]", from);
    }
    at(s) = *p;
  };
  o.print = [at](const settings& s) {
    return format_double(at(s));
  };
  return o;
}

// A number in [0, 1), like 0.1.
template <class At>
option fraction_option(std::string key, std::string doc, At at) {
  auto o = make_option(key, "number in [0, 1), like 0.1", std::move(doc));
  o.parse = [key, at](settings& s, std::string_view v, std::string_view from) {
    double value = 0;
    const char* end = v.data() + v.size();
    auto [ptr, ec] = std::from_chars(v.data(), end, value);
    // The negated form also rejects NaN.
    if (v.empty() || ec != std::errc{} || ptr != end || !(value >= 0 && value < 1)) {
      fail(key, quoted(v) + " is not a number in [0, 1) like 0.1", from);
    }
    at(s) = value;
  };
  o.print = [at](const settings& s) {
    return format_double(at(s));
  };
  return o;
}

template <class E, class At>
option enum_option(std::string key, std::vector<E> values, std::string doc, At at) {
  std::string names;
  for (auto x : values) {
    names += names.empty() ? "" : "|";
    names += to_string(x);
  }
  auto o = make_option(key, names, std::move(doc));
  o.parse = [key, values, names, at](settings& s, std::string_view v, std::string_view from) {
    for (auto x : values) {
      if (iequals(v, to_string(x))) {
        at(s) = x;
        return;
      }
    }
    fail(key, quoted(v) + " is not one of " + names, from);
  };
  o.print = [at](const settings& s) {
    return std::string{to_string(at(s))};
  };
  return o;
}

template <class At>
option address_option(std::string key, std::string doc, At at) {
  auto o = make_option(key, "IPv4 or IPv6 address, or host name", std::move(doc));
  o.parse = [key, at](settings& s, std::string_view v, std::string_view from) {
    auto addr = v;
    if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') {
      addr = addr.substr(1, addr.size() - 2);
      if (!is_ipv6(addr)) {
        fail(key, quoted(v) + " is not an IPv6 address in brackets", from);
      }
    } else if (!is_ipv4(addr) && !is_ipv6(addr) && !is_host_name(addr)) {
      fail(key, quoted(v) + " is not an IP address or host name", from);
    }
    at(s) = std::string{addr};
  };
  o.print = [at](const settings& s) {
    return at(s);
  };
  return o;
}

template <class At>
option secret_option(std::string key, std::string doc, At at) {
  auto o = make_option(key, "secret", std::move(doc));
  o.is_placeholder = [](std::string_view v) {
    return v == redacted_placeholder;
  };
  o.parse = [at](settings& s, std::string_view v, std::string_view) {
    at(s) = secret{std::string{v}};
  };
  o.print = [at](const settings& s) {
    return at(s).redacted();
  };
  return o;
}

template <class At>
option url_option(std::string key, std::vector<std::string> schemes, std::string doc, At at) {
  std::string prefixes;
  for (const auto& scheme : schemes) {
    prefixes += prefixes.empty() ? "" : " or ";
    prefixes += scheme;
  }
  auto o = make_option(key, prefixes + " URL (secret), or empty", std::move(doc));
  // What redact_url leaves of a URL whose password is the placeholder `***`.
  o.is_placeholder = [](std::string_view v) {
    return v.find(":***@") != std::string_view::npos && redact_url(v) == v;
  };
  o.parse = [key, schemes, prefixes, at](settings& s, std::string_view v, std::string_view from) {
    bool ok = v.empty() || std::any_of(schemes.begin(), schemes.end(), [v](const auto& scheme) {
                return starts_with(v, scheme);
              });
    if (!ok) {
      // The value may carry a password, so it is not shown.
      fail(key, "must start with " + prefixes + " (value not shown)", from);
    }
    at(s) = secret{std::string{v}};
  };
  o.print = [at](const settings& s) {
    return redact_url(at(s).reveal());
  };
  return o;
}

void parse_seeds(std::vector<host_port>& out, std::string_view v, std::string_view from) {
  constexpr std::string_view key = "CLUSTER_SEEDS";
  std::vector<host_port> seeds;
  if (trim(v).empty()) {
    out = std::move(seeds);
    return;
  }
  for (std::size_t start = 0; start <= v.size();) {
    auto comma = std::min(v.find(',', start), v.size());
    auto entry = trim(v.substr(start, comma - start));
    start = comma + 1;
    if (entry.empty()) {
      fail(key, "empty entry in " + quoted(v), from);
    }
    auto bad = [&]() {
      fail(key, quoted(entry) + " is not host:port with a port in 1..65535 ([::1]:4370 for IPv6)",
           from);
    };
    std::string_view host;
    std::string_view port;
    if (entry.front() == '[') {
      auto close = entry.find(']');
      if (close == std::string_view::npos || entry.substr(close + 1, 1) != ":") {
        bad();
      }
      host = entry.substr(1, close - 1);
      port = entry.substr(close + 2);
      if (!is_ipv6(host)) {
        bad();
      }
    } else {
      auto colon = entry.rfind(':');
      if (colon == std::string_view::npos) {
        bad();
      }
      host = entry.substr(0, colon);
      port = entry.substr(colon + 1);
      if (!is_ipv4(host) && !is_host_name(host)) {
        bad();
      }
    }
    auto n = parse_decimal(port);
    if (!n || *n < 1 || *n > 65535) {
      bad();
    }
    seeds.push_back(host_port{std::string{host}, static_cast<uint16_t>(*n)});
  }
  out = std::move(seeds);
}

// Comma-separated URLs, each like url_option's (secrets: printed redacted).
template <class At>
option url_list_option(std::string key, std::vector<std::string> schemes, std::string doc, At at) {
  std::string prefixes;
  for (const auto& scheme : schemes) {
    prefixes += prefixes.empty() ? "" : " or ";
    prefixes += scheme;
  }
  auto o =
    make_option(key, "comma-separated " + prefixes + " URLs (secret), or empty", std::move(doc));
  o.is_placeholder = [](std::string_view v) {
    return v.find(":***@") != std::string_view::npos;
  };
  o.parse = [key, schemes, prefixes, at](settings& s, std::string_view v, std::string_view from) {
    std::vector<secret> urls;
    std::size_t start = 0;
    while (!v.empty() && start <= v.size()) {
      auto comma = v.find(',', start);
      auto entry = trim(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
      if (entry.empty()) {
        fail(key, "empty entry (value not shown)", from);
      }
      bool ok = std::any_of(schemes.begin(), schemes.end(),
                            [entry](const auto& scheme) { return starts_with(entry, scheme); });
      if (!ok) {
        fail(key, "every entry must start with " + prefixes + " (value not shown)", from);
      }
      urls.emplace_back(std::string{entry});
      if (comma == std::string_view::npos) {
        break;
      }
      start = comma + 1;
    }
    at(s) = std::move(urls);
  };
  o.print = [at](const settings& s) {
    std::string out;
    for (const auto& url : at(s)) {
      out += out.empty() ? "" : ",";
      out += redact_url(url.reveal());
    }
    return out;
  };
  return o;
}

// Comma-separated lower-case words ([a-z0-9_-]), at least one.
template <class At>
option word_list_option(std::string key, std::string doc, At at) {
  auto o = make_option(key, "comma-separated words", std::move(doc));
  o.parse = [key, at](settings& s, std::string_view v, std::string_view from) {
    std::vector<std::string> words;
    std::size_t start = 0;
    while (start <= v.size()) {
      auto comma = v.find(',', start);
      auto word =
        lower(trim(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start)));
      bool ok = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      });
      if (!ok) {
        fail(key, quoted(v) + " is not a comma-separated list of words (a-z, 0-9, _ and -)", from);
      }
      words.push_back(std::move(word));
      if (comma == std::string_view::npos) {
        break;
      }
      start = comma + 1;
    }
    at(s) = std::move(words);
  };
  o.print = [at](const settings& s) {
    std::string out;
    for (const auto& w : at(s)) {
      out += out.empty() ? "" : ",";
      out += w;
    }
    return out;
  };
  return o;
}

// A fraction in [0, 1] with at most two decimals, stored in hundredths.
template <class At>
option hundredths_option(std::string key, std::string doc, At at) {
  auto o = make_option(key, "number in [0, 1] with at most 2 decimals, like 0.75", std::move(doc));
  o.parse = [key, at](settings& s, std::string_view v, std::string_view from) {
    auto bad = [&] {
      fail(key, quoted(v) + " is not a number in [0, 1] like 0.75", from);
    };
    auto dot = v.find('.');
    auto whole = v.substr(0, dot);
    auto frac = dot == std::string_view::npos ? std::string_view{} : v.substr(dot + 1);
    if (whole.empty() || frac.size() > 2 || (dot != std::string_view::npos && frac.empty())) {
      bad();
    }
    auto w = parse_decimal(whole);
    auto f = frac.empty() ? std::optional<uint64_t>{0} : parse_decimal(frac);
    if (!w || !f) {
      bad();
    }
    auto value = *w * 100 + *f * (frac.size() == 1 ? 10 : 1);
    if (value > 100) {
      bad();
    }
    at(s) = static_cast<int>(value);
  };
  o.print = [at](const settings& s) {
    auto v = at(s);
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%d.%02d", v / 100, v % 100);
    return std::string{buf};
  };
  return o;
}

// A positive decimal number written with digits, an optional fraction and exponent; kept as text.
template <class At>
option positive_number_option(std::string key, std::string doc, At at) {
  auto o =
    make_option(key, "positive decimal number up to 1e18, like 1000000 or 1e15", std::move(doc));
  o.parse = [key, at](settings& s, std::string_view v, std::string_view from) {
    static const std::regex number{R"(^[0-9]+(\.[0-9]+)?([eE][+]?[0-9]{1,2})?$)"};
    std::string text{v};
    if (!std::regex_match(text, number) || text.find_first_not_of("0.eE+") == std::string::npos
        || std::strtod(text.c_str(), nullptr) > 1e18) {
      fail(key, quoted(v) + " is not a positive decimal number up to 1e18 (like 1e15)", from);
    }
    at(s) = text;
  };
  o.print = [at](const settings& s) {
    return at(s);
  };
  return o;
}

// A Redis key prefix: 1..64 printable ASCII characters without spaces.
template <class At>
option key_prefix_option(std::string key, std::string doc, At at) {
  auto o = make_option(key, "1..64 printable characters without spaces", std::move(doc));
  o.parse = [key, at](settings& s, std::string_view v, std::string_view from) {
    bool ok = !v.empty() && v.size() <= 64
              && std::all_of(v.begin(), v.end(), [](char c) { return c > ' ' && c < 127; });
    if (!ok) {
      fail(key, quoted(v) + " is not 1..64 printable characters without spaces", from);
    }
    at(s) = std::string{v};
  };
  o.print = [at](const settings& s) {
    return at(s);
  };
  return o;
}

// Comma-separated IPv4/IPv6 addresses or CIDR networks; empty: none.
template <class At>
option network_list_option(std::string key, std::string doc, At at) {
  auto o = make_option(key, "comma-separated addresses or CIDR networks, or empty", std::move(doc));
  o.parse = [key, at](settings& s, std::string_view v, std::string_view from) {
    std::vector<ip_network> nets;
    std::size_t start = 0;
    while (!trim(v).empty() && start <= v.size()) {
      auto comma = v.find(',', start);
      auto item = trim(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
      auto slash = item.find('/');
      auto addr = item.substr(0, slash);
      bool v4 = is_ipv4(addr);
      bool v6 = !v4 && is_ipv6(addr);
      ip_network net{std::string{addr}, v4 ? 32u : 128u};
      bool ok = v4 || v6;
      if (ok && slash != std::string_view::npos) {
        auto bits = parse_decimal(item.substr(slash + 1));
        ok = bits && *bits <= net.prefix;
        net.prefix = ok ? static_cast<unsigned>(*bits) : net.prefix;
      }
      if (!ok) {
        fail(key, quoted(item) + " is not an IP address or CIDR network (like 10.0.0.0/8)", from);
      }
      nets.push_back(std::move(net));
      if (comma == std::string_view::npos) {
        break;
      }
      start = comma + 1;
    }
    at(s) = std::move(nets);
  };
  o.print = [at](const settings& s) {
    std::string out;
    for (const auto& n : at(s)) {
      out += out.empty() ? "" : ",";
      out += n.address + "/" + std::to_string(n.prefix);
    }
    return out;
  };
  return o;
}

// Returns the host name, made into a valid NODE_NAME.
std::string default_node_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) {
    return "klerno-node";
  }
  std::string name{buf};
  name = name.substr(0, 63);
  for (auto& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      c = '-';
    }
  }
  return name.empty() ? "klerno-node" : name;
}

unsigned default_threads() {
  return std::clamp(std::thread::hardware_concurrency(), 1u, 256u);
}

settings defaults() {
  settings s;
  s.http.workers = default_threads();
  s.runtime.actor_threads = default_threads();
  s.auth.api_key = secret{"dev-api-key"};
  s.auth.secret_key = secret{"dev-secret-key"};
  s.cluster.node_name = default_node_name();
  return s;
}

std::vector<option> make_options() {
  std::vector<option> t;
  using ms = milliseconds;
  t.push_back(enum_option(
    "APP_ENV",
    std::vector<app_env>{app_env::development, app_env::test, app_env::staging,
                         app_env::production},
    "Deployment environment; production refuses default or weak secrets.",
    [](auto& s) -> auto& { return s.env; }));
  // HTTP edge.
  t.push_back(address_option(
    "BIND_ADDRESS", "Address the HTTP listener binds.",
    [](auto& s) -> auto& { return s.http.bind_address; }));
  t.push_back(uint_option(
    "PORT", 0, 65535, "HTTP port; 0 picks a free port.",
    [](auto& s) -> auto& { return s.http.port; }));
  t.push_back(uint_option(
    "WORKERS", 1, 256, "HTTP io threads.", [](auto& s) -> auto& { return s.http.workers; }));
  t.back().default_doc = "number of hardware threads";
  t.push_back(size_option(
    "HTTP_MAX_HEADER_BYTES", kib, mib, "Largest request head; larger ones get 431.",
    [](auto& s) -> auto& { return s.http.max_header_bytes; }));
  t.push_back(size_option(
    "HTTP_MAX_BODY_BYTES", 1, gib, "Largest request body; larger ones get 413.",
    [](auto& s) -> auto& { return s.http.max_body_bytes; }));
  t.push_back(duration_option(
    "HTTP_READ_TIMEOUT", ms{1}, "Time to read a whole request.",
    [](auto& s) -> auto& { return s.http.read_timeout; }));
  t.push_back(duration_option(
    "HTTP_IDLE_TIMEOUT", ms{1}, "Time a keep-alive connection may idle between requests.",
    [](auto& s) -> auto& { return s.http.idle_timeout; }));
  t.push_back(duration_option(
    "HTTP_WRITE_TIMEOUT", ms{1}, "Time to write a whole response.",
    [](auto& s) -> auto& { return s.http.write_timeout; }));
  t.push_back(duration_option(
    "HTTP_REQUEST_TIMEOUT", ms{1}, "Time a handler may take; slower requests get 504.",
    [](auto& s) -> auto& { return s.http.request_timeout; }));
  t.push_back(duration_option(
    "HTTP_LINGER_TIMEOUT", ms{1},
    "Time a closing connection may spend discarding unread request bytes.",
    [](auto& s) -> auto& { return s.http.linger_timeout; }));
  t.push_back(uint_option(
    "HTTP_PIPELINE_LIMIT", 1, 1024, "Requests queued per connection (HTTP/1.1 pipelining).",
    [](auto& s) -> auto& { return s.http.pipeline_limit; }));
  t.push_back(uint_option(
    "HTTP_MAX_CONNECTIONS", 1, 1'000'000, "Open connections; more get 503.",
    [](auto& s) -> auto& { return s.http.max_connections; }));
  t.push_back(bool_option(
    "ACCESS_LOG", "Log one line per request.", [](auto& s) -> auto& { return s.http.access_log; }));
  t.push_back(bool_option(
    "PROMETHEUS_ENABLED", "Serve /metrics in the Prometheus format.",
    [](auto& s) -> auto& { return s.http.prometheus_enabled; }));
  {
    auto o = make_option("METRICS_PORT", "integer 0..65535, or empty",
                         "Separate port for /metrics and /healthz; empty: serve them on PORT.");
    o.parse = [](settings& s, std::string_view v, std::string_view from) {
      if (v.empty()) {
        s.http.metrics_port.reset();
        return;
      }
      auto n = parse_decimal(v);
      if (!n || *n > 65535) {
        fail("METRICS_PORT", quoted(v) + " is not an integer in 0..65535", from);
      }
      s.http.metrics_port = static_cast<uint16_t>(*n);
    };
    o.print = [](const settings& s) {
      return s.http.metrics_port ? std::to_string(*s.http.metrics_port) : std::string{};
    };
    t.push_back(std::move(o));
  }
  // Credentials.
  t.push_back(secret_option(
    "API_KEY", "Key expected in X-API-Key.", [](auto& s) -> auto& { return s.auth.api_key; }));
  t.back().default_doc = "dev-api-key, none in production";
  t.push_back(secret_option(
    "SECRET_KEY", "Key that signs tokens.", [](auto& s) -> auto& { return s.auth.secret_key; }));
  t.back().default_doc = "dev-secret-key, none in production";
  // Health and lifecycle.
  t.push_back(duration_option(
    "HEALTH_CHECK_INTERVAL", ms{1}, "Period of the health checks.",
    [](auto& s) -> auto& { return s.health.check_interval; }));
  t.push_back(duration_option(
    "LIVENESS_TIMEOUT", ms{1}, "Time an actor may take to answer a liveness probe.",
    [](auto& s) -> auto& { return s.health.liveness_timeout; }));
  t.push_back(duration_option(
    "SHUTDOWN_GRACE", ms{0},
    "Time between failing readiness and closing the listener on SIGTERM; 0: none.",
    [](auto& s) -> auto& { return s.lifecycle.shutdown_grace; }));
  t.push_back(duration_option(
    "SHUTDOWN_DRAIN_TIMEOUT", ms{1}, "Time in-flight requests get to finish on shutdown.",
    [](auto& s) -> auto& { return s.lifecycle.drain_timeout; }));
  t.push_back(duration_option(
    "SHUTDOWN_STOP_TIMEOUT", ms{1}, "Time each actor gets to stop.",
    [](auto& s) -> auto& { return s.lifecycle.stop_timeout; }));
  // Logging.
  t.push_back(enum_option(
    "LOG_FORMAT", std::vector<log_format>{log_format::text, log_format::json}, "Log line format.",
    [](auto& s) -> auto& { return s.log.format; }));
  t.push_back(enum_option(
    "LOG_LEVEL",
    std::vector<log_level>{log_level::trace, log_level::debug, log_level::info, log_level::warn,
                           log_level::error, log_level::critical, log_level::off},
    "Minimum severity logged.", [](auto& s) -> auto& { return s.log.level; }));
  // Scaling.
  t.push_back(uint_option(
    "MIN_REPLICAS", 1, 1000, "Fewest replicas the autoscaler keeps.",
    [](auto& s) -> auto& { return s.scaling.min_replicas; }));
  t.push_back(uint_option(
    "MAX_REPLICAS", 1, 1000, "Most replicas the autoscaler starts; at least MIN_REPLICAS.",
    [](auto& s) -> auto& { return s.scaling.max_replicas; }));
  t.push_back(percent_option(
    "TARGET_CPU_UTILIZATION", "CPU use the autoscaler aims at.",
    [](auto& s) -> auto& { return s.scaling.target_cpu_utilization; }));
  t.push_back(percent_option(
    "TARGET_MEMORY_UTILIZATION", "Memory use the autoscaler aims at.",
    [](auto& s) -> auto& { return s.scaling.target_memory_utilization; }));
  t.push_back(fraction_option(
    "AUTOSCALE_TOLERANCE",
    "How far utilization / target may be from 1 before the desired replica count changes.",
    [](auto& s) -> auto& { return s.scaling.tolerance; }));
  // Cluster.
  {
    auto o = make_option("NODE_NAME", "1-63 characters of A-Z a-z 0-9 . _ -",
                         "Name of this node in the cluster.");
    o.default_doc = "the host name";
    o.parse = [](settings& s, std::string_view v, std::string_view from) {
      if (!is_node_name(v)) {
        fail("NODE_NAME", quoted(v) + " is not 1-63 characters of A-Z a-z 0-9 . _ -", from);
      }
      s.cluster.node_name = std::string{v};
    };
    o.print = [](const settings& s) {
      return s.cluster.node_name;
    };
    t.push_back(std::move(o));
  }
  t.push_back(enum_option(
    "NODE_ROLE", std::vector<node_role>{node_role::both, node_role::edge, node_role::worker},
    "both: API and wallets; edge: API only; worker: wallets only (probes and metrics).",
    [](auto& s) -> auto& { return s.cluster.role; }));
  t.push_back(address_option(
    "CLUSTER_BIND_ADDRESS", "Address the cluster listener binds; keep it private.",
    [](auto& s) -> auto& { return s.cluster.bind_address; }));
  t.push_back(uint_option(
    "CLUSTER_PORT", 0, 65535, "Cluster port; 0 picks a free port.",
    [](auto& s) -> auto& { return s.cluster.port; }));
  {
    auto o = make_option("CLUSTER_ADVERTISE_HOST", "host name or IP address, or empty",
                         "Host other nodes use to reach this one; empty: the bind address.");
    o.parse = [](settings& s, std::string_view v, std::string_view from) {
      if (!v.empty() && !is_ipv4(v) && !is_ipv6(v) && !is_host_name(v)) {
        fail("CLUSTER_ADVERTISE_HOST", quoted(v) + " is not an IP address or host name", from);
      }
      s.cluster.advertise_host = std::string{v};
    };
    o.print = [](const settings& s) {
      return s.cluster.advertise_host;
    };
    t.push_back(std::move(o));
  }
  {
    auto o = make_option("CLUSTER_SEEDS", "comma-separated host:port list ([::1]:4370 for IPv6)",
                         "Nodes to contact when joining the cluster.");
    o.parse = [](settings& s, std::string_view v, std::string_view from) {
      parse_seeds(s.cluster.seeds, v, from);
    };
    o.print = [](const settings& s) {
      std::string out;
      for (const auto& seed : s.cluster.seeds) {
        out += out.empty() ? "" : ",";
        out += format_host_port(seed);
      }
      return out;
    };
    t.push_back(std::move(o));
  }
  t.push_back(bool_option(
    "CLUSTER_BOOTSTRAP", "May form a new cluster when no member is up in the membership table.",
    [](auto& s) -> auto& { return s.cluster.bootstrap; }));
  t.push_back(secret_option(
    "CLUSTER_SECRET", "Shared secret of the cluster's nodes (proved by HMAC when joining).",
    [](auto& s) -> auto& { return s.cluster.cluster_secret; }));
  t.push_back(duration_option(
    "CLUSTER_HEARTBEAT_INTERVAL", ms{10}, "Period of the heartbeats between members.",
    [](auto& s) -> auto& { return s.cluster.heartbeat_interval; }));
  t.push_back(duration_option(
    "CLUSTER_SUSPECT_TIMEOUT", ms{10},
    "A member silent this long is suspected (and declared dead once enough members agree).",
    [](auto& s) -> auto& { return s.cluster.suspect_timeout; }));
  t.push_back(duration_option(
    "CLUSTER_VOTE_WINDOW", ms{100}, "How long a suspicion vote counts.",
    [](auto& s) -> auto& { return s.cluster.vote_window; }));
  t.push_back(duration_option(
    "CLUSTER_REFRESH_INTERVAL", ms{10},
    "Period of re-reading the membership table (changes are also gossiped at once).",
    [](auto& s) -> auto& { return s.cluster.refresh_interval; }));
  t.push_back(bool_option(
    "CLUSTER_TLS", "Encrypt and authenticate the cluster port with TLS (CAF's OpenSSL module).",
    [](auto& s) -> auto& { return s.cluster.tls; }));
  {
    auto path = [](std::string key, std::string doc, std::string config::cluster_settings::*field) {
      auto o = make_option(key, "path of a PEM file, or empty", std::move(doc));
      o.parse = [field](settings& s, std::string_view v, std::string_view) {
        s.cluster.*field = std::string{v};
      };
      o.print = [field](const settings& s) {
        return s.cluster.*field;
      };
      return o;
    };
    t.push_back(path("CLUSTER_TLS_CERT", "Certificate of this node for CLUSTER_TLS.",
                     &config::cluster_settings::tls_cert));
    t.push_back(path("CLUSTER_TLS_KEY", "Private key of this node for CLUSTER_TLS.",
                     &config::cluster_settings::tls_key));
    t.push_back(path("CLUSTER_TLS_CA", "CA bundle that signs the nodes' certificates.",
                     &config::cluster_settings::tls_ca));
  }
  // External stores.
  t.push_back(url_option(
    "DATABASE_URL", {"postgresql://", "postgres://"},
    "PostgreSQL connection URL; empty: no database.",
    [](auto& s) -> auto& { return s.storage.database_url; }));
  t.push_back(url_list_option(
    "DATABASE_READ_URLS", {"postgresql://", "postgres://"},
    "Read replicas for lists, alerts, analytics and exports; empty: read from DATABASE_URL.",
    [](auto& s) -> auto& { return s.storage.database_read_urls; }));
  t.push_back(uint_option(
    "DB_POOL_MIN", 0, 1000, "Connections each pool keeps open (URL min_connections wins).",
    [](auto& s) -> auto& { return s.storage.pool_min; }));
  t.push_back(uint_option(
    "DB_POOL_MAX", 1, 1000, "Most connections per pool (URL max_connections wins).",
    [](auto& s) -> auto& { return s.storage.pool_max; }));
  t.push_back(uint_option(
    "DB_POOL_QUEUE_MAX", 1, 1'000'000, "Requests waiting for a connection; more get 503.",
    [](auto& s) -> auto& { return s.storage.pool_queue_max; }));
  t.push_back(duration_option(
    "DB_POOL_QUEUE_TIMEOUT", ms{1},
    "Longest a request waits for a connection; then it gets 503 instead of running late.",
    [](auto& s) -> auto& { return s.storage.pool_queue_timeout; }));
  t.push_back(duration_option(
    "DB_STATEMENT_TIMEOUT", ms{1}, "Longest a database statement may run.",
    [](auto& s) -> auto& { return s.storage.statement_timeout; }));
  t.push_back(duration_option(
    "DB_CONNECT_TIMEOUT", ms{1}, "Longest a database connection attempt may take.",
    [](auto& s) -> auto& { return s.storage.connect_timeout; }));
  t.push_back(uint_option(
    "DB_CIRCUIT_FAILURES", 1, 1000,
    "Consecutive connection failures that open the circuit (requests then fail fast with 503).",
    [](auto& s) -> auto& { return s.storage.circuit_failures; }));
  t.push_back(duration_option(
    "DB_CIRCUIT_COOLDOWN", ms{1}, "Time an open circuit waits before probing the database.",
    [](auto& s) -> auto& { return s.storage.circuit_cooldown; }));
  t.push_back(uint_option(
    "WRITER_BATCH_MAX_ROWS", 1, 100'000, "Rows per group commit (1: one INSERT per request).",
    [](auto& s) -> auto& { return s.storage.writer_batch_max_rows; }));
  t.push_back(duration_option(
    "WRITER_BATCH_MAX_DELAY", ms{0}, "Longest a row waits for its group commit; 0: none.",
    [](auto& s) -> auto& { return s.storage.writer_batch_max_delay; }));
  t.push_back(uint_option(
    "WRITER_MAX_INFLIGHT", 1, 64, "Group commits in flight at once.",
    [](auto& s) -> auto& { return s.storage.writer_max_inflight; }));
  t.push_back(uint_option(
    "WRITER_MAX_PENDING_ROWS", 1, 10'000'000,
    "Rows waiting for a group commit; more get 503 at once (back pressure).",
    [](auto& s) -> auto& { return s.storage.writer_max_pending_rows; }));
  t.push_back(url_option(
    "REDIS_URL", {"redis://", "rediss://"}, "Redis connection URL; empty: no cache.",
    [](auto& s) -> auto& { return s.storage.redis_url; }));
  t.push_back(duration_option(
    "REDIS_CONNECT_TIMEOUT", ms{1},
    "Longest a Redis connection attempt (TCP, AUTH, SELECT) may take.",
    [](auto& s) -> auto& { return s.cache.redis_connect_timeout; }));
  t.push_back(duration_option(
    "REDIS_COMMAND_TIMEOUT", ms{1},
    "Longest a Redis command may take; then the connection is dropped and re-established.",
    [](auto& s) -> auto& { return s.cache.redis_command_timeout; }));
  t.push_back(duration_option(
    "REDIS_RECONNECT_MIN", ms{1}, "First delay before reconnecting to Redis (doubles per failure).",
    [](auto& s) -> auto& { return s.cache.redis_reconnect_min; }));
  t.push_back(duration_option(
    "REDIS_RECONNECT_MAX", ms{1}, "Longest delay between Redis reconnection attempts.",
    [](auto& s) -> auto& { return s.cache.redis_reconnect_max; }));
  t.push_back(uint_option(
    "REDIS_MAX_PENDING", 1, 1'000'000,
    "Redis commands in flight per connection (one per io thread); more fail at once.",
    [](auto& s) -> auto& { return s.cache.redis_max_pending; }));
  t.push_back(key_prefix_option(
    "REDIS_KEY_PREFIX", "Prefix of every Redis key of the node (share a Redis between clusters).",
    [](auto& s) -> auto& { return s.cache.redis_key_prefix; }));
  t.push_back(bool_option(
    "CACHE_ENABLED", "Cache GET responses (in process and in Redis).",
    [](auto& s) -> auto& { return s.cache.cache_enabled; }));
  t.push_back(duration_option(
    "CACHE_L1_TTL", ms{1}, "How long a response stays in the in-process cache.",
    [](auto& s) -> auto& { return s.cache.cache_l1_ttl; }));
  t.push_back(duration_option(
    "CACHE_L2_TTL", ms{1000}, "How long a response stays in Redis.",
    [](auto& s) -> auto& { return s.cache.cache_l2_ttl; }));
  t.push_back(size_option(
    "CACHE_L1_MAX_BYTES", 0, gib, "Memory of the in-process response cache (0: no L1).",
    [](auto& s) -> auto& { return s.cache.cache_l1_max_bytes; }));
  t.push_back(size_option(
    "CACHE_MAX_ENTRY_BYTES", 1, gib, "Largest response body that is cached.",
    [](auto& s) -> auto& { return s.cache.cache_max_entry_bytes; }));
  t.push_back(bool_option(
    "RATE_LIMIT_ENABLED",
    "Limit API requests per API key and per client IP (token buckets in Redis; per node without).",
    [](auto& s) -> auto& { return s.cache.rate_limit_enabled; }));
  t.push_back(uint_option(
    "RATE_LIMIT_PER_MINUTE", 1, 100'000'000,
    "Requests per minute per API key and per client IP, for every route class without its own.",
    [](auto& s) -> auto& { return s.cache.rate_limit_per_minute; }));
  t.push_back(uint_option(
    "RATE_LIMIT_BURST", 1, 100'000'000,
    "Requests allowed in a burst (bucket capacity), for every route class without its own.",
    [](auto& s) -> auto& { return s.cache.rate_limit_burst; }));
  for (auto [name, what] : {std::pair{"READ", "GET routes"},
                            std::pair{"WRITE", "POST /transactions and /transactions/batch"},
                            std::pair{"ANALYZE", "POST /analyze/* and /integrations/xrpl/parse"},
                            std::pair{"AUTH", "POST and DELETE /auth/session"}}) {
    auto field = [n = std::string{name}](auto& s) -> auto& {
      return n == "READ"      ? s.cache.rate_limit_read
             : n == "WRITE"   ? s.cache.rate_limit_write
             : n == "ANALYZE" ? s.cache.rate_limit_analyze
                              : s.cache.rate_limit_auth;
    };
    t.push_back(uint_option(
      std::string{"RATE_LIMIT_"} + name + "_PER_MINUTE", 0, 100'000'000,
      std::string{"Requests per minute of "} + what + " (0: RATE_LIMIT_PER_MINUTE).",
      [field](auto& s) -> auto& { return field(s).per_minute; }));
    t.push_back(uint_option(
      std::string{"RATE_LIMIT_"} + name + "_BURST", 0, 100'000'000,
      std::string{"Burst of "} + what + " (0: RATE_LIMIT_BURST).", [field](auto& s) -> auto& {
        return field(s).burst;
      }));
  }
  t.push_back(uint_option(
    "RATE_LIMIT_LOCAL_MAX_KEYS", 1, 100'000'000,
    "Buckets the per-node fallback limiter keeps while Redis is down.",
    [](auto& s) -> auto& { return s.cache.rate_limit_local_max_keys; }));
  t.push_back(network_list_option(
    "TRUSTED_PROXIES",
    "Proxies (addresses or CIDR networks) whose X-Forwarded-For names the client; empty: none.",
    [](auto& s) -> auto& { return s.cache.trusted_proxies; }));
  t.push_back(duration_option(
    "SESSION_TTL", ms{1000}, "Idle lifetime of a session token; each use extends it.",
    [](auto& s) -> auto& { return s.cache.session_ttl; }));
  t.push_back(duration_option(
    "SESSION_MAX_LIFETIME", ms{1000}, "Absolute lifetime of a session token.",
    [](auto& s) -> auto& { return s.cache.session_max_lifetime; }));
  t.push_back(duration_option(
    "REALTIME_RETENTION", ms{60'000},
    "How long the per-minute real-time counters are kept (the longest window of "
    "/analytics/realtime).",
    [](auto& s) -> auto& { return s.cache.realtime_retention; }));
  // The AML API.
  t.push_back(hundredths_option(
    "RISK_THRESHOLD", "Risk score at or above which a stored transaction is an alert.",
    [](auto& s) -> auto& { return s.api.risk_threshold; }));
  t.push_back(uint_option(
    "BATCH_MAX_ITEMS", 1, 100'000, "Items per batch request; more get 413.",
    [](auto& s) -> auto& { return s.api.batch_max_items; }));
  t.push_back(size_option(
    "HTTP_MAX_BATCH_BODY_BYTES", 1, uint64_t{1} << 30,
    "Largest body of the batch routes; larger gets 413.",
    [](auto& s) -> auto& { return s.api.batch_max_body_bytes; }));
  t.push_back(uint_option(
    "PAGE_LIMIT_DEFAULT", 1, 100'000, "Items per page when a list request gives no limit.",
    [](auto& s) -> auto& { return s.api.page_limit_default; }));
  t.push_back(uint_option(
    "PAGE_LIMIT_MAX", 1, 100'000, "Largest limit a list request may ask for.",
    [](auto& s) -> auto& { return s.api.page_limit_max; }));
  t.push_back(size_option(
    "MAX_MEMO_BYTES", 1, 1024 * 1024, "Longest memo accepted (bytes).",
    [](auto& s) -> auto& { return s.api.max_memo_bytes; }));
  t.push_back(positive_number_option(
    "MAX_AMOUNT", "Largest absolute amount or fee accepted; more is refused as absurd.",
    [](auto& s) -> auto& { return s.api.max_amount; }));
  t.push_back(uint_option(
    "EXPORT_CHUNK_ROWS", 1, 100'000, "Rows per database round trip of a CSV export.",
    [](auto& s) -> auto& { return s.api.export_chunk_rows; }));
  t.push_back(uint_option(
    "ANALYTICS_MAX_DAYS", 1, 36'500, "Largest `days` an analytics request may ask for.",
    [](auto& s) -> auto& { return s.api.analytics_max_days; }));
  t.push_back(uint_option(
    "WS_MAX_WATCH", 1, 1'000'000, "Addresses one WS /ws/alerts client may watch.",
    [](auto& s) -> auto& { return s.api.ws_max_watch; }));
  t.push_back(size_option(
    "WS_MAX_MESSAGE_BYTES", 64, 64 * 1024 * 1024,
    "Largest WebSocket message from a client; larger closes with 1009.",
    [](auto& s) -> auto& { return s.api.ws_max_message_bytes; }));
  t.push_back(uint_option(
    "WS_MAX_QUEUE", 1, 1'000'000,
    "Frames waiting to be written to one WebSocket client; more drops them and closes with 1013.",
    [](auto& s) -> auto& { return s.api.ws_max_queue; }));
  t.push_back(uint_option(
    "WS_MESSAGE_RATE", 1, 1'000'000, "Messages per second a WebSocket client may send, sustained.",
    [](auto& s) -> auto& { return s.api.ws_message_rate; }));
  t.push_back(uint_option(
    "WS_MESSAGE_BURST", 1, 1'000'000,
    "Messages a WebSocket client may send in a burst; more closes with 1008.",
    [](auto& s) -> auto& { return s.api.ws_message_burst; }));
  t.push_back(duration_option(
    "WS_PING_INTERVAL", ms{100}, "Period of the server's keep-alive ping on a WebSocket.",
    [](auto& s) -> auto& { return s.api.ws_ping_interval; }));
  t.push_back(duration_option(
    "WS_PONG_TIMEOUT", ms{100},
    "Time a WebSocket client has to answer a ping before it is dropped.",
    [](auto& s) -> auto& { return s.api.ws_pong_timeout; }));
  // Risk rules and the per-wallet signals.
  t.push_back(word_list_option(
    "SUSPICIOUS_MEMO_WORDS", "Words that make a memo suspicious (substring match).",
    [](auto& s) -> auto& { return s.scoring.suspicious_words; }));
  t.push_back(word_list_option(
    "CATEGORY_KEYWORDS_INCOME", "Whole words that make a transaction income.",
    [](auto& s) -> auto& { return s.scoring.income_keywords; }));
  t.push_back(word_list_option(
    "CATEGORY_KEYWORDS_FEE", "Whole words that make a transaction a fee (highest priority).",
    [](auto& s) -> auto& { return s.scoring.fee_keywords; }));
  t.push_back(word_list_option(
    "CATEGORY_KEYWORDS_TRADE", "Whole words that make a transaction a trade.",
    [](auto& s) -> auto& { return s.scoring.trade_keywords; }));
  t.push_back(word_list_option(
    "CATEGORY_KEYWORDS_TRANSFER", "Whole words that make a transaction a transfer.",
    [](auto& s) -> auto& { return s.scoring.transfer_keywords; }));
  t.push_back(uint_option(
    "VELOCITY_MAX_TX", 1, 1'000'000,
    "Transactions a wallet may send within VELOCITY_WINDOW before high_velocity fires.",
    [](auto& s) -> auto& { return s.scoring.velocity_max_tx; }));
  t.push_back(duration_option(
    "VELOCITY_WINDOW", ms{1}, "Window of the velocity signal.",
    [](auto& s) -> auto& { return s.scoring.velocity_window; }));
  t.push_back(uint_option(
    "STRUCTURING_MIN_RECIPIENTS", 2, 1000,
    "Distinct recipients of the same amount within STRUCTURING_WINDOW that fire structuring.",
    [](auto& s) -> auto& { return s.scoring.structuring_min_recipients; }));
  t.push_back(duration_option(
    "STRUCTURING_WINDOW", ms{1}, "Window of the structuring signal.",
    [](auto& s) -> auto& { return s.scoring.structuring_window; }));
  t.push_back(uint_option(
    "ANOMALY_FACTOR", 2, 1'000'000,
    "An amount above this many times the wallet's median fires amount_anomaly.",
    [](auto& s) -> auto& { return s.scoring.anomaly_factor; }));
  t.push_back(uint_option(
    "ANOMALY_MIN_HISTORY", 1, 100'000, "Transactions a wallet needs before anomalies count.",
    [](auto& s) -> auto& { return s.scoring.anomaly_min_history; }));
  t.push_back(uint_option(
    "WALLET_HISTORY_MAX", 1, 100'000, "Recent transactions a wallet actor keeps.",
    [](auto& s) -> auto& { return s.scoring.wallet_history_max; }));
  t.push_back(duration_option(
    "WALLET_IDLE_TIMEOUT", ms{1}, "Idle time after which a wallet actor is passivated.",
    [](auto& s) -> auto& { return s.scoring.wallet_idle_timeout; }));
  // Actor runtime.
  t.push_back(uint_option(
    "ACTOR_THREADS", 1, 256, "Threads of the actor scheduler.",
    [](auto& s) -> auto& { return s.runtime.actor_threads; }));
  t.back().default_doc = "number of hardware threads";
  {
    auto o = make_option("PORTS_FILE", "path, or empty",
                         "File to which the node writes its bound ports as JSON once ready.");
    o.parse = [](settings& s, std::string_view v, std::string_view) {
      s.runtime.ports_file = std::string{v};
    };
    o.print = [](const settings& s) {
      return s.runtime.ports_file;
    };
    t.push_back(std::move(o));
  }
  t.push_back(bool_option(
    "CHAOS_ENDPOINTS",
    "Serve POST /chaos/actors/{name}/kill (API key) for resilience tests; not in production.",
    [](auto& s) -> auto& { return s.runtime.chaos_endpoints; }));
  return t;
}

const std::vector<option>& options() {
  static const std::vector<option> table = make_options();
  return table;
}

const option* find_key(std::string_view key) {
  for (const auto& o : options()) {
    if (o.key == key) {
      return &o;
    }
  }
  return nullptr;
}

const option* find_flag(std::string_view flag) {
  for (const auto& o : options()) {
    if (o.flag == flag) {
      return &o;
    }
  }
  return nullptr;
}

// Returns "; did you mean X?" for the spelling closest to `name`, if any is close.
std::string suggestion(std::string_view name, bool as_flag) {
  const option* best = nullptr;
  std::size_t best_distance = 3;
  for (const auto& o : options()) {
    auto d = edit_distance(lower(name), as_flag ? o.flag : lower(o.key));
    if (d < best_distance) {
      best = &o;
      best_distance = d;
    }
  }
  if (best == nullptr) {
    return {};
  }
  return "; did you mean " + (as_flag ? "--" + best->flag : best->key) + "?";
}

// -- sources -------------------------------------------------------------------------------------

/// A value for a KEY and where it came from.
struct assignment {
  const option* opt;
  std::string value;
  std::string from;
};

// Reads a whole file; throws naming `key` (the way the file was given) on failure.
std::string read_file(const std::string& path, std::string_view key, std::string_view from) {
  auto cannot_read = [&]() {
    fail(key, "cannot read " + quoted(path) + ": " + std::strerror(errno), from);
  };
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    cannot_read();
  }
  std::string text;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    text.append(buf, n);
  }
  bool failed = std::ferror(f) != 0;
  int saved = errno;
  std::fclose(f);
  if (failed) {
    errno = saved;
    cannot_read();
  }
  return text;
}

bool is_key_syntax(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Parses an env-file; see the header of loader.hpp for the syntax.
std::vector<assignment> parse_file(const std::string& path, std::string_view text) {
  std::vector<assignment> out;
  std::size_t line_no = 0;
  for (std::size_t start = 0; start < text.size();) {
    auto eol = std::min(text.find('\n', start), text.size());
    auto line = text.substr(start, eol - start);
    start = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    auto from = "file " + path + ":" + std::to_string(line_no);
    auto s = trim_left(line);
    if (s.empty() || s.front() == '#') {
      continue;
    }
    if (starts_with(s, "export") && s.size() > 6 && (s[6] == ' ' || s[6] == '\t')) {
      s = trim_left(s.substr(7));
    }
    auto eq = s.find('=');
    auto key = trim(s.substr(0, eq));
    // The line is not echoed: it may hold a secret.
    if (eq == std::string_view::npos || !is_key_syntax(key)) {
      fail("", "expected a KEY=VALUE line", from);
    }
    const option* opt = find_key(key);
    if (opt == nullptr) {
      fail(key, "unknown key" + suggestion(key, false), from);
    }
    auto rest = trim_left(s.substr(eq + 1));
    std::string value;
    std::string_view tail;
    if (!rest.empty() && rest.front() == '"') {
      std::size_t i = 1;
      bool closed = false;
      for (; i < rest.size(); ++i) {
        char c = rest[i];
        if (c == '\\' && i + 1 < rest.size() && (rest[i + 1] == '"' || rest[i + 1] == '\\')) {
          value += rest[++i];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) {
        fail(key, "unterminated double-quoted value", from);
      }
      tail = rest.substr(i + 1);
    } else if (!rest.empty() && rest.front() == '\'') {
      auto close = rest.find('\'', 1);
      if (close == std::string_view::npos) {
        fail(key, "unterminated single-quoted value", from);
      }
      value = std::string{rest.substr(1, close - 1)};
      tail = rest.substr(close + 1);
    } else {
      value = std::string{trim(rest)};
    }
    tail = trim_left(tail);
    if (!tail.empty() && tail.front() != '#') {
      fail(key, "unexpected text after the quoted value", from);
    }
    out.push_back(assignment{opt, std::move(value), std::move(from)});
  }
  return out;
}

/// The command line, split into flags and assignments.
struct command_line {
  std::vector<assignment> assignments;
  std::optional<std::string> config_file;
  bool print_config = false;
};

command_line parse_command_line(int argc, const char* const* argv) {
  command_line out;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!starts_with(arg, "--") || arg.size() == 2) {
      fail(std::string{arg}, "unexpected argument; settings are given as --key=value",
           from_command_line);
    }
    auto body = arg.substr(2);
    auto eq = body.find('=');
    auto name = body.substr(0, eq);
    std::optional<std::string_view> inline_value;
    if (eq != std::string_view::npos) {
      inline_value = body.substr(eq + 1);
    }
    auto flag = "--" + std::string{name};
    auto take_value = [&](std::string_view key) -> std::string {
      if (inline_value) {
        return std::string{*inline_value};
      }
      if (i + 1 >= argc) {
        fail(key, key == flag ? "needs a value" : flag + " needs a value", from_command_line);
      }
      return argv[++i];
    };
    if (name == "config") {
      out.config_file = take_value(flag);
      continue;
    }
    if (name == "print-config") {
      if (inline_value) {
        fail(flag, "takes no value", from_command_line);
      }
      out.print_config = true;
      continue;
    }
    const option* opt = find_flag(name);
    if (opt == nullptr) {
      // Only the name is shown: `--api-kye=...` must not echo the value.
      fail(flag, "unknown option" + suggestion(name, true), from_command_line);
    }
    std::string value;
    if (opt->is_bool && !inline_value && (i + 1 >= argc || argv[i + 1][0] == '-')) {
      value = "true";
    } else {
      value = take_value(opt->key);
    }
    out.assignments.push_back(assignment{opt, std::move(value), std::string{from_command_line}});
  }
  return out;
}

// -- rules across keys ---------------------------------------------------------------------------

bool is_weak_secret(std::string_view value) {
  static constexpr std::string_view weak[] = {
    "dev-api-key", "dev-secret-key", "changeme", "change-me",
    "secret",      "default",        "password", "test"};
  return value.size() < 16 || std::any_of(std::begin(weak), std::end(weak), [value](auto w) {
           return iequals(value, w);
         });
}

} // namespace

std::map<std::string, std::string> environment_from_process() {
  std::map<std::string, std::string> env;
  for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
    std::string_view entry = *p;
    auto eq = entry.find('=');
    if (eq != std::string_view::npos) {
      env.emplace(std::string{entry.substr(0, eq)}, std::string{entry.substr(eq + 1)});
    }
  }
  return env;
}

load_result load(int argc, const char* const* argv, const std::map<std::string, std::string>& env) {
  load_result result;
  result.values = defaults();
  // Help and version win over everything else, including errors elsewhere on the command line.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    result.show_help = result.show_help || arg == "--help" || arg == "-h";
    result.show_version = result.show_version || arg == "--version";
  }
  if (result.show_help || result.show_version) {
    return result;
  }
  auto cli = parse_command_line(argc, argv);
  result.print_config = cli.print_config;

  std::map<std::string_view, std::string> origin;
  for (const auto& o : options()) {
    origin[o.key] = std::string{from_default};
  }
  auto apply = [&](const assignment& a) {
    if (a.opt->is_placeholder && a.opt->is_placeholder(a.value)) {
      return;
    }
    a.opt->parse(result.values, a.value, a.from);
    origin[a.opt->key] = a.from;
  };

  // Config file.
  std::string file_key = "--config";
  std::string_view file_from = from_command_line;
  if (cli.config_file) {
    result.config_file = *cli.config_file;
  } else if (auto i = env.find("KLERNO_CONFIG"); i != env.end()) {
    result.config_file = i->second;
    file_key = "KLERNO_CONFIG";
    file_from = from_environment;
  }
  if (!result.config_file.empty()) {
    auto text = read_file(result.config_file, file_key, file_from);
    for (const auto& a : parse_file(result.config_file, text)) {
      apply(a);
    }
  }
  // Environment.
  for (const auto& o : options()) {
    if (auto i = env.find(o.key); i != env.end()) {
      apply(assignment{&o, i->second, std::string{from_environment}});
    }
  }
  // Command line.
  for (const auto& a : cli.assignments) {
    apply(a);
  }

  auto& s = result.values;
  if (s.cluster.enabled()) {
    if (s.storage.database_url.empty()) {
      fail("DATABASE_URL",
           "must be set in a cluster (CLUSTER_SEEDS or CLUSTER_BOOTSTRAP): the "
           "membership table lives in PostgreSQL",
           origin["DATABASE_URL"]);
    }
    if (s.cluster.cluster_secret.empty()) {
      fail("CLUSTER_SECRET", "must be set in a cluster (CLUSTER_SEEDS or CLUSTER_BOOTSTRAP)",
           origin["CLUSTER_SECRET"]);
    }
    if (s.cluster.suspect_timeout <= s.cluster.heartbeat_interval) {
      fail("CLUSTER_SUSPECT_TIMEOUT", "must be longer than CLUSTER_HEARTBEAT_INTERVAL",
           origin["CLUSTER_SUSPECT_TIMEOUT"]);
    }
  } else if (s.cluster.role != node_role::both) {
    fail("NODE_ROLE",
         std::string{to_string(s.cluster.role)}
           + " needs a cluster (CLUSTER_SEEDS or CLUSTER_BOOTSTRAP)",
         origin["NODE_ROLE"]);
  }
  if (s.cluster.tls
      && (s.cluster.tls_cert.empty() || s.cluster.tls_key.empty() || s.cluster.tls_ca.empty())) {
    fail("CLUSTER_TLS", "needs CLUSTER_TLS_CERT, CLUSTER_TLS_KEY and CLUSTER_TLS_CA",
         origin["CLUSTER_TLS"]);
  }
  if (s.storage.pool_max < s.storage.pool_min) {
    fail("DB_POOL_MAX",
         std::to_string(s.storage.pool_max) + " is below DB_POOL_MIN "
           + std::to_string(s.storage.pool_min),
         origin["DB_POOL_MAX"]);
  }
  if (s.api.page_limit_max < s.api.page_limit_default) {
    fail("PAGE_LIMIT_MAX",
         std::to_string(s.api.page_limit_max) + " is below PAGE_LIMIT_DEFAULT "
           + std::to_string(s.api.page_limit_default),
         origin["PAGE_LIMIT_MAX"]);
  }
  if (s.scaling.max_replicas < s.scaling.min_replicas) {
    fail("MAX_REPLICAS",
         std::to_string(s.scaling.max_replicas) + " is below MIN_REPLICAS "
           + std::to_string(s.scaling.min_replicas),
         origin["MAX_REPLICAS"]);
  }
  if (starts_with(s.storage.redis_url.reveal(), "rediss://")) {
    fail("REDIS_URL",
         "rediss:// (TLS) is not supported by this build (hiredis 0.14 has no TLS); reach Redis "
         "over a private network, or through a local TLS tunnel (e.g. stunnel) with redis://",
         origin["REDIS_URL"]);
  }
  if (s.cache.redis_reconnect_min > s.cache.redis_reconnect_max) {
    fail("REDIS_RECONNECT_MIN", "must not exceed REDIS_RECONNECT_MAX",
         origin["REDIS_RECONNECT_MIN"]);
  }
  if (s.cache.session_ttl > s.cache.session_max_lifetime) {
    fail("SESSION_TTL", "must not exceed SESSION_MAX_LIFETIME", origin["SESSION_TTL"]);
  }
  bool production = s.env == app_env::production;
  if (production && s.runtime.chaos_endpoints) {
    fail("CHAOS_ENDPOINTS", "must be false when APP_ENV=production", origin["CHAOS_ENDPOINTS"]);
  }
  struct required_secret {
    std::string_view key;
    secret& value;
    bool required;
  };
  required_secret secrets[] = {{"API_KEY", s.auth.api_key, true},
                               {"SECRET_KEY", s.auth.secret_key, true},
                               {"CLUSTER_SECRET", s.cluster.cluster_secret, false}};
  for (auto& [key, value, required] : secrets) {
    const auto& from = origin[key];
    if (production && from == from_default) {
      value = secret{}; // the development defaults do not exist in production
    }
    if (production && (required || !value.empty()) && is_weak_secret(value.reveal())) {
      fail(key,
           "must be set to a non-default secret of at least 16 characters when "
           "APP_ENV=production",
           from);
    }
    // An empty key would match an empty X-API-Key header.
    if (required && value.empty()) {
      fail(key, "must not be empty", from);
    }
  }
  return result;
}

std::string render(const settings& values) {
  std::string out;
  for (const auto& o : options()) {
    out.append(o.key).append("=").append(file_value(o.print(values))).append("\n");
  }
  return out;
}

std::string help_text() {
  std::string out =
    "Usage: klerno-node [--config PATH] [--print-config] [--key=value | --key value]...\n"
    "       klerno-node --help | --version\n"
    "\n"
    "Settings come from, later wins: defaults < config file < environment < command line.\n"
    "The config file (--config PATH, or KLERNO_CONFIG) holds KEY=VALUE lines: blank lines and\n"
    "# comments are ignored, `export ` is allowed, values may be single- or double-quoted, and\n"
    "an unknown KEY is an error. The environment uses the same KEYs. On the command line a KEY\n"
    "is written --key=value or --key value, lower-cased with '_' as '-'; booleans also accept a\n"
    "bare --key, meaning true. Durations: 250ms, 30s, 5m, 1h, or a number of seconds. Sizes:\n"
    "bytes, or with suffix KiB/MiB/GiB (also k/m/g, KB/MB/GB; all 1024-based). Booleans:\n"
    "true/false, 1/0, yes/no, on/off. With APP_ENV=production, API_KEY and SECRET_KEY (and\n"
    "CLUSTER_SECRET, when set) must be non-default secrets of at least 16 characters.\n"
    "\n"
    "Flags:\n"
    "  --config PATH     read settings from the env-file PATH (default: $KLERNO_CONFIG)\n"
    "  --print-config    print the effective settings, secrets redacted, and exit\n"
    "  -h, --help        print this help and exit\n"
    "  --version         print the version and exit\n"
    "\n"
    "Settings:\n";
  auto d = defaults();
  for (const auto& o : options()) {
    auto default_text = o.default_doc.empty() ? o.print(d) : o.default_doc;
    out.append("  ").append(o.key).append(", --").append(o.flag).append(" <").append(o.type);
    out.append(">\n      ").append(o.doc).append(" Default: ");
    out.append(default_text.empty() ? "none" : default_text).append(".\n");
  }
  return out;
}

const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    for (const auto& o : options()) {
      out.push_back(o.key);
    }
    return out;
  }();
  return keys;
}

} // namespace klerno::config
