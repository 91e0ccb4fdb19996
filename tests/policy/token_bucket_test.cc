#include "policy/token_bucket.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace titand::policy {
namespace {

constexpr Micros kStart = 1'000'000'000;

TEST(TokenBucketTest, BurstThenRefillAtRate) {
  TokenBucket bucket(10.0, 3);  // One token every 100 ms.
  EXPECT_TRUE(bucket.tryTake(kStart));
  EXPECT_TRUE(bucket.tryTake(kStart));
  EXPECT_TRUE(bucket.tryTake(kStart));
  EXPECT_FALSE(bucket.tryTake(kStart));
  EXPECT_FALSE(bucket.tryTake(kStart + 99'999));
  EXPECT_TRUE(bucket.tryTake(kStart + 100'000));
  EXPECT_FALSE(bucket.tryTake(kStart + 100'000));
  EXPECT_TRUE(bucket.tryTake(kStart + 200'000));
}

TEST(TokenBucketTest, RefillStopsAtBurst) {
  TokenBucket bucket(10.0, 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.tryTake(kStart));
  Micros later = kStart + 3600 * kMicrosPerSecond;
  EXPECT_EQ(bucket.available(later), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.tryTake(later));
  EXPECT_FALSE(bucket.tryTake(later));
}

TEST(TokenBucketTest, SustainedRateMatches) {
  TokenBucket bucket(50.0, 1);
  int taken = 0;
  // Ten simulated seconds in 1 ms steps: the first token plus 50 per second.
  for (Micros t = kStart; t < kStart + 10 * kMicrosPerSecond; t += 1000) {
    if (bucket.tryTake(t)) ++taken;
  }
  EXPECT_EQ(taken, 500);
}

TEST(TokenBucketTest, ZeroRateIsUnlimited) {
  TokenBucket bucket(0.0, 1);
  EXPECT_TRUE(bucket.unlimited());
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(bucket.tryTake(kStart));
  EXPECT_EQ(bucket.nextAvailable(kStart), kStart);
  EXPECT_EQ(bucket.available(kStart), std::numeric_limits<size_t>::max());
}

TEST(TokenBucketTest, InvalidRatesAreUnlimited) {
  EXPECT_TRUE(TokenBucket(-1.0, 5).unlimited());
  EXPECT_TRUE(TokenBucket(std::numeric_limits<double>::quiet_NaN(), 5).unlimited());
  EXPECT_TRUE(TokenBucket(std::numeric_limits<double>::infinity(), 5).unlimited());
  EXPECT_FALSE(TokenBucket(0.001, 5).unlimited());
}

TEST(TokenBucketTest, NextAvailableValues) {
  TokenBucket bucket(4.0, 2);  // One token every 250 ms.
  EXPECT_EQ(bucket.nextAvailable(kStart), kStart);
  ASSERT_TRUE(bucket.tryTake(kStart));
  EXPECT_EQ(bucket.nextAvailable(kStart), kStart);
  ASSERT_TRUE(bucket.tryTake(kStart));
  EXPECT_EQ(bucket.nextAvailable(kStart), kStart + 250'000);
  EXPECT_EQ(bucket.nextAvailable(kStart + 100'000), kStart + 250'000);
  EXPECT_EQ(bucket.nextAvailable(kStart + 250'000), kStart + 250'000);
  EXPECT_EQ(bucket.nextAvailable(kStart + 400'000), kStart + 400'000);
}

TEST(TokenBucketTest, TokenThereAtNextAvailable) {
  TokenBucket bucket(3.0, 1);  // 333333.3 us per token, so rounding matters.
  ASSERT_TRUE(bucket.tryTake(kStart));
  Micros next = bucket.nextAvailable(kStart);
  EXPECT_EQ(next, kStart + 333'334);
  EXPECT_FALSE(bucket.tryTake(next - 1));
  EXPECT_TRUE(bucket.tryTake(next));
}

TEST(TokenBucketTest, NextAvailableExactForManyRates) {
  for (double rate : {0.3, 1.0, 3.0, 7.0, 64.0, 1234.5, 999'999.0}) {
    SCOPED_TRACE(rate);
    TokenBucket bucket(rate, 1);
    Micros now = kStart;
    for (int round = 0; round < 20; ++round) {
      ASSERT_TRUE(bucket.tryTake(now));
      Micros next = bucket.nextAvailable(now);
      // The token is complete after 1/rate seconds, rounded up to a whole microsecond.
      double exact_wait = static_cast<double>(kMicrosPerSecond) / rate;
      EXPECT_GE(static_cast<double>(next - now), exact_wait - 1);
      EXPECT_LE(static_cast<double>(next - now), exact_wait + 1);
      EXPECT_FALSE(bucket.tryTake(now));
      now = next;
    }
  }
}

TEST(TokenBucketTest, AvailableCountsWholeTokens) {
  TokenBucket bucket(10.0, 5);
  EXPECT_EQ(bucket.available(kStart), 5u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bucket.tryTake(kStart));
  EXPECT_EQ(bucket.available(kStart), 0u);
  EXPECT_EQ(bucket.available(kStart + 150'000), 1u);
  EXPECT_EQ(bucket.available(kStart + 200'000), 2u);
}

TEST(TokenBucketTest, ReconfigureLowersBurst) {
  TokenBucket bucket(10.0, 10);
  bucket.reconfigure(10.0, 2);
  EXPECT_EQ(bucket.available(kStart), 2u);
  EXPECT_TRUE(bucket.tryTake(kStart));
  EXPECT_TRUE(bucket.tryTake(kStart));
  EXPECT_FALSE(bucket.tryTake(kStart));
}

TEST(TokenBucketTest, ReconfigureChangesRate) {
  TokenBucket bucket(1.0, 1);
  ASSERT_TRUE(bucket.tryTake(kStart));
  EXPECT_EQ(bucket.nextAvailable(kStart), kStart + kMicrosPerSecond);
  bucket.reconfigure(100.0, 1);
  EXPECT_EQ(bucket.nextAvailable(kStart), kStart + 10'000);
  EXPECT_TRUE(bucket.tryTake(kStart + 10'000));
}

TEST(TokenBucketTest, ReconfigureToAndFromUnlimited) {
  TokenBucket bucket(1.0, 3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bucket.tryTake(kStart));
  ASSERT_FALSE(bucket.tryTake(kStart));
  bucket.reconfigure(0.0, 3);
  EXPECT_TRUE(bucket.unlimited());
  EXPECT_TRUE(bucket.tryTake(kStart));
  bucket.reconfigure(1.0, 3);  // Starts full again.
  EXPECT_FALSE(bucket.unlimited());
  EXPECT_EQ(bucket.available(kStart), 3u);
}

TEST(TokenBucketTest, ClockGoingBackAddsNothing) {
  TokenBucket bucket(10.0, 1);
  ASSERT_TRUE(bucket.tryTake(kStart));
  EXPECT_FALSE(bucket.tryTake(kStart - 5 * kMicrosPerSecond));
  // The refill restarts from the earlier time.
  EXPECT_FALSE(bucket.tryTake(kStart - 5 * kMicrosPerSecond + 99'999));
  EXPECT_TRUE(bucket.tryTake(kStart - 5 * kMicrosPerSecond + 100'000));
}

TEST(TokenBucketTest, ZeroBurstActsAsOne) {
  TokenBucket bucket(1.0, 0);
  EXPECT_TRUE(bucket.tryTake(kStart));
  EXPECT_FALSE(bucket.tryTake(kStart));
  EXPECT_TRUE(bucket.tryTake(kStart + kMicrosPerSecond));
}

TEST(TokenBucketTest, TinyRateDoesNotOverflow) {
  TokenBucket bucket(1e-300, 1);
  ASSERT_TRUE(bucket.tryTake(kStart));
  EXPECT_EQ(bucket.nextAvailable(kStart), std::numeric_limits<Micros>::max());
  EXPECT_FALSE(bucket.tryTake(kStart + 3600 * kMicrosPerSecond));
}

}  // namespace
}  // namespace titand::policy
