#include "policy/retry_after.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace titand::policy {
namespace {

// Sun, 06 Nov 1994 08:49:37 GMT as seconds since the Unix epoch.
constexpr Micros kDateSeconds = 784111777;
// 100.25 seconds before that date, so a date delay also checks sub-second rounding.
constexpr Micros kNow = (kDateSeconds - 101) * kMicrosPerSecond + 750'000;
constexpr Micros kDelayToDate = 100'250'000;

TEST(RetryAfterTest, DeltaSeconds) {
  EXPECT_EQ(parseRetryAfter("120", kNow), 120 * kMicrosPerSecond);
  EXPECT_EQ(parseRetryAfter("0", kNow), 0);
  EXPECT_EQ(parseRetryAfter("007", kNow), 7 * kMicrosPerSecond);
  EXPECT_EQ(parseRetryAfter("2147483647", kNow), Micros{2147483647} * kMicrosPerSecond);
}

TEST(RetryAfterTest, SurroundingWhitespaceAllowed) {
  EXPECT_EQ(parseRetryAfter("  120", kNow), 120 * kMicrosPerSecond);
  EXPECT_EQ(parseRetryAfter("120 \t", kNow), 120 * kMicrosPerSecond);
  EXPECT_EQ(parseRetryAfter("\t 5 ", kNow), 5 * kMicrosPerSecond);
  EXPECT_EQ(parseRetryAfter("  Sun, 06 Nov 1994 08:49:37 GMT  ", kNow), kDelayToDate);
}

TEST(RetryAfterTest, ImfFixdate) {
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow), kDelayToDate);
}

TEST(RetryAfterTest, Rfc850Date) {
  EXPECT_EQ(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", kNow), kDelayToDate);
}

TEST(RetryAfterTest, AsctimeDate) {
  EXPECT_EQ(parseRetryAfter("Sun Nov  6 08:49:37 1994", kNow), kDelayToDate);
}

TEST(RetryAfterTest, DateOneHourAhead) {
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 09:49:37 GMT", kDateSeconds * kMicrosPerSecond),
            3600 * kMicrosPerSecond);
}

TEST(RetryAfterTest, PastDateGivesZero) {
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", (kDateSeconds + 1) * kMicrosPerSecond),
            0);
  EXPECT_EQ(parseRetryAfter("Thu, 01 Jan 1970 00:00:01 GMT", kNow), 0);
  // The same second as now, but now is past the start of that second.
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kDateSeconds * kMicrosPerSecond + 1),
            0);
}

TEST(RetryAfterTest, GarbageRejected) {
  const std::vector<std::string> values = {
      "",    "   ", "soon",  "-5",    "+5",      "1.5",    "12 s", "0x10",
      "1e3", "Sun", "10:00", "abc12", "\"120\"", "120,30", "١٢٠",  "Sun, 99 Foo 1994"};
  for (const std::string& value : values) {
    SCOPED_TRACE(value);
    EXPECT_EQ(parseRetryAfter(value, kNow), std::nullopt);
  }
}

TEST(RetryAfterTest, HugeNumbersRejected) {
  EXPECT_EQ(parseRetryAfter("2147483648", kNow), std::nullopt);
  EXPECT_EQ(parseRetryAfter("9223372036854775807", kNow), std::nullopt);
  EXPECT_EQ(parseRetryAfter("99999999999999999999999999999999", kNow), std::nullopt);
}

TEST(RetryAfterTest, FarFutureDateRejected) {
  EXPECT_EQ(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", kNow), std::nullopt);
}

}  // namespace
}  // namespace titand::policy
