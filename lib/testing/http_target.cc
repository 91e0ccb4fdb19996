#include "testing/http_target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <charconv>
#include <ctime>
#include <future>
#include <iterator>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include <h2o.h>
#include <simdjson.h>
#include <uv.h>

#include "common/log.h"
#include "model/model.h"

namespace titand::testing {
namespace {

constexpr size_t kFillerChunkBytes = 64 * 1024;
constexpr size_t kFillerChunksPerSend = 16;
constexpr uint64_t kMaxBytesRouteLength = uint64_t{1} << 30;
constexpr uint64_t kMaxSecondsOrMillis = UINT32_MAX;
constexpr size_t kMaxEchoBytes = 4096;
constexpr size_t kMaxRequestBodyBytes = 64 * 1024 * 1024;
constexpr int kListenBacklog = 4096;
// How long shutdown waits for connections to close after shutdown(2) before giving up.
constexpr uint64_t kShutdownDrainMillis = 5000;
constexpr uint64_t kMinStatus = 200;  // 1xx codes cannot be final responses.
constexpr uint64_t kMaxStatus = 599;
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kTextType = "text/plain";

std::shared_ptr<spdlog::logger> logger() { return componentLogger("target"); }

std::string_view view(h2o_iovec_t iovec) {
  if (iovec.base == nullptr) return {};
  return {iovec.base, iovec.len};
}

bool consumePrefix(std::string_view* text, std::string_view prefix) {
  if (!text->starts_with(prefix)) return false;
  text->remove_prefix(prefix.size());
  return true;
}

std::optional<uint64_t> parseDecimal(std::string_view text, uint64_t max) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || value > max) return std::nullopt;
  return value;
}

// Parses "<first>/<second>" where the second number is a status code.
bool parseCountAndStatus(std::string_view text, uint64_t* first, int* status) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  auto count = parseDecimal(text.substr(0, slash), kMaxSecondsOrMillis);
  auto code = parseDecimal(text.substr(slash + 1), kMaxStatus);
  if (!count || !code || *code < kMinStatus) return false;
  *first = *count;
  *status = static_cast<int>(*code);
  return true;
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      break;
  }
  if (status < 300) return "Success";
  if (status < 400) return "Redirection";
  if (status < 500) return "Client Error";
  return "Server Error";
}

