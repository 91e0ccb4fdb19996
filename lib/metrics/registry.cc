#include "metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <type_traits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/log.h"

namespace titand::metrics {
namespace {

[[noreturn]] void abortWithMessage(const std::string& message) {
  auto logger = componentLogger("metrics");
  logger->critical("{}", message);
  logger->flush();
  std::abort();
}

const char* typeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

template <typename Metric>
constexpr MetricType metricTypeOf() {
  if constexpr (std::is_same_v<Metric, Counter>) {
    return MetricType::kCounter;
  } else if constexpr (std::is_same_v<Metric, Gauge>) {
    return MetricType::kGauge;
  } else {
    static_assert(std::is_same_v<Metric, Histogram>);
    return MetricType::kHistogram;
  }
}

void checkMetricName(std::string_view name) {
  if (!isValidMetricName(name)) {
    abortWithMessage(fmt::format(
        "invalid metric name \"{}\": expected [a-zA-Z_:][a-zA-Z0-9_:]* (fix the name in the code "
        "that registers or collects it)",
        name));
  }
}

void checkLabelName(std::string_view metric, std::string_view label, MetricType type) {
  if (!isValidLabelName(label) || label.starts_with("__")) {
    abortWithMessage(fmt::format(
        "metric {}: invalid label name \"{}\": expected [a-zA-Z_][a-zA-Z0-9_]* not starting "
        "with \"__\"",
        metric, label));
  }
  if (type == MetricType::kHistogram && label == "le") {
    abortWithMessage(fmt::format(
        "metric {}: label name \"le\" is reserved for histogram buckets, choose another name",
        metric));
  }
}

void checkLabelNames(std::string_view metric, const std::vector<std::string>& labels,
                     MetricType type) {
  for (size_t i = 0; i < labels.size(); ++i) {
    checkLabelName(metric, labels[i], type);
    if (std::find(labels.begin(), labels.begin() + i, labels[i]) != labels.begin() + i) {
      abortWithMessage(
          fmt::format("metric {}: label name \"{}\" is listed twice", metric, labels[i]));
    }
  }
}

// Drops a trailing +Inf, then checks that the bounds are finite and strictly increasing.
std::vector<double> normalizeUpperBounds(std::string_view metric, std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      abortWithMessage(
          fmt::format("metric {}: histogram bucket bound {} is not finite", metric, bounds[i]));
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      abortWithMessage(fmt::format(
          "metric {}: histogram bucket bounds must be strictly increasing, but {} follows {}",
          metric, bounds[i], bounds[i - 1]));
    }
  }
  return bounds;
}

void appendEscapedHelp(std::string* out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

void appendHeader(std::string* out, std::string_view name, std::string_view help, MetricType type) {
  out->append("# HELP ").append(name).push_back(' ');
  appendEscapedHelp(out, help);
  out->append("\n# TYPE ").append(name).push_back(' ');
  out->append(typeName(type)).push_back('\n');
}

// Appends name="value" to a label list without braces, after a comma unless `out` is empty.
void appendLabelPair(std::string* out, std::string_view name, std::string_view value) {
  if (!out->empty()) out->push_back(',');
  out->append(name).append("=\"");
  appendEscapedLabelValue(out, value);
  out->push_back('"');
}

// Appends one sample line. `label_text` is the rendered pairs without braces, or empty.
void appendSample(std::string* out, std::string_view name, std::string_view suffix,
                  std::string_view label_text, double value) {
  out->append(name).append(suffix);
  if (!label_text.empty()) out->append("{").append(label_text).push_back('}');
  out->push_back(' ');
  appendValue(out, value);
  out->push_back('\n');
}

void renderChild(std::string* out, const std::string& name, const std::string& label_text,
                 const Counter& counter) {
  appendSample(out, name, "", label_text, counter.value());
}

void renderChild(std::string* out, const std::string& name, const std::string& label_text,
                 const Gauge& gauge) {
  appendSample(out, name, "", label_text, gauge.value());
}

void renderChild(std::string* out, const std::string& name, const std::string& label_text,
                 const Histogram& histogram) {
  // Counts are read before the sum, so that _count and the +Inf bucket agree exactly.
  std::vector<uint64_t> counts = histogram.cumulativeCounts();
  const std::vector<double>& bounds = histogram.upperBounds();
  std::string bucket_labels;
  for (size_t i = 0; i < counts.size(); ++i) {
    bucket_labels = label_text;
    std::string le;
    if (i < bounds.size()) {
      appendValue(&le, bounds[i]);
    } else {
      le = "+Inf";
    }
    appendLabelPair(&bucket_labels, "le", le);
    appendSample(out, name, "_bucket", bucket_labels, static_cast<double>(counts[i]));
  }
  appendSample(out, name, "_sum", label_text, histogram.sum());
  appendSample(out, name, "_count", label_text, static_cast<double>(counts.back()));
}

void appendFamily(std::string* out, std::string_view name, std::string_view help, MetricType type,
                  const std::vector<Sample>& samples) {
  checkMetricName(name);
  appendHeader(out, name, help, type);
  std::string label_text;
  for (const auto& [labels, value] : samples) {
    label_text.clear();
    for (const auto& [label_name, label_value] : labels) {
      checkLabelName(name, label_name, type);
      appendLabelPair(&label_text, label_name, label_value);
    }
    appendSample(out, name, "", label_text, value);
  }
}

}  // namespace

