#include "policy/backoff.h"

#include <cstdint>
#include <limits>
#include <random>

#include <gtest/gtest.h>

namespace titand::policy {
namespace {

constexpr Micros kMaxMicros = std::numeric_limits<Micros>::max();

TEST(BackoffTest, CeilingDoublesUpToCap) {
  EXPECT_EQ(backoffCeiling(1, 100, 10'000), 100);
  EXPECT_EQ(backoffCeiling(2, 100, 10'000), 200);
  EXPECT_EQ(backoffCeiling(3, 100, 10'000), 400);
  EXPECT_EQ(backoffCeiling(7, 100, 10'000), 6400);
  EXPECT_EQ(backoffCeiling(8, 100, 10'000), 10'000);
  EXPECT_EQ(backoffCeiling(0, 100, 10'000), 100);  // Retry 0 counts as the first.
}

TEST(BackoffTest, CeilingSafeForHugeRetryNumbers) {
  for (uint32_t retry : {62u, 63u, 64u, 65u, 1000u, std::numeric_limits<uint32_t>::max()}) {
    SCOPED_TRACE(retry);
    EXPECT_EQ(backoffCeiling(retry, 500'000, 60'000'000), 60'000'000);
    EXPECT_EQ(backoffCeiling(retry, 1, kMaxMicros),
              retry >= 64 ? kMaxMicros : Micros{1} << (retry - 1));
  }
  EXPECT_EQ(backoffCeiling(2, kMaxMicros / 2, kMaxMicros), kMaxMicros - 1);
  EXPECT_EQ(backoffCeiling(3, kMaxMicros / 2, kMaxMicros), kMaxMicros);
}

TEST(BackoffTest, ZeroOrNegativeBaseGivesZero) {
  std::mt19937_64 rng(7);
  EXPECT_EQ(backoffDelay(3, 0, 1000, rng), 0);
  EXPECT_EQ(backoffDelay(3, -5, 1000, rng), 0);
  EXPECT_EQ(backoffDelay(3, 100, 0, rng), 0);
}

TEST(BackoffTest, SamplesWithinRangeWithHalfMean) {
  std::mt19937_64 rng(42);
  constexpr int kSamples = 20000;
  constexpr Micros kCeiling = 4000;  // Retry 3 with base 1000.
  Micros smallest = kMaxMicros;
  Micros largest = -1;
  double sum = 0;
  for (int i = 0; i < kSamples; ++i) {
    Micros delay = backoffDelay(3, 1000, 1'000'000, rng);
    ASSERT_GE(delay, 0);
    ASSERT_LE(delay, kCeiling);
    smallest = std::min(smallest, delay);
    largest = std::max(largest, delay);
    sum += static_cast<double>(delay);
  }
  // The standard error of the mean is about 8 here, so 10% of the ceiling is very loose.
  EXPECT_NEAR(sum / kSamples, kCeiling / 2.0, kCeiling * 0.1);
  EXPECT_LT(smallest, kCeiling / 10);     // Full jitter reaches down to zero...
  EXPECT_GT(largest, kCeiling * 9 / 10);  // ...and up to the ceiling.
}

TEST(BackoffTest, CapBoundsEverySample) {
  std::mt19937_64 rng(1);
  constexpr Micros kCap = 60 * kMicrosPerSecond;
  double sum = 0;
  constexpr int kSamples = 5000;
  for (int i = 0; i < kSamples; ++i) {
    Micros delay = backoffDelay(40, 500 * kMicrosPerMilli, kCap, rng);
    ASSERT_GE(delay, 0);
    ASSERT_LE(delay, kCap);
    sum += static_cast<double>(delay);
  }
  EXPECT_NEAR(sum / kSamples, kCap / 2.0, kCap * 0.1);
}

TEST(BackoffTest, HugeRetryNumberStaysInRange) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    Micros delay =
        backoffDelay(std::numeric_limits<uint32_t>::max(), kMaxMicros / 4, kMaxMicros, rng);
    ASSERT_GE(delay, 0);
  }
}

TEST(BackoffTest, SameSeedSameDelays) {
  std::mt19937_64 first(99);
  std::mt19937_64 second(99);
  for (uint32_t retry = 1; retry <= 20; ++retry) {
    EXPECT_EQ(backoffDelay(retry, 1000, 1'000'000, first),
              backoffDelay(retry, 1000, 1'000'000, second));
  }
}

}  // namespace
}  // namespace titand::policy
