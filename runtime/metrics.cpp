#include "runtime/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "runtime/process_stats.hpp"

namespace klerno::runtime::metrics {

namespace {

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_metric_name(std::string_view s) noexcept {
  if (s.empty() || is_digit(s.front())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == ':'; });
}

// [a-zA-Z_][a-zA-Z0-9_]*
bool is_label_name(std::string_view s) noexcept {
  if (s.empty() || is_digit(s.front())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

void check_names(const std::string& name, const std::vector<std::string>& label_names,
                 bool histogram) {
  if (!is_metric_name(name)) {
    throw std::invalid_argument("invalid metric name '" + name + "'");
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    const auto& label = label_names[i];
    if (!is_label_name(label) || label.compare(0, 2, "__") == 0) {
      throw std::invalid_argument("metric '" + name + "': invalid label name '" + label + "'");
    }
    if (histogram && label == "le") {
      throw std::invalid_argument("histogram '" + name + "': label name 'le' is reserved");
    }
    if (std::find(label_names.begin(), label_names.begin() + i, label) != label_names.begin() + i) {
      throw std::invalid_argument("metric '" + name + "': duplicate label name '" + label + "'");
    }
  }
}

std::vector<double> checked_bounds(std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == HUGE_VAL) {
    bounds.pop_back();
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (std::isnan(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      throw std::invalid_argument("histogram bounds must be strictly increasing numbers");
    }
  }
  return bounds;
}

// Shortest round-trip form; integral values without a decimal point (exact up to 2^53).
void append_number(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "NaN";
  } else if (std::isinf(x)) {
    out += x > 0 ? "+Inf" : "-Inf";
  } else if (std::fabs(x) < 9007199254740992.0 && x == std::trunc(x)) {
    fmt::format_int digits{static_cast<int64_t>(x)};
    out.append(digits.data(), digits.size());
  } else {
    char buf[32]; // the longest shortest double is 24 characters
    auto end = fmt::format_to(buf, "{}", x);
    out.append(buf, end);
  }
}

void append_uint(std::string& out, uint64_t x) {
  fmt::format_int digits{x};
  out.append(digits.data(), digits.size());
}

// Appends `s` with `\` -> `\\`, newline -> `\n` and, for label values, `"` -> `\"`.
void append_escaped(std::string& out, std::string_view s, bool quote) {
  const char* specials = quote ? "\\\n\"" : "\\\n";
  size_t pos = 0;
  for (;;) {
    size_t next = s.find_first_of(specials, pos);
    if (next == std::string_view::npos) {
      out.append(s.data() + pos, s.size() - pos);
      return;
    }
    out.append(s.data() + pos, next - pos);
    out += '\\';
    out += s[next] == '\n' ? 'n' : s[next];
    pos = next + 1;
  }
}

// Appends `name="value",...` (no braces) for the labels of `s`.
void append_label_pairs(std::string& out, const sample_view& s) {
  size_t n = std::min(s.label_names.size(), s.labels.size());
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) {
      out += ',';
    }
    out += s.label_names[i];
    out += "=\"";
    append_escaped(out, s.labels[i], true);
    out += '"';
  }
}

void visit_family(visitor& v, const counter_family& f) {
  v.begin_family(f.name(), f.help(), kind::counter);
  f.for_each([&](const label_values& labels, const counter& c) {
    v.value(sample_view{f.label_names(), labels}, static_cast<double>(c.value()));
  });
  v.end_family();
}

void visit_family(visitor& v, const gauge_family& f) {
  v.begin_family(f.name(), f.help(), kind::gauge);
  f.for_each([&](const label_values& labels, const gauge& g) {
    v.value(sample_view{f.label_names(), labels}, g.value());
  });
  v.end_family();
}

void visit_family(visitor& v, const histogram_family& f) {
  v.begin_family(f.name(), f.help(), kind::histogram);
  f.for_each([&](const label_values& labels, const histogram& h) {
    v.histogram_value(sample_view{f.label_names(), labels}, h);
  });
  v.end_family();
}

} // namespace

// -- gauge and histogram ----------------------------------------------------------------------

void gauge::add(double x) noexcept {
  double cur = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(cur, cur + x, std::memory_order_relaxed)) {
    // cur was reloaded; retry
  }
}

histogram::histogram(std::vector<double> bounds)
    : bounds_(checked_bounds(std::move(bounds))),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void histogram::observe(double x) noexcept {
  // First bound >= x; NaN satisfies no `x <= bound` and lands in the +Inf bucket.
  auto it = std::partition_point(bounds_.begin(), bounds_.end(),
                                 [x](double bound) { return !(x <= bound); });
  buckets_[static_cast<size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + x, std::memory_order_relaxed)) {
    // cur was reloaded; retry
  }
}