bool isValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

bool isValidLabelName(std::string_view name) {
  return isValidMetricName(name) && name.find(':') == std::string_view::npos;
}

void appendValue(std::string* out, double value) {
  if (std::isnan(value)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
    return;
  }
  constexpr double kTwoToThe63 = 9223372036854775808.0;
  if (value == std::trunc(value) && std::fabs(value) < kTwoToThe63) {
    fmt::format_to(std::back_inserter(*out), "{}", static_cast<int64_t>(value));
    return;
  }
  // fmt prints the shortest decimal that parses back to the same double.
  fmt::format_to(std::back_inserter(*out), "{}", value);
}

void appendEscapedLabelValue(std::string* out, std::string_view value) {
  // Copies runs without special characters in one append, the common case being one run.
  size_t start = 0;
  size_t special;
  while ((special = value.find_first_of("\\\"\n", start)) != std::string_view::npos) {
    out->append(value.substr(start, special - start));
    if (value[special] == '\\') {
      out->append("\\\\");
    } else if (value[special] == '"') {
      out->append("\\\"");
    } else {
      out->append("\\n");
    }
    start = special + 1;
  }
  out->append(value.substr(start));
}

void Counter::inc(double amount) {
  if (!(amount >= 0)) return;  // Also true for NaN.
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) bucket_counts_[i].store(0);
}