bool isHead(const h2o_req_t* req) {
  return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

void addHeader(h2o_req_t* req, const h2o_token_t* token, std::string_view value) {
  h2o_iovec_t copy = h2o_strdup(&req->pool, value.data(), value.size());
  h2o_add_header(&req->pool, &req->res.headers, token, nullptr, copy.base, copy.len);
}

// Sets status, reason, Content-Type and Content-Length for a body of `body_size` bytes.
// 204 and 304 responses carry no body, so they get neither a type nor a length above 0.
void setResponseHead(h2o_req_t* req, int status, std::string_view content_type, size_t body_size) {
  req->res.status = status;
  req->res.reason = reasonPhrase(status);
  if (status == 204 || status == 304) {
    req->res.content_length = 0;
    return;
  }
  addHeader(req, H2O_TOKEN_CONTENT_TYPE, content_type);
  req->res.content_length = body_size;
}

// Sends a complete response. h2o_send_inline copies the body into the request pool and
// omits it for HEAD requests.
void sendResponse(h2o_req_t* req, int status, std::string_view content_type,
                  std::string_view body) {
  if (status == 204 || status == 304) body = {};
  setResponseHead(req, status, content_type, body.size());
  h2o_send_inline(req, body.empty() ? "" : body.data(), body.size());
}

void sendBadRequest(h2o_req_t* req, std::string_view message) {
  std::string body = "{\"error\":";
  model::appendJsonString(&body, message);
  body += '}';
  sendResponse(req, 400, kJsonType, body);
}

void sendAttemptOk(h2o_req_t* req, uint64_t attempt) {
  sendResponse(req, 200, kJsonType, fmt::format("{{\"ok\":true,\"attempt\":{}}}", attempt));
}

void handleStatus(h2o_req_t* req, std::string_view rest) {
  auto code = parseDecimal(rest, kMaxStatus);
  if (!code || *code < kMinStatus) {
    sendBadRequest(req, fmt::format("invalid status code \"{}\": expected 200 to 599", rest));
    return;
  }
  sendResponse(req, static_cast<int>(*code), kJsonType, fmt::format("{{\"status\":{}}}", *code));
}

void handleFlaky(h2o_req_t* req, std::string_view rest, uint64_t attempt) {
  uint64_t failures = 0;
  int status = 0;
  if (!parseCountAndStatus(rest, &failures, &status)) {
    sendBadRequest(req, fmt::format("invalid /flaky parameters \"{}\": expected "
                                    "/flaky/<failures>/<status 200 to 599>",
                                    rest));
    return;
  }
  if (attempt > failures) {
    sendAttemptOk(req, attempt);
    return;
  }
  sendResponse(req, status, kJsonType,
               fmt::format("{{\"status\":{},\"attempt\":{}}}", status, attempt));
}

std::string formatImfFixdate(Micros wall_micros) {
  time_t seconds = static_cast<time_t>(wall_micros / kMicrosPerSecond);
  struct tm parts {};
  gmtime_r(&seconds, &parts);
  char buffer[H2O_TIMESTR_RFC1123_LEN + 1];
  h2o_time2str_rfc1123(buffer, &parts);
  return std::string(buffer, H2O_TIMESTR_RFC1123_LEN);
}

void handleRetryAfter(h2o_req_t* req, std::string_view rest, uint64_t attempt, bool as_date) {
  uint64_t seconds = 0;
  int status = 0;
  if (!parseCountAndStatus(rest, &seconds, &status)) {
    sendBadRequest(req, fmt::format("invalid Retry-After parameters \"{}\": expected "
                                    "<seconds>/<status 200 to 599>",
                                    rest));
    return;
  }
  if (attempt > 1) {
    sendAttemptOk(req, attempt);
    return;
  }
  Micros due =
      SystemClock::instance().nowMicros() + static_cast<Micros>(seconds) * kMicrosPerSecond;
  std::string value = as_date ? formatImfFixdate(due) : std::to_string(seconds);
  addHeader(req, H2O_TOKEN_RETRY_AFTER, value);
  std::string body = fmt::format("{{\"status\":{},\"retry_after\":", status);
  model::appendJsonString(&body, value);
  body += '}';
  sendResponse(req, status, kJsonType, body);
}

const char* fillerChunk() {
  static const std::string chunk(kFillerChunkBytes, 'x');
  return chunk.data();
}

// Streams the /bytes body from one shared read-only chunk, so memory stays constant for
// any length. Lives in the request pool; h2o calls proceed after each write completes.
struct BytesGenerator {
  h2o_generator_t super;
  uint64_t remaining;
};
static_assert(std::is_standard_layout_v<BytesGenerator>);

void sendFiller(h2o_generator_t* generator, h2o_req_t* req) {
  auto* self = reinterpret_cast<BytesGenerator*>(generator);
  h2o_iovec_t buffers[kFillerChunksPerSend];
  size_t count = 0;
  while (self->remaining > 0 && count < kFillerChunksPerSend) {
    size_t size = static_cast<size_t>(std::min<uint64_t>(self->remaining, kFillerChunkBytes));
    buffers[count++] = h2o_iovec_init(fillerChunk(), size);
    self->remaining -= size;
  }
  h2o_send(req, buffers, count,
           self->remaining == 0 ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

void handleBytes(h2o_req_t* req, std::string_view rest) {
  auto length = parseDecimal(rest, kMaxBytesRouteLength);
  if (!length) {
    sendBadRequest(req, fmt::format("invalid /bytes length \"{}\": expected 0 to {}", rest,
                                    kMaxBytesRouteLength));
    return;
  }
  void* memory = h2o_mem_alloc_pool(&req->pool, sizeof(BytesGenerator));
  auto* generator = new (memory) BytesGenerator{};
  generator->super.proceed = sendFiller;
  generator->remaining = isHead(req) ? 0 : *length;
  setResponseHead(req, 200, kTextType, static_cast<size_t>(*length));
  h2o_start_response(req, &generator->super);
  sendFiller(&generator->super, req);
}

// Appends the request body when it is a JSON object under kMaxEchoBytes, else null.
void appendEcho(std::string* out, std::string_view body, simdjson::dom::parser* parser) {
  simdjson::dom::element element;
  if (body.empty() || body.size() >= kMaxEchoBytes ||
      parser->parse(body.data(), body.size()).get(element) != simdjson::SUCCESS ||
      !element.is_object()) {
    out->append("null");
    return;
  }
  out->append(simdjson::minify(element));
}

void handleEcho(h2o_req_t* req, simdjson::dom::parser* parser) {
  std::string_view path = view(req->path);
  if (req->query_at != SIZE_MAX) path = path.substr(0, req->query_at);
  std::string_view body = view(req->entity);
  std::string out = "{\"ok\":true,\"method\":";
  model::appendJsonString(&out, view(req->method));
  out += ",\"path\":";
  model::appendJsonString(&out, path);
  fmt::format_to(std::back_inserter(out), ",\"body_bytes\":{},\"echo\":", body.size());
  appendEcho(&out, body, parser);
  out += '}';
  sendResponse(req, 200, kJsonType, out);
}

std::string statsJson(const HttpTarget::StatsSnapshot& stats) {
  return fmt::format(
      "{{\"total\":{},\"distinct_keys\":{},\"max_per_key\":{},\"duplicate_requests\":{}}}",
      stats.total, stats.distinct_keys, stats.max_per_key, stats.duplicate_requests);
}

// Parses a loopback host into a socket address with port 0.
std::optional<sockaddr_storage> parseLoopback(std::string_view host) {
  sockaddr_storage address{};
  std::string text = host == "localhost" ? "127.0.0.1" : std::string(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) return std::nullopt;
    v4->sin_family = AF_INET;
    return address;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return std::nullopt;
    v6->sin6_family = AF_INET6;
    return address;
  }
  return std::nullopt;
}

void setPort(sockaddr_storage* address, uint16_t port) {
  if (address->ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(address)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(address)->sin6_port = htons(port);
  }
}

std::string urlHost(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, text,
              sizeof(text));
    return text;
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, text,
            sizeof(text));
  return fmt::format("[{}]", text);
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

}  // namespace

