#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exposition_check.h"

namespace titand::metrics {
namespace {

using testing::findExpositionError;
using testing::findSampleValue;

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(CounterTest, IncrementsByAmount) {
  Counter counter;
  EXPECT_EQ(counter.value(), 0);
  counter.inc();
  counter.inc(2.5);
  EXPECT_EQ(counter.value(), 3.5);
}

TEST(CounterTest, IgnoresNegativeAndNaN) {
  Counter counter;
  counter.inc(4);
  counter.inc(-1);
  counter.inc(std::nan(""));
  EXPECT_EQ(counter.value(), 4);
}

TEST(GaugeTest, SetIncDec) {
  Gauge gauge;
  gauge.set(10);
  EXPECT_EQ(gauge.value(), 10);
  gauge.inc();
  gauge.inc(4);
  EXPECT_EQ(gauge.value(), 15);
  gauge.dec(20);
  EXPECT_EQ(gauge.value(), -5);
}

TEST(HistogramTest, BucketsAreCumulative) {
  Histogram histogram({1, 2, 5});
  for (double value : {0.5, 1.0, 1.5, 3.0, 10.0, -2.0}) histogram.observe(value);
  std::vector<uint64_t> counts = histogram.cumulativeCounts();
  ASSERT_EQ(counts.size(), 4u);
  EXPECT_EQ(counts[0], 3u);  // -2, 0.5 and 1: a bound is an inclusive upper limit.
  EXPECT_EQ(counts[1], 4u);
  EXPECT_EQ(counts[2], 5u);
  EXPECT_EQ(counts[3], 6u);  // +Inf counts every observation.
  EXPECT_EQ(histogram.sum(), 14);
}

TEST(HistogramTest, NaNGoesToInfBucket) {
  Histogram histogram({1});
  histogram.observe(std::nan(""));
  std::vector<uint64_t> counts = histogram.cumulativeCounts();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0], 0u);
  EXPECT_EQ(counts[1], 1u);
  EXPECT_TRUE(std::isnan(histogram.sum()));
}

