#include "policy/backoff.h"

#include <algorithm>

namespace titand::policy {

Micros backoffCeiling(uint32_t retry_number, Micros base, Micros cap) {
  if (base <= 0 || cap <= 0) return 0;
  uint32_t doublings = retry_number <= 1 ? 0 : retry_number - 1;
  // base * 2^doublings > cap exactly when base > cap / 2^doublings, which cannot overflow.
  if (doublings >= 63 || base > (cap >> doublings)) return cap;
  return base << doublings;
}

Micros backoffDelay(uint32_t retry_number, Micros base, Micros cap, std::mt19937_64& rng) {
  Micros ceiling = backoffCeiling(retry_number, base, cap);
  if (ceiling == 0) return 0;
  std::uniform_int_distribution<Micros> distribution(0, ceiling);
  return distribution(rng);
}

}  // namespace titand::policy
