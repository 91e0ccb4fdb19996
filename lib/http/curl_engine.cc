#include "http/curl_engine.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/log.h"

namespace titand::http {
namespace {

// Response headers copied into results; the rest are dropped.
constexpr std::string_view kKeptHeaders[] = {"content-type", "content-length", "date",
                                             "etag",         "last-modified",  "location",
                                             "retry-after",  "x-request-id"};

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

}  // namespace

struct CurlEngine::Transfer {
  CurlEngine* engine = nullptr;
  CURL* easy = nullptr;
  Request request;
  Completion done;
  Response response;
  curl_slist* header_list = nullptr;
  size_t index = 0;  // Position in transfers_.
};

struct CurlEngine::SocketContext {
  uv_poll_t poll;
  curl_socket_t socket;
  CurlEngine* engine;
};

bool Response::transportRetryable() const {
  switch (curl_code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

CurlEngine::CurlEngine(uv_loop_t* loop, const Options& options)
    : loop_(loop), options_(options), multi_(curl_multi_init()), timer_(new uv_timer_t) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlEngine::onSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlEngine::onTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options_.max_cached_connections);
}

CurlEngine::~CurlEngine() {
  abortAll();
  for (CURL* easy : idle_easies_) curl_easy_cleanup(easy);
  // Cleaning up the multi handle makes libcurl remove the remaining sockets through the
  // socket callback. Their contexts are closed with uv_close and freed in its callback.
  curl_multi_cleanup(multi_);
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
}

CURL* CurlEngine::takeEasy() {
  if (idle_easies_.empty()) return curl_easy_init();
  CURL* easy = idle_easies_.back();
  idle_easies_.pop_back();
  curl_easy_reset(easy);
  return easy;
}

void CurlEngine::start(Request request, Completion done) {
  auto* transfer = new Transfer();
  transfer->engine = this;
  transfer->easy = takeEasy();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->index = transfers_.size();
  transfers_.push_back(transfer);
  configure(transfer);
  ++active_;
  CURLMcode code = curl_multi_add_handle(multi_, transfer->easy);
  if (code != CURLM_OK) {
    // Report on the next loop turn so the caller never sees a completion inside start().
    transfer->response.error = curl_multi_strerror(code);
    auto* idle = new uv_idle_t;
    idle->data = transfer;
    uv_idle_init(loop_, idle);
    uv_idle_start(idle, [](uv_idle_t* handle) {
      auto* pending = static_cast<Transfer*>(handle->data);
      uv_idle_stop(handle);
      uv_close(reinterpret_cast<uv_handle_t*>(handle),
               [](uv_handle_t* closed) { delete reinterpret_cast<uv_idle_t*>(closed); });
      pending->engine->finish(pending, CURLE_FAILED_INIT);
    });
  }
}

void CurlEngine::configure(Transfer* transfer) {
  CURL* easy = transfer->easy;
  const Request& request = transfer->request;
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, request.timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   std::min(request.connect_timeout_ms, request.timeout_ms));
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  // No CURLOPT_PIPEWAIT: with it, every request to a host waits on the host's first
  // connection to learn whether it multiplexes, so one hanging response stalled the host.
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &CurlEngine::onBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &CurlEngine::onHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer);
  for (const std::string& header : request.headers) {
    transfer->header_list = curl_slist_append(transfer->header_list, header.c_str());
  }
  if (request.method == "POST") {
    transfer->header_list =
        curl_slist_append(transfer->header_list, "Content-Type: application/json");
    transfer->header_list = curl_slist_append(transfer->header_list, "Expect:");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.c_str());
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  transfer->header_list =
      curl_slist_append(transfer->header_list, "Accept: application/json, */*;q=0.5");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->header_list);
}

size_t CurlEngine::onBody(char* data, size_t size, size_t count, void* opaque) {
  auto* transfer = static_cast<Transfer*>(opaque);
  size_t bytes = size * count;
  Response& response = transfer->response;
  if (response.body.size() + bytes > transfer->request.max_body_bytes) {
    response.body_too_large = true;
    return 0;  // Makes libcurl abort the transfer with CURLE_WRITE_ERROR.
  }
  response.body.append(data, bytes);
  return bytes;
}

