#include "api/routes.h"

#include <chrono>
#include <new>
#include <optional>

#include <fmt/format.h>
#include <h2o.h>

#include "api/export.h"
#include "api/responses.h"
#include "common/log.h"
#include "store/schema.h"

namespace titand::api {
namespace {

constexpr std::string_view kExecutionsPrefix = "/api/v1/executions/";
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr ChunkLimits kChunkLimits{};
// A buffer that grew past this for one huge record is freed instead of reused.
constexpr size_t kMaxKeptBufferBytes = 1024 * 1024;

std::shared_ptr<spdlog::logger> logger() { return componentLogger("api"); }

std::string_view view(h2o_iovec_t iovec) {
  if (iovec.base == nullptr) return {};
  return {iovec.base, iovec.len};
}

std::string quoted(std::string_view text) {
  std::string out;
  model::appendJsonString(&out, text);
  return out;
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

bool isGet(const h2o_req_t* req) {
  return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
}

// Adds a response header; the value is copied into the request pool.
void addHeader(h2o_req_t* req, const h2o_token_t* token, std::string_view value) {
  h2o_iovec_t copy = h2o_strdup(&req->pool, value.data(), value.size());
  h2o_add_header(&req->pool, &req->res.headers, token, nullptr, copy.base, copy.len);
}

// Sends a complete response with a Content-Length. h2o_send_inline copies the body.
void sendBody(h2o_req_t* req, int status, std::string_view content_type, std::string_view body) {
  req->res.status = status;
  req->res.reason = reasonPhrase(status);
  req->res.content_length = body.size();
  addHeader(req, H2O_TOKEN_CONTENT_TYPE, content_type);
  addHeader(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
  h2o_send_inline(req, body.empty() ? "" : body.data(), body.size());
}

void sendJson(h2o_req_t* req, int status, std::string_view json) {
  sendBody(req, status, kJsonType, json);
}

void sendError(h2o_req_t* req, int status, std::string_view message) {
  sendJson(req, status, errorEnvelope(status, message));
}

void sendMethodNotAllowed(h2o_req_t* req, bool json) {
  addHeader(req, H2O_TOKEN_ALLOW, "GET");
  std::string message = fmt::format("method {} is not allowed on {}; use GET", view(req->method),
                                    view(req->path_normalized));
  if (json) {
    sendError(req, 405, message);
  } else {
    sendBody(req, 405, kTextType, message + "\n");
  }
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes and '+' (a space in form encoding). Invalid escapes stay as they are.
std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && hexDigit(text[i + 1]) >= 0 &&
               hexDigit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexDigit(text[i + 1]) * 16 + hexDigit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Returns the decoded value of the first query parameter called `name`.
std::optional<std::string> queryParameter(const h2o_req_t* req, std::string_view name) {
  if (req->query_at == SIZE_MAX) return std::nullopt;
  std::string_view query = view(req->path).substr(req->query_at + 1);
  while (!query.empty()) {
    size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view() : query.substr(end + 1);
    size_t equals = pair.find('=');
    std::string_view key = pair.substr(0, equals);
    if (percentDecode(key) != name) continue;
    return equals == std::string_view::npos ? std::string()
                                            : percentDecode(pair.substr(equals + 1));
  }
  return std::nullopt;
}

std::string resultsSummaryJson(const model::Id& id, int64_t results) {
  std::string out = "{\"execution_id\":";
  model::appendJsonString(&out, model::idToString(id));
  out += fmt::format(",\"results\":{},\"formats\":[\"ndjson\",\"csv\"]}}", results);
  return out;
}

}  // namespace

// One running export. Lives in the request's memory pool, so h2o frees it (through
// dispose()) when the request ends, however it ends.
struct Router::ExportStream {
  // h2o hands the generator back to the callbacks; the hook leads from it to the stream.
  struct Hook {
    h2o_generator_t generator;
    ExportStream* stream;
  };

  ExportStream(Router* owner, store::Store* store, const model::Id& execution,
               ExportFormat export_format)
      : router(owner),
        id(execution),
        format(export_format),
        cursor(store, execution, export_format) {
    hook.generator.proceed = [](h2o_generator_t* generator, h2o_req_t* req) {
      sendNextChunk(reinterpret_cast<Hook*>(generator)->stream, req);
    };
    // Nothing to do: h2o disposes the request pool next, which runs dispose().
    hook.generator.stop = [](h2o_generator_t*, h2o_req_t*) {};
    hook.stream = this;
  }

  static void dispose(void* memory) {
    auto* stream = static_cast<ExportStream*>(memory);
    stream->router->onExportClosed(stream);
    stream->~ExportStream();
  }

  Hook hook{};
  Router* router;
  model::Id id;
  ExportFormat format;
  ExportCursor cursor;
  std::string buffer;
  bool final_sent = false;
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
};

Router::Router(store::Store* store, MetricsRender metrics_render, HealthCheck health)
    : store_(store), metrics_render_(std::move(metrics_render)), health_(std::move(health)) {}

Router::~Router() = default;

void Router::handleApiRequest(h2o_req_t* req) {
  if (stopping_) return sendError(req, 503, "titand is shutting down");
  std::string_view path = view(req->path_normalized);
  if (path == "/healthz") {
    if (!isGet(req)) return sendMethodNotAllowed(req, false);
    return sendHealth(req);
  }
  std::string_view rest = path;
  if (rest.starts_with(kExecutionsPrefix)) {
    rest.remove_prefix(kExecutionsPrefix.size());
    size_t slash = rest.find('/');
    std::string_view id = rest.substr(0, slash);
    std::string_view tail = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (!id.empty() && (tail.empty() || tail == "/results" || tail == "/results/export")) {
      return routeExecution(req, id, tail);
    }
  }
  sendError(req, 404, fmt::format("no API endpoint at {}", quoted(path)));
}

void Router::routeExecution(h2o_req_t* req, std::string_view id_text, std::string_view tail) {
  if (!isGet(req)) return sendMethodNotAllowed(req, true);
  Result<model::Id> id = model::idFromString(id_text);
  if (!id.isOk()) {
    return sendError(req, 400,
                     fmt::format("invalid execution id {}: expected a UUID such as "
                                 "0190f5a8-7c1e-8a2b-9c3d-4e5f60718293",
                                 quoted(id_text)));
  }
  if (tail.empty()) return sendExecution(req, id.value());
  if (tail == "/results") return sendResultsSummary(req, id.value());
  startExport(req, id.value());
}

bool Router::checkExecutionExists(h2o_req_t* req, const model::Id& id) {
  auto execution = store_->getExecution(id);
  if (!execution.isOk()) {
    logger()->error("cannot read execution {}: {}", model::idToString(id),
                    execution.status().toString());
    sendError(req, 500,
              fmt::format("cannot read execution {}: {}", model::idToString(id),
                          execution.status().message()));
    return false;
  }
  if (!execution->has_value()) {
    sendError(req, 404, fmt::format("execution {} not found", model::idToString(id)));
    return false;
  }
  return true;
}

void Router::sendExecution(h2o_req_t* req, const model::Id& id) {
  auto execution = store_->getExecution(id);
  if (!execution.isOk() || !execution->has_value()) {
    checkExecutionExists(req, id);  // Sends the 404 or 500.
    return;
  }
  store::StateCounts counts = store_->getCounts(id);
  sendJson(req, 200, successEnvelope(executionJson(**execution, counts)));
}

// The count is the number of finished (succeeded or failed) items: the engine writes each
// result record in the same batch that moves its item to a finished state, so this equals
// the number of result records without scanning them.
void Router::sendResultsSummary(h2o_req_t* req, const model::Id& id) {
  if (!checkExecutionExists(req, id)) return;
  store::StateCounts counts = store_->getCounts(id);
  int64_t results = counts[static_cast<size_t>(model::ItemState::kSucceeded)] +
                    counts[static_cast<size_t>(model::ItemState::kFailed)];
  sendJson(req, 200, successEnvelope(resultsSummaryJson(id, results)));
}

void Router::startExport(h2o_req_t* req, const model::Id& id) {
  std::optional<std::string> format_text = queryParameter(req, "format");
  Result<ExportFormat> format = parseExportFormat(format_text.value_or("ndjson"));
  if (!format.isOk()) return sendError(req, 400, format.status().message());
  if (!checkExecutionExists(req, id)) return;

  void* memory = h2o_mem_alloc_shared(&req->pool, sizeof(ExportStream), ExportStream::dispose);
  auto* stream = new (memory) ExportStream(this, store_, id, format.value());
  open_exports_.insert(stream);
  exports_started_.fetch_add(1, std::memory_order_release);

  std::string id_text = model::idToString(id);
  req->res.status = 200;
  req->res.reason = "OK";
  addHeader(req, H2O_TOKEN_CONTENT_TYPE, exportContentType(format.value()));
  addHeader(
      req, H2O_TOKEN_CONTENT_DISPOSITION,
      fmt::format("attachment; filename=\"{}.{}\"", id_text, exportFormatName(format.value())));
  addHeader(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
  logger()->info("export of execution {} as {} started", id_text, exportFormatName(format.value()));
  h2o_start_response(req, &stream->hook.generator);
  sendNextChunk(stream, req);
}

// Sends one chunk. h2o calls the generator's proceed (and so this again) once the chunk is
// written, so at most one chunk per export is buffered.
void Router::sendNextChunk(ExportStream* stream, h2o_req_t* req) {
  if (stream->buffer.capacity() > kMaxKeptBufferBytes) stream->buffer = std::string();
  stream->buffer.clear();
  uint64_t before = stream->cursor.recordsWritten();
  Status status = stream->cursor.appendChunk(&stream->buffer, kChunkLimits);
  stream->router->records_sent_.fetch_add(stream->cursor.recordsWritten() - before,
                                          std::memory_order_relaxed);
  if (!status.isOk()) {
    if (status.code() != ErrorCode::kUnavailable) {
      logger()->error("export failed after {} records: {}", stream->cursor.recordsWritten(),
                      status.toString());
    }
    h2o_send(req, nullptr, 0, H2O_SEND_STATE_ERROR);
    return;
  }
  h2o_send_state_t state =
      stream->cursor.finished() ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS;
  stream->final_sent = stream->cursor.finished();
  h2o_iovec_t chunk = h2o_iovec_init(stream->buffer.data(), stream->buffer.size());
  h2o_send(req, &chunk, chunk.len > 0 ? 1 : 0, state);
}

void Router::onExportClosed(ExportStream* stream) {
  open_exports_.erase(stream);
  auto elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stream->started_at);
  std::string id = model::idToString(stream->id);
  if (stream->final_sent) {
    exports_completed_.fetch_add(1, std::memory_order_release);
    logger()->info("export of execution {} as {} finished: {} records in {:.1f} s", id,
                   exportFormatName(stream->format), stream->cursor.recordsWritten(),
                   elapsed.count());
  } else {
    exports_aborted_.fetch_add(1, std::memory_order_release);
    logger()->info(
        "export of execution {} as {} ended early after {} records in {:.1f} s (client "
        "disconnected, read error or shutdown)",
        id, exportFormatName(stream->format), stream->cursor.recordsWritten(), elapsed.count());
  }
}

void Router::beginStop() {
  stopping_ = true;
  for (ExportStream* stream : open_exports_) stream->cursor.release();
}

ExportCounters Router::exportCounters() const {
  ExportCounters counters;
  // Every end follows its start, so loading the ends first keeps `open` from going negative.
  counters.completed = exports_completed_.load(std::memory_order_acquire);
  counters.aborted = exports_aborted_.load(std::memory_order_acquire);
  counters.started = exports_started_.load(std::memory_order_acquire);
  counters.open = counters.started - counters.completed - counters.aborted;
  counters.records_sent = records_sent_.load(std::memory_order_relaxed);
  return counters;
}

void Router::sendHealth(h2o_req_t* req) {
  auto [healthy, message] = health_ ? health_() : std::pair<bool, std::string>(true, "");
  if (healthy) return sendBody(req, 200, kTextType, "ok\n");
  if (message.empty() || message.back() != '\n') message.push_back('\n');
  sendBody(req, 503, kTextType, message);
}

void Router::handleMetricsRequest(h2o_req_t* req) {
  if (stopping_) return sendBody(req, 503, kTextType, "titand is shutting down\n");
  std::string_view path = view(req->path_normalized);
  if (path != "/metrics" && path != "/healthz") {
    return sendBody(
        req, 404, kTextType,
        fmt::format("not found: {}; this listener serves /metrics and /healthz\n", path));
  }
  if (!isGet(req)) return sendMethodNotAllowed(req, false);
  if (path == "/healthz") return sendHealth(req);
  sendBody(req, 200, kMetricsType, metrics_render_ ? metrics_render_() : std::string());
}

}  // namespace titand::api
