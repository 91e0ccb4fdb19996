#include "policy/retry_after.h"

#include <curl/curl.h>

#include <cctype>
#include <string>

namespace titand::policy {
namespace {

std::string_view trimSpaces(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

bool isAsciiDigit(char c) { return c >= '0' && c <= '9'; }

std::optional<Micros> parseDeltaSeconds(std::string_view digits) {
  Micros seconds = 0;
  for (char c : digits) {
    seconds = seconds * 10 + (c - '0');
    if (seconds > kMaxRetryAfterSeconds) return std::nullopt;
  }
  return seconds * kMicrosPerSecond;
}

std::optional<Micros> parseHttpDate(std::string_view text, Micros now) {
  // HTTP-dates start with a day name. Checking that first keeps curl_getdate, which is
  // lenient, from reading stray numbers such as "-5" or "1.5" as dates.
  if (text.size() < 3 || !std::isalpha(static_cast<unsigned char>(text[0]))) {
    return std::nullopt;
  }
  // NOTE: curl_getdate (libcurl 7.88) accepts all three HTTP-date forms but also ignores
  // some trailing text and takes impossible days such as 31 Feb, so a few malformed dates
  // still yield a delay.
  time_t date = curl_getdate(std::string(text).c_str(), nullptr);
  if (date < 0) return std::nullopt;
  Micros now_seconds = now / kMicrosPerSecond;
  Micros seconds = static_cast<Micros>(date) - now_seconds;
  if (seconds > kMaxRetryAfterSeconds) return std::nullopt;
  Micros delay = static_cast<Micros>(date) * kMicrosPerSecond - now;
  return delay > 0 ? delay : 0;
}

}  // namespace

std::optional<Micros> parseRetryAfter(std::string_view header_value, Micros now) {
  std::string_view value = trimSpaces(header_value);
  if (value.empty()) return std::nullopt;
  bool all_digits = true;
  for (char c : value) all_digits = all_digits && isAsciiDigit(c);
  if (all_digits) return parseDeltaSeconds(value);
  return parseHttpDate(value, now);
}

}  // namespace titand::policy