TEST(RegistryTest, RendersExactText) {
  Registry registry;
  auto& requests = registry.counter("titand_requests_total", "Requests sent.", {"method", "code"});
  requests.labels({"GET", "200"}).inc();
  requests.labels({"GET", "200"}).inc(2);
  requests.labels({"POST", "503"}).inc(0.5);
  registry.gauge("titand_queue_depth", "Items waiting.").noLabels().set(7);
  auto& latency =
      registry.histogram("titand_latency_seconds", "Request latency.", {"host"}, {0.1, 1});
  latency.labels({"a"}).observe(0.25);
  latency.labels({"a"}).observe(0.5);
  latency.labels({"a"}).observe(3);

  EXPECT_EQ(registry.render(),
            "# HELP titand_requests_total Requests sent.\n"
            "# TYPE titand_requests_total counter\n"
            "titand_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "titand_requests_total{method=\"POST\",code=\"503\"} 0.5\n"
            "# HELP titand_queue_depth Items waiting.\n"
            "# TYPE titand_queue_depth gauge\n"
            "titand_queue_depth 7\n"
            "# HELP titand_latency_seconds Request latency.\n"
            "# TYPE titand_latency_seconds histogram\n"
            "titand_latency_seconds_bucket{host=\"a\",le=\"0.1\"} 0\n"
            "titand_latency_seconds_bucket{host=\"a\",le=\"1\"} 2\n"
            "titand_latency_seconds_bucket{host=\"a\",le=\"+Inf\"} 3\n"
            "titand_latency_seconds_sum{host=\"a\"} 3.75\n"
            "titand_latency_seconds_count{host=\"a\"} 3\n");
}

TEST(RegistryTest, UnlabelledMetricsRenderBeforeFirstUpdate) {
  Registry registry;
  registry.counter("c_total", "C.");
  registry.histogram("h_seconds", "H.", {}, {0.5});
  EXPECT_EQ(registry.render(),
            "# HELP c_total C.\n"
            "# TYPE c_total counter\n"
            "c_total 0\n"
            "# HELP h_seconds H.\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"0.5\"} 0\n"
            "h_seconds_bucket{le=\"+Inf\"} 0\n"
            "h_seconds_sum 0\n"
            "h_seconds_count 0\n");
}

TEST(RegistryTest, EmptyFamilyRendersHeaderOnly) {
  Registry registry;
  registry.gauge("g", "G.", {"shard"});
  EXPECT_EQ(registry.render(), "# HELP g G.\n# TYPE g gauge\n");
}

TEST(RegistryTest, ChildrenRenderInCreationOrder) {
  Registry registry;
  auto& family = registry.counter("c_total", "C.", {"k"});
  for (const char* key : {"zeta", "alpha", "mid"}) family.labels({key}).inc();
  std::string text = registry.render();
  size_t zeta = text.find("k=\"zeta\"");
  size_t alpha = text.find("k=\"alpha\"");
  size_t mid = text.find("k=\"mid\"");
  ASSERT_NE(zeta, std::string::npos);
  ASSERT_NE(alpha, std::string::npos);
  ASSERT_NE(mid, std::string::npos);
  EXPECT_LT(zeta, alpha);
  EXPECT_LT(alpha, mid);
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  registry.counter("c_total", "Line one\nback\\slash \"quoted\"", {"path"})
      .labels({"a\\b\"c\nd"})
      .inc();
  EXPECT_EQ(registry.render(),
            "# HELP c_total Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE c_total counter\n"
            "c_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(RegistryTest, SameNameReturnsSameFamily) {
  Registry registry;
  auto& first = registry.counter("c_total", "First help.", {"k"});
  auto& second = registry.counter("c_total", "Other help.", {"k"});
  EXPECT_EQ(&first, &second);
  first.labels({"x"}).inc();
  EXPECT_EQ(&first.labels({"x"}), &second.labels({"x"}));
  EXPECT_EQ(second.labels({"x"}).value(), 1);

  auto& h1 = registry.histogram("h", "H.", {}, {1, 2});
  auto& h2 = registry.histogram("h", "H.", {}, {1, 2, kInf});
  EXPECT_EQ(&h1, &h2);

  std::string text = registry.render();
  EXPECT_NE(text.find("# HELP c_total First help.\n"), std::string::npos);
  EXPECT_EQ(text.find("Other help."), std::string::npos);
}

TEST(RegistryTest, LabelsReturnsStableReferences) {
  Registry registry;
  auto& family = registry.gauge("g", "G.", {"k"});
  Gauge& first = family.labels({"0"});
  for (int i = 1; i < 1000; ++i) family.labels({std::to_string(i)}).set(i);
  first.set(-1);
  EXPECT_EQ(&family.labels({"0"}), &first);
  EXPECT_EQ(findSampleValue(registry.render(), "g{k=\"0\"}"), -1);
  EXPECT_EQ(findSampleValue(registry.render(), "g{k=\"999\"}"), 999);
}

TEST(RegistryTest, CollectorsAppearAfterFamiliesInOrder) {
  Registry registry;
  registry.counter("c_total", "C.").noLabels().inc();
  registry.addCollector([](std::string* out) {
    appendGaugeFamily(out, "titand_store_queue_depth", "Items queued.", {{{}, 12}});
  });
  registry.addCollector([](std::string* out) {
    appendGaugeFamily(out, "titand_hosts", "Hosts.",
                      {{{{"state", "open"}}, 2}, {{{"state", "closed"}}, 3}});
  });
  EXPECT_EQ(registry.render(),
            "# HELP c_total C.\n"
            "# TYPE c_total counter\n"
            "c_total 1\n"
            "# HELP titand_store_queue_depth Items queued.\n"
            "# TYPE titand_store_queue_depth gauge\n"
            "titand_store_queue_depth 12\n"
            "# HELP titand_hosts Hosts.\n"
            "# TYPE titand_hosts gauge\n"
            "titand_hosts{state=\"open\"} 2\n"
            "titand_hosts{state=\"closed\"} 3\n");
}

TEST(RegistryTest, CollectorsRunOnEveryRender) {
  Registry registry;
  int calls = 0;
  registry.addCollector([&calls](std::string* out) {
    ++calls;
    appendCounterFamily(out, "scrapes_total", "Scrapes.", {{{}, static_cast<double>(calls)}});
  });
  registry.render();
  std::string text = registry.render();
  EXPECT_EQ(calls, 2);
  EXPECT_NE(text.find("# TYPE scrapes_total counter\nscrapes_total 2\n"), std::string::npos);
}

TEST(FormatTest, AppendValue) {
  struct Case {
    double value;
    const char* expected;
  };
  const Case cases[] = {
      {0, "0"},
      {42, "42"},
      {-3, "-3"},
      {1e15, "1000000000000000"},
      {9007199254740992.0, "9007199254740992"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {1e20, "1e+20"},
      {std::nan(""), "NaN"},
      {kInf, "+Inf"},
      {-kInf, "-Inf"},
  };
  for (const Case& c : cases) {
    std::string out;
    appendValue(&out, c.value);
    EXPECT_EQ(out, c.expected) << "value " << c.value;
  }
}

TEST(FormatTest, AppendValueRoundTrips) {
  for (double value :
       {0.1, 1.0 / 3, 2.5e-7, 123456.789, -9.87654321e-12, 1.7976931348623157e308, 4.9e-324}) {
    std::string out;
    appendValue(&out, value);
    EXPECT_EQ(std::strtod(out.c_str(), nullptr), value) << "rendered as " << out;
  }
}

TEST(FormatTest, NameValidation) {
  EXPECT_TRUE(isValidMetricName("titand_items_total"));
  EXPECT_TRUE(isValidMetricName("_x"));
  EXPECT_TRUE(isValidMetricName("ns:sub_metric9"));
  EXPECT_FALSE(isValidMetricName(""));
  EXPECT_FALSE(isValidMetricName("9lives"));
  EXPECT_FALSE(isValidMetricName("has-dash"));
  EXPECT_FALSE(isValidMetricName("has space"));
  EXPECT_TRUE(isValidLabelName("method"));
  EXPECT_FALSE(isValidLabelName("a:b"));
  EXPECT_FALSE(isValidLabelName("0a"));
}

TEST(LabelLimiterTest, CapsDistinctValues) {
  LabelLimiter limiter(2);
  EXPECT_EQ(limiter.map("a"), "a");
  EXPECT_EQ(limiter.map("b"), "b");
  EXPECT_EQ(limiter.map("c"), "other");
  EXPECT_EQ(limiter.map("a"), "a");
  EXPECT_EQ(limiter.map("b"), "b");
  EXPECT_EQ(limiter.map("d"), "other");
}

TEST(LabelLimiterTest, ZeroMapsEverythingToOther) {
  LabelLimiter limiter(0);
  EXPECT_EQ(limiter.map("a"), "other");
}

TEST(LabelLimiterTest, ReferencesStayValid) {
  LabelLimiter limiter(1000);
  const std::string& first = limiter.map("first");
  for (int i = 0; i < 999; ++i) limiter.map(std::to_string(i));
  EXPECT_EQ(first, "first");
  EXPECT_EQ(&limiter.map("first"), &first);
}

TEST(LabelLimiterTest, ConcurrentCallersAdmitExactlyMax) {
  constexpr size_t kMax = 10;
  LabelLimiter limiter(kMax);
  std::vector<std::set<std::string>> seen(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&limiter, &seen, t] {
      for (int i = 0; i < 100; ++i) seen[t].insert(limiter.map("v" + std::to_string(i)));
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& values : seen) all.insert(values.begin(), values.end());
  EXPECT_EQ(all.count("other"), 1u);
  EXPECT_EQ(all.size(), kMax + 1);
}

TEST(ConcurrencyTest, IncrementsFromFourThreadsSumExactly) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  Registry registry;
  Counter& counter = registry.counter("c_total", "C.").noLabels();
  auto& gauges = registry.gauge("g", "G.", {"k"});
  Histogram& histogram = registry.histogram("h", "H.", {}, {0.5}).noLabels();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Gauge& gauge = gauges.labels({t % 2 == 0 ? "even" : "odd"});
      for (int i = 0; i < kPerThread; ++i) {
        counter.inc();
        gauge.inc();
        histogram.observe(i % 2 == 0 ? 0.25 : 1);
      }
    });
  }
  // Scrapes while the threads run must stay well formed.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(findExpositionError(registry.render()), "");
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(counter.value(), kThreads * kPerThread);
  EXPECT_EQ(gauges.labels({"even"}).value(), 2 * kPerThread);
  EXPECT_EQ(gauges.labels({"odd"}).value(), 2 * kPerThread);
  std::vector<uint64_t> counts = histogram.cumulativeCounts();
  EXPECT_EQ(counts[0], uint64_t{kThreads * kPerThread / 2});
  EXPECT_EQ(counts[1], uint64_t{kThreads * kPerThread});
  EXPECT_EQ(histogram.sum(), kThreads * kPerThread / 2 * 1.25);
}

