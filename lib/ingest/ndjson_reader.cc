#include "ingest/ndjson_reader.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>

namespace titand::ingest {
namespace {

namespace ondemand = simdjson::ondemand;

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
constexpr size_t kMinChunkBytes = 64;
// simdjson recommends a stream window of about 1 MB (its DEFAULT_BATCH_SIZE): small enough for
// the cache, big enough to parse many documents per window.
constexpr size_t kStreamWindowBytes = ondemand::DEFAULT_BATCH_SIZE;
// The window must be larger than the largest document; a document is at most one line.
constexpr size_t kStreamWindowSlack = 64;

bool isJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

Status initSodium() {
  static const int kResult = sodium_init();
  if (kResult < 0) return Status(ErrorCode::kInternal, "libsodium failed to initialize");
  return Status::ok();
}

class Sha256 {
 public:
  Sha256() { crypto_hash_sha256_init(&state_); }

  void update(const char* data, size_t size) {
    crypto_hash_sha256_update(&state_, reinterpret_cast<const unsigned char*>(data), size);
  }

  std::string finalHex() {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state_, digest);
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return std::string(hex);
  }

 private:
  crypto_hash_sha256_state state_;
};

// A file opened for sequential reading, closed on destruction.
class InputFile {
 public:
  explicit InputFile(std::string path) : path_(std::move(path)) {}
  ~InputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  Status open() {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return errorStatus(ErrorCode::kIo, "failed to open {}: {}", path_, std::strerror(errno));
    }
    // Only a hint to the kernel's read-ahead, so its result does not matter.
    (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    return Status::ok();
  }

  // Reads up to `size` bytes; fewer only at the end of the file.
  Result<size_t> read(char* out, size_t size) {
    size_t total = 0;
    while (total < size) {
      ssize_t count = ::read(fd_, out + total, size - total);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) {
        return errorStatus(ErrorCode::kIo, "failed to read {}: {}", path_, std::strerror(errno));
      }
      if (count == 0) break;
      total += static_cast<size_t>(count);
    }
    return total;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// One line of the region being processed: [begin, end), where end is the offset of its "\n"
// or the end of the region.
struct LineCursor {
  size_t index = 0;  // 0-based within the region.
  size_t begin = 0;
  size_t end = 0;
};

// A validated line held back until the stream shows that no other document shares its line.
struct PendingLine {
  LineCursor line;
  ParseResult result;
};

class NdjsonReader {
 public:
  NdjsonReader(const ReaderOptions& options, const OnTask& on_task, const OnError& on_error);
  Result<ReadSummary> read(const std::string& path);

 private:
  Status readLoop(InputFile& file, Sha256& sha);
  size_t skipOverlongTail(size_t count, bool end_of_file);
  void ensureCapacity(size_t size);

  void processRegion(size_t size);
  size_t blankOverlongLines(size_t size);
  LineCursor firstLine(size_t size) const;
  LineCursor nextLine(const LineCursor& line, size_t size) const;
  bool isOverlong(const LineCursor& line) const { return line.end - line.begin > max_line_bytes_; }
  bool isBlank(const LineCursor& line) const;

  LineCursor streamRegion(size_t size);
  bool acceptDocument(ondemand::document_stream::iterator& it, size_t size, LineCursor* next,
                      std::optional<PendingLine>* pending);
  bool gapIsBlank(LineCursor from, size_t before, size_t size) const;
  void emitGap(LineCursor from, size_t before, size_t size);
  void checkLinesFrom(LineCursor line, size_t size);

  void emitResult(uint64_t line, ParseResult&& result);
  void emitError(uint64_t line, std::string field, std::string reason);
  void emitOverlong(uint64_t line, uint64_t length);
  uint64_t lineNumber(const LineCursor& line) const { return lines_before_ + line.index + 1; }

  const ReaderOptions options_;
  const OnTask& on_task_;
  const OnError& on_error_;
  const size_t chunk_bytes_;
  const uint64_t max_line_bytes_;
  const size_t window_bytes_;

  // Holds the unprocessed tail of the previous read plus one chunk, then SIMDJSON_PADDING bytes.
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;  // Usable bytes, padding excluded.
  ondemand::parser parser_;

