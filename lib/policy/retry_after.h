// Parsing of the HTTP Retry-After response header (RFC 9110, section 10.2.3).
//
// Returns std::nullopt for a value it cannot use. Nothing here logs or throws.
// Thread safety: safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/clock.h"

namespace titand::policy {

// Maximum delay accepted from a Retry-After value, 2^31 - 1 seconds (about 68 years).
// Larger values are treated as invalid, which also keeps now + delay from overflowing.
constexpr int64_t kMaxRetryAfterSeconds = 2147483647;

// Returns the delay from `now` that a Retry-After value requests. The value is either
// delta-seconds ("120") or an HTTP-date in IMF-fixdate, RFC 850 or asctime form, with
// optional surrounding spaces and tabs. A date in the past gives 0. Returns std::nullopt
// for an empty value, garbage, a signed or fractional number, or a delay above
// kMaxRetryAfterSeconds.
std::optional<Micros> parseRetryAfter(std::string_view header_value, Micros now);

}  // namespace titand::policy