TEST(ExpositionTest, RenderedRegistryParsesBack) {
  Registry registry;
  registry.counter("a_total", "A with \"quotes\" and \\.", {"x", "y"})
      .labels({"new\nline", "back\\slash \"q\""})
      .inc(1e20);
  registry.gauge("b", "B.").noLabels().set(-kInf);
  registry.gauge("nan_gauge", "NaN.").noLabels().set(std::nan(""));
  auto& h = registry.histogram("c_seconds", "C.", {"op"}, {1e-7, 0.001, 0.01});
  h.labels({"read"}).observe(0.002);
  h.labels({"write"}).observe(5);
  registry.addCollector([](std::string* out) {
    appendGaugeFamily(out, "d", "D.", {{{{"k", "v"}}, 0.125}});
  });
  EXPECT_EQ(findExpositionError(registry.render()), "");
}

TEST(ExpositionTest, CheckerRejectsBadLines) {
  EXPECT_NE(findExpositionError("x 1\n"), "");  // No TYPE line.
  EXPECT_NE(findExpositionError("# TYPE x gauge\nx{a=\"b} 1\n"), "");
  EXPECT_NE(findExpositionError("# TYPE x gauge\nx 1.0e5.5\n"), "");
  EXPECT_NE(findExpositionError("# TYPE x gauge\nx{} 1\n"), "");
  EXPECT_NE(findExpositionError("# TYPE x gauge\nx{a=\"\\t\"} 1\n"), "");
  EXPECT_NE(findExpositionError("# TYPE x gauge\nx 1\n# TYPE y summary\n"), "");
  EXPECT_NE(findExpositionError("# TYPE x gauge\nx 1"), "");          // No final newline.
  EXPECT_NE(findExpositionError("# TYPE c counter\nc_sum 1\n"), "");  // Not a histogram.
  EXPECT_EQ(findExpositionError("# TYPE x gauge\nx{a=\"b\"} 1\n"), "");
  EXPECT_EQ(findExpositionError("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n"
                                "h_sum 2.5e-07\nh_count 1\n"),
            "");
}

