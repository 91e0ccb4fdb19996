// Micro benchmarks of the file drop's parsing: one task line through ingest::parseTask, and a
// whole 100,000-line file through ingest::readNdjsonTasks (generated once under /tmp and
// removed at exit).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "ingest/ndjson_reader.h"
#include "ingest/task_parser.h"
#include "task_lines.h"

namespace titand::ingest {
namespace {

constexpr uint64_t kFileLines = 100'000;

// Argument: 0 for the README's example line, otherwise the payload size in bytes of a
// four-URL line.
void BM_ParseTask(benchmark::State& state) {
  std::string line = state.range(0) == 0 ? bench::smallTaskLine()
                                         : bench::taskLine(7, static_cast<size_t>(state.range(0)));
  simdjson::ondemand::parser parser;
  ParseLimits limits;
  for (auto _ : state) {
    ParseResult result = parseTask(line, limits, parser);
    if (!std::holds_alternative<model::TaskSpec>(result)) {
      state.SkipWithError("the benchmark line is not a valid task");
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * line.size()));
  state.counters["line_bytes"] = static_cast<double>(line.size());
}
BENCHMARK(BM_ParseTask)->Arg(0)->Arg(1024);

std::string& scratchDir() {
  static std::string dir = [] {
    std::string pattern = "/tmp/titand-ingest-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(1);
    }
    return pattern;
  }();
  return dir;
}

const std::string& taskFile() {
  static std::string path = [] {
    std::string file = scratchDir() + "/tasks.ndjson";
    if (!bench::writeTaskFile(file, kFileLines)) {
      std::perror("cannot write the task file");
      std::exit(1);
    }
    return file;
  }();
  return path;
}

// The file is in the page cache after the first run, so this is parse and hash speed, not
// disk speed.
void BM_ReadNdjsonFile(benchmark::State& state) {
  const std::string& path = taskFile();
  ReaderOptions options;
  uint64_t bytes = 0;
  for (auto _ : state) {
    uint64_t urls = 0;
    auto summary = readNdjsonTasks(
        path, options,
        [&urls](uint64_t, model::TaskSpec&& task) {
          urls += task.urls.size();
          return true;
        },
        [](LineError&&) { return true; });
    if (!summary.isOk() || summary.value().tasks != kFileLines || summary.value().errors != 0) {
      state.SkipWithError("the benchmark file did not read as all-valid tasks");
      break;
    }
    bytes = summary.value().bytes;
    benchmark::DoNotOptimize(urls);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFileLines));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["file_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ReadNdjsonFile)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace titand::ingest

// A main of our own, so the generated file is removed after the last benchmark.
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code error;
  std::filesystem::remove_all(titand::ingest::scratchDir(), error);
  return 0;
}