bool isLoopbackHost(std::string_view host) { return parseLoopback(host).has_value(); }

// Request counters. The server thread records; any thread reads.
class HttpTarget::Stats {
 public:
  explicit Stats(size_t port_count) : port_counts_(port_count) {}

  // Counts one request and returns how many requests carried `key`, this one included.
  uint64_t record(std::string_view key, size_t port_index, Micros now) {
    port_counts_[port_index].fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    auto it = times_by_key_.find(key);
    if (it == times_by_key_.end()) it = times_by_key_.emplace(std::string(key), TimeList{}).first;
    it->second.push_back(now);
    uint64_t count = it->second.size();
    max_per_key_ = std::max(max_per_key_, count);
    total_.fetch_add(1, std::memory_order_relaxed);
    return count;
  }

  uint64_t total() const { return total_.load(std::memory_order_relaxed); }

  uint64_t countForKey(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = times_by_key_.find(key);
    return it == times_by_key_.end() ? 0 : it->second.size();
  }

  size_t distinctKeys() const {
    std::lock_guard lock(mutex_);
    return times_by_key_.size();
  }

  std::vector<Micros> timesForKey(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = times_by_key_.find(key);
    return it == times_by_key_.end() ? TimeList{} : it->second;
  }

  uint64_t countForPortIndex(size_t index) const {
    return port_counts_[index].load(std::memory_order_relaxed);
  }

  StatsSnapshot snapshot() const {
    std::lock_guard lock(mutex_);
    StatsSnapshot result;
    result.total = total_.load(std::memory_order_relaxed);
    result.distinct_keys = times_by_key_.size();
    result.max_per_key = max_per_key_;
    result.duplicate_requests = result.total - result.distinct_keys;
    return result;
  }

