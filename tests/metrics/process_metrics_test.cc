#include "metrics/process_metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <vector>

#include "exposition_check.h"
#include "metrics/registry.h"
#include "support/temp_dir.h"

namespace titand::metrics {
namespace {

using testing::findExpositionError;
using testing::findSampleValue;

constexpr double kSecondsPerDay = 24 * 60 * 60;

TEST(ProcessMetricsTest, StatsArePlausible) {
  Result<ProcessStats> stats = readProcessStats();
  ASSERT_TRUE(stats.isOk()) << stats.status().toString();
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(stats->resident_memory_bytes, 0);
  EXPECT_GE(stats->virtual_memory_bytes, stats->resident_memory_bytes);
  EXPECT_GE(stats->cpu_seconds, 0);
  EXPECT_GT(stats->open_fds, 0);  // At least stdin, stdout and stderr.
  EXPECT_GE(stats->max_fds, stats->open_fds);
  EXPECT_GT(stats->start_time_seconds, now - kSecondsPerDay);
  // Start time is rounded to clock ticks and boot time to seconds, so allow a little slack.
  EXPECT_LT(stats->start_time_seconds, now + 2);
}

TEST(ProcessMetricsTest, OpenFdsCountsNewFiles) {
  titand::testing::TempDir dir;
  std::string path = dir.str() + "/file";
  Result<ProcessStats> before = readProcessStats();
  ASSERT_TRUE(before.isOk()) << before.status().toString();

  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) {
    int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  Result<ProcessStats> after = readProcessStats();
  for (int fd : fds) close(fd);
  ASSERT_TRUE(after.isOk()) << after.status().toString();
  EXPECT_GE(after->open_fds, before->open_fds + 3);
}

TEST(ProcessMetricsTest, AppendsAllFamilies) {
  std::string out;
  appendProcessMetrics(&out);
  EXPECT_EQ(findExpositionError(out), "");
  EXPECT_NE(out.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  for (const char* gauge : {"process_resident_memory_bytes", "process_virtual_memory_bytes",
                            "process_open_fds", "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_NE(out.find(std::string("# TYPE ") + gauge + " gauge\n"), std::string::npos) << gauge;
  }
  std::optional<double> rss = findSampleValue(out, "process_resident_memory_bytes");
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*rss, 0);
  std::optional<double> open_fds = findSampleValue(out, "process_open_fds");
  ASSERT_TRUE(open_fds.has_value());
  EXPECT_GT(*open_fds, 0);
  std::optional<double> start = findSampleValue(out, "process_start_time_seconds");
  ASSERT_TRUE(start.has_value());
  EXPECT_GT(*start, static_cast<double>(std::time(nullptr)) - kSecondsPerDay);
}

TEST(ProcessMetricsTest, WorksAsRegistryCollector) {
  Registry registry;
  registry.counter("titand_items_total", "Items.").noLabels().inc(3);
  registry.addCollector(appendProcessMetrics);
  std::string text = registry.render();
  EXPECT_EQ(findExpositionError(text), "");
  EXPECT_EQ(findSampleValue(text, "titand_items_total"), 3);
  EXPECT_TRUE(findSampleValue(text, "process_cpu_seconds_total").has_value());
  EXPECT_LT(text.find("titand_items_total"), text.find("process_cpu_seconds_total"));
}

}  // namespace
}  // namespace titand::metrics
