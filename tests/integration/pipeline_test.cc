// End-to-end tests of the bulk pipeline: the real titand binary, a real RocksDB on disk and
// HTTP targets started by the test on 127.0.0.1.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "integration/task_lines.h"
#include "support/daemon_harness.h"
#include "testing/http_target.h"

namespace titand::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Runs titand in the foreground with `config_path` until it exits; returns the wait status
// and everything it wrote to stdout and stderr.
std::pair<int, std::string> runTitand(const std::string& config_path) {
  std::string command = fmt::format("{} --config {} 2>&1", TITAND_BINARY, config_path);
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char buffer[512];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  return {::pclose(pipe), output};
}

const char* kFastRetries = R"(
[engine]
backoff_base_ms = 50
backoff_max_ms = 200
default_timeout_seconds = 5
default_max_retries = 3
shutdown_grace_seconds = 5
[hosts.default]
requests_per_second = 0
burst = 1000
max_connections = 32
)";

std::unique_ptr<HttpTarget> startTarget(size_t ports = 1) {
  HttpTarget::Options options;
  options.ports.assign(ports, 0);
  auto target = HttpTarget::start(options);
  EXPECT_TRUE(target.isOk()) << target.status().toString();
  return target.isOk() ? std::move(target.value()) : nullptr;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

class PipelineTest : public ::testing::Test {
 protected:
  // Drops one file, waits for its receipt and returns its execution ids.
  std::vector<std::string> submit(DaemonHarness& daemon, const std::string& name,
                                  const std::string& content) {
    daemon.dropFile(name, content);
    EXPECT_TRUE(daemon.waitForPath(daemon.spoolDir() / "done" / (name + ".receipt.json"),
                                   milliseconds(30000)))
        << daemon.readLog();
    return daemon.receiptExecutions(name);
  }
};

TEST_F(PipelineTest, SuccessfulBatchCompletes) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  std::string base = target->baseUrl();
  std::string content = taskLine("get", {base + "/one", base + "/two"}) +
                        taskLine("post", {base + "/quote"}, R"({"origin_zip":"94107"})");
  auto executions = submit(daemon, "batch.ndjson", content);
  ASSERT_EQ(executions.size(), 2u);

  std::string first = daemon.waitForExecution(executions[0], milliseconds(30000));
  EXPECT_EQ(jsonField(first, "data.status"), "completed");
  EXPECT_EQ(jsonField(first, "data.counts.succeeded"), "2");
  std::string second = daemon.waitForExecution(executions[1], milliseconds(30000));
  EXPECT_EQ(jsonField(second, "data.status"), "completed");

  auto results = lines(daemon.exportNdjson(executions[1]));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(jsonField(results[0], "http_status"), "200");
  EXPECT_EQ(jsonField(results[0], "method"), "POST");
  EXPECT_EQ(jsonField(results[0], "attempts"), "1");
  EXPECT_EQ(jsonField(results[0], "body.echo.origin_zip"), "94107");
  EXPECT_EQ(jsonField(results[0], "headers.content-type"), "application/json");
  EXPECT_NE(jsonField(results[0], "timings.finished_at"), "");
  EXPECT_EQ(target->requestsForKey("titand-" + executions[1] + "-0"), 1u);
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(PipelineTest, ServiceUnavailableThenSuccess) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  auto executions =
      submit(daemon, "flaky.ndjson", taskLine("flaky", {target->baseUrl() + "/flaky/2/503"}));
  ASSERT_EQ(executions.size(), 1u);
  std::string done = daemon.waitForExecution(executions[0], milliseconds(30000));
  EXPECT_EQ(jsonField(done, "data.status"), "completed");
  auto results = lines(daemon.exportNdjson(executions[0]));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(jsonField(results[0], "attempts"), "3");
  EXPECT_EQ(target->requestsForKey("titand-" + executions[0] + "-0"), 3u);
}