  void reset() {
    std::lock_guard lock(mutex_);
    times_by_key_.clear();
    max_per_key_ = 0;
    total_.store(0, std::memory_order_relaxed);
    for (auto& count : port_counts_) count.store(0, std::memory_order_relaxed);
  }

 private:
  using TimeList = std::vector<Micros>;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, TimeList, StringHash, std::equal_to<>> times_by_key_;
  uint64_t max_per_key_ = 0;
  std::atomic<uint64_t> total_{0};  // Written under mutex_, read without it.
  std::vector<std::atomic<uint64_t>> port_counts_;
};

// The h2o server and its uv loop. Everything below runs on the loop thread except the
// constructor, start(), pendingResponses() and the destructor.
class HttpTarget::Server {
 public:
  Server(Stats* stats, std::string host) : stats_(stats), host_(std::move(host)) {}
  ~Server();

  // Starts the loop thread, which binds one listener per entry of `ports` on `address`.
  // Returns once they listen, or with the bind error after the thread has exited.
  Status start(const sockaddr_storage& address, const std::vector<uint16_t>& ports,
               std::vector<uint16_t>* bound_ports);

  size_t pendingResponses() const { return pending_count_.load(std::memory_order_relaxed); }

 private:
  struct Listener {
    uv_tcp_t tcp;
    Server* server;
    h2o_accept_ctx_t accept_ctx;
    h2o_hostconf_t* hosts[2];  // One host per listener, so the handler can tell its port.
  };
  // The uv handle of one accepted connection. h2o owns the h2o_socket_t built on it and
  // uses the handle's data field, hence the first-member cast in onConnectionClosed.
  struct Connection {
    uv_tcp_t tcp;
    Server* server;
  };
  struct PortHandler {
    h2o_handler_t super;
    Server* server;
    size_t port_index;
  };
  // A /delay or /hang request whose response is not sent yet. Heap allocated because its
  // timer must outlive the request until uv_close completes.
  struct PendingRequest {
    h2o_generator_t generator;
    uv_timer_t timer;
    Server* server;
    h2o_req_t* req;
    h2o_socket_t* watched_socket;  // HTTP/1 socket read for EOF, or null.
    uint64_t delay_ms;
    bool is_head;
  };
  static_assert(std::is_standard_layout_v<Connection>);
  static_assert(std::is_standard_layout_v<PortHandler>);
  static_assert(std::is_standard_layout_v<PendingRequest>);

  void run(sockaddr_storage address, std::vector<uint16_t> ports);
  Status setUp(const sockaddr_storage& address, const std::vector<uint16_t>& ports);
  Status bindListener(sockaddr_storage address, uint16_t port);
  void setUpH2o();
  void abortSetUp();
  void closeLoop();

  static void onStopRequested(uv_async_t* async);
  void beginShutdown();
  void finishShutdown();
  static void onDrainTimeout(uv_timer_t* timer);

  static void onAccept(uv_stream_t* listener, int status);
  static void onConnectionClosed(uv_handle_t* handle);

  static int onRequest(h2o_handler_t* self, h2o_req_t* req);
  void route(h2o_req_t* req, std::string_view path, uint64_t attempt);
  void handleDelay(h2o_req_t* req, std::string_view rest);

  void startPending(h2o_req_t* req, std::optional<uint64_t> delay_ms);
  void watchForDisconnect(PendingRequest* pending);
  void finishPending(PendingRequest* pending, int status, std::string_view body, bool keep_alive);
  void detachPending(PendingRequest* pending);
  static void onPendingProceed(h2o_generator_t*, h2o_req_t*) {}
  static void onPendingStop(h2o_generator_t* generator, h2o_req_t* req);
  static void onDelayElapsed(uv_timer_t* timer);
  static void onWatchedSocketRead(h2o_socket_t* sock, const char* error);

  // The server of the calling loop thread. h2o socket callbacks carry only the socket, and
  // its data field belongs to h2o's connection, so onWatchedSocketRead finds its server here.
  static thread_local Server* current_;

  Stats* stats_;
  std::string host_;
  std::thread thread_;
  std::promise<Status> ready_;
  std::vector<uint16_t> bound_ports_;

