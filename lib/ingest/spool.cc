#include "ingest/spool.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "ingest/file_ingest.h"
#include "store/store.h"

namespace titand::ingest {
namespace {

namespace fs = std::filesystem;

// Time a file in incoming/ must go unmodified before it is ingested.
constexpr std::chrono::milliseconds kSettleTime{1000};
// Names of ignored entries remembered so that each is logged once.
constexpr size_t kMaxIgnoredNames = 1000;

// Returns true for names a writer finished and renamed into incoming/. The extension may be in
// any case, since some tools upper-case names.
bool isCandidate(const fs::path& path) {
  std::string name = path.filename().string();
  if (name.empty() || name.front() == '.') return false;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.ends_with(".tmp")) return false;
  return name.ends_with(".ndjson") || name.ends_with(".jsonl");
}

}  // namespace

Spool::Spool(const Deps& deps)
    : deps_(deps),
      incoming_(fs::path(deps.config->spool.dir) / "incoming"),
      done_(fs::path(deps.config->spool.dir) / "done"),
      failed_(fs::path(deps.config->spool.dir) / "failed"),
      log_(componentLogger("ingest")) {}

Spool::~Spool() {
  stop();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Spool::start() {
  for (const fs::path& dir : {incoming_, done_, failed_}) {
    std::error_code error;
    fs::create_directories(dir, error);
    if (error) {
      return errorStatus(ErrorCode::kIo, "cannot create spool directory {}: {}", dir.string(),
                         error.message());
    }
  }
  // Its own lock file, because [spool] dir may be the state directory itself.
  auto lock = store::lockDirectory(incoming_.parent_path().string(), "titand-spool.lock",
                                   "spool directory", "[spool] dir");
  if (!lock.isOk()) return lock.status();
  lock_fd_ = lock.value();
  async_ = new uv_async_t;
  uv_async_init(deps_.loop, async_, &Spool::onAsync);
  async_->data = this;
  fs_event_ = new uv_fs_event_t;
  uv_fs_event_init(deps_.loop, fs_event_);
  fs_event_->data = this;
  int rc = uv_fs_event_start(fs_event_, &Spool::onFsEvent, incoming_.c_str(), 0);
  if (rc != 0) {
    log_->warn("cannot watch {} ({}); relying on the rescan every {} ms", incoming_.string(),
               uv_strerror(rc), deps_.config->spool.rescan_interval_ms);
  }
  thread_ = std::thread([this] { threadMain(); });
  log_->info("watching {} for *.ndjson and *.jsonl files", incoming_.string());
  return Status::ok();
}

void Spool::stop() {
  if (!thread_.joinable()) return;
  stop_requested_ = true;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  thread_.join();
  uv_fs_event_stop(fs_event_);
  uv_close(reinterpret_cast<uv_handle_t*>(fs_event_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_fs_event_t*>(handle); });
  // Deliver what the last chunk queued before closing the async handle.
  onAsync(async_);
  uv_close(reinterpret_cast<uv_handle_t*>(async_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
}

void Spool::onFsEvent(uv_fs_event_t* handle, const char*, int, int) {
  static_cast<Spool*>(handle->data)->wake();
}

void Spool::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_flag_ = true;
  }
  wake_cv_.notify_all();
}

void Spool::threadMain() {
  auto interval = std::chrono::milliseconds(deps_.config->spool.rescan_interval_ms);
  while (true) {
    std::optional<std::chrono::milliseconds> settling = scanIncoming();
    auto wait = settling ? std::min(interval, *settling) : interval;
    std::unique_lock lock(mutex_);
    wake_cv_.wait_for(lock, wait, [this] { return wake_flag_ || stopping_; });
    if (stopping_) return;
    wake_flag_ = false;
  }
}

void Spool::warnIgnored(const fs::directory_entry& entry) {
  std::string name = entry.path().filename().string();
  if (name.empty() || name.front() == '.' || name.ends_with(".tmp")) return;  // Writers' own.
  // Once per name, because every rescan lists the same entry again.
  if (ignored_names_.size() >= kMaxIgnoredNames || !ignored_names_.insert(name).second) return;
  std::error_code error;
  const char* kind = entry.is_directory(error)       ? "a directory"
                     : !entry.is_regular_file(error) ? "not a regular file"
                                                     : "not named *.ndjson or *.jsonl";
  log_->warn("ignoring {}: {}; move it out of incoming/", entry.path().string(), kind);
}

std::optional<std::chrono::milliseconds> Spool::scanIncoming() {
  std::vector<fs::path> files;
  std::optional<std::chrono::milliseconds> settling;
  std::error_code error;
  auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(incoming_, error), end; !error && it != end; it.increment(error)) {
    if (!it->is_regular_file(error) || !isCandidate(it->path())) {
      warnIgnored(*it);
      continue;
    }
    // A file written in place rather than renamed in may still be growing. Take it only once
    // it has not been modified for kSettleTime, so that no line written later is lost.
    std::error_code time_error;
    auto modified = fs::last_write_time(it->path(), time_error);
    auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - modified);
    if (!time_error && age < kSettleTime) {
      auto left = kSettleTime - age;
      settling = settling ? std::min(*settling, left) : left;
      continue;
    }
    files.push_back(it->path());
  }
  if (error) {
    log_->error("cannot list {}: {}", incoming_.string(), error.message());
    deps_.metrics->errors_total.inc();
    return settling;
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    if (stop_requested_) return settling;
    processFile(file);
  }
  return settling;
}

