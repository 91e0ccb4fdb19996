// Metrics registry: counters, gauges and histograms grouped in labelled families, rendered in
// the Prometheus text exposition format 0.0.4.
//
// Thread safety: a Registry and its families may be used from any thread. Updating a metric
// (inc, set, observe) is lock-free. Looking up a child by label values takes the family's
// mutex, so hot paths look a child up once and keep the reference. render() may run while
// other threads update metrics.
// Errors: registration mistakes (invalid name, same name with another type, labels or
// buckets, wrong number of label values) are programming errors. They log a critical
// message naming the metric and abort the process.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace titand::metrics {

// A value that only goes up, such as requests sent.
class Counter {
 public:
  // Adds `amount`. Negative and NaN amounts are ignored, because a counter never decreases.
  void inc(double amount = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down, such as connections open.
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into buckets with fixed upper bounds (inclusive), plus an implied +Inf
// bucket, and sums the observed values.
class Histogram {
 public:
  // `upper_bounds` must be strictly increasing and finite, which Registry::histogram checks.
  explicit Histogram(std::vector<double> upper_bounds);

  // Records one observation. NaN lands in the +Inf bucket and makes the sum NaN.
  void observe(double value);

  // Returns cumulative counts, one per upper bound and a last one for +Inf (the total count).
  // Under concurrent observe() calls the sum may differ from the counts by the observations in
  // flight.
  std::vector<uint64_t> cumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& upperBounds() const { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;  // upper_bounds_.size() + 1 entries.
  std::atomic<double> sum_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// The part of a family the registry renders and compares at registration.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }

  // Appends HELP, TYPE and one sample block per child, children in creation order.
  virtual void render(std::string* out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names);

  const std::string& help() const { return help_; }

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
};

// All children of one metric name, one child per distinct tuple of label values.
template <typename Metric>
class Family final : public FamilyBase {
 public:
  // Registry::counter, gauge and histogram create families after validating the arguments.
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> upper_bounds);

  // Returns the child for these label values (in label-name order), creating it on first use.
  // The reference stays valid for the lifetime of the registry. Aborts when the number of
  // values differs from the number of label names.
  Metric& labels(const std::vector<std::string>& values);

  // Returns the only child of a family without labels, without taking a lock. Aborts when
  // the family has labels.
  Metric& noLabels();

  // Histogram upper bounds without +Inf. Empty for counters and gauges.
  const std::vector<double>& upperBounds() const { return upper_bounds_; }

  void render(std::string* out) const override;

 private:
  struct Child {
    template <typename... Args>
    explicit Child(std::string label_text, Args&&... args)
        : label_text(std::move(label_text)), metric(std::forward<Args>(args)...) {}

    std::string label_text;  // Rendered label pairs without braces: a="x",b="y".
    Metric metric;
  };

  Metric& addChild(std::string label_text);

  std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::deque<Child> children_;  // A deque keeps references to children stable as it grows.
  std::unordered_map<std::string, Metric*> children_by_labels_;
  Metric* unlabelled_ = nullptr;  // Created with the family when it has no labels.
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// Appends one or more complete families (HELP, TYPE, samples) to the scrape output.
using Collector = std::function<void(std::string* out)>;

class Registry {
 public:
  // Each method registers a family, or returns the existing family of that name when type,
  // label names (and buckets) match. The help text of the first registration is kept.
  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help,
                       std::vector<std::string> label_names = {});
  // `upper_bounds` must be finite and strictly increasing. The +Inf bucket is implied, and a
  // trailing +Inf in the list is dropped.
  Family<Histogram>& histogram(std::string name, std::string help,
                               std::vector<std::string> label_names,
                               std::vector<double> upper_bounds);

  // Adds a collector, called at each render() after all families, in the order added.
  // Collectors run one at a time under the registry lock, so they must not call this registry.
  void addCollector(Collector collector);

  // Renders every family in registration order, then the collectors' output.
  std::string render() const;

 private:
  template <typename Metric>
  Family<Metric>& registerFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names,
                                 std::vector<double> upper_bounds);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::unordered_map<std::string, FamilyBase*> families_by_name_;
  std::vector<Collector> collectors_;
};

// Caps how many distinct values a label may take, so that input such as URL hosts cannot
// create unbounded series. The first `max_values` distinct inputs map to themselves, later
// new ones to "other". Thread safe.
class LabelLimiter {
 public:
  explicit LabelLimiter(size_t max_values) : max_values_(max_values) {}

  // Returns `value` or "other". The reference stays valid for the limiter's lifetime.
  const std::string& map(const std::string& value);

 private:
  size_t max_values_;
  std::mutex mutex_;
  std::unordered_set<std::string> admitted_;  // Node-based, so references to elements stay valid.
  const std::string other_ = "other";
};

// Helpers for collectors that build families at scrape time.
using LabelPairs = std::vector<std::pair<std::string, std::string>>;
using Sample = std::pair<LabelPairs, double>;

// Appends a whole gauge or counter family: HELP, TYPE and one line per sample. Aborts on an
// invalid metric or label name, like registration does.
void appendGaugeFamily(std::string* out, std::string_view name, std::string_view help,
                       const std::vector<Sample>& samples);
void appendCounterFamily(std::string* out, std::string_view name, std::string_view help,
                         const std::vector<Sample>& samples);

// Text format building blocks, exposed for collectors and tests.
bool isValidMetricName(std::string_view name);
bool isValidLabelName(std::string_view name);
// Appends a sample value: integers up to 2^63 without exponent ("42"), other finite values
// in the shortest form that parses back to the same double, and "NaN", "+Inf", "-Inf".
void appendValue(std::string* out, double value);
// Appends a label value with backslash, double quote and newline escaped.
void appendEscapedLabelValue(std::string* out, std::string_view value);

}  // namespace titand::metrics