TEST_F(PipelineTest, RetryAfterHoldsBackHost) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  std::string origin = target->baseUrl();
  // One connection at a time, so the second item can only go after the 429 arrived.
  DaemonHarness daemon(std::string(kFastRetries) + "[hosts.\"" + origin +
                       "\"]\nmax_connections = 1\n");
  daemon.start();
  auto executions = submit(daemon, "held.ndjson",
                           taskLine("held", {origin + "/retry-after/2/429", origin + "/after"}));
  ASSERT_EQ(executions.size(), 1u);
  std::string done = daemon.waitForExecution(executions[0], milliseconds(30000));
  EXPECT_EQ(jsonField(done, "data.status"), "completed");

  auto limited = target->requestTimesForKey("titand-" + executions[0] + "-0");
  auto other = target->requestTimesForKey("titand-" + executions[0] + "-1");
  ASSERT_EQ(limited.size(), 2u);
  ASSERT_EQ(other.size(), 1u);
  Micros held_until = limited[0] + 2 * kMicrosPerSecond;
  // Allow 50 ms for the target's and titand's clocks being read at different moments.
  EXPECT_GE(limited[1], held_until - 50 * kMicrosPerMilli);
  EXPECT_GE(other[0], held_until - 50 * kMicrosPerMilli);
}

TEST_F(PipelineTest, ClientErrorFailsWithoutRetry) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  auto executions =
      submit(daemon, "missing.ndjson", taskLine("missing", {target->baseUrl() + "/status/404"}));
  ASSERT_EQ(executions.size(), 1u);
  std::string done = daemon.waitForExecution(executions[0], milliseconds(30000));
  EXPECT_EQ(jsonField(done, "data.status"), "failed");
  auto results = lines(daemon.exportNdjson(executions[0]));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(jsonField(results[0], "http_status"), "404");
  EXPECT_EQ(jsonField(results[0], "attempts"), "1");
  EXPECT_EQ(target->requestsForKey("titand-" + executions[0] + "-0"), 1u);
}

TEST_F(PipelineTest, TimeoutIsRetriedThenFails) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  auto executions = submit(daemon, "slow.ndjson",
                           taskLine("slow", {target->baseUrl() + "/delay/4000"}, "",
                                    R"({"timeout_seconds":1,"max_retries":1})"));
  ASSERT_EQ(executions.size(), 1u);
  std::string done = daemon.waitForExecution(executions[0], milliseconds(30000));
  EXPECT_EQ(jsonField(done, "data.status"), "failed");
  auto results = lines(daemon.exportNdjson(executions[0]));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(jsonField(results[0], "attempts"), "2");
  EXPECT_NE(jsonField(results[0], "error").find("imeout"), std::string::npos)
      << jsonField(results[0], "error");
}

TEST_F(PipelineTest, BlackHoleHostDoesNotStallOthers) {
  // A socket that listens but never accepts: connections hang until the timeout.
  int hole = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(hole, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(hole, 1), 0);
  socklen_t length = sizeof address;
  ::getsockname(hole, reinterpret_cast<sockaddr*>(&address), &length);
  std::string hole_url = fmt::format("http://127.0.0.1:{}/never", ntohs(address.sin_port));

  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  std::vector<std::string> hole_urls(20, hole_url);
  std::vector<std::string> good_urls;
  for (int i = 0; i < 200; ++i)
    good_urls.push_back(fmt::format("{}/good/{}", target->baseUrl(), i));
  std::string content =
      taskLine("hole", hole_urls, "", R"({"timeout_seconds":10,"max_retries":0})") +
      taskLine("good", good_urls);
  auto executions = submit(daemon, "mixed.ndjson", content);
  ASSERT_EQ(executions.size(), 2u);

  std::string good = daemon.waitForExecution(executions[1], milliseconds(9000));
  EXPECT_EQ(jsonField(good, "data.status"), "completed") << "good host stalled";
  auto hole_status = httpGet(daemon.apiUrl() + "/api/v1/executions/" + executions[0]);
  EXPECT_EQ(jsonField(hole_status.body, "data.status"), "running");
  std::string hole_done = daemon.waitForExecution(executions[0], milliseconds(30000));
  EXPECT_EQ(jsonField(hole_done, "data.status"), "failed");
  ::close(hole);
}