void Histogram::observe(double value) {
  size_t index = upper_bounds_.size();
  if (!std::isnan(value)) {
    // The first bound >= value: bucket bounds are inclusive upper limits.
    index =
        std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  }
  bucket_counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulativeCounts() const {
  std::vector<uint64_t> counts(upper_bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    total += bucket_counts_[i].load(std::memory_order_relaxed);
    counts[i] = total;
  }
  return counts;
}

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> upper_bounds)
    : FamilyBase(std::move(name), std::move(help), metricTypeOf<Metric>(), std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {
  if (labelNames().empty()) {
    // Created up front so an unlabelled metric renders as 0 before its first update.
    std::lock_guard lock(mutex_);
    unlabelled_ = &addChild("");
  }
}

template <typename Metric>
Metric& Family<Metric>::labels(const std::vector<std::string>& values) {
  const std::vector<std::string>& names = labelNames();
  if (values.size() != names.size()) {
    abortWithMessage(fmt::format("metric {}: got {} label values, expected {} for labels [{}]",
                                 name(), values.size(), names.size(), fmt::join(names, ", ")));
  }
  std::string label_text;
  // Each pair adds =, two quotes and a comma to name and value. Escapes may need more room.
  size_t length = 0;
  for (size_t i = 0; i < names.size(); ++i) length += names[i].size() + values[i].size() + 4;
  label_text.reserve(length);
  for (size_t i = 0; i < names.size(); ++i) appendLabelPair(&label_text, names[i], values[i]);

  std::lock_guard lock(mutex_);
  auto it = children_by_labels_.find(label_text);
  if (it != children_by_labels_.end()) return *it->second;
  return addChild(std::move(label_text));
}

template <typename Metric>
Metric& Family<Metric>::noLabels() {
  if (unlabelled_ == nullptr) {
    abortWithMessage(fmt::format("metric {}: noLabels() called, but the family has labels [{}]",
                                 name(), fmt::join(labelNames(), ", ")));
  }
  return *unlabelled_;
}

// Requires mutex_ to be held.
template <typename Metric>
Metric& Family<Metric>::addChild(std::string label_text) {
  Child* child;
  if constexpr (std::is_same_v<Metric, Histogram>) {
    child = &children_.emplace_back(std::move(label_text), upper_bounds_);
  } else {
    child = &children_.emplace_back(std::move(label_text));
  }
  children_by_labels_.emplace(child->label_text, &child->metric);
  return child->metric;
}

template <typename Metric>
void Family<Metric>::render(std::string* out) const {
  appendHeader(out, name(), help(), type());
  std::lock_guard lock(mutex_);
  for (const Child& child : children_) renderChild(out, name(), child.label_text, child.metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename Metric>
Family<Metric>& Registry::registerFamily(std::string name, std::string help,
                                         std::vector<std::string> label_names,
                                         std::vector<double> upper_bounds) {
  constexpr MetricType kType = metricTypeOf<Metric>();
  checkMetricName(name);
  checkLabelNames(name, label_names, kType);

  std::lock_guard lock(mutex_);
  auto it = families_by_name_.find(name);
  if (it == families_by_name_.end()) {
    auto family = std::make_unique<Family<Metric>>(name, std::move(help), std::move(label_names),
                                                   std::move(upper_bounds));
    Family<Metric>* result = family.get();
    families_by_name_.emplace(std::move(name), result);
    families_.push_back(std::move(family));
    return *result;
  }

  FamilyBase* existing = it->second;
  if (existing->type() != kType || existing->labelNames() != label_names) {
    abortWithMessage(fmt::format(
        "metric {} registered twice with different definitions: first as {} with labels [{}], "
        "now as {} with labels [{}]",
        name, typeName(existing->type()), fmt::join(existing->labelNames(), ", "), typeName(kType),
        fmt::join(label_names, ", ")));
  }
  auto* family = static_cast<Family<Metric>*>(existing);
  if (family->upperBounds() != upper_bounds) {
    abortWithMessage(fmt::format(
        "metric {} registered twice with different histogram buckets: first [{}], now [{}]", name,
        fmt::join(family->upperBounds(), ", "), fmt::join(upper_bounds, ", ")));
  }
  return *family;
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  return registerFamily<Counter>(std::move(name), std::move(help), std::move(label_names), {});
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
  return registerFamily<Gauge>(std::move(name), std::move(help), std::move(label_names), {});
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> upper_bounds) {
  std::vector<double> bounds = normalizeUpperBounds(name, std::move(upper_bounds));
  return registerFamily<Histogram>(std::move(name), std::move(help), std::move(label_names),
                                   std::move(bounds));
}

void Registry::addCollector(Collector collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) family->render(&out);
  for (const Collector& collector : collectors_) collector(&out);
  return out;
}

const std::string& LabelLimiter::map(const std::string& value) {
  std::lock_guard lock(mutex_);
  auto it = admitted_.find(value);
  if (it != admitted_.end()) return *it;
  if (admitted_.size() >= max_values_) return other_;
  return *admitted_.insert(value).first;
}

void appendGaugeFamily(std::string* out, std::string_view name, std::string_view help,
                       const std::vector<Sample>& samples) {
  appendFamily(out, name, help, MetricType::kGauge, samples);
}

void appendCounterFamily(std::string* out, std::string_view name, std::string_view help,
                         const std::vector<Sample>& samples) {
  appendFamily(out, name, help, MetricType::kCounter, samples);
}

}  // namespace titand::metrics
