#include "ingest/file_ingest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include <simdjson.h>

#include "common/log.h"
#include "ingest/ndjson_reader.h"
#include "store/schema.h"

namespace titand::ingest {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxReportedErrors = 10000;

ReaderOptions readerOptions(const Config& config) {
  ReaderOptions options;
  options.max_line_bytes = config.spool.max_line_bytes;
  options.limits.max_urls_per_task = config.spool.max_urls_per_task;
  return options;
}

std::string lineMaterial(const std::string& sha, uint64_t line) {
  return sha + ":" + std::to_string(line);
}

Status syncDirectory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errorStatus(ErrorCode::kIo, "cannot open {}: {}", dir.string(), std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    return errorStatus(ErrorCode::kIo, "cannot sync {}: {}", dir.string(), std::strerror(errno));
  return Status::ok();
}

// Writes `text` to `target` through a temporary file, fsync and rename.
Status writeFileDurably(const fs::path& target, const std::string& text) {
  fs::path temp = target;
  temp += ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return errorStatus(ErrorCode::kIo, "cannot create {}: {}", temp.string(), std::strerror(errno));
  }
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return errorStatus(ErrorCode::kIo, "cannot write {}: {}", temp.string(),
                         std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return errorStatus(ErrorCode::kIo, "cannot sync {}", temp.string());
  std::error_code error;
  fs::rename(temp, target, error);
  if (error)
    return errorStatus(ErrorCode::kIo, "cannot rename {}: {}", temp.string(), error.message());
  return syncDirectory(target.parent_path());
}

// Returns `target` with `suffix` appended, shortened when the name would not fit in NAME_MAX
// with the ".tmp" of the atomic write: then the name is cut and ends in a hash of the whole.
fs::path reportPath(const fs::path& target, std::string_view suffix) {
  constexpr size_t kNameMax = 255;
  constexpr size_t kTempSuffix = 4;  // ".tmp"
  std::string name = target.filename().string();
  if (name.size() + suffix.size() + kTempSuffix <= kNameMax) {
    return target.parent_path() / (name + std::string(suffix));
  }
  uint64_t hash = 14695981039346656037ull;  // FNV-1a.
  for (unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  std::string tail = fmt::format("~{:016x}", hash);
  name.resize(kNameMax - suffix.size() - kTempSuffix - tail.size());
  return target.parent_path() / (name + tail + std::string(suffix));
}

// Returns `dir/name`, or `dir/name.N` when that name is taken.
fs::path freeName(const fs::path& dir, const std::string& name) {
  fs::path candidate = dir / name;
  for (int n = 1; fs::exists(candidate) && n < 100000; ++n) {
    candidate = dir / (name + "." + std::to_string(n));
  }
  return candidate;
}

Status moveInto(const fs::path& file, const fs::path& target) {
  std::error_code error;
  fs::rename(file, target, error);
  if (error) {
    return errorStatus(ErrorCode::kIo, "cannot move {} to {}: {}", file.string(), target.string(),
                       error.message());
  }
  TITAND_RETURN_IF_ERROR(syncDirectory(target.parent_path()));
  return syncDirectory(file.parent_path());
}

// A file's progress in the files family: "committing" while chunks go in, "done" once every
// line is committed, "receipted" once its first receipt is written and the file moved.
struct FileRecord {
  bool done = false;
  bool receipted = false;
  uint64_t next_line = 0;
  uint64_t tasks = 0;
  uint64_t items = 0;
};

FileRecord parseFileRecord(const std::string& json) {
  FileRecord record;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return record;
  std::string_view state;
  if (root["state"].get(state) == simdjson::SUCCESS) {
    record.receipted = state == "receipted";
    record.done = state == "done" || record.receipted;
  }
  uint64_t number = 0;
  if (root["next_line"].get(number) == simdjson::SUCCESS) record.next_line = number;
  if (root["tasks"].get(number) == simdjson::SUCCESS) record.tasks = number;
  if (root["items"].get(number) == simdjson::SUCCESS) record.items = number;
  return record;
}

std::string fileRecordJson(const std::string& name, std::string_view state, uint64_t next_line,
                           uint64_t tasks, uint64_t items, Micros now) {
  std::string out = "{\"file\":";
  model::appendJsonString(&out, name);
  out += fmt::format(
      ",\"state\":\"{}\",\"next_line\":{},\"tasks\":{},\"items\":{},"
      "\"updated_at\":\"{}\"}}",
      state, next_line, tasks, items, formatTimestamp(now));
  return out;
}

Result<FileResult> reject(const fs::path& path, const fs::path& failed_dir,
                          const std::vector<LineError>& errors, const ReadSummary& summary) {
  std::string report = "{\"file\":";
  model::appendJsonString(&report, path.filename().string());
  report += fmt::format(
      ",\"sha256\":\"{}\",\"lines\":{},\"invalid_lines\":{},"
      "\"reported\":{},\"queued\":0,\"errors\":[",
      summary.sha256_hex, summary.lines_total, summary.errors, errors.size());
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) report += ",";
    report += fmt::format("\n  {{\"line\":{},\"field\":", errors[i].line);
    model::appendJsonString(&report, errors[i].field);
    report += ",\"reason\":";
    model::appendJsonString(&report, errors[i].reason);
    report += "}";
  }
  report += "\n]}\n";
  fs::path target = freeName(failed_dir, path.filename().string());
  TITAND_RETURN_IF_ERROR(writeFileDurably(reportPath(target, ".errors.json"), report));
  TITAND_RETURN_IF_ERROR(moveInto(path, target));
  FileResult result;
  result.outcome = FileOutcome::kRejected;
  result.bad_lines = summary.errors;
  result.sha256_hex = summary.sha256_hex;
  return result;
}

}  // namespace

