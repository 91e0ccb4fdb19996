// titanctl: the command-line client of titand's operator API.
//
//   titanctl [--api URL] status EXEC_ID [--wait] [--interval-ms N] [--timeout-seconds N]
//   titanctl [--api URL] export EXEC_ID [--format ndjson|csv] [-o FILE]
//
// The API URL defaults to $TITAN_API_URL, else http://127.0.0.1:8420. Exit codes: 0 success
// (for status: the execution completed or has not finished yet), 1 error, 2 invalid command
// line, 3 the execution finished as completed_with_errors, failed or cancelled.
// Requests use blocking libcurl easy calls.

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <curl/curl.h>
#include <fmt/format.h>
#include <simdjson.h>
#include <CLI/CLI.hpp>

#include "common/status.h"

namespace {

using titand::ErrorCode;
using titand::Result;
using titand::Status;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnsuccessful = 3;
constexpr const char* kDefaultApiUrl = "http://127.0.0.1:8420";
constexpr long kConnectTimeoutSeconds = 10;
constexpr long kRequestTimeoutSeconds = 60;
constexpr size_t kMaxErrorBodyBytes = 64 * 1024;
constexpr int kProgressBarWidth = 20;
constexpr auto kPlainLineInterval = std::chrono::seconds(5);
constexpr std::array<const char*, 5> kStateNames = {"queued", "in_flight", "succeeded",
                                                    "retry_scheduled", "failed"};

struct Options {
  std::string api_url;
  std::string execution_id;
  bool wait = false;
  uint32_t interval_ms = 500;
  uint32_t timeout_seconds = 0;
  std::string format = "ndjson";
  std::string output_path;
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

struct Execution {
  std::string id;
  std::string task_id;
  std::string status;
  uint64_t total_items = 0;
  std::array<int64_t, kStateNames.size()> counts{};
  double progress = 0;
  std::string created_at, started_at, finished_at, source;