  uv_loop_t loop_{};
  uv_async_t stop_async_{};
  uv_timer_t drain_timer_{};
  h2o_globalconf_t config_{};
  h2o_context_t context_{};
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_set<Connection*> connections_;
  std::unordered_set<PendingRequest*> pending_;
  std::unordered_map<h2o_socket_t*, PendingRequest*> watched_sockets_;
  std::atomic<size_t> pending_count_{0};
  simdjson::dom::parser json_parser_;
  bool stopping_ = false;
  bool context_disposed_ = false;
  bool abandoned_ = false;
};

thread_local HttpTarget::Server* HttpTarget::Server::current_ = nullptr;

HttpTarget::Server::~Server() {
  if (!thread_.joinable()) return;
  uv_async_send(&stop_async_);
  thread_.join();
}

Status HttpTarget::Server::start(const sockaddr_storage& address,
                                 const std::vector<uint16_t>& ports,
                                 std::vector<uint16_t>* bound_ports) {
  std::future<Status> ready = ready_.get_future();
  thread_ = std::thread([this, address, ports] { run(address, ports); });
  Status status = ready.get();
  if (!status.isOk()) {
    thread_.join();
    return status;
  }
  *bound_ports = bound_ports_;
  return Status::ok();
}

void HttpTarget::Server::run(sockaddr_storage address, std::vector<uint16_t> ports) {
  current_ = this;
  // libuv writes with writev(2), which raises SIGPIPE on a socket the client has closed.
  // Blocking it on this thread turns that into EPIPE without changing the process's handler.
  sigset_t sigpipe;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &sigpipe, nullptr);
  Status status = setUp(address, ports);
  bool listening = status.isOk();
  ready_.set_value(std::move(status));
  if (!listening) return;
  uv_run(&loop_, UV_RUN_DEFAULT);
  closeLoop();
}

Status HttpTarget::Server::setUp(const sockaddr_storage& address,
                                 const std::vector<uint16_t>& ports) {
  int rc = uv_loop_init(&loop_);
  if (rc != 0) return errorStatus(ErrorCode::kInternal, "uv_loop_init failed: {}", uv_strerror(rc));
  uv_async_init(&loop_, &stop_async_, onStopRequested);
  stop_async_.data = this;
  uv_timer_init(&loop_, &drain_timer_);
  drain_timer_.data = this;
  for (uint16_t port : ports) {
    Status status = bindListener(address, port);
    if (!status.isOk()) {
      abortSetUp();
      return status;
    }
  }
  setUpH2o();
  logger()->debug("HTTP target listening on {} port(s) of {}", bound_ports_.size(), host_);
  return Status::ok();
}

Status HttpTarget::Server::bindListener(sockaddr_storage address, uint16_t port) {
  auto listener = std::make_unique<Listener>();
  Listener* raw = listener.get();
  listeners_.push_back(std::move(listener));
  raw->server = this;
  uv_tcp_init(&loop_, &raw->tcp);
  raw->tcp.data = raw;
  setPort(&address, port);
  int rc = uv_tcp_bind(&raw->tcp, reinterpret_cast<const sockaddr*>(&address), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&raw->tcp), kListenBacklog, onAccept);
  if (rc != 0) {
    return errorStatus(ErrorCode::kIo, "failed to listen on {} port {}: {}", host_, port,
                       uv_strerror(rc));
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  uv_tcp_getsockname(&raw->tcp, reinterpret_cast<sockaddr*>(&bound), &length);
  bound_ports_.push_back(bound.ss_family == AF_INET
                             ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                             : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port));
  return Status::ok();
}

void HttpTarget::Server::setUpH2o() {
  h2o_config_init(&config_);
  config_.server_name = h2o_iovec_init(H2O_STRLIT("titan-target"));
  config_.max_request_entity_size = kMaxRequestBodyBytes;
  for (size_t i = 0; i < listeners_.size(); ++i) {
    h2o_hostconf_t* host =
        h2o_config_register_host(&config_, h2o_iovec_init(H2O_STRLIT("default")), bound_ports_[i]);
    h2o_pathconf_t* path = h2o_config_register_path(host, "/", 0);
    auto* handler = reinterpret_cast<PortHandler*>(h2o_create_handler(path, sizeof(PortHandler)));
    handler->super.on_req = onRequest;
    handler->server = this;
    handler->port_index = i;
    listeners_[i]->hosts[0] = host;
    listeners_[i]->hosts[1] = nullptr;
  }
  h2o_context_init(&context_, &loop_, &config_);
  for (auto& listener : listeners_) {
    listener->accept_ctx = h2o_accept_ctx_t{};
    listener->accept_ctx.ctx = &context_;
    listener->accept_ctx.hosts = listener->hosts;
  }
}

