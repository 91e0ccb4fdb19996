#include "engine/engine_metrics.h"

namespace titand::engine {
namespace {

const std::vector<double> kRequestBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10,   30};
const std::vector<double> kSyncBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                          0.01,   0.025,   0.05,   0.1,   0.25,   1};

}  // namespace

EngineMetrics::EngineMetrics(metrics::Registry* registry, size_t max_host_labels)
    : registry(registry),
      host_labels(max_host_labels),
      requests_total(registry->counter("titand_requests_total",
                                       "HTTP attempts by outcome class and target host",
                                       {"host", "class"})),
      retries_total(
          registry->counter("titand_retries_total", "Attempts that were scheduled for a retry")
              .noLabels()),
      items_succeeded_total(
          registry->counter("titand_items_succeeded_total", "Items that ended succeeded")
              .noLabels()),
      items_failed_total(
          registry->counter("titand_items_failed_total", "Items that ended failed").noLabels()),
      host_holds_total(registry
                           ->counter("titand_host_holds_total",
                                     "Times a host was held back by a Retry-After header")
                           .noLabels()),
      request_duration_seconds(registry
                                   ->histogram("titand_request_duration_seconds",
                                               "Duration of one HTTP attempt", {}, kRequestBuckets)
                                   .noLabels()),
      files_accepted_total(
          registry->counter("titand_spool_files_accepted_total", "Dropped files committed")
              .noLabels()),
      files_rejected_total(
          registry->counter("titand_spool_files_rejected_total", "Dropped files moved to failed/")
              .noLabels()),
      files_duplicate_total(registry
                                ->counter("titand_spool_files_duplicate_total",
                                          "Dropped files whose content was already committed")
                                .noLabels()),
      lines_accepted_total(
          registry->counter("titand_spool_lines_accepted_total", "Task lines committed")
              .noLabels()),
      lines_rejected_total(
          registry
              ->counter("titand_spool_lines_rejected_total", "Invalid task lines in rejected files")
              .noLabels()),
      wal_syncs_total(
          registry->counter("titand_wal_syncs_total", "Group commits written to RocksDB")
              .noLabels()),
      wal_sync_errors_total(
          registry->counter("titand_wal_sync_errors_total", "Group commits that failed")
              .noLabels()),
      wal_sync_seconds(registry
                           ->histogram("titand_wal_sync_seconds",
                                       "Latency of one group commit, WAL sync included", {},
                                       kSyncBuckets)
                           .noLabels()),
      errors_total(registry
                       ->counter("titand_errors_total",
                                 "Errors caught and handled (I/O, store, unexpected input)")
                       .noLabels()) {}

metrics::Counter& EngineMetrics::requests(const std::string& origin,
                                          const std::string& status_class) {
  return requests_total.labels({host_labels.map(origin), status_class});
}

}  // namespace titand::engine
