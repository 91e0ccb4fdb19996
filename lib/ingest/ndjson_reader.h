// NDJSON reader: streams one dropped task file through the task parser in a single pass with
// bounded memory, calling back for each task and each error in line order, and hashing the raw
// bytes (SHA-256) on the way.
//
// File format: one JSON task object per line. A UTF-8 byte order mark at the start is skipped,
// "\r\n" line ends are accepted, blank and whitespace-only lines are skipped but still counted,
// and the last line may lack its newline.
// Errors: problems in the content reach `on_error` as LineErrors; only I/O failures (and a
// failed libsodium start) make readNdjsonTasks return an error Status.
// Thread safety: each call is independent; the callbacks run on the calling thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "ingest/task_parser.h"
#include "model/model.h"

namespace titand::ingest {

struct LineError {
  uint64_t line;  // 1-based; 0 for an error about the whole file.
  std::string field;
  std::string reason;
};

struct ReaderOptions {
  uint64_t max_line_bytes = 1 << 20;  // Bytes before the "\n"; a "\r" counts.
  size_t chunk_bytes = 8 << 20;       // Bytes read and parsed per step.
  ParseLimits limits;
};

// Return false to stop reading.
using OnTask = std::function<bool(uint64_t line, model::TaskSpec&& task)>;
using OnError = std::function<bool(LineError&& error)>;

struct ReadSummary {
  uint64_t lines_total = 0;  // Lines read, blank ones included.
  uint64_t tasks = 0;        // Valid task lines.
  // Invalid lines, plus one for a file that contains no tasks at all (the line 0 error).
  uint64_t errors = 0;
  uint64_t bytes = 0;      // File bytes read, the byte order mark included.
  std::string sha256_hex;  // Of the whole file; empty when stopped_early.
  bool stopped_early = false;
};

// Streams the file once with bounded memory (about chunk_bytes plus one line, plus the simdjson
// parser's buffers), calling the callbacks in line order. A line with several problems produces
// one on_error call per problem. Each chunk goes through a simdjson document stream; a chunk
// where the stream meets anything unexpected (broken JSON, two documents on one line, a document
// across lines) is checked again line by line from that point, so each line gets its own errors.
Result<ReadSummary> readNdjsonTasks(const std::string& path, const ReaderOptions& options,
                                    const OnTask& on_task, const OnError& on_error);

}  // namespace titand::ingest