void Spool::processFile(const fs::path& path) {
  FileIngestDeps deps{deps_.store,
                      deps_.config,
                      deps_.metrics,
                      deps_.clock,
                      [this](const std::vector<uint32_t>& hosts, Micros due) {
                        std::vector<Queued> queued;
                        for (uint32_t host : hosts) queued.push_back({host, due});
                        postQueued(std::move(queued));
                      },
                      &stop_requested_};
  auto started = std::chrono::steady_clock::now();
  log_->info("file {}: ingest started", path.filename().string());
  auto result = ingestFile(path, done_, failed_, deps);
  // A large file leaves tens of MiB of freed parse and batch buffers in glibc's arenas. Give
  // them back to the system instead of keeping them until the next big file.
  ::malloc_trim(0);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!result.isOk()) {
    // The file stays in incoming/; the next rescan tries again.
    log_->error("file {}: ingest failed, will retry on the next scan: {}", path.filename().string(),
                result.status().toString());
    deps_.metrics->errors_total.inc();
    return;
  }
  const FileResult& outcome = result.value();
  switch (outcome.outcome) {
    case FileOutcome::kCommitted:
      deps_.metrics->files_accepted_total.inc();
      deps_.metrics->lines_accepted_total.inc(static_cast<double>(outcome.tasks));
      log_->info("file {}: committed {} tasks, {} items in {:.2f} s; receipt in {}",
                 path.filename().string(), outcome.tasks, outcome.items, seconds, done_.string());
      break;
    case FileOutcome::kDuplicate:
      deps_.metrics->files_duplicate_total.inc();
      log_->info("file {}: content {} was committed before; nothing new queued, receipt in {}",
                 path.filename().string(), outcome.sha256_hex.substr(0, 12), done_.string());
      break;
    case FileOutcome::kRejected:
      deps_.metrics->files_rejected_total.inc();
      deps_.metrics->lines_rejected_total.inc(static_cast<double>(outcome.bad_lines));
      log_->warn("file {}: rejected, {} invalid lines, nothing queued; see {}/{}.errors.json",
                 path.filename().string(), outcome.bad_lines, failed_.string(),
                 path.filename().string());
      break;
    case FileOutcome::kInterrupted:
      log_->info("file {}: commit interrupted by shutdown; resumes at the next start",
                 path.filename().string());
      return;
  }
  files_processed_++;
}

void Spool::postQueued(std::vector<Queued> queued) {
  {
    std::lock_guard lock(mutex_);
    queued_.insert(queued_.end(), queued.begin(), queued.end());
  }
  uv_async_send(async_);
}

void Spool::onAsync(uv_async_t* handle) {
  auto* spool = static_cast<Spool*>(handle->data);
  std::vector<Queued> queued;
  {
    std::lock_guard lock(spool->mutex_);
    queued.swap(spool->queued_);
  }
  for (const Queued& entry : queued) spool->deps_.on_queued(entry.host_id, entry.due);
}

}  // namespace titand::ingest