TEST_F(PipelineTest, HangingUrlDoesNotBlockItsHost) {
  // The first request to a new host hangs. The others to the same host must go out on their
  // own connections rather than wait behind it.
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  std::string base = target->baseUrl();
  std::string hang =
      taskLine("hang", {base + "/hang"}, "", R"({"timeout_seconds":20,"max_retries":0})");
  std::string quick =
      taskLine("quick", {base + "/status/200?a", base + "/status/200?b", base + "/status/200?c"},
               "", R"({"timeout_seconds":20,"max_retries":0})");
  auto executions = submit(daemon, "hang.ndjson", hang + quick);
  ASSERT_EQ(executions.size(), 2u);

  std::string done = daemon.waitForExecution(executions[1], milliseconds(15000));
  EXPECT_EQ(jsonField(done, "data.status"), "completed") << "requests queued behind /hang";
  auto hang_status = httpGet(daemon.apiUrl() + "/api/v1/executions/" + executions[0]);
  EXPECT_EQ(jsonField(hang_status.body, "data.status"), "running");
}

TEST_F(PipelineTest, OversizeBodyFailsItem) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  std::string config = kFastRetries;
  config.insert(config.find("[engine]\n") + 9, "max_response_bytes = 1048576\n");
  DaemonHarness daemon(config);
  daemon.start();
  auto executions = submit(
      daemon, "big.ndjson",
      taskLine("big", {target->baseUrl() + "/bytes/3000000", target->baseUrl() + "/bytes/1000"}));
  ASSERT_EQ(executions.size(), 1u);
  std::string done = daemon.waitForExecution(executions[0], milliseconds(30000));
  EXPECT_EQ(jsonField(done, "data.status"), "completed_with_errors");
  auto results = lines(daemon.exportNdjson(executions[0]));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(jsonField(results[0], "state"), "failed");
  EXPECT_NE(jsonField(results[0], "error").find("max_response_bytes"), std::string::npos);
  EXPECT_EQ(jsonField(results[0], "attempts"), "1");
  EXPECT_EQ(jsonField(results[1], "state"), "succeeded");
}

TEST_F(PipelineTest, MalformedFileQueuesNothing) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  std::string content =
      taskLine("fine", {target->baseUrl() + "/ok"}) + "{\"name\": broken\n" +
      taskLine("bad-limits", {target->baseUrl() + "/ok"}, "", R"({"timeout_seconds":0})");
  daemon.dropFile("bad.ndjson", content);
  auto report = daemon.spoolDir() / "failed" / "bad.ndjson.errors.json";
  ASSERT_TRUE(daemon.waitForPath(report, milliseconds(30000))) << daemon.readLog();
  // The report is written before the file moves, so that a crash never leaves a rejected
  // file without its report.
  EXPECT_TRUE(daemon.waitForPath(daemon.spoolDir() / "failed" / "bad.ndjson", milliseconds(30000)));
  EXPECT_FALSE(std::filesystem::exists(daemon.spoolDir() / "incoming" / "bad.ndjson"));
  std::string errors = slurp(report);
  EXPECT_NE(errors.find("\"line\":2"), std::string::npos) << errors;
  EXPECT_NE(errors.find("\"line\":3"), std::string::npos) << errors;
  EXPECT_NE(errors.find("limits.timeout_seconds"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("\"line\":1,"), std::string::npos) << errors;

  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(target->totalRequests(), 0u);
  std::string metrics = httpGet(daemon.metricsUrl() + "/metrics").body;
  EXPECT_NE(metrics.find("titand_items{state=\"queued\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("titand_spool_files_rejected_total 1"), std::string::npos);
}

TEST_F(PipelineTest, RedroppedFileCreatesNoDuplicates) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  std::string content;
  for (int i = 0; i < 20; ++i)
    content += taskLine(fmt::format("t{}", i), {target->baseUrl() + "/ok"});
  auto first = submit(daemon, "first.ndjson", content);
  ASSERT_EQ(first.size(), 20u);
  for (const auto& id : first) daemon.waitForExecution(id, milliseconds(30000));
  auto second = submit(daemon, "again.ndjson", content);
  EXPECT_EQ(first, second);
  std::string receipt = slurp(daemon.spoolDir() / "done" / "again.ndjson.receipt.json");
  EXPECT_NE(receipt.find("\"duplicate\":true"), std::string::npos);
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(target->totalRequests(), 20u);
  std::string metrics = httpGet(daemon.metricsUrl() + "/metrics").body;
  EXPECT_NE(metrics.find("titand_items{state=\"succeeded\"} 20"), std::string::npos) << metrics;
}

TEST_F(PipelineTest, SecondInstanceRefusesStateDir) {
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  auto [status, output] = runTitand(daemon.configPath().string());
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("in use by another titand"), std::string::npos) << output;
}