namespace {

// Size at which a file's write batch is committed even before commit_chunk_lines lines, so
// that memtable and batch memory stay bounded for files whose lines hold many URLs.
constexpr size_t kMaxChunkBytes = 16 << 20;

// Adds one valid line's task, execution, items and queue keys to a batch.
class ChunkBuilder {
 public:
  ChunkBuilder(const FileIngestDeps& deps, const std::string& sha, const std::string& file_name)
      : deps_(deps), sha_(sha), file_name_(file_name) {}

  void add(uint64_t line, model::TaskSpec&& spec, Micros now) {
    store::Store& store = *deps_.store;
    const Config::Engine& engine = deps_.config->engine;
    model::Task task;
    task.id = model::deriveId("task", lineMaterial(sha_, line));
    task.created_at = now;
    model::Execution execution;
    execution.id = model::deriveId("execution", lineMaterial(sha_, line));
    execution.task_id = task.id;
    execution.total_items = static_cast<uint32_t>(spec.urls.size());
    execution.created_at = now;
    execution.source = fmt::format("file {} line {}", file_name_, line);

    for (uint32_t index = 0; index < spec.urls.size(); ++index) {
      model::WorkItem item;
      item.key = {execution.id, index};
      item.task_id = task.id;
      auto origin = model::originOf(spec.urls[index]);
      item.host_id = store.hostIdFor(origin.isOk() ? origin.value() : spec.urls[index], &batch_);
      item.method = spec.payload_json.empty() ? "GET" : "POST";
      item.url = spec.urls[index];
      item.body = spec.payload_json;
      item.timeout_seconds = spec.limits.timeout_seconds.value_or(engine.default_timeout_seconds);
      item.max_retries = spec.limits.max_retries.value_or(engine.default_max_retries);
      item.queued_at = now;
      item.next_attempt_at = now;
      store.putItem(&batch_, item);
      batch_
          .Put(store.family(store::kQueueFamily), store::queueKey(item.host_id, now, item.key), "")
          .PermitUncheckedError();
      hosts_.insert(item.host_id);
    }
    store.addCount(&batch_, execution.id, model::ItemState::kQueued,
                   static_cast<int64_t>(spec.urls.size()));
    items_ += spec.urls.size();
    ++tasks_;
    task.spec = std::move(spec);
    batch_.Put(store.family(store::kTasksFamily), store::idKey(task.id), task.toJson())
        .PermitUncheckedError();
    batch_
        .Put(store.family(store::kExecutionsFamily), store::idKey(execution.id), execution.toJson())
        .PermitUncheckedError();
  }