  ReadSummary summary_;
  uint64_t lines_before_ = 0;  // Lines of the file before the current region.
  bool skipping_ = false;      // Inside an over-long line that did not fit the buffer.
  uint64_t skipped_bytes_ = 0;
};

NdjsonReader::NdjsonReader(const ReaderOptions& options, const OnTask& on_task,
                           const OnError& on_error)
    : options_(options),
      on_task_(on_task),
      on_error_(on_error),
      chunk_bytes_(std::max(options.chunk_bytes, kMinChunkBytes)),
      max_line_bytes_(options.max_line_bytes),
      window_bytes_(std::max<size_t>(options.max_line_bytes + kStreamWindowSlack,
                                     std::min(chunk_bytes_, kStreamWindowBytes))) {
  // The stream's look-ahead thread would double the parser memory and compete with the
  // engine for cores; the spool reads one file at a time anyway.
  parser_.threaded = false;
}

Result<ReadSummary> NdjsonReader::read(const std::string& path) {
  TITAND_RETURN_IF_ERROR(initSodium());
  InputFile file(path);
  TITAND_RETURN_IF_ERROR(file.open());
  Sha256 sha;
  TITAND_RETURN_IF_ERROR(readLoop(file, sha));
  if (summary_.stopped_early) return summary_;
  summary_.lines_total = lines_before_;
  summary_.sha256_hex = sha.finalHex();
  if (summary_.tasks == 0 && summary_.errors == 0) {
    emitError(0, "", "file contains no tasks; write one JSON task object per line");
  }
  return summary_;
}

// Reads the file chunk by chunk. Each step hands the complete lines to processRegion and keeps
// the unfinished last line for the next step, so a line is never split across two regions.
Status NdjsonReader::readLoop(InputFile& file, Sha256& sha) {
  size_t filled = 0;  // Bytes of an unfinished line at the front of the buffer.
  bool first_read = true;
  while (!summary_.stopped_early) {
    ensureCapacity(filled + chunk_bytes_);
    auto read = file.read(buffer_.get() + filled, chunk_bytes_);
    if (!read.isOk()) return read.status();
    size_t count = read.value();
    bool end_of_file = count < chunk_bytes_;
    sha.update(buffer_.get() + filled, count);
    summary_.bytes += count;
    if (first_read && std::string_view(buffer_.get(), count).starts_with(kByteOrderMark)) {
      count -= kByteOrderMark.size();
      std::memmove(buffer_.get(), buffer_.get() + kByteOrderMark.size(), count);
    }
    first_read = false;
    if (skipping_) count = skipOverlongTail(count, end_of_file);

    const char* fresh = buffer_.get() + filled;
    filled += count;
    const void* last_newline = ::memrchr(fresh, '\n', count);
    if (last_newline != nullptr) {
      size_t region = static_cast<const char*>(last_newline) - buffer_.get() + 1;
      processRegion(region);
      filled -= region;
      std::memmove(buffer_.get(), buffer_.get() + region, filled);
    }
    if (end_of_file) {
      if (filled > 0 && !summary_.stopped_early) processRegion(filled);
      return Status::ok();
    }
    if (filled > max_line_bytes_) {
      // The unfinished line is already over the limit: drop what is buffered and skip the rest
      // of it, so one huge line never makes the buffer grow.
      skipping_ = true;
      skipped_bytes_ = filled;
      filled = 0;
    }
  }
  return Status::ok();
}

// Consumes the rest of an over-long line from the `count` bytes at the buffer's front. Returns
// how many bytes after its newline remain, moved to the front.
size_t NdjsonReader::skipOverlongTail(size_t count, bool end_of_file) {
  const void* newline = std::memchr(buffer_.get(), '\n', count);
  if (newline == nullptr) {
    skipped_bytes_ += count;
    if (end_of_file) {
      skipping_ = false;
      emitOverlong(lines_before_ + 1, skipped_bytes_);
      ++lines_before_;
    }
    return 0;
  }
  size_t head = static_cast<const char*>(newline) - buffer_.get();
  skipping_ = false;
  emitOverlong(lines_before_ + 1, skipped_bytes_ + head);
  ++lines_before_;
  size_t rest = count - head - 1;
  std::memmove(buffer_.get(), buffer_.get() + head + 1, rest);
  return rest;
}

void NdjsonReader::ensureCapacity(size_t size) {
  if (size <= capacity_) return;
  size_t capacity = std::max(size, capacity_ * 2);
  auto grown = std::make_unique<char[]>(capacity + simdjson::SIMDJSON_PADDING);
  if (capacity_ > 0) std::memcpy(grown.get(), buffer_.get(), capacity_);
  buffer_ = std::move(grown);
  capacity_ = capacity;
}

LineCursor NdjsonReader::firstLine(size_t size) const {
  LineCursor line;
  const void* newline = std::memchr(buffer_.get(), '\n', size);
  line.end = newline ? static_cast<const char*>(newline) - buffer_.get() : size;
  return line;
}

// Returns the line after `line`; its begin is past `size` when there is none.
LineCursor NdjsonReader::nextLine(const LineCursor& line, size_t size) const {
  LineCursor next;
  next.index = line.index + 1;
  next.begin = line.end + 1;
  if (next.begin >= size) {
    next.end = next.begin;
    return next;
  }
  const void* newline = std::memchr(buffer_.get() + next.begin, '\n', size - next.begin);
  next.end = newline ? static_cast<const char*>(newline) - buffer_.get() : size;
  return next;
}

bool NdjsonReader::isBlank(const LineCursor& line) const {
  const char* data = buffer_.get();
  return std::all_of(data + line.begin, data + line.end, isJsonSpace);
}

// Handles the complete lines in the first `size` bytes of the buffer.
void NdjsonReader::processRegion(size_t size) {
  size_t line_count = blankOverlongLines(size);
  LineCursor unhandled = streamRegion(size);
  if (!summary_.stopped_early && unhandled.begin < size) checkLinesFrom(unhandled, size);
  if (!summary_.stopped_early) lines_before_ += line_count;
}

// Overwrites the lines over max_line_bytes with spaces, so the stream reads them as blank, and
// returns the number of lines in the region. The lines keep their length for the error.
size_t NdjsonReader::blankOverlongLines(size_t size) {
  size_t count = 0;
  for (LineCursor line = firstLine(size); line.begin < size; line = nextLine(line, size)) {
    ++count;
    if (isOverlong(line)) std::memset(buffer_.get() + line.begin, ' ', line.end - line.begin);
  }
  return count;
}

// Validates the region through a simdjson document stream and returns the first line it did
// not deliver: past the region when it delivered all, otherwise the line where the stream
// stopped making sense (checkLinesFrom takes over there).
LineCursor NdjsonReader::streamRegion(size_t size) {
  LineCursor next = firstLine(size);  // First line not yet delivered.
  std::optional<PendingLine> pending;
  ondemand::document_stream stream;
  if (parser_.iterate_many(buffer_.get(), size, window_bytes_).get(stream) != simdjson::SUCCESS) {
    return next;
  }
  for (auto it = stream.begin(); it != stream.end(); ++it) {
    if (!acceptDocument(it, size, &next, &pending)) return pending ? pending->line : next;
    if (summary_.stopped_early) return next;
  }
  LineCursor after = pending ? nextLine(pending->line, size) : next;
  if (!gapIsBlank(after, SIZE_MAX, size)) return pending ? pending->line : next;
  if (pending) emitResult(lineNumber(pending->line), std::move(pending->result));
  if (!summary_.stopped_early) emitGap(after, SIZE_MAX, size);
  next.begin = size;
  return next;
}

// Checks that the stream's current document starts on a line of its own and ends on that same
// line, delivers the previous pending line, then parses this document into `pending`. Returns
// false when the stream cannot be trusted from the pending line (or `next`) on.
bool NdjsonReader::acceptDocument(ondemand::document_stream::iterator& it, size_t size,
                                  LineCursor* next, std::optional<PendingLine>* pending) {
  auto document = *it;
  if (document.error()) return false;
  size_t start = it.current_index();
  // Only objects are tasks; source() is also only reliable for objects and arrays in 3.0.1.
  if (start >= size || buffer_[start] != '{') return false;
  if (*pending && start <= (*pending)->line.end) return false;  // Two documents on one line.
  LineCursor line = *pending ? nextLine((*pending)->line, size) : *next;
  LineCursor gap_start = line;
  while (line.begin < size && line.end < start) line = nextLine(line, size);
  if (line.begin >= size) return false;
  std::string_view source = it.source();
  size_t end = static_cast<size_t>(source.data() - buffer_.get()) + source.size();
  if (end > line.end) return false;  // The document continues on a later line.
  if (!gapIsBlank(gap_start, line.index, size)) return false;

  if (*pending) {
    emitResult(lineNumber((*pending)->line), std::move((*pending)->result));
    pending->reset();
    if (summary_.stopped_early) return true;
  }
  emitGap(gap_start, line.index, size);
  *next = line;
  if (summary_.stopped_early) return true;
  bool invalid_json = false;
  ParseResult result = parseTaskDocument(document.value_unsafe(), options_.limits, &invalid_json);
  if (invalid_json) return false;
  pending->emplace(PendingLine{line, std::move(result)});
  return true;
}

// Returns true when every line from `from` up to index `before` (exclusive) is blank or
// over-long, so no document can hide there.
bool NdjsonReader::gapIsBlank(LineCursor from, size_t before, size_t size) const {
  for (LineCursor line = from; line.begin < size && line.index < before;
       line = nextLine(line, size)) {
    if (!isOverlong(line) && !isBlank(line)) return false;
  }
  return true;
}

void NdjsonReader::emitGap(LineCursor from, size_t before, size_t size) {
  for (LineCursor line = from; line.begin < size && line.index < before;
       line = nextLine(line, size)) {
    if (isOverlong(line)) emitOverlong(lineNumber(line), line.end - line.begin);
    if (summary_.stopped_early) return;
  }
}

// The slow path: parses each line from `line` on by itself, so each line gets its own errors.
void NdjsonReader::checkLinesFrom(LineCursor line, size_t size) {
  const char* padded_end = buffer_.get() + capacity_ + simdjson::SIMDJSON_PADDING;
  for (; line.begin < size && !summary_.stopped_early; line = nextLine(line, size)) {
    if (isOverlong(line)) {
      emitOverlong(lineNumber(line), line.end - line.begin);
      continue;
    }
    if (isBlank(line)) continue;
    const char* text = buffer_.get() + line.begin;
    size_t length = line.end - line.begin;
    if (text[length - 1] == '\r') --length;
    simdjson::padded_string_view json(text, length, static_cast<size_t>(padded_end - text));
    emitResult(lineNumber(line), parseTask(json, options_.limits, parser_));
  }
}

void NdjsonReader::emitResult(uint64_t line, ParseResult&& result) {
  if (auto* task = std::get_if<model::TaskSpec>(&result)) {
    ++summary_.tasks;
    if (!on_task_(line, std::move(*task))) {
      summary_.stopped_early = true;
      summary_.lines_total = line;
    }
    return;
  }
  ++summary_.errors;
  for (FieldError& error : std::get<std::vector<FieldError>>(result)) {
    if (!on_error_(LineError{line, std::move(error.field), std::move(error.reason)})) {
      summary_.stopped_early = true;
      summary_.lines_total = line;
      return;
    }
  }
}

void NdjsonReader::emitError(uint64_t line, std::string field, std::string reason) {
  emitResult(line, std::vector<FieldError>{FieldError{std::move(field), std::move(reason)}});
}

void NdjsonReader::emitOverlong(uint64_t line, uint64_t length) {
  emitError(line, "",
            fmt::format("line is {} bytes, over the limit of {} bytes (spool.max_line_bytes); "
                        "split the task or raise the limit",
                        length, max_line_bytes_));
}

}  // namespace

Result<ReadSummary> readNdjsonTasks(const std::string& path, const ReaderOptions& options,
                                    const OnTask& on_task, const OnError& on_error) {
  NdjsonReader reader(options, on_task, on_error);
  return reader.read(path);
}

}  // namespace titand::ingest