// Closes the handles of a failed setUp and the loop itself; h2o is not initialised yet.
void HttpTarget::Server::abortSetUp() {
  uv_walk(
      &loop_,
      [](uv_handle_t* handle, void*) {
        if (!uv_is_closing(handle)) uv_close(handle, nullptr);
      },
      nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void HttpTarget::Server::closeLoop() {
  if (abandoned_) {
    // NOTE: the loop, h2o's context and the remaining connections are leaked on purpose,
    // because disposing them while h2o still references them would be a use after free.
    logger()->warn("HTTP target stopped with {} connection(s) still open after {} ms; leaking them",
                   connections_.size(), kShutdownDrainMillis);
    return;
  }
  int rc = uv_loop_close(&loop_);
  if (rc != 0) logger()->warn("HTTP target loop did not close cleanly: {}", uv_strerror(rc));
  h2o_config_dispose(&config_);
  logger()->debug("HTTP target on {} stopped", host_);
}

void HttpTarget::Server::onStopRequested(uv_async_t* async) {
  static_cast<Server*>(async->data)->beginShutdown();
}

// Stops accepting, sends 503 to every pending request and shuts down every open socket. h2o
// then reads EOF or fails its next write, and closes each connection by itself.
void HttpTarget::Server::beginShutdown() {
  if (stopping_) return;
  stopping_ = true;
  context_.shutdown_requested = 1;
  for (auto& listener : listeners_)
    uv_close(reinterpret_cast<uv_handle_t*>(&listener->tcp), nullptr);
  std::vector<PendingRequest*> pending(pending_.begin(), pending_.end());
  for (PendingRequest* request : pending) {
    finishPending(request, 503, "{\"error\":\"the HTTP target is stopping\"}", false);
  }
  for (Connection* connection : connections_) {
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&connection->tcp), &fd) == 0) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  uv_timer_start(&drain_timer_, onDrainTimeout, kShutdownDrainMillis, 0);
  if (connections_.empty()) finishShutdown();
}

// Releases the last handles; uv_run returns once their close callbacks have run.
void HttpTarget::Server::finishShutdown() {
  if (context_disposed_) return;
  context_disposed_ = true;
  uv_timer_stop(&drain_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
  h2o_context_dispose(&context_);
}

void HttpTarget::Server::onDrainTimeout(uv_timer_t* timer) {
  auto* server = static_cast<Server*>(timer->data);
  server->abandoned_ = true;
  uv_stop(&server->loop_);
}

void HttpTarget::Server::onAccept(uv_stream_t* listener, int status) {
  if (status != 0) return;
  Server* server = static_cast<Listener*>(listener->data)->server;
  auto* connection = new Connection{};
  connection->server = server;
  uv_tcp_init(&server->loop_, &connection->tcp);
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection->tcp);
  if (uv_accept(listener, stream) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(stream),
             [](uv_handle_t* handle) { delete reinterpret_cast<Connection*>(handle); });
    return;
  }
  uv_tcp_nodelay(&connection->tcp, 1);
  server->connections_.insert(connection);
  h2o_socket_t* sock = h2o_uv_socket_create(stream, onConnectionClosed);
  h2o_accept(&static_cast<Listener*>(listener->data)->accept_ctx, sock);
}

void HttpTarget::Server::onConnectionClosed(uv_handle_t* handle) {
  auto* connection = reinterpret_cast<Connection*>(handle);
  Server* server = connection->server;
  server->connections_.erase(connection);
  delete connection;
  if (server->stopping_ && server->connections_.empty()) server->finishShutdown();
}

