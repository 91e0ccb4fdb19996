// EngineMetrics: the Prometheus series the scheduler, the committer and the file drop
// update, registered once at start.
// Thread safety: the counters are atomics, so any thread may update them.
#pragma once

#include <string>

#include "metrics/registry.h"

namespace titand::engine {

struct EngineMetrics {
  explicit EngineMetrics(metrics::Registry* registry, size_t max_host_labels);

  // Returns the counter of requests that ended with `status_class` ("2xx", "4xx", "5xx",
  // "error") for a host, the host label capped by max_host_labels.
  metrics::Counter& requests(const std::string& origin, const std::string& status_class);

  metrics::Registry* registry;
  metrics::LabelLimiter host_labels;
  metrics::Family<metrics::Counter>& requests_total;
  metrics::Counter& retries_total;
  metrics::Counter& items_succeeded_total;
  metrics::Counter& items_failed_total;
  metrics::Counter& host_holds_total;
  metrics::Histogram& request_duration_seconds;
  metrics::Counter& files_accepted_total;
  metrics::Counter& files_rejected_total;
  metrics::Counter& files_duplicate_total;
  metrics::Counter& lines_accepted_total;
  metrics::Counter& lines_rejected_total;
  metrics::Counter& wal_syncs_total;
  metrics::Counter& wal_sync_errors_total;
  metrics::Histogram& wal_sync_seconds;
  metrics::Counter& errors_total;
};

}  // namespace titand::engine
