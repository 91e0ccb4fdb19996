#include "policy/retry_policy.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "policy/backoff.h"

namespace titand::policy {
namespace {

TEST(RetryPolicyTest, ClassifiesStatusCodes) {
  struct Case {
    long status;
    Outcome outcome;
  };
  const std::vector<Case> cases = {
      {200, Outcome::kSuccess}, {201, Outcome::kSuccess}, {204, Outcome::kSuccess},
      {299, Outcome::kSuccess}, {408, Outcome::kRetry},   {425, Outcome::kRetry},
      {429, Outcome::kRetry},   {500, Outcome::kRetry},   {502, Outcome::kRetry},
      {503, Outcome::kRetry},   {504, Outcome::kRetry},   {0, Outcome::kFail},
      {-1, Outcome::kFail},     {100, Outcome::kFail},    {199, Outcome::kFail},
      {300, Outcome::kFail},    {301, Outcome::kFail},    {304, Outcome::kFail},
      {400, Outcome::kFail},    {401, Outcome::kFail},    {403, Outcome::kFail},
      {404, Outcome::kFail},    {409, Outcome::kFail},    {410, Outcome::kFail},
      {422, Outcome::kFail},    {501, Outcome::kFail},    {505, Outcome::kFail},
      {599, Outcome::kFail},    {999, Outcome::kFail},
  };
  for (const Case& expected : cases) {
    SCOPED_TRACE(expected.status);
    EXPECT_EQ(classifyHttpStatus(expected.status), expected.outcome);
  }
}

constexpr RetryDelayConfig kConfig{
    .base = 500 * kMicrosPerMilli,
    .cap = 60 * kMicrosPerSecond,
    .retry_after_cap = 3600 * kMicrosPerSecond,
};

TEST(RetryPolicyTest, BackoffWithoutRetryAfter) {
  std::mt19937_64 rng(5);
  std::mt19937_64 reference(5);
  for (uint32_t retry = 1; retry <= 10; ++retry) {
    SCOPED_TRACE(retry);
    Micros delay = chooseRetryDelay(retry, std::nullopt, kConfig, rng);
    EXPECT_EQ(delay, backoffDelay(retry, kConfig.base, kConfig.cap, reference));
    EXPECT_LE(delay, backoffCeiling(retry, kConfig.base, kConfig.cap));
  }
}

TEST(RetryPolicyTest, LongerRetryAfterWins) {
  std::mt19937_64 rng(5);
  // The first retry backs off at most 500 ms.
  EXPECT_EQ(chooseRetryDelay(1, 120 * kMicrosPerSecond, kConfig, rng), 120 * kMicrosPerSecond);
}

TEST(RetryPolicyTest, ShorterRetryAfterLoses) {
  std::mt19937_64 rng(11);
  std::mt19937_64 reference(11);
  for (uint32_t retry = 1; retry <= 10; ++retry) {
    SCOPED_TRACE(retry);
    Micros backoff = backoffDelay(retry, kConfig.base, kConfig.cap, reference);
    EXPECT_EQ(chooseRetryDelay(retry, 0, kConfig, rng), backoff);
  }
}

TEST(RetryPolicyTest, RetryAfterCapped) {
  std::mt19937_64 rng(5);
  EXPECT_EQ(chooseRetryDelay(1, 7200 * kMicrosPerSecond, kConfig, rng), 3600 * kMicrosPerSecond);
}

TEST(RetryPolicyTest, CapBelowBackoffKeepsBackoff) {
  RetryDelayConfig config = kConfig;
  config.retry_after_cap = 0;  // Retry-After never lengthens the delay.
  std::mt19937_64 rng(8);
  std::mt19937_64 reference(8);
  Micros backoff = backoffDelay(10, config.base, config.cap, reference);
  EXPECT_EQ(chooseRetryDelay(10, 3600 * kMicrosPerSecond, config, rng), backoff);
}

}  // namespace
}  // namespace titand::policy