int HttpTarget::Server::onRequest(h2o_handler_t* self, h2o_req_t* req) {
  auto* handler = reinterpret_cast<PortHandler*>(self);
  Server* server = handler->server;
  std::string_view path = view(req->path_normalized);
  if (path == "/__stats") {
    sendResponse(req, 200, kJsonType, statsJson(server->stats_->snapshot()));
    return 0;
  }
  std::string_view key;
  ssize_t index = h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), -1);
  if (index != -1) key = view(req->headers.entries[index].value);
  Micros now = SystemClock::instance().nowMicros();
  uint64_t attempt = server->stats_->record(key, handler->port_index, now);
  server->route(req, path, attempt);
  return 0;
}

void HttpTarget::Server::route(h2o_req_t* req, std::string_view path, uint64_t attempt) {
  std::string_view rest = path;
  if (consumePrefix(&rest, "/status/")) return handleStatus(req, rest);
  if (consumePrefix(&rest, "/flaky/")) return handleFlaky(req, rest, attempt);
  if (consumePrefix(&rest, "/retry-after/")) return handleRetryAfter(req, rest, attempt, false);
  if (consumePrefix(&rest, "/retry-after-date/")) return handleRetryAfter(req, rest, attempt, true);
  if (consumePrefix(&rest, "/delay/")) return handleDelay(req, rest);
  if (consumePrefix(&rest, "/bytes/")) return handleBytes(req, rest);
  if (path == "/hang") return startPending(req, std::nullopt);
  if (path == "/text") return sendResponse(req, 200, kTextType, "plain text");
  handleEcho(req, &json_parser_);
}

void HttpTarget::Server::handleDelay(h2o_req_t* req, std::string_view rest) {
  auto delay_ms = parseDecimal(rest, kMaxSecondsOrMillis);
  if (!delay_ms) {
    sendBadRequest(req, fmt::format("invalid /delay milliseconds \"{}\": expected 0 to {}", rest,
                                    kMaxSecondsOrMillis));
    return;
  }
  startPending(req, delay_ms);
}

void HttpTarget::Server::startPending(h2o_req_t* req, std::optional<uint64_t> delay_ms) {
  auto* pending = new PendingRequest{};
  pending->generator.proceed = onPendingProceed;
  pending->generator.stop = onPendingStop;
  pending->server = this;
  pending->req = req;
  pending->delay_ms = delay_ms.value_or(0);
  pending->is_head = isHead(req);
  uv_timer_init(&loop_, &pending->timer);
  pending->timer.data = pending;
  pending_.insert(pending);
  pending_count_.store(pending_.size(), std::memory_order_relaxed);
  // A known length keeps h2o from adding chunked encoding; finishPending sets the real head.
  req->res.status = 200;
  req->res.content_length = 0;
  h2o_start_response(req, &pending->generator);
  if (delay_ms) uv_timer_start(&pending->timer, onDelayElapsed, *delay_ms, 0);
  if (req->version < 0x200) watchForDisconnect(pending);
}

// h2o stops reading an HTTP/1 socket while a request is processed, so a client that gives
// up would go unnoticed. Reading it again turns the client's close into a callback.
// HTTP/2 keeps reading by itself and calls onPendingStop when the connection closes.
// NOTE: bytes a client pipelines behind the pending request are buffered unbounded.
void HttpTarget::Server::watchForDisconnect(PendingRequest* pending) {
  h2o_req_t* req = pending->req;
  h2o_socket_t* sock = req->conn->callbacks->get_socket(req->conn);
  if (sock == nullptr) return;
  pending->watched_socket = sock;
  watched_sockets_[sock] = pending;
  h2o_socket_read_start(sock, onWatchedSocketRead);
}

void HttpTarget::Server::onWatchedSocketRead(h2o_socket_t* sock, const char* error) {
  if (error == nullptr) return;
  Server* server = current_;
  auto it = server->watched_sockets_.find(sock);
  if (it == server->watched_sockets_.end()) return;
  server->finishPending(it->second, 503, "{\"error\":\"the client closed the connection\"}", false);
}

