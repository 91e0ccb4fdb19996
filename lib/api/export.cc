#include "api/export.h"

#include "common/log.h"
#include "store/schema.h"

namespace titand::api {
namespace {

constexpr std::string_view kCsvHeader =
    "item_index,url,method,state,http_status,attempts,queued_at,first_attempt_at,finished_at,"
    "duration_ms,error,body\r\n";

// Returns the smallest key greater than every key that starts with `prefix`, or "" when no
// such key exists (a prefix of only 0xff bytes).
std::string prefixUpperBound(std::string prefix) {
  while (!prefix.empty()) {
    auto last = static_cast<uint8_t>(prefix.back());
    if (last != 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

// Appends the CSV form of a JSON value: strings unescaped, null or missing as an empty
// field, anything else as its minified JSON text.
void appendJsonField(std::string* out, simdjson::simdjson_result<simdjson::dom::element> field) {
  simdjson::dom::element element;
  if (field.get(element) != simdjson::SUCCESS || element.is_null()) {
    out->push_back(',');
    return;
  }
  std::string_view text;
  std::string serialized;
  if (element.get_string().get(text) != simdjson::SUCCESS) {
    serialized = simdjson::minify(element);
    text = serialized;
  }
  out->push_back(',');
  appendCsvField(out, text);
}

}  // namespace

Result<ExportFormat> parseExportFormat(std::string_view text) {
  if (text == "ndjson") return ExportFormat::kNdjson;
  if (text == "csv") return ExportFormat::kCsv;
  std::string quoted;
  model::appendJsonString(&quoted, text);
  return errorStatus(ErrorCode::kInvalidArgument, "invalid format {}: expected ndjson or csv",
                     quoted);
}

const char* exportFormatName(ExportFormat format) {
  return format == ExportFormat::kCsv ? "csv" : "ndjson";
}

const char* exportContentType(ExportFormat format) {
  return format == ExportFormat::kCsv ? "text/csv; charset=utf-8" : "application/x-ndjson";
}

std::string_view csvHeader() { return kCsvHeader; }

void appendCsvField(std::string* out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

bool appendCsvRow(std::string* out, std::string_view result_json, uint32_t key_index,
                  simdjson::dom::parser* parser) {
  simdjson::dom::object record;
  if (parser->parse(result_json.data(), result_json.size()).get(record) != simdjson::SUCCESS) {
    // Ten empty fields between the index and the error column, then an empty body.
    out->append(std::to_string(key_index));
    out->append(",,,,,,,,,,stored result record is not a valid JSON object,\r\n");
    return false;
  }
  uint64_t index = key_index;
  if (record["item_index"].get(index) != simdjson::SUCCESS) index = key_index;
  out->append(std::to_string(index));
  for (const char* name : {"url", "method", "state", "http_status", "attempts"}) {
    appendJsonField(out, record[name]);
  }
  auto timings = record["timings"];
  for (const char* name : {"queued_at", "first_attempt_at", "finished_at", "duration_ms"}) {
    appendJsonField(out, timings[name]);
  }
  appendJsonField(out, record["error"]);
  appendJsonField(out, record["body"]);
  out->append("\r\n");
  return true;
}

ExportCursor::ExportCursor(store::Store* store, const model::Id& execution, ExportFormat format)
    : execution_(execution), format_(format), prefix_(store::idKey(execution)) {
  rocksdb::ReadOptions options;
  // A long export would otherwise push the engine's hot blocks out of the block cache.
  options.fill_cache = false;
  upper_bound_ = prefixUpperBound(prefix_);
  if (!upper_bound_.empty()) {
    upper_bound_slice_ = rocksdb::Slice(upper_bound_);
    options.iterate_upper_bound = &upper_bound_slice_;
  }
  iterator_.reset(store->db()->NewIterator(options, store->family(store::kResultsFamily)));
  iterator_->Seek(prefix_);
}

ExportCursor::~ExportCursor() = default;

void ExportCursor::release() {
  iterator_.reset();
  released_ = true;
}

Status ExportCursor::appendChunk(std::string* out, const ChunkLimits& limits) {
  if (finished_) return Status::ok();
  if (released_) {
    return errorStatus(ErrorCode::kUnavailable, "export of execution {} was stopped",
                       model::idToString(execution_));
  }
  if (format_ == ExportFormat::kCsv && !header_written_) {
    out->append(kCsvHeader);
    header_written_ = true;
  }
  size_t appended = 0;
  while (appended < limits.max_records && (appended == 0 || out->size() < limits.max_bytes)) {
    if (!iterator_->Valid() || !iterator_->key().starts_with(prefix_)) break;
    appendRecord(out, iterator_->key().ToStringView(), iterator_->value().ToStringView());
    ++appended;
    iterator_->Next();
  }
  if (!iterator_->status().ok()) {
    return errorStatus(ErrorCode::kIo, "cannot read results of execution {}: {}",
                       model::idToString(execution_), iterator_->status().ToString());
  }
  if (!iterator_->Valid() || !iterator_->key().starts_with(prefix_)) {
    finished_ = true;
    iterator_.reset();
  }
  return Status::ok();
}

void ExportCursor::appendRecord(std::string* out, std::string_view key, std::string_view value) {
  ++records_;
  if (format_ == ExportFormat::kNdjson) {
    out->append(value);
    out->push_back('\n');
    return;
  }
  Result<model::ItemKey> item = model::ItemKey::decode(key);
  uint32_t index = item.isOk() ? item->index : 0;
  if (!appendCsvRow(out, value, index, &parser_) && !logged_invalid_record_) {
    logged_invalid_record_ = true;
    componentLogger("api")->warn(
        "result record {}/{} is not a valid JSON object; its CSV row contains only the index",
        model::idToString(execution_), index);
  }
}

}  // namespace titand::api