TEST_F(PipelineTest, SecondInstanceRefusesSharedSpool) {
  DaemonHarness first(kFastRetries);
  first.start();
  // Its own state directory, but the first instance's spool.
  DaemonHarness second(kFastRetries, first.spoolDir());
  auto [status, output] = runTitand(second.configPath().string());
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("spool directory"), std::string::npos) << output;
  EXPECT_NE(output.find("in use by another titand"), std::string::npos) << output;
}

TEST_F(PipelineTest, FileWrittenInPlaceKeepsEveryLine) {
  // A writer that ignores the rename rule and appends to incoming/ directly, slowly.
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  auto path = daemon.spoolDir() / "incoming" / "slow.ndjson";
  {
    std::ofstream out(path);
    for (int i = 0; i < 4; ++i) {
      out << taskLine(fmt::format("slow{}", i), {target->baseUrl() + "/ok"}) << std::flush;
      std::this_thread::sleep_for(milliseconds(300));
    }
  }
  ASSERT_TRUE(daemon.waitForPath(daemon.spoolDir() / "done" / "slow.ndjson.receipt.json",
                                 milliseconds(30000)))
      << daemon.readLog();
  EXPECT_EQ(daemon.receiptExecutions("slow.ndjson").size(), 4u);
}

TEST_F(PipelineTest, LongFileNameGetsShortenedReceipt) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  // 247 bytes: the file fits NAME_MAX but "<name>.receipt.json.tmp" would not.
  std::string name = std::string(240, 'L') + ".ndjson";
  daemon.dropFile(name, taskLine("long", {target->baseUrl() + "/ok"}));
  ASSERT_TRUE(daemon.waitForPath(daemon.spoolDir() / "done" / name, milliseconds(30000)))
      << daemon.readLog();
  std::vector<std::string> receipts;
  for (const auto& entry : std::filesystem::directory_iterator(daemon.spoolDir() / "done")) {
    std::string file = entry.path().filename().string();
    if (file.ends_with(".receipt.json")) receipts.push_back(file);
  }
  ASSERT_EQ(receipts.size(), 1u);
  EXPECT_LE(receipts[0].size(), 251u);
  EXPECT_NE(receipts[0].find('~'), std::string::npos) << receipts[0];
  EXPECT_FALSE(std::filesystem::exists(daemon.spoolDir() / "incoming" / name));
}

