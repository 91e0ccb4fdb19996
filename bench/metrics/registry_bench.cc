// Micro benchmarks of the metrics hot paths: updates through a kept reference, child lookup
// by label values, and rendering a registry of daemon-like size.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "metrics/process_metrics.h"
#include "metrics/registry.h"

namespace titand::metrics {
namespace {

void BM_CounterIncKeptReference(benchmark::State& state) {
  static Registry registry;
  static Counter& counter = registry.counter("bench_inc_total", "Bench.").noLabels();
  for (auto _ : state) counter.inc();
  benchmark::DoNotOptimize(counter.value());
}
BENCHMARK(BM_CounterIncKeptReference)->ThreadRange(1, 2);

void BM_HistogramObserve(benchmark::State& state) {
  Registry registry;
  Histogram& histogram = registry
                             .histogram("bench_seconds", "Bench.", {},
                                        {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})
                             .noLabels();
  double value = 0;
  for (auto _ : state) {
    histogram.observe(value);
    value = value < 12 ? value + 0.01 : 0;
  }
  benchmark::DoNotOptimize(histogram.sum());
}
BENCHMARK(BM_HistogramObserve);

void BM_LabelsLookupExisting(benchmark::State& state) {
  Registry registry;
  auto& family = registry.counter("bench_total", "Bench.", {"host", "code"});
  std::vector<std::vector<std::string>> keys;
  for (int i = 0; i < 64; ++i) {
    keys.push_back({"host-" + std::to_string(i) + ".example.com", std::to_string(200 + i % 5)});
    family.labels(keys.back()).inc();
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(&family.labels(keys[i % keys.size()]));
    ++i;
  }
}
BENCHMARK(BM_LabelsLookupExisting);

void BM_LabelLimiterMap(benchmark::State& state) {
  LabelLimiter limiter(100);
  std::vector<std::string> values;
  for (int i = 0; i < 200; ++i) values.push_back("host-" + std::to_string(i));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(&limiter.map(values[i % values.size()]));
    ++i;
  }
}
BENCHMARK(BM_LabelLimiterMap);

// 50 families: 30 labelled counters with 4 children, 10 gauges, 10 histograms with 2
// children and 11 buckets.
void fillDaemonSizedRegistry(Registry* registry) {
  for (int f = 0; f < 30; ++f) {
    auto& family = registry->counter("bench_counter_" + std::to_string(f) + "_total",
                                     "A benchmark counter.", {"code"});
    for (int c = 0; c < 4; ++c) family.labels({std::to_string(200 + c)}).inc(c * 1000 + f);
  }
  for (int f = 0; f < 10; ++f) {
    registry->gauge("bench_gauge_" + std::to_string(f), "A benchmark gauge.").noLabels().set(f);
  }
  for (int f = 0; f < 10; ++f) {
    auto& family = registry->histogram("bench_histogram_" + std::to_string(f) + "_seconds",
                                       "A benchmark histogram.", {"op"},
                                       {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    for (const char* op : {"read", "write"}) {
      for (int i = 0; i < 100; ++i) family.labels({op}).observe(i * 0.037);
    }
  }
}

void BM_Render50Families(benchmark::State& state) {
  Registry registry;
  fillDaemonSizedRegistry(&registry);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = registry.render();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["output_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render50Families);

void BM_AppendProcessMetrics(benchmark::State& state) {
  for (auto _ : state) {
    std::string out;
    appendProcessMetrics(&out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_AppendProcessMetrics);

}  // namespace
}  // namespace titand::metrics