  // Writes the batch with the file record; returns after it is durable.
  Status commit(bool done, uint64_t next_line, Micros now) {
    batch_
        .Put(deps_.store->family(store::kFilesFamily), sha_,
             fileRecordJson(file_name_, done ? "done" : "committing", next_line, tasks_, items_,
                            now))
        .PermitUncheckedError();
    TITAND_RETURN_IF_ERROR(deps_.store->write(&batch_));
    batch_.Clear();
    if (!hosts_.empty() && deps_.on_chunk_committed) {
      deps_.on_chunk_committed(std::vector<uint32_t>(hosts_.begin(), hosts_.end()), now);
    }
    hosts_.clear();
    chunk_lines_ = 0;
    return Status::ok();
  }

  // Returns true when the batch should be committed before another line is added: after
  // `max_lines` lines, or once it contains kMaxChunkBytes, since one line may carry many URLs.
  bool full(uint64_t max_lines) const {
    return chunk_lines_ >= max_lines || batch_.GetDataSize() >= kMaxChunkBytes;
  }
  void countLine() { ++chunk_lines_; }
  uint64_t tasks() const { return tasks_; }
  uint64_t items() const { return items_; }

 private:
  const FileIngestDeps& deps_;
  const std::string& sha_;
  const std::string& file_name_;
  rocksdb::WriteBatch batch_;
  std::set<uint32_t> hosts_;
  uint64_t chunk_lines_ = 0;
  uint64_t tasks_ = 0;
  uint64_t items_ = 0;
};

Status commitFile(const fs::path& path, const std::string& sha, uint64_t from_line,
                  const FileIngestDeps& deps, FileResult* result) {
  std::string name = path.filename().string();
  ChunkBuilder builder(deps, sha, name);
  Status failure;
  bool interrupted = false;
  uint64_t chunk = deps.config->spool.commit_chunk_lines;
  auto on_task = [&](uint64_t line, model::TaskSpec&& spec) {
    if (line < from_line) return true;
    if (builder.full(chunk)) {
      if (deps.stop_requested->load()) {
        interrupted = true;
        return false;
      }
      failure = builder.commit(false, line, deps.clock->nowMicros());
      if (!failure.isOk()) return false;
    }
    builder.add(line, std::move(spec), deps.clock->nowMicros());
    builder.countLine();
    return true;
  };
  auto on_error = [&](LineError&& error) {
    failure = errorStatus(ErrorCode::kInvalidArgument,
                          "{} changed while it was being committed: line {} is now invalid",
                          path.string(), error.line);
    return false;
  };
  auto summary = readNdjsonTasks(path.string(), readerOptions(*deps.config), on_task, on_error);
  if (!summary.isOk()) return summary.status();
  TITAND_RETURN_IF_ERROR(failure);
  if (interrupted) {
    result->outcome = FileOutcome::kInterrupted;
    return Status::ok();
  }
  TITAND_RETURN_IF_ERROR(
      builder.commit(true, summary.value().lines_total + 1, deps.clock->nowMicros()));
  result->outcome = FileOutcome::kCommitted;
  result->tasks = builder.tasks();
  result->items = builder.items();
  return Status::ok();
}

// Streams done/<name>.receipt.json: each task line with its task id and execution id.
Status writeReceipt(const fs::path& path, const fs::path& target, const std::string& sha,
                    bool duplicate, const FileIngestDeps& deps) {
  fs::path receipt = reportPath(target, ".receipt.json");
  fs::path temp = receipt.string() + ".tmp";
  FILE* out = std::fopen(temp.c_str(), "we");
  if (out == nullptr) {
    return errorStatus(ErrorCode::kIo, "cannot create {}: {}", temp.string(), std::strerror(errno));
  }
  std::string head = "{\"file\":";
  model::appendJsonString(&head, path.filename().string());
  head += fmt::format(",\"sha256\":\"{}\",\"duplicate\":{},\"tasks\":[", sha,
                      duplicate ? "true" : "false");
  std::fputs(head.c_str(), out);
  uint64_t tasks = 0, items = 0;
  auto on_task = [&](uint64_t line, model::TaskSpec&& spec) {
    std::string material = lineMaterial(sha, line);
    std::fprintf(
        out, "%s\n  {\"line\":%llu,\"task_id\":\"%s\",\"execution_id\":\"%s\",\"items\":%zu}",
        tasks == 0 ? "" : ",", static_cast<unsigned long long>(line),
        model::idToString(model::deriveId("task", material)).c_str(),
        model::idToString(model::deriveId("execution", material)).c_str(), spec.urls.size());
    ++tasks;
    items += spec.urls.size();
    return true;
  };
  auto summary = readNdjsonTasks(path.string(), readerOptions(*deps.config), on_task,
                                 [](LineError&&) { return false; });
  std::fprintf(out, "\n],\"task_count\":%llu,\"item_count\":%llu}\n",
               static_cast<unsigned long long>(tasks), static_cast<unsigned long long>(items));
  bool ok = std::fflush(out) == 0 && ::fsync(fileno(out)) == 0;
  std::fclose(out);
  if (!summary.isOk()) return summary.status();
  if (!ok) return errorStatus(ErrorCode::kIo, "cannot write {}", temp.string());
  std::error_code error;
  fs::rename(temp, receipt, error);
  if (error)
    return errorStatus(ErrorCode::kIo, "cannot rename {}: {}", temp.string(), error.message());
  return Status::ok();
}

}  // namespace