std::vector<uint64_t> histogram::cumulative_counts() const {
  std::vector<uint64_t> result(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < result.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    result[i] = total;
  }
  return result;
}

uint64_t histogram::count() const noexcept {
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
  }
  return total;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.2,    0.5,   1,      2,     2.5,  5,     10};
  return bounds;
}

const char* to_string(kind x) noexcept {
  switch (x) {
    case kind::counter:
      return "counter";
    case kind::gauge:
      return "gauge";
    case kind::histogram:
      return "histogram";
  }
  return "untyped";
}

// -- family -----------------------------------------------------------------------------------

template <class T>
family<T>::family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::function<std::unique_ptr<T>()> make)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      make_(std::move(make)) {
  check_names(name_, label_names_, std::is_same_v<T, histogram>);
  if (!make_) {
    throw std::invalid_argument("metric '" + name_ + "': no factory for children");
  }
  if (label_names_.empty()) {
    children_.emplace(label_values{}, make_());
  }
}

template <class T>
T& family<T>::with(const label_values& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format("metric '{}' takes {} label values, got {}", name_,
                                            label_names_.size(), values.size()));
  }
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = children_.find(values);
  if (i == children_.end()) {
    i = children_.emplace(values, make_()).first;
  }
  return *i->second;
}

template <class T>
T& family<T>::with(std::initializer_list<std::string_view> values) {
  return with(label_values(values.begin(), values.end()));
}

template <class T>
void family<T>::for_each(const std::function<void(const label_values&, const T&)>& f) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& [labels, child] : children_) {
    f(labels, *child);
  }
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

// -- registry ---------------------------------------------------------------------------------

struct registry::impl {
  using family_ptr = std::variant<std::unique_ptr<counter_family>, std::unique_ptr<gauge_family>,
                                  std::unique_ptr<histogram_family>>;

  struct entry {
    family_ptr fam;
    std::vector<double> bounds; // histograms only, normalized
  };

  // Returns the family `name` of type T, creating it with `make` on first call.
  template <class T, class Make>
  family<T>& get(const std::string& name, const std::vector<std::string>& label_names,
                 const std::vector<double>& bounds, Make make) {
    std::lock_guard<std::mutex> guard{mtx};
    auto i = families.find(name);
    if (i == families.end()) {
      auto fam = make();
      auto& ref = *fam;
      families.emplace(name, entry{family_ptr{std::move(fam)}, bounds});
      return ref;
    }
    auto* existing = std::get_if<std::unique_ptr<family<T>>>(&i->second.fam);
    if (existing == nullptr) {
      throw std::logic_error("metric '" + name + "' is already registered as another kind");
    }
    if ((*existing)->label_names() != label_names) {
      throw std::logic_error("metric '" + name + "' is already registered with other labels");
    }
    if (i->second.bounds != bounds) {
      throw std::logic_error("histogram '" + name + "' is already registered with other bounds");
    }
    return **existing;
  }

  mutable std::mutex mtx;
  std::map<std::string, entry> families; // families never go away: entries are stable
  std::vector<std::shared_ptr<const collector>> collectors;
  mutable std::atomic<size_t> render_size_hint{0};
};

registry::registry() : impl_(std::make_unique<impl>()) {}

registry::~registry() = default;

counter_family& registry::counter(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  return impl_->get<metrics::counter>(name, label_names, {}, [&] {
    return std::make_unique<counter_family>(name, help, label_names,
                                            [] { return std::make_unique<metrics::counter>(); });
  });
}

gauge_family& registry::gauge(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names) {
  return impl_->get<metrics::gauge>(name, label_names, {}, [&] {
    return std::make_unique<gauge_family>(name, help, label_names,
                                          [] { return std::make_unique<metrics::gauge>(); });
  });
}

histogram_family& registry::histogram(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds) {
  auto checked = checked_bounds(std::move(bounds));
  return impl_->get<metrics::histogram>(name, label_names, checked, [&] {
    return std::make_unique<histogram_family>(
      name, help, label_names, [checked] { return std::make_unique<metrics::histogram>(checked); });
  });
}

void registry::add(std::shared_ptr<const collector> c) {
  if (c == nullptr) {
    throw std::invalid_argument("null collector");
  }
  std::lock_guard<std::mutex> guard{impl_->mtx};
  impl_->collectors.emplace_back(std::move(c));
}

