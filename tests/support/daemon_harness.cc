#include "support/daemon_harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#ifndef TITAND_BINARY
#error "TITAND_BINARY must name the titand executable"
#endif

namespace titand::testing {
namespace {

size_t appendBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

HttpReply httpGet(const std::string& url, long timeout_ms) {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &appendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  }
  curl_easy_cleanup(curl);
  return reply;
}

uint16_t pickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

DaemonHarness::DaemonHarness(std::string extra_toml, std::filesystem::path spool_dir)
    : spool_dir_(spool_dir.empty() ? dir_.path() / "spool" : std::move(spool_dir)),
      api_port_(pickFreePort()),
      metrics_port_(pickFreePort()) {
  std::ofstream config(configPath());
  config << fmt::format(
      "state_dir = \"{}\"\n"
      "[spool]\ndir = \"{}\"\nrescan_interval_ms = 200\n"
      "[api]\nlisten = \"127.0.0.1:{}\"\n"
      "[metrics]\nlisten = \"127.0.0.1:{}\"\n",
      stateDir().string(), spoolDir().string(), api_port_, metrics_port_);
  config << extra_toml << "\n";
}

DaemonHarness::~DaemonHarness() {
  if (pid_ > 0) kill9();
}

std::string DaemonHarness::apiUrl() const { return fmt::format("http://127.0.0.1:{}", api_port_); }

std::string DaemonHarness::metricsUrl() const {
  return fmt::format("http://127.0.0.1:{}", metrics_port_);
}

void DaemonHarness::setEnv(std::string name, std::string value) {
  env_.emplace_back(std::move(name), std::move(value));
}

void DaemonHarness::start() {
  ASSERT_LT(pid_, 0) << "titand already running";
  pid_ = ::fork();
  ASSERT_GE(pid_, 0) << "fork failed";
  if (pid_ == 0) {
    int log = ::open(logPath().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(log, STDERR_FILENO);
    ::dup2(log, STDOUT_FILENO);
    for (const auto& [name, value] : env_) ::setenv(name.c_str(), value.c_str(), 1);
    std::string config = configPath().string();
    ::execl(TITAND_BINARY, "titand", "--config", config.c_str(), "--log-level", "debug",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (httpGet(apiUrl() + "/healthz", 500).status == 200) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "titand exited during start; log:\n" << readLog();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "titand did not answer /healthz within 60 s; log:\n" << readLog();
}

int DaemonHarness::stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill9();
  return -1;
}

void DaemonHarness::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void DaemonHarness::dropFile(const std::string& name, const std::string& content) {
  std::filesystem::path incoming = spoolDir() / "incoming";
  std::filesystem::create_directories(incoming);
  std::filesystem::path temp = incoming / ("." + name + ".tmp");
  {
    std::ofstream out(temp, std::ios::binary);
    out << content;
  }
  std::filesystem::rename(temp, incoming / name);
}

bool DaemonHarness::waitForPath(const std::filesystem::path& path,
                                std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::filesystem::exists(path);
}

std::vector<std::string> DaemonHarness::receiptExecutions(const std::string& name) {
  std::vector<std::string> ids;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::filesystem::path receipt = spoolDir() / "done" / (name + ".receipt.json");
  if (parser.load(receipt.string()).get(root) != simdjson::SUCCESS) return ids;
  simdjson::dom::array tasks;
  if (root["tasks"].get(tasks) != simdjson::SUCCESS) return ids;
  for (simdjson::dom::element task : tasks) {
    std::string_view id;
    if (task["execution_id"].get(id) == simdjson::SUCCESS) ids.emplace_back(id);
  }
  return ids;
}

std::string DaemonHarness::waitForExecution(const std::string& execution_id,
                                            std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  HttpReply reply;
  while (std::chrono::steady_clock::now() < deadline) {
    reply = httpGet(apiUrl() + "/api/v1/executions/" + execution_id);
    if (reply.status == 200) {
      std::string status = jsonField(reply.body, "data.status");
      if (status == "completed" || status == "completed_with_errors" || status == "failed" ||
          status == "cancelled") {
        return reply.body;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "execution " << execution_id << " did not finish in " << timeout.count()
                << " ms; last reply: HTTP " << reply.status << " " << reply.body
                << "\ntitand log:\n"
                << readLog();
  return "";
}

std::string DaemonHarness::exportNdjson(const std::string& execution_id) {
  return httpGet(apiUrl() + "/api/v1/executions/" + execution_id + "/results/export?format=ndjson",
                 30000)
      .body;
}

std::string DaemonHarness::readLog() const {
  std::ifstream in(logPath());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string jsonField(const std::string& json, const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(json).get(element) != simdjson::SUCCESS) return "";
  std::stringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '.')) {
    if (element.at_key(part).get(element) != simdjson::SUCCESS) return "";
  }
  std::string_view text;
  if (element.get(text) == simdjson::SUCCESS) return std::string(text);
  return simdjson::minify(element);
}

}  // namespace titand::testing
