#pragma once

// The metrics registry: counters, gauges and histograms with labels, rendered as the Prometheus
// text exposition format (version 0.0.4) and walked for the JSON view of /metrics-detailed.
//
// Each module declares its metrics in one place (a struct of references obtained from the
// registry at construction) and keeps those references: updating a metric is a relaxed atomic
// operation, never a lookup. Label lookups (`family::with`) take a lock; call them at setup or
// cache the result.
//
// Rendering walks the registry under short per-family locks and appends into one string; it
// never blocks updates.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace klerno::runtime::metrics {

/// A monotonically increasing count.
class counter {
public:
  /// Adds `n` (default 1).
  void inc(uint64_t n = 1) noexcept {
    value_.fetch_add(n, std::memory_order_relaxed);
  }

  /// Returns the current count.
  uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down.
class gauge {
public:
  /// Sets the value.
  void set(double x) noexcept {
    value_.store(x, std::memory_order_relaxed);
  }

  /// Adds `x` (may be negative).
  void add(double x) noexcept;

  /// Adds 1.
  void inc() noexcept {
    add(1);
  }

  /// Subtracts 1.
  void dec() noexcept {
    add(-1);
  }

  /// Returns the current value.
  double value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<double> value_{0};
};

/// Observations counted into cumulative buckets, plus their sum and count.
class histogram {
public:
  /// Creates a histogram with the given upper bounds (strictly increasing, +Inf implied; a
  /// trailing +Inf is dropped). Throws `std::invalid_argument` for NaN or non-increasing bounds.
  explicit histogram(std::vector<double> bounds);

  /// Records one observation: it counts in the first bucket whose bound is >= `x` (a value equal
  /// to a bound falls in that bucket); NaN counts in the +Inf bucket only.
  void observe(double x) noexcept;

  /// Returns the upper bounds (without +Inf).
  const std::vector<double>& bounds() const noexcept {
    return bounds_;
  }

  /// Returns the count of observations <= bounds()[i] for each i, then the total count
  /// (cumulative, as exposed to Prometheus).
  std::vector<uint64_t> cumulative_counts() const;

  /// Returns the sum of all observations.
  double sum() const noexcept {
    return sum_.load(std::memory_order_relaxed);
  }

  /// Returns the number of observations.
  uint64_t count() const noexcept;

private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_; // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<double> sum_{0};
};

/// Bucket bounds for request latencies in seconds: 0.5 ms .. 10 s, including the SLO (0.2 s)
/// and the seed's alert threshold (2 s).
const std::vector<double>& latency_buckets();

/// The kind of a metric family.
enum class kind { counter, gauge, histogram };

/// Returns "counter", "gauge" or "histogram".
const char* to_string(kind x) noexcept;

/// Label values of one child of a family, in the order of the family's label names.
using label_values = std::vector<std::string>;

/// One sample seen by a `visitor`.
struct sample_view {
  const std::vector<std::string>& label_names;
  const label_values& labels;
};

/// Walks a registry (rendering, JSON view, tests).
class visitor {
public:
  virtual ~visitor() = default;

  /// Called once per family, before its samples.
  virtual void begin_family(std::string_view name, std::string_view help, kind k) = 0;

  /// Called for each counter or gauge sample of the current family.
  virtual void value(const sample_view& s, double x) = 0;

  /// Called for each histogram sample of the current family.
  virtual void histogram_value(const sample_view& s, const histogram& h) = 0;

  /// Called once per family, after its samples.
  virtual void end_family() = 0;
};

/// A metric family: one name, help text, label names and one child per label-value tuple.
/// Instantiated for `counter`, `gauge` and `histogram` only (in metrics.cpp).
template <class T>
class family {
public:
  /// Creates a family whose children are made by `make`. Throws `std::invalid_argument` if
  /// `name` does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`, or a label name does not match
  /// `[a-zA-Z_][a-zA-Z0-9_]*`, starts with `__`, repeats, or is `le` in a histogram family.
  /// A family without label names creates its only child at once, so it renders from the start.
  family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make);