TEST_F(PipelineTest, ReceiptAfterBlockedDoneDirIsNotDuplicate) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  // A regular file where done/ should be: the commit succeeds, the receipt cannot be written.
  auto done_dir = daemon.spoolDir() / "done";
  std::filesystem::remove_all(done_dir);
  std::ofstream(done_dir) << "not a directory\n";
  daemon.dropFile("blocked.ndjson", taskLine("blocked", {target->baseUrl() + "/ok"}));
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (daemon.readLog().find("ingest failed") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_NE(daemon.readLog().find("ingest failed"), std::string::npos) << daemon.readLog();

  std::filesystem::remove(done_dir);
  std::filesystem::create_directory(done_dir);
  ASSERT_TRUE(daemon.waitForPath(done_dir / "blocked.ndjson.receipt.json", milliseconds(30000)))
      << daemon.readLog();
  std::string receipt = slurp(done_dir / "blocked.ndjson.receipt.json");
  EXPECT_NE(receipt.find("\"duplicate\":false"), std::string::npos) << receipt;
  auto executions = daemon.receiptExecutions("blocked.ndjson");
  ASSERT_EQ(executions.size(), 1u);
  std::string done = daemon.waitForExecution(executions[0], milliseconds(30000));
  EXPECT_EQ(jsonField(done, "data.status"), "completed");
  EXPECT_EQ(target->totalRequests(), 1u);
}

TEST_F(PipelineTest, IgnoredEntriesAreLoggedOnce) {
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  auto incoming = daemon.spoolDir() / "incoming";
  std::filesystem::create_directory(incoming / "batch.ndjson");
  std::ofstream(incoming / "notes.txt") << "not a task file\n";
  std::ofstream(incoming / ".hidden.ndjson") << "a writer's own file\n";
  std::this_thread::sleep_for(milliseconds(1500));  // Several rescans at 200 ms.
  std::string log = daemon.readLog();
  auto count = [&log](const std::string& text) {
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("batch.ndjson: a directory"), 1u) << log;
  EXPECT_EQ(count("notes.txt: not named *.ndjson or *.jsonl"), 1u) << log;
  EXPECT_EQ(count(".hidden.ndjson"), 0u) << log;
}

TEST_F(PipelineTest, SigtermFinishesInFlightAndExitsZero) {
  auto target = startTarget();
  ASSERT_TRUE(target);
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  std::vector<std::string> urls;
  for (int i = 0; i < 10; ++i)
    urls.push_back(fmt::format("{}/delay/800?i={}", target->baseUrl(), i));
  auto executions = submit(daemon, "slow.ndjson", taskLine("slow", urls));
  ASSERT_EQ(executions.size(), 1u);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_NE(daemon.readLog().find("state persisted"), std::string::npos);
  daemon.start();
  std::string done = daemon.waitForExecution(executions[0], milliseconds(30000));
  EXPECT_EQ(jsonField(done, "data.status"), "completed");
}

TEST_F(PipelineTest, BadConfigValueRejected) {
  TempDir dir;
  std::string path = dir.str() + "/bad.toml";
  std::ofstream(path) << "[engine]\nmax_in_flight = 0\n";
  auto [status, output] = runTitand(path);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(output.find("engine.max_in_flight"), std::string::npos) << output;
}

TEST_F(PipelineTest, MetricsExposeOperatorSeries) {
  DaemonHarness daemon(kFastRetries);
  daemon.start();
  HttpReply reply = httpGet(daemon.metricsUrl() + "/metrics");
  ASSERT_EQ(reply.status, 200);
  for (const char* name :
       {"titand_items{", "titand_queue_depth{kind=\"due\"}", "titand_oldest_due_item_age_seconds",
        "titand_requests_total", "titand_retries_total", "titand_request_duration_seconds_bucket",
        "titand_spool_files_accepted_total", "titand_spool_lines_rejected_total",
        "titand_wal_syncs_total", "titand_wal_sync_seconds_bucket", "process_resident_memory_bytes",
        "process_open_fds"}) {
    EXPECT_NE(reply.body.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(httpGet(daemon.metricsUrl() + "/healthz").status, 200);
}

}  // namespace
}  // namespace titand::testing
