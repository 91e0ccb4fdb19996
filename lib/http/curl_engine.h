// CurlEngine: outgoing HTTP requests through one libcurl multi handle driven by a libuv loop.
//
// libcurl tells the engine which sockets to watch (socket callback) and when to wake it
// (timer callback); the engine maps those onto uv_poll and uv_timer handles and calls
// curl_multi_socket_action from them. Easy handles go back to a pool after each transfer so
// their settings and the multi handle's connection cache are reused; HTTP/2 is negotiated
// over TLS where the server offers it, and requests to one origin multiplex on it.
// Thread safety: loop thread only. Completions run on the loop thread, never inside start().
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace titand::http {

struct Request {
  std::string method = "GET";  // "GET" or "POST".
  std::string url;
  std::string body;                  // Sent as application/json when method is POST.
  std::vector<std::string> headers;  // Extra headers as "Name: value".
  long timeout_ms = 30000;           // Whole attempt, connect included.
  long connect_timeout_ms = 10000;
  uint64_t max_body_bytes = 10 << 20;
};

struct Response {
  long http_status = 0;           // 0 when no response arrived.
  CURLcode curl_code = CURLE_OK;  // Transport result; CURLE_OK when a response arrived.
  std::string error;              // Readable reason when curl_code is not CURLE_OK.
  bool body_too_large = false;    // The body passed max_body_bytes and was cut off.
  std::string body;
  // Headers worth keeping in a result (lower-case names), in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string retry_after;  // Raw Retry-After value, empty when absent.
  double total_seconds = 0;
  long http_version = 0;  // CURL_HTTP_VERSION_* of the response.

  // True for failures worth retrying: connection, DNS and timeout errors.
  bool transportRetryable() const;
};

using Completion = std::function<void(Response&& response)>;

class CurlEngine {
 public:
  struct Options {
    std::string user_agent = "titand";
    long max_cached_connections = 1024;
  };

  CurlEngine(uv_loop_t* loop, const Options& options);
  ~CurlEngine();
  CurlEngine(const CurlEngine&) = delete;
  CurlEngine& operator=(const CurlEngine&) = delete;

  // Starts a request; `done` runs once, on the loop thread, when it completes or fails.
  void start(Request request, Completion done);
  size_t active() const { return active_; }
  // Aborts every transfer; each completion runs with CURLE_ABORTED_BY_CALLBACK.
  void abortAll();

 private:
  struct Transfer;
  struct SocketContext;

  static int onSocket(CURL* easy, curl_socket_t socket, int action, void* engine, void* context);
  static int onTimer(CURLM* multi, long timeout_ms, void* engine);
  static void onUvTimer(uv_timer_t* timer);
  static void onPoll(uv_poll_t* poll, int status, int events);
  static size_t onBody(char* data, size_t size, size_t count, void* transfer);
  static size_t onHeader(char* data, size_t size, size_t count, void* transfer);

  void socketAction(curl_socket_t socket, int flags);
  void drainMessages();
  void configure(Transfer* transfer);
  void finish(Transfer* transfer, CURLcode code);
  CURL* takeEasy();

  uv_loop_t* loop_;
  Options options_;
  CURLM* multi_;
  uv_timer_t* timer_;
  std::vector<CURL*> idle_easies_;
  size_t active_ = 0;
  std::vector<Transfer*> transfers_;  // For abortAll.
};

}  // namespace titand::http
