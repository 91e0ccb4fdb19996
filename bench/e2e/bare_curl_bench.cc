// bare_curl_bench: the baseline of the end-to-end benchmark. Sends the GET requests that
// titand would send for a list of URLs through one libcurl multi handle, with no queue, no
// store and no event loop library. The loop is curl_multi_perform plus curl_multi_poll with
// a fixed number of transfers in flight, and a pool of easy handles keeps connections reused.
//
// Prints one JSON line: requests, failures, elapsed seconds, requests per second and the
// p50/p99 of the per-request latency in milliseconds. Exits 1 on invalid options, an
// unreadable URL file, a libcurl setup error or when the deadline passes, and 0 otherwise.
// Failed requests are counted in the summary and do not change the exit code.
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string url_file;
  long concurrency = 512;
  long max_host_connections = 0;  // 0 means no per-host limit, the libcurl default.
  long deadline_seconds = 600;
  std::string user_agent = "titand/0.1";
  std::string key_prefix = "bare";
};

// One easy handle with its request state. The handle stays alive across requests, so
// libcurl keeps its settings and finds the cached connection of the origin.
struct Slot {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;  // Buffered as titand buffers it, then cleared for the next request.
  size_t url_index = 0;
  Clock::time_point started;
};

struct Summary {
  uint64_t requests = 0;
  uint64_t failures = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;
};

size_t appendBody(char* data, size_t size, size_t count, void* opaque) {
  static_cast<Slot*>(opaque)->body.append(data, size * count);
  return size * count;
}

bool readUrls(const std::string& path, std::vector<std::string>* urls) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) urls->push_back(line);
  }
  return true;
}

// Sets the options titand's CurlEngine sets for a GET, plus an Idempotency-Key header of
// the same shape, so both send the same bytes per request.
void prepare(Slot* slot, const Options& options, const std::string& url, size_t index) {
  CURL* easy = slot->easy;
  curl_slist_free_all(slot->headers);
  slot->headers = nullptr;
  std::string key = fmt::format("Idempotency-Key: {}-{}", options.key_prefix, index);
  slot->headers = curl_slist_append(slot->headers, key.c_str());
  slot->headers = curl_slist_append(slot->headers, "Accept: application/json, */*;q=0.5");
  slot->body.clear();
  slot->url_index = index;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, slot);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &appendBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, slot);
  curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, slot->headers);
  slot->started = Clock::now();
}

// Records the finished transfer of `slot`; returns false for a transport error or a status
// outside 2xx.
bool recordDone(Slot* slot, CURLcode code, Summary* summary) {
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - slot->started).count();
  summary->latencies_ms.push_back(ms);
  ++summary->requests;
  long status = 0;
  curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &status);
  bool ok = code == CURLE_OK && status >= 200 && status < 300;
  if (!ok) ++summary->failures;
  return ok;
}

double percentile(std::vector<double>* values, double fraction) {
  if (values->empty()) return 0;
  size_t rank = static_cast<size_t>(fraction * static_cast<double>(values->size() - 1) + 0.5);
  std::nth_element(values->begin(), values->begin() + static_cast<long>(rank), values->end());
  return (*values)[rank];
}

