#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "metrics/registry.h"

namespace titand::metrics {
namespace {

// Fields of /proc/self/stat counted from 1, as proc(5) numbers them.
constexpr size_t kStatUtime = 14;
constexpr size_t kStatStime = 15;
constexpr size_t kStatStartTime = 22;
constexpr size_t kStatVsize = 23;
constexpr size_t kStatRss = 24;

Result<std::string> readSmallFile(const char* path) {
  std::FILE* file = std::fopen(path, "re");
  if (file == nullptr) {
    return errorStatus(ErrorCode::kIo, "failed to open {}: {}", path, std::strerror(errno));
  }
  std::string text;
  char buffer[4096];
  size_t read_bytes;
  while ((read_bytes = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    text.append(buffer, read_bytes);
  }
  bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return errorStatus(ErrorCode::kIo, "failed to read {}", path);
  return text;
}

bool parseUnsigned(std::string_view text, uint64_t* value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

// Splits the fields after the command name, which is in parentheses and may itself contain
// spaces and parentheses, so the split starts after the last ')'. Element 0 is field 3.
std::vector<std::string_view> statFieldsAfterCommand(std::string_view stat) {
  std::vector<std::string_view> fields;
  size_t pos = stat.rfind(')');
  if (pos == std::string_view::npos) return fields;
  pos = stat.find_first_not_of(' ', pos + 1);
  while (pos != std::string_view::npos) {
    size_t end = stat.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = stat.size();
    fields.push_back(stat.substr(pos, end - pos));
    pos = stat.find_first_not_of(" \n", end);
  }
  return fields;
}

Result<uint64_t> readBootTimeSeconds() {
  Result<std::string> text = readSmallFile("/proc/stat");
  if (!text.isOk()) return text.status();
  std::string_view view = *text;
  constexpr std::string_view kKey = "\nbtime ";
  size_t pos = view.find(kKey);
  uint64_t boot_time = 0;
  if (pos != std::string_view::npos) {
    size_t start = pos + kKey.size();
    size_t end = view.find('\n', start);
    if (parseUnsigned(view.substr(start, end - start), &boot_time)) return boot_time;
  }
  return errorStatus(ErrorCode::kCorruption, "no valid btime line in /proc/stat");
}

// Fills CPU time, memory and start time from /proc/self/stat.
Status readStat(ProcessStats* stats) {
  Result<std::string> text = readSmallFile("/proc/self/stat");
  if (!text.isOk()) return text.status();
  std::vector<std::string_view> fields = statFieldsAfterCommand(*text);
  auto field = [&fields](size_t number, uint64_t* value) {
    return number - 3 < fields.size() && parseUnsigned(fields[number - 3], value);
  };
  uint64_t utime, stime, start_ticks, vsize, rss_pages;
  if (!field(kStatUtime, &utime) || !field(kStatStime, &stime) ||
      !field(kStatStartTime, &start_ticks) || !field(kStatVsize, &vsize) ||
      !field(kStatRss, &rss_pages)) {
    return errorStatus(ErrorCode::kCorruption, "unexpected format of /proc/self/stat: {}", *text);
  }
  Result<uint64_t> boot_time = readBootTimeSeconds();
  if (!boot_time.isOk()) return boot_time.status();

  double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  stats->cpu_seconds = static_cast<double>(utime + stime) / ticks_per_second;
  stats->resident_memory_bytes =
      static_cast<double>(rss_pages) * static_cast<double>(sysconf(_SC_PAGESIZE));
  stats->virtual_memory_bytes = static_cast<double>(vsize);
  stats->start_time_seconds =
      static_cast<double>(*boot_time) + static_cast<double>(start_ticks) / ticks_per_second;
  return Status::ok();
}

// Counts the entries of /proc/self/fd, leaving out the descriptor used to list them.
Result<uint64_t> countOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return errorStatus(ErrorCode::kIo, "failed to open /proc/self/fd: {}", std::strerror(errno));
  }
  std::string own_fd = std::to_string(dirfd(dir));
  uint64_t count = 0;
  while (const dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == ".." || name == own_fd) continue;
    ++count;
  }
  closedir(dir);
  return count;
}

double readMaxFds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<double>::infinity();
  }
  return static_cast<double>(limit.rlim_cur);
}

void logReadFailure(const Status& status) {
  static std::atomic<uint64_t> failures{0};
  uint64_t count = ++failures;
  if (count == 1 || count % 100 == 0) {
    componentLogger("metrics")->warn(
        "process metrics left out of the scrape, failure {} so far: {}", count, status.toString());
  }
}

}  // namespace

Result<ProcessStats> readProcessStats() {
  ProcessStats stats;
  TITAND_RETURN_IF_ERROR(readStat(&stats));
  Result<uint64_t> open_fds = countOpenFds();
  if (!open_fds.isOk()) return open_fds.status();
  stats.open_fds = static_cast<double>(*open_fds);
  stats.max_fds = readMaxFds();
  return stats;
}

void appendProcessMetrics(std::string* out) {
  Result<ProcessStats> stats = readProcessStats();
  if (!stats.isOk()) {
    logReadFailure(stats.status());
    return;
  }
  appendCounterFamily(out, "process_cpu_seconds_total",
                      "User and system CPU time used by the process, in seconds.",
                      {{{}, stats->cpu_seconds}});
  appendGaugeFamily(out, "process_resident_memory_bytes",
                    "Resident set size of the process, in bytes.",
                    {{{}, stats->resident_memory_bytes}});
  appendGaugeFamily(out, "process_virtual_memory_bytes",
                    "Virtual memory size of the process, in bytes.",
                    {{{}, stats->virtual_memory_bytes}});
  appendGaugeFamily(out, "process_open_fds", "File descriptors the process has open.",
                    {{{}, stats->open_fds}});
  appendGaugeFamily(out, "process_max_fds", "Soft limit on open file descriptors (RLIMIT_NOFILE).",
                    {{{}, stats->max_fds}});
  appendGaugeFamily(out, "process_start_time_seconds",
                    "Time the process started, in seconds since the Unix epoch.",
                    {{{}, stats->start_time_seconds}});
}

}  // namespace titand::metrics
