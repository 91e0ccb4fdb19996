// File ingest: validation, commit and the receipt or error report of one dropped file.
// Runs on the spool thread; see spool.h for the guarantees.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "engine/engine_metrics.h"
#include "store/store.h"

namespace titand::ingest {

enum class FileOutcome { kCommitted, kDuplicate, kRejected, kInterrupted };

struct FileIngestDeps {
  store::Store* store;
  const Config* config;
  engine::EngineMetrics* metrics;
  const Clock* clock;
  // Called after each durable chunk with the hosts that got queue keys and their due time.
  std::function<void(const std::vector<uint32_t>& hosts, Micros due)> on_chunk_committed;
  const std::atomic<bool>* stop_requested;
};

struct FileResult {
  FileOutcome outcome = FileOutcome::kInterrupted;
  uint64_t tasks = 0;
  uint64_t items = 0;
  uint64_t bad_lines = 0;
  std::string sha256_hex;
};

// Validates, commits and files away `path` (in incoming/), writing the receipt to `done_dir`
// or the error report to `failed_dir`.
Result<FileResult> ingestFile(const std::filesystem::path& path,
                              const std::filesystem::path& done_dir,
                              const std::filesystem::path& failed_dir, const FileIngestDeps& deps);

}  // namespace titand::ingest