  /// Returns the child for `values` (one per label name), creating it on first use. The
  /// reference stays valid for the lifetime of the registry. Throws `std::invalid_argument` if
  /// the number of values differs from the number of label names.
  T& with(const label_values& values);

  /// Convenience overload.
  T& with(std::initializer_list<std::string_view> values);

  /// Returns the metric name.
  const std::string& name() const noexcept {
    return name_;
  }

  /// Returns the help text (unescaped).
  const std::string& help() const noexcept {
    return help_;
  }

  /// Returns the label names, in the order `with` expects their values.
  const std::vector<std::string>& label_names() const noexcept {
    return label_names_;
  }

  /// Calls `f(labels, child)` for each child, in label order, under the family's lock.
  void for_each(const std::function<void(const label_values&, const T&)>& f) const;

private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mtx_;
  std::map<label_values, std::unique_ptr<T>> children_;
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

extern template class family<counter>;
extern template class family<gauge>;
extern template class family<histogram>;

/// Emits samples computed at scrape time (process metrics, mailbox depths, ...).
class collector {
public:
  virtual ~collector() = default;

  /// Visits the collector's families: begin_family / value... / end_family for each.
  virtual void collect(visitor& v) const = 0;
};

/// Owns every metric of a node. Not a global: the node creates one and hands it to components;
/// tests create their own.
class registry {
public:
  registry();
  ~registry();

  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Returns the counter family `name`, creating it on first call. Calling again with the same
  /// name returns the same family (the help text of the first call stays); a different kind,
  /// different label names or different histogram bounds throw `std::logic_error` (a programming
  /// error found at startup). Invalid names throw `std::invalid_argument` (see `family`).
  counter_family& counter(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});

  /// Like `counter`, for gauges.
  gauge_family& gauge(const std::string& name, const std::string& help,
                      std::vector<std::string> label_names = {});

  /// Like `counter`, for histograms with the given bucket bounds.
  histogram_family& histogram(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names,
                              std::vector<double> bounds = latency_buckets());

  /// Adds a collector, visited after the families, in the order added.
  void add(std::shared_ptr<const collector> c);

  /// Walks every family (in name order) and then every collector.
  void visit(visitor& v) const;

  /// Appends the Prometheus text exposition (format 0.0.4) of everything to `out`. Families
  /// without children (labelled families never used) are skipped.
  void render(std::string& out) const;

  /// Returns the Prometheus text exposition of everything.
  std::string render() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Appends one rendered family to `out` in Prometheus text format; exposed for collectors and
/// tests. Label values and help text are escaped as the format requires; values print as
/// integers when integral, otherwise in shortest round-trip form, and as `+Inf`, `-Inf`, `NaN`.
/// A family without samples leaves `out` unchanged.
class text_renderer : public visitor {
public:
  /// Creates a renderer appending to `out`.
  explicit text_renderer(std::string& out) : out_(out) {}

  /// Appends the `# HELP` and `# TYPE` lines.
  void begin_family(std::string_view name, std::string_view help, kind k) override;

  /// Appends one `name{labels} value` line.
  void value(const sample_view& s, double x) override;

  /// Appends the cumulative `_bucket` lines (ending with `le="+Inf"`), `_sum` and `_count`.
  void histogram_value(const sample_view& s, const histogram& h) override;

  /// Removes the family's HELP/TYPE lines again if it had no samples.
  void end_family() override;

private:
  std::string& out_;
  std::string name_;         // copied: a collector's name may not outlive begin_family
  size_t family_start_ = 0;  // out_.size() before the family's HELP line
  bool has_samples_ = false; // whether the current family appended a sample
};

/// Returns a collector of process metrics read from /proc at scrape time (one
/// `read_process_stats()` per scrape): `process_cpu_seconds_total` (counter) and the gauges
/// `process_max_fds`, `process_open_fds`, `process_resident_memory_bytes`,
/// `process_start_time_seconds`, `process_threads`, `process_virtual_memory_bytes`.
std::shared_ptr<const collector> make_process_collector();

} // namespace klerno::runtime::metrics
