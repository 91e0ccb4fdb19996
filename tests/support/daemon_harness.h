// DaemonHarness: runs the real titand binary on a temporary state directory for
// integration tests, with helpers to drop files, call its API and wait for outcomes.
// Thread safety: one test thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace titand::testing {

struct HttpReply {
  long status = 0;  // 0 when the request failed.
  std::string body;
};

// Sends a GET to a loopback URL with libcurl; a short timeout, no retries.
HttpReply httpGet(const std::string& url, long timeout_ms = 5000);

// Returns a port that was free a moment ago on 127.0.0.1.
uint16_t pickFreePort();

class DaemonHarness {
 public:
  // `extra_toml` is appended to the generated config (sections such as [engine]). The spool
  // lives in the temporary directory unless `spool_dir` names another one.
  explicit DaemonHarness(std::string extra_toml = "", std::filesystem::path spool_dir = {});
  ~DaemonHarness();

  // Sets an environment variable for titand processes started after this call.
  void setEnv(std::string name, std::string value);
  // Starts titand and waits until /healthz answers. Fails the test when it does not.
  void start();
  // Sends SIGTERM and waits for the exit; returns the exit status (or -1 on timeout).
  int stop(std::chrono::seconds timeout = std::chrono::seconds(60));
  void kill9();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Writes `content` as incoming/<name> the way writers should: a dot-file, then rename.
  void dropFile(const std::string& name, const std::string& content);
  // Waits for a path to exist; returns false on timeout.
  bool waitForPath(const std::filesystem::path& path, std::chrono::milliseconds timeout);
  // Reads the execution ids from done/<name>.receipt.json.
  std::vector<std::string> receiptExecutions(const std::string& name);
  // Polls the execution until its status is terminal; returns the final JSON (or "").
  std::string waitForExecution(const std::string& execution_id, std::chrono::milliseconds timeout);
  // Returns the NDJSON export of an execution.
  std::string exportNdjson(const std::string& execution_id);

  std::string apiUrl() const;
  std::string metricsUrl() const;
  std::filesystem::path spoolDir() const { return spool_dir_; }
  std::filesystem::path stateDir() const { return dir_.path() / "state"; }
  std::filesystem::path configPath() const { return dir_.path() / "titand.toml"; }
  std::filesystem::path logPath() const { return dir_.path() / "titand.log"; }
  std::string readLog() const;

 private:
  TempDir dir_;
  std::filesystem::path spool_dir_;
  uint16_t api_port_;
  uint16_t metrics_port_;
  pid_t pid_ = -1;
  std::vector<std::pair<std::string, std::string>> env_;
};

// Extracts a string field ("status") or number field from a flat JSON text; test helper.
std::string jsonField(const std::string& json, const std::string& path);

}  // namespace titand::testing