// Runs every URL with at most `concurrency` transfers in flight. Returns false when the
// deadline passes or libcurl fails outside a transfer.
bool runAll(const Options& options, const std::vector<std::string>& urls, Summary* summary) {
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) {
    std::fprintf(stderr, "bare_curl_bench: curl_multi_init failed\n");
    return false;
  }
  // The same connection cache size titand's CurlEngine sets (twice the in-flight limit).
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, options.concurrency * 2);
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  if (options.max_host_connections > 0) {
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
  }

  size_t slot_count = std::min<size_t>(static_cast<size_t>(options.concurrency), urls.size());
  std::vector<Slot> slots(slot_count);
  size_t next = 0;
  int running = 0;
  bool ok = true;
  summary->latencies_ms.reserve(urls.size());
  Clock::time_point start = Clock::now();
  Clock::time_point deadline = start + std::chrono::seconds(options.deadline_seconds);

  for (Slot& slot : slots) {
    slot.easy = curl_easy_init();
    if (slot.easy == nullptr) {
      std::fprintf(stderr, "bare_curl_bench: curl_easy_init failed\n");
      ok = false;
      break;
    }
    prepare(&slot, options, urls[next], next);
    ++next;
    curl_multi_add_handle(multi, slot.easy);
    ++running;
  }

  while (ok && running > 0) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "bare_curl_bench: deadline of %ld s passed with %zu of %zu done\n",
                   options.deadline_seconds, static_cast<size_t>(summary->requests), urls.size());
      ok = false;
      break;
    }
    int still_running = 0;
    CURLMcode code = curl_multi_perform(multi, &still_running);
    if (code == CURLM_OK) code = curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    if (code != CURLM_OK) {
      std::fprintf(stderr, "bare_curl_bench: %s\n", curl_multi_strerror(code));
      ok = false;
      break;
    }
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      Slot* slot = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &slot);
      recordDone(slot, message->data.result, summary);
      curl_multi_remove_handle(multi, slot->easy);
      --running;
      if (next < urls.size()) {
        prepare(slot, options, urls[next], next);
        ++next;
        curl_multi_add_handle(multi, slot->easy);
        ++running;
      }
    }
  }
  summary->seconds = std::chrono::duration<double>(Clock::now() - start).count();

  for (Slot& slot : slots) {
    if (slot.easy == nullptr) continue;
    curl_multi_remove_handle(multi, slot.easy);
    curl_easy_cleanup(slot.easy);
    curl_slist_free_all(slot.headers);
  }
  curl_multi_cleanup(multi);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Baseline for titand's end-to-end benchmark: GET every URL of a file through one "
      "libcurl multi handle and print a JSON summary line."};
  Options options;
  app.add_option("--urls", options.url_file, "File with one URL per line")->required();
  app.add_option("--concurrency", options.concurrency, "Transfers in flight at once")
      ->check(CLI::Range(1L, 100000L))
      ->capture_default_str();
  app.add_option("--max-host-connections", options.max_host_connections,
                 "Maximum connections per origin; 0 means no limit")
      ->check(CLI::Range(0L, 100000L))
      ->capture_default_str();
  app.add_option("--key-prefix", options.key_prefix,
                 "Idempotency-Key of request i is PREFIX-i; distinct prefixes keep the target's "
                 "per-key counts of different runs apart")
      ->capture_default_str();
  app.add_option("--deadline-seconds", options.deadline_seconds,
                 "Give up with exit code 1 after this many seconds")
      ->check(CLI::Range(1L, 86400L))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }

  std::vector<std::string> urls;
  if (!readUrls(options.url_file, &urls)) {
    std::fprintf(stderr, "bare_curl_bench: cannot read URL file %s\n", options.url_file.c_str());
    return 1;
  }
  if (urls.empty()) {
    std::fprintf(stderr, "bare_curl_bench: URL file %s has no URLs\n", options.url_file.c_str());
    return 1;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "bare_curl_bench: curl_global_init failed\n");
    return 1;
  }

  Summary summary;
  bool ok = runAll(options, urls, &summary);
  double p50 = percentile(&summary.latencies_ms, 0.50);
  double p99 = percentile(&summary.latencies_ms, 0.99);
  double rate = summary.seconds > 0 ? static_cast<double>(summary.requests) / summary.seconds : 0;
  std::printf(
      "{\"requests\":%llu,\"failures\":%llu,\"seconds\":%.3f,\"per_second\":%.1f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"concurrency\":%ld}\n",
      static_cast<unsigned long long>(summary.requests),
      static_cast<unsigned long long>(summary.failures), summary.seconds, rate, p50, p99,
      options.concurrency);
  curl_global_cleanup();
  return ok ? 0 : 1;
}