  int64_t count(std::string_view state) const {
    for (size_t i = 0; i < kStateNames.size(); ++i) {
      if (state == kStateNames[i]) return counts[i];
    }
    return 0;
  }
  int64_t finished() const { return count("succeeded") + count("failed"); }
};

std::string_view trimmedApiUrl(const std::string& url) {
  std::string_view view = url;
  while (view.ends_with('/')) view.remove_suffix(1);
  return view;
}

std::string escapeSegment(CURL* curl, const std::string& text) {
  char* escaped = curl_easy_escape(curl, text.c_str(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : text;
  curl_free(escaped);
  return out;
}

std::string unreachableMessage(const Options& options, const char* detail) {
  return fmt::format(
      "cannot reach the titand API at {}: {}. Check that titand runs and that --api (or "
      "TITAN_API_URL) matches its api.listen address",
      trimmedApiUrl(options.api_url), detail);
}

size_t appendToString(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Configures the options every request shares: URL, timeouts, error buffer, no signals.
void setCommonOptions(CURL* curl, const std::string& url, char* error_buffer) {
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "titanctl/0.1");
  error_buffer[0] = '\0';
}

const char* curlDetail(CURLcode code, const char* error_buffer) {
  return error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
}

// Returns the error message of a Titan error envelope, or the start of the body.
std::string envelopeMessage(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view message;
  if (parser.parse(body).get(root) == simdjson::SUCCESS &&
      root["error"]["message"].get(message) == simdjson::SUCCESS) {
    return std::string(message);
  }
  std::string text = body.substr(0, 300);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.empty() ? "(empty response body)" : text;
}

std::string httpErrorMessage(const Options& options, long status, const std::string& body) {
  if (status == 404) {
    return fmt::format("execution {} is unknown to titand at {} ({})", options.execution_id,
                       trimmedApiUrl(options.api_url), envelopeMessage(body));
  }
  return fmt::format("titand at {} returned HTTP {}: {}", trimmedApiUrl(options.api_url), status,
                     envelopeMessage(body));
}

Result<HttpResponse> fetchExecution(const Options& options) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status(ErrorCode::kInternal, "curl_easy_init failed");
  std::string url = fmt::format("{}/api/v1/executions/{}", trimmedApiUrl(options.api_url),
                                escapeSegment(curl, options.execution_id));
  char error_buffer[CURL_ERROR_SIZE];
  HttpResponse response;
  setCommonOptions(curl, url, error_buffer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, kRequestTimeoutSeconds);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, appendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  std::string detail = curlDetail(code, error_buffer);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK)
    return Status(ErrorCode::kUnavailable, unreachableMessage(options, detail.c_str()));
  return response;
}

std::string optionalString(simdjson::dom::element data, const char* key) {
  std::string_view text;
  if (data[key].get(text) != simdjson::SUCCESS) return "-";
  return std::string(text);
}

Result<Execution> parseExecution(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element data;
  Execution execution;
  std::string_view id, status;
  if (parser.parse(body).get(data) != simdjson::SUCCESS || data["data"].get(data) ||
      data["id"].get(id) || data["status"].get(status) ||
      data["total_items"].get(execution.total_items)) {
    return Status(
        ErrorCode::kCorruption,
        "titand returned an execution document that does not parse: " + body.substr(0, 200));
  }
  execution.id = std::string(id);
  execution.status = std::string(status);
  execution.task_id = optionalString(data, "task_id");
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    if (data["counts"][kStateNames[i]].get(execution.counts[i]) != simdjson::SUCCESS) {
      execution.counts[i] = 0;
    }
  }
  if (data["progress"].get(execution.progress) != simdjson::SUCCESS) execution.progress = 0;
  execution.created_at = optionalString(data, "created_at");
  execution.started_at = optionalString(data, "started_at");
  execution.finished_at = optionalString(data, "finished_at");
  execution.source = optionalString(data, "source");
  return execution;
}

// Returns the execution, or prints why there is none and returns nullopt.
std::optional<Execution> loadExecution(const Options& options) {
  Result<HttpResponse> response = fetchExecution(options);
  if (!response.isOk()) {
    fmt::print(stderr, "titanctl: {}\n", response.status().message());
    return std::nullopt;
  }
  if (response->status != 200) {
    fmt::print(stderr, "titanctl: {}\n",
               httpErrorMessage(options, response->status, response->body));
    return std::nullopt;
  }
  Result<Execution> execution = parseExecution(response->body);
  if (!execution.isOk()) {
    fmt::print(stderr, "titanctl: {}\n", execution.status().message());
    return std::nullopt;
  }
  return std::move(execution.value());
}

bool isTerminalStatus(std::string_view status) {
  return status == "completed" || status == "completed_with_errors" || status == "failed" ||
         status == "cancelled";
}

int exitCodeFor(const Execution& execution) {
  if (!isTerminalStatus(execution.status) || execution.status == "completed") return kExitOk;
  return kExitUnsuccessful;
}

std::string progressCounts(const Execution& execution) {
  return fmt::format("{}/{} succeeded {} failed {} in flight {}", execution.finished(),
                     execution.total_items, execution.count("succeeded"), execution.count("failed"),
                     execution.count("in_flight"));
}

void printExecution(const Execution& execution) {
  fmt::print("execution  {}\n", execution.id);
  fmt::print("task       {}\n", execution.task_id);
  fmt::print("status     {}\n", execution.status);
  fmt::print("progress   {:.1f}% ({} of {} items finished)\n", execution.progress * 100.0,
             execution.finished(), execution.total_items);
  std::string counts;
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    counts += fmt::format("{}{} {}", i == 0 ? "" : "  ", kStateNames[i], execution.counts[i]);
  }
  fmt::print("counts     {}\n", counts);
  fmt::print("created    {}\n", execution.created_at);
  fmt::print("started    {}\n", execution.started_at);
  fmt::print("finished   {}\n", execution.finished_at);
  fmt::print("source     {}\n", execution.source);
}

// Draws the wait progress: a bar redrawn in place on a terminal, else a plain line every
// few seconds and whenever the status changes.
class ProgressDisplay {
 public:
  ProgressDisplay() : tty_(isatty(STDERR_FILENO) == 1) {}

  void show(const Execution& execution) {
    if (tty_) return drawBar(execution);
    auto now = std::chrono::steady_clock::now();
    if (execution.status == last_status_ && now - last_line_ < kPlainLineInterval) return;
    last_status_ = execution.status;
    last_line_ = now;
    fmt::print(stderr, "{} {:.0f}% {}\n", execution.status, execution.progress * 100.0,
               progressCounts(execution));
  }