using RegistryDeathTest = ::testing::Test;

TEST_F(RegistryDeathTest, AbortsOnMismatchedReRegistration) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry registry;
  registry.counter("c_total", "C.", {"k"});
  EXPECT_DEATH(registry.gauge("c_total", "C.", {"k"}), "registered twice");
  EXPECT_DEATH(registry.counter("c_total", "C.", {"other"}), "registered twice");
  registry.histogram("h", "H.", {}, {1, 2});
  EXPECT_DEATH(registry.histogram("h", "H.", {}, {1, 3}), "different histogram buckets");
}

TEST_F(RegistryDeathTest, AbortsOnInvalidNames) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry registry;
  EXPECT_DEATH(registry.counter("bad-name", "C."), "invalid metric name");
  EXPECT_DEATH(registry.counter("c_total", "C.", {"bad:label"}), "invalid label name");
  EXPECT_DEATH(registry.counter("c_total", "C.", {"__reserved"}), "invalid label name");
  EXPECT_DEATH(registry.counter("c_total", "C.", {"k", "k"}), "listed twice");
  EXPECT_DEATH(registry.histogram("h", "H.", {"le"}, {1}), "reserved");
  std::string out;
  EXPECT_DEATH(appendGaugeFamily(&out, "bad name", "G.", {}), "invalid metric name");
}

TEST_F(RegistryDeathTest, AbortsOnBadBuckets) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry registry;
  EXPECT_DEATH(registry.histogram("h", "H.", {}, {2, 1}), "strictly increasing");
  EXPECT_DEATH(registry.histogram("h", "H.", {}, {1, 1}), "strictly increasing");
  EXPECT_DEATH(registry.histogram("h", "H.", {}, {std::nan("")}), "not finite");
}

TEST_F(RegistryDeathTest, AbortsOnWrongLabelCount) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry registry;
  auto& labelled = registry.counter("c_total", "C.", {"a", "b"});
  EXPECT_DEATH(labelled.labels({"only one"}), "got 1 label values, expected 2");
  EXPECT_DEATH(labelled.noLabels(), "family has labels");
}

}  // namespace
}  // namespace titand::metrics