Result<FileResult> ingestFile(const fs::path& path, const fs::path& done_dir,
                              const fs::path& failed_dir, const FileIngestDeps& deps) {
  std::vector<LineError> errors;
  auto summary = readNdjsonTasks(
      path.string(), readerOptions(*deps.config), [](uint64_t, model::TaskSpec&&) { return true; },
      [&errors](LineError&& error) {
        if (errors.size() < kMaxReportedErrors) errors.push_back(std::move(error));
        return true;
      });
  if (!summary.isOk()) return summary.status();
  const std::string& sha = summary.value().sha256_hex;
  if (summary.value().errors > 0) return reject(path, failed_dir, errors, summary.value());

  auto record = deps.store->getFileRecord(sha);
  if (!record.isOk()) return record.status();
  FileRecord existing = record.value() ? parseFileRecord(*record.value()) : FileRecord{};
  FileResult result;
  result.sha256_hex = sha;
  if (existing.receipted) {
    result.outcome = FileOutcome::kDuplicate;
  } else if (existing.done) {
    // Committed before, but the receipt or the move failed (a crash, a read-only done/):
    // this is still the first delivery of the content, not a duplicate.
    result.outcome = FileOutcome::kCommitted;
    result.tasks = existing.tasks;
    result.items = existing.items;
  } else {
    TITAND_RETURN_IF_ERROR(commitFile(path, sha, existing.next_line, deps, &result));
    if (result.outcome == FileOutcome::kInterrupted) return result;
  }
  fs::path target = freeName(done_dir, path.filename().string());
  bool duplicate = result.outcome == FileOutcome::kDuplicate;
  TITAND_RETURN_IF_ERROR(writeReceipt(path, target, sha, duplicate, deps));
  TITAND_RETURN_IF_ERROR(moveInto(path, target));
  if (!duplicate) {
    rocksdb::WriteBatch batch;
    batch
        .Put(deps.store->family(store::kFilesFamily), sha,
             fileRecordJson(path.filename().string(), "receipted", summary.value().lines_total + 1,
                            result.tasks, result.items, deps.clock->nowMicros()))
        .PermitUncheckedError();
    TITAND_RETURN_IF_ERROR(deps.store->write(&batch));
  }
  return result;
}

}  // namespace titand::ingest