  // Ends the redrawn line, so later output starts on a line of its own.
  void finish() {
    if (bar_drawn_) fmt::print(stderr, "\n");
    bar_drawn_ = false;
  }

 private:
  void drawBar(const Execution& execution) {
    int filled = static_cast<int>(execution.progress * kProgressBarWidth + 0.5);
    filled = std::clamp(filled, 0, kProgressBarWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kProgressBarWidth - filled), '.');
    // \x1b[K clears what a longer previous line left behind.
    fmt::print(stderr, "\r[{}] {:.0f}% {}\x1b[K", bar, execution.progress * 100.0,
               progressCounts(execution));
    std::fflush(stderr);
    bar_drawn_ = true;
  }

  bool tty_;
  bool bar_drawn_ = false;
  std::string last_status_;
  std::chrono::steady_clock::time_point last_line_{};
};

int waitForExecution(const Options& options) {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> deadline;
  if (options.timeout_seconds > 0) {
    deadline = Clock::now() + std::chrono::seconds(options.timeout_seconds);
  }
  ProgressDisplay display;
  while (true) {
    std::optional<Execution> execution = loadExecution(options);
    if (!execution) {
      display.finish();
      return kExitError;
    }
    display.show(*execution);
    if (isTerminalStatus(execution->status)) {
      display.finish();
      printExecution(*execution);
      return exitCodeFor(*execution);
    }
    if (deadline && Clock::now() >= *deadline) {
      display.finish();
      fmt::print(stderr,
                 "titanctl: timed out after {} s waiting for execution {}; it is still {}\n",
                 options.timeout_seconds, options.execution_id, execution->status);
      return kExitError;
    }
    auto pause = std::chrono::milliseconds(options.interval_ms);
    if (deadline)
      pause =
          std::min(pause, std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()));
    std::this_thread::sleep_for(pause);
  }
}

int runStatus(const Options& options) {
  if (options.wait) return waitForExecution(options);
  std::optional<Execution> execution = loadExecution(options);
  if (!execution) return kExitError;
  printExecution(*execution);
  return exitCodeFor(*execution);
}

// Receives the export body: into the output file when the status is 200, else into
// error_body for the message.
struct ExportSink {
  CURL* curl = nullptr;
  std::FILE* file = nullptr;
  uint64_t bytes = 0;
  int write_errno = 0;
  std::string error_body;

  static size_t write(char* data, size_t size, size_t count, void* user) {
    auto* sink = static_cast<ExportSink*>(user);
    size_t length = size * count;
    long status = 0;
    curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      size_t room = kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, sink->error_body.size());
      sink->error_body.append(data, std::min(room, length));
      return length;
    }
    if (std::fwrite(data, 1, length, sink->file) != length) {
      sink->write_errno = errno;
      return 0;  // Makes curl stop with CURLE_WRITE_ERROR.
    }
    sink->bytes += length;
    return length;
  }
};

std::string exportUrl(CURL* curl, const Options& options) {
  return fmt::format("{}/api/v1/executions/{}/results/export?format={}",
                     trimmedApiUrl(options.api_url), escapeSegment(curl, options.execution_id),
                     options.format);
}

// Runs the export request into `sink` and returns the error message, or "" on success.
std::string performExport(const Options& options, ExportSink* sink, const std::string& target) {
  char error_buffer[CURL_ERROR_SIZE];
  setCommonOptions(sink->curl, exportUrl(sink->curl, options), error_buffer);
  curl_easy_setopt(sink->curl, CURLOPT_WRITEFUNCTION, ExportSink::write);
  curl_easy_setopt(sink->curl, CURLOPT_WRITEDATA, sink);
  CURLcode code = curl_easy_perform(sink->curl);
  long status = 0;
  curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
  if (code == CURLE_WRITE_ERROR && sink->write_errno != 0) {
    return fmt::format("cannot write {}: {}", target, std::strerror(sink->write_errno));
  }
  if (code != CURLE_OK && status == 0) {
    return unreachableMessage(options, curlDetail(code, error_buffer));
  }
  if (status != 200) return httpErrorMessage(options, status, sink->error_body);
  if (code != CURLE_OK) {
    return fmt::format("export of execution {} was cut off after {} bytes: {}",
                       options.execution_id, sink->bytes, curlDetail(code, error_buffer));
  }
  return "";
}