// Sends the response of a pending request. Reads nothing from the request input, because a
// watched HTTP/1 socket may have reallocated the buffer that the request headers point into.
void HttpTarget::Server::finishPending(PendingRequest* pending, int status, std::string_view body,
                                       bool keep_alive) {
  h2o_req_t* req = pending->req;
  bool is_head = pending->is_head;
  detachPending(pending);
  if (!keep_alive) req->http1_is_persistent = 0;
  setResponseHead(req, status, kJsonType, body.size());
  h2o_iovec_t buffer = h2o_strdup(&req->pool, body.data(), body.size());
  h2o_send(req, &buffer, is_head ? 0 : 1, H2O_SEND_STATE_FINAL);
}

// Forgets a pending request and frees it once its timer handle has closed.
void HttpTarget::Server::detachPending(PendingRequest* pending) {
  pending_.erase(pending);
  pending_count_.store(pending_.size(), std::memory_order_relaxed);
  if (pending->watched_socket != nullptr) {
    h2o_socket_read_stop(pending->watched_socket);
    watched_sockets_.erase(pending->watched_socket);
    pending->watched_socket = nullptr;
  }
  uv_timer_stop(&pending->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&pending->timer),
           [](uv_handle_t* handle) { delete static_cast<PendingRequest*>(handle->data); });
}

// Called by h2o when it disposes the request before the response was sent, for example
// because the HTTP/2 connection closed.
void HttpTarget::Server::onPendingStop(h2o_generator_t* generator, h2o_req_t*) {
  auto* pending = reinterpret_cast<PendingRequest*>(generator);
  pending->server->detachPending(pending);
}

void HttpTarget::Server::onDelayElapsed(uv_timer_t* timer) {
  auto* pending = static_cast<PendingRequest*>(timer->data);
  std::string body = fmt::format("{{\"ok\":true,\"delay_ms\":{}}}", pending->delay_ms);
  pending->server->finishPending(pending, 200, body, true);
}

HttpTarget::HttpTarget() = default;

HttpTarget::~HttpTarget() { server_.reset(); }

Result<std::unique_ptr<HttpTarget>> HttpTarget::start(const Options& options) {
  if (options.ports.empty()) {
    return errorStatus(ErrorCode::kInvalidArgument,
                       "HttpTarget needs at least one port; use 0 to let the kernel pick one");
  }
  std::optional<sockaddr_storage> address = parseLoopback(options.host);
  if (!address) {
    return errorStatus(ErrorCode::kInvalidArgument,
                       "host \"{}\" is not a loopback address; use an address in 127.0.0.0/8, "
                       "::1 or localhost",
                       options.host);
  }
  std::unique_ptr<HttpTarget> target(new HttpTarget());
  target->stats_ = std::make_unique<Stats>(options.ports.size());
  target->server_ = std::make_unique<Server>(target->stats_.get(), options.host);
  TITAND_RETURN_IF_ERROR(target->server_->start(*address, options.ports, &target->ports_));
  target->url_host_ = urlHost(*address);
  return target;
}

std::string HttpTarget::baseUrl(size_t port_index) const {
  assert(port_index < ports_.size());
  return fmt::format("http://{}:{}", url_host_, ports_[port_index]);
}

uint64_t HttpTarget::totalRequests() const { return stats_->total(); }

uint64_t HttpTarget::requestsForKey(const std::string& idempotency_key) const {
  return stats_->countForKey(idempotency_key);
}

size_t HttpTarget::distinctKeys() const { return stats_->distinctKeys(); }

std::vector<Micros> HttpTarget::requestTimesForKey(const std::string& key) const {
  return stats_->timesForKey(key);
}

uint64_t HttpTarget::requestsOnPort(uint16_t port) const {
  auto it = std::find(ports_.begin(), ports_.end(), port);
  if (it == ports_.end()) return 0;
  return stats_->countForPortIndex(static_cast<size_t>(it - ports_.begin()));
}

HttpTarget::StatsSnapshot HttpTarget::stats() const { return stats_->snapshot(); }

void HttpTarget::resetStats() { stats_->reset(); }

size_t HttpTarget::pendingResponses() const { return server_->pendingResponses(); }

}  // namespace titand::testing