size_t CurlEngine::onHeader(char* data, size_t size, size_t count, void* opaque) {
  auto* transfer = static_cast<Transfer*>(opaque);
  size_t bytes = size * count;
  std::string_view line(data, bytes);
  Response& response = transfer->response;
  if (line.starts_with("HTTP/")) {
    // A new response (after 100 Continue or a redirect) replaces what came before.
    response.headers.clear();
    response.retry_after.clear();
    return bytes;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  std::string name = trim(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (std::find(std::begin(kKeptHeaders), std::end(kKeptHeaders), name) == std::end(kKeptHeaders)) {
    return bytes;
  }
  std::string value = trim(line.substr(colon + 1));
  if (name == "retry-after") response.retry_after = value;
  response.headers.emplace_back(std::move(name), std::move(value));
  return bytes;
}

int CurlEngine::onSocket(CURL*, curl_socket_t socket, int action, void* opaque, void* context) {
  auto* engine = static_cast<CurlEngine*>(opaque);
  auto* socket_context = static_cast<SocketContext*>(context);
  if (action == CURL_POLL_REMOVE) {
    if (socket_context != nullptr) {
      uv_poll_stop(&socket_context->poll);
      curl_multi_assign(engine->multi_, socket, nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&socket_context->poll),
               [](uv_handle_t* handle) { delete reinterpret_cast<SocketContext*>(handle->data); });
    }
    return 0;
  }
  if (socket_context == nullptr) {
    socket_context = new SocketContext{};
    socket_context->socket = socket;
    socket_context->engine = engine;
    if (uv_poll_init_socket(engine->loop_, &socket_context->poll, socket) != 0) {
      delete socket_context;
      return -1;
    }
    socket_context->poll.data = socket_context;
    curl_multi_assign(engine->multi_, socket, socket_context);
  }
  int events = 0;
  if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) events |= UV_READABLE;
  if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(&socket_context->poll, events, &CurlEngine::onPoll);
  return 0;
}

int CurlEngine::onTimer(CURLM*, long timeout_ms, void* opaque) {
  auto* engine = static_cast<CurlEngine*>(opaque);
  if (timeout_ms < 0) {
    uv_timer_stop(engine->timer_);
  } else {
    // A 0 ms timeout means "as soon as possible"; 1 ms lets the loop run in between.
    uv_timer_start(engine->timer_, &CurlEngine::onUvTimer,
                   static_cast<uint64_t>(std::max(timeout_ms, 1L)), 0);
  }
  return 0;
}

void CurlEngine::onUvTimer(uv_timer_t* timer) {
  static_cast<CurlEngine*>(timer->data)->socketAction(CURL_SOCKET_TIMEOUT, 0);
}

void CurlEngine::onPoll(uv_poll_t* poll, int status, int events) {
  auto* context = static_cast<SocketContext*>(poll->data);
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  context->engine->socketAction(context->socket, flags);
}

void CurlEngine::socketAction(curl_socket_t socket, int flags) {
  int running = 0;
  CURLMcode code = curl_multi_socket_action(multi_, socket, flags, &running);
  if (code != CURLM_OK) {
    componentLogger("http")->error("curl_multi_socket_action failed: {}",
                                   curl_multi_strerror(code));
  }
  drainMessages();
}

void CurlEngine::drainMessages() {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
    CURLcode code = message->data.result;
    curl_multi_remove_handle(multi_, message->easy_handle);
    finish(transfer, code);
  }
}

void CurlEngine::finish(Transfer* transfer, CURLcode code) {
  Response& response = transfer->response;
  CURL* easy = transfer->easy;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.http_status);
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &response.total_seconds);
  curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &response.http_version);
  response.curl_code = code;
  if (code != CURLE_OK) {
    if (response.error.empty()) response.error = curl_easy_strerror(code);
    if (!response.body_too_large) response.http_status = 0;
  }
  curl_slist_free_all(transfer->header_list);
  transfer->header_list = nullptr;

  // Unlink from transfers_ by swapping with the last entry.
  Transfer* last = transfers_.back();
  transfers_[transfer->index] = last;
  last->index = transfer->index;
  transfers_.pop_back();
  --active_;
  idle_easies_.push_back(easy);

  Completion done = std::move(transfer->done);
  Response finished = std::move(transfer->response);
  delete transfer;
  done(std::move(finished));
}

void CurlEngine::abortAll() {
  while (!transfers_.empty()) {
    Transfer* transfer = transfers_.back();
    curl_multi_remove_handle(multi_, transfer->easy);
    transfer->response.error = "aborted at shutdown";
    finish(transfer, CURLE_ABORTED_BY_CALLBACK);
  }
}

}  // namespace titand::http