int runExportToStdout(const Options& options, ExportSink* sink) {
  sink->file = stdout;
  std::string error = performExport(options, sink, "standard output");
  if (error.empty() && std::fflush(stdout) != 0) {
    error = fmt::format("cannot write standard output: {}", std::strerror(errno));
  }
  if (!error.empty()) {
    fmt::print(stderr, "titanctl: {}\n", error);
    return kExitError;
  }
  return kExitOk;
}

// Writes FILE.tmp and renames it to FILE only after the whole export arrived.
int runExportToFile(const Options& options, ExportSink* sink) {
  std::string temporary = options.output_path + ".tmp";
  sink->file = std::fopen(temporary.c_str(), "wb");
  if (sink->file == nullptr) {
    fmt::print(stderr, "titanctl: cannot create {}: {}\n", temporary, std::strerror(errno));
    return kExitError;
  }
  std::string error = performExport(options, sink, temporary);
  if (std::fclose(sink->file) != 0 && error.empty()) {
    error = fmt::format("cannot write {}: {}", temporary, std::strerror(errno));
  }
  if (error.empty() && std::rename(temporary.c_str(), options.output_path.c_str()) != 0) {
    error = fmt::format("cannot rename {} to {}: {}", temporary, options.output_path,
                        std::strerror(errno));
  }
  if (!error.empty()) {
    std::remove(temporary.c_str());
    fmt::print(stderr, "titanctl: {}\n", error);
    return kExitError;
  }
  fmt::print(stderr, "wrote {} bytes to {}\n", sink->bytes, options.output_path);
  return kExitOk;
}

int runExport(const Options& options) {
  ExportSink sink;
  sink.curl = curl_easy_init();
  if (sink.curl == nullptr) {
    fmt::print(stderr, "titanctl: curl_easy_init failed\n");
    return kExitError;
  }
  int rc = options.output_path.empty() ? runExportToStdout(options, &sink)
                                       : runExportToFile(options, &sink);
  curl_easy_cleanup(sink.curl);
  return rc;
}

std::string defaultApiUrl() {
  const char* env = std::getenv("TITAN_API_URL");
  return env != nullptr && env[0] != '\0' ? env : kDefaultApiUrl;
}

void addStatusCommand(CLI::App* app, Options* options) {
  CLI::App* status =
      app->add_subcommand("status", "Show an execution's status, counts and progress");
  status->add_option("EXEC_ID", options->execution_id, "Execution id (UUID)")->required();
  status->add_flag("--wait", options->wait,
                   "Poll until the execution finishes; exit 0 if it completed, 3 if it "
                   "completed with errors, failed or was cancelled");
  status->add_option("--interval-ms", options->interval_ms, "Poll interval in milliseconds")
      ->check(CLI::Range(10u, 3600u * 1000u));
  status->add_option("--timeout-seconds", options->timeout_seconds,
                     "Give up waiting after this many seconds (exit 1); 0 waits forever");
}

void addExportCommand(CLI::App* app, Options* options) {
  CLI::App* command = app->add_subcommand("export", "Download an execution's results");
  command->add_option("EXEC_ID", options->execution_id, "Execution id (UUID)")->required();
  command->add_option("--format", options->format, "Output format")
      ->check(CLI::IsMember({"ndjson", "csv"}));
  command->add_option("-o,--output", options->output_path,
                      "Write to FILE (through FILE.tmp, renamed when complete) instead of "
                      "standard output");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.api_url = defaultApiUrl();
  CLI::App app{"titanctl: query titand's operator API"};
  app.require_subcommand(1);
  app.add_option(
      "--api", options.api_url,
      "Base URL of the titand API (default: $TITAN_API_URL, else http://127.0.0.1:8420)");
  addStatusCommand(&app, &options);
  addExportCommand(&app, &options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fmt::print(stderr, "titanctl: curl_global_init failed\n");
    return kExitError;
  }
  int rc = app.got_subcommand("status") ? runStatus(options) : runExport(options);
  curl_global_cleanup();
  return rc;
}
