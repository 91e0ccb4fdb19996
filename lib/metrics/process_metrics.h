// Process metrics: the standard process_* families, read from /proc at scrape time.
//
// Thread safety: any thread; the functions keep no state except a failure count for logging.
// Errors: readProcessStats returns a Status naming the file that could not be read or parsed.
// appendProcessMetrics logs that error (rate-limited) and appends nothing.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace titand::metrics {

struct ProcessStats {
  double cpu_seconds = 0;            // User plus system CPU time.
  double resident_memory_bytes = 0;  // Resident set size.
  double virtual_memory_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;             // Soft RLIMIT_NOFILE; +Inf when unlimited.
  double start_time_seconds = 0;  // Unix time the process started.
};

// Reads the stats of this process from /proc/self/stat, /proc/stat, /proc/self/fd and
// getrlimit.
Result<ProcessStats> readProcessStats();

// Appends process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and
// process_start_time_seconds, the names that Prometheus client libraries use. Suitable as a
// Registry collector.
void appendProcessMetrics(std::string* out);

}  // namespace titand::metrics
