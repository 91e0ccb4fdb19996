// Throughput of TokenBucket::tryTake, which the engine calls once per request it claims.
#include <benchmark/benchmark.h>

#include "policy/token_bucket.h"

namespace titand::policy {
namespace {

constexpr Micros kStart = 1'000'000'000;

// A limited bucket that always has a token: 1 us per call at 2 million tokens per second.
void BM_TryTakeGranted(benchmark::State& state) {
  TokenBucket bucket(2'000'000.0, 1000);
  Micros now = kStart;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bucket.tryTake(now));
    now += 1;
  }
}
BENCHMARK(BM_TryTakeGranted);

// A slow bucket that is empty nearly every call.
void BM_TryTakeDenied(benchmark::State& state) {
  TokenBucket bucket(1.0, 1);
  Micros now = kStart;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bucket.tryTake(now));
    now += 1;
  }
}
BENCHMARK(BM_TryTakeDenied);

void BM_TryTakeUnlimited(benchmark::State& state) {
  TokenBucket bucket(0.0, 1);
  Micros now = kStart;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bucket.tryTake(now));
    now += 1;
  }
}
BENCHMARK(BM_TryTakeUnlimited);

void BM_NextAvailableEmpty(benchmark::State& state) {
  TokenBucket bucket(10.0, 1);
  bucket.tryTake(kStart);
  Micros now = kStart;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bucket.nextAvailable(now));
    now += 1;
  }
}
BENCHMARK(BM_NextAvailableEmpty);

}  // namespace
}  // namespace titand::policy
