// Reads one generated file of N task lines (default 1,000,000) with ingest::readNdjsonTasks,
// discarding each task, and prints the process's peak RSS before and after the read. The
// reader documents bounded memory (about one chunk plus one line), so the peak should not
// grow with the file.
// Usage: ndjson_read_rss [LINES] [DIR]. The file is written in DIR (default /tmp) and removed
// at the end.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ingest/ndjson_reader.h"
#include "task_lines.h"

namespace {

long peakRssKib() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux.
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t lines = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  std::string dir = argc > 2 ? argv[2] : "/tmp";
  std::string path = dir + "/titand-rss-" + std::to_string(::getpid()) + ".ndjson";
  if (lines == 0 || !titand::ingest::bench::writeTaskFile(path, lines)) {
    std::fprintf(stderr, "cannot write %llu lines to %s\n", static_cast<unsigned long long>(lines),
                 path.c_str());
    std::remove(path.c_str());
    return 1;
  }
  long rss_before = peakRssKib();

  uint64_t urls = 0;
  auto start = std::chrono::steady_clock::now();
  auto summary = titand::ingest::readNdjsonTasks(
      path, titand::ingest::ReaderOptions(),
      [&urls](uint64_t, titand::model::TaskSpec&& task) {
        urls += task.urls.size();
        return true;
      },
      [](titand::ingest::LineError&&) { return true; });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  long rss_after = peakRssKib();
  std::remove(path.c_str());

  if (!summary.isOk()) {
    std::fprintf(stderr, "read failed: %s\n", summary.status().toString().c_str());
    return 1;
  }
  const auto& read = summary.value();
  std::printf("lines %llu, tasks %llu, errors %llu, urls %llu, file bytes %llu\n",
              static_cast<unsigned long long>(read.lines_total),
              static_cast<unsigned long long>(read.tasks),
              static_cast<unsigned long long>(read.errors), static_cast<unsigned long long>(urls),
              static_cast<unsigned long long>(read.bytes));
  std::printf("read time %.2f s (%.0f lines/s, %.1f MB/s)\n", seconds, read.lines_total / seconds,
              read.bytes / seconds / 1e6);
  std::printf("peak RSS before the read %ld KiB, after the read %ld KiB\n", rss_before, rss_after);
  return read.tasks == lines && read.errors == 0 ? 0 : 1;
}