void registry::visit(visitor& v) const {
  // Snapshot under the registry lock, visit without it: a slow visitor never blocks
  // registration, and a collector may use the registry.
  std::vector<const impl::family_ptr*> families;
  std::vector<std::shared_ptr<const collector>> collectors;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    families.reserve(impl_->families.size());
    for (const auto& [name, e] : impl_->families) {
      families.push_back(&e.fam);
    }
    collectors = impl_->collectors;
  }
  for (const auto* fam : families) {
    std::visit([&v](const auto& f) { visit_family(v, *f); }, *fam);
  }
  for (const auto& c : collectors) {
    c->collect(v);
  }
}

void registry::render(std::string& out) const {
  out.reserve(out.size() + impl_->render_size_hint.load(std::memory_order_relaxed));
  size_t before = out.size();
  text_renderer r{out};
  visit(r);
  impl_->render_size_hint.store(out.size() - before + 256, std::memory_order_relaxed);
}

std::string registry::render() const {
  std::string out;
  render(out);
  return out;
}

// -- text_renderer ----------------------------------------------------------------------------

void text_renderer::begin_family(std::string_view name, std::string_view help, kind k) {
  name_.assign(name);
  family_start_ = out_.size();
  has_samples_ = false;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += to_string(k);
  out_ += '\n';
}

void text_renderer::value(const sample_view& s, double x) {
  has_samples_ = true;
  out_ += name_;
  if (!s.labels.empty()) {
    out_ += '{';
    append_label_pairs(out_, s);
    out_ += '}';
  }
  out_ += ' ';
  append_number(out_, x);
  out_ += '\n';
}

void text_renderer::histogram_value(const sample_view& s, const histogram& h) {
  has_samples_ = true;
  // `{a="x",b="y",` or `{`, shared by every bucket line.
  std::string labels{"{"};
  append_label_pairs(labels, s);
  if (labels.size() > 1) {
    labels += ',';
  }
  auto counts = h.cumulative_counts();
  const auto& bounds = h.bounds();
  for (size_t i = 0; i < counts.size(); ++i) {
    out_ += name_;
    out_ += "_bucket";
    out_ += labels;
    out_ += "le=\"";
    if (i < bounds.size()) {
      append_number(out_, bounds[i]);
    } else {
      out_ += "+Inf";
    }
    out_ += "\"} ";
    append_uint(out_, counts[i]);
    out_ += '\n';
  }
  // Without labels, `labels` is just "{"; otherwise replace the trailing ',' by '}'.
  std::string_view plain = labels.size() > 1 ? std::string_view{labels} : std::string_view{};
  auto append_suffixed = [&](const char* suffix) {
    out_ += name_;
    out_ += suffix;
    if (!plain.empty()) {
      out_.append(plain.data(), plain.size() - 1);
      out_ += '}';
    }
    out_ += ' ';
  };
  append_suffixed("_sum");
  append_number(out_, h.sum());
  out_ += '\n';
  append_suffixed("_count");
  append_uint(out_, counts.back()); // equals the +Inf bucket even under concurrent updates
  out_ += '\n';
}

void text_renderer::end_family() {
  if (!has_samples_) {
    out_.resize(family_start_);
  }
}

// -- process collector ------------------------------------------------------------------------

namespace {

class process_collector : public collector {
public:
  void collect(visitor& v) const override {
    static const std::vector<std::string> no_names;
    static const label_values no_values;
    const sample_view s{no_names, no_values};
    auto st = read_process_stats();
    auto emit = [&](std::string_view name, std::string_view help, kind k, double x) {
      v.begin_family(name, help, k);
      v.value(s, x);
      v.end_family();
    };
    emit("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
         kind::counter, st.cpu_seconds);
    emit("process_max_fds", "Maximum number of open file descriptors.", kind::gauge,
         static_cast<double>(st.max_fds));
    emit("process_open_fds", "Number of open file descriptors.", kind::gauge,
         static_cast<double>(st.open_fds));
    emit("process_resident_memory_bytes", "Resident memory size in bytes.", kind::gauge,
         static_cast<double>(st.resident_bytes));
    emit("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
         kind::gauge, st.start_time_seconds);
    emit("process_threads", "Number of OS threads in the process.", kind::gauge,
         static_cast<double>(st.threads));
    emit("process_virtual_memory_bytes", "Virtual memory size in bytes.", kind::gauge,
         static_cast<double>(st.virtual_bytes));
  }
};

} // namespace

std::shared_ptr<const collector> make_process_collector() {
  return std::make_shared<process_collector>();
}

} // namespace klerno::runtime::metrics
