// Result export: turns the result records of one execution into NDJSON or CSV, chunk by
// chunk, from a RocksDB iterator over the "results" column family.
//
// An ExportCursor holds one iterator, so an export never has the whole result set in memory
// and each chunk reads a bounded number of records. The CSV form is RFC 4180: a header row,
// CRLF line ends, and fields quoted when they contain a comma, a double quote, CR or LF.
// Thread safety: an ExportCursor belongs to one thread. The free functions are pure.
// Errors: parseExportFormat returns kInvalidArgument naming the allowed values;
// ExportCursor::appendChunk returns kIo when RocksDB fails and kUnavailable after release().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <rocksdb/db.h>
#include <simdjson.h>

#include "common/status.h"
#include "model/model.h"
#include "store/store.h"

namespace titand::api {

enum class ExportFormat { kNdjson, kCsv };

// Parses the `format` query value: "ndjson" or "csv".
Result<ExportFormat> parseExportFormat(std::string_view text);

const char* exportFormatName(ExportFormat format);   // "ndjson" or "csv"
const char* exportContentType(ExportFormat format);  // "application/x-ndjson" or "text/csv"

// The CSV header row, CRLF included.
std::string_view csvHeader();

// Appends one CSV field, quoted and with doubled quotes when RFC 4180 requires it.
void appendCsvField(std::string* out, std::string_view field);

// Appends the CSV row of one result record. A record that is not a JSON object yields a row
// with only `key_index` and an error column saying so; the function then returns false.
bool appendCsvRow(std::string* out, std::string_view result_json, uint32_t key_index,
                  simdjson::dom::parser* parser);

// Size limits of one chunk. A chunk ends when either limit is reached, and it contains at
// least one record even when that record alone is larger than max_bytes.
struct ChunkLimits {
  size_t max_bytes = 64 * 1024;
  size_t max_records = 500;
};

class ExportCursor {
 public:
  // Positions an iterator at the first result of `execution`. The store must outlive the
  // cursor or its release().
  ExportCursor(store::Store* store, const model::Id& execution, ExportFormat format);
  ~ExportCursor();
  ExportCursor(const ExportCursor&) = delete;
  ExportCursor& operator=(const ExportCursor&) = delete;

  // Appends the next records to `out` (the CSV header first). After the last record,
  // finished() turns true; a call after that appends nothing.
  Status appendChunk(std::string* out, const ChunkLimits& limits);

  bool finished() const { return finished_; }
  uint64_t recordsWritten() const { return records_; }

  // Frees the iterator now, so the store may close while the export is still referenced.
  void release();

 private:
  void appendRecord(std::string* out, std::string_view key, std::string_view value);

  model::Id execution_;
  ExportFormat format_;
  std::string prefix_;
  std::string upper_bound_;
  rocksdb::Slice upper_bound_slice_;
  std::unique_ptr<rocksdb::Iterator> iterator_;
  simdjson::dom::parser parser_;
  bool header_written_ = false;
  bool finished_ = false;
  bool released_ = false;
  bool logged_invalid_record_ = false;
  uint64_t records_ = 0;
};

}  // namespace titand::api
