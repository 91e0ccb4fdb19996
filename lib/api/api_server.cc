#include "api/api_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include <cstring>
#include <unordered_set>

#include <h2o.h>

#include "api/routes.h"
#include "common/log.h"

namespace titand::api {
namespace {

constexpr int kListenBacklog = 1024;
// The API accepts no request bodies yet; this bounds what a client can make h2o buffer.
constexpr size_t kMaxRequestBodyBytes = 64 * 1024;
// After this long without every connection closed, stop() logs a warning (and keeps waiting).
constexpr uint64_t kDrainWarningMillis = 5000;

std::shared_ptr<spdlog::logger> logger() { return componentLogger("api"); }

std::string formatAddress(const ListenAddress& address) {
  if (address.host.find(':') != std::string::npos) {
    return fmt::format("[{}]:{}", address.host, address.port);
  }
  return fmt::format("{}:{}", address.host, address.port);
}

// Resolves a listen host to a socket address. "localhost" means 127.0.0.1, so the API is
// where titanctl's default URL expects it whatever /etc/hosts lists first.
Result<sockaddr_storage> resolveListenAddress(const ListenAddress& address, const char* key) {
  std::string host =
      strcasecmp(address.host.c_str(), "localhost") == 0 ? "127.0.0.1" : address.host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return errorStatus(ErrorCode::kInvalidArgument, "cannot resolve {} host {} ({}): {}", key,
                       address.host, formatAddress(address), gai_strerror(rc));
  }
  sockaddr_storage result{};
  std::memcpy(&result, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return result;
}

uint16_t portOf(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

}  // namespace

class ApiServer::Impl {
 public:
  enum class State { kIdle, kRunning, kStopping, kStopped };

  Impl(uv_loop_t* loop, store::Store* store, Options options, MetricsRender metrics_render,
       HealthCheck health)
      : loop_(loop),
        options_(std::move(options)),
        router_(store, std::move(metrics_render), std::move(health)) {}

  Status start();
  void stop(std::function<void()> on_closed);

  State state() const { return state_; }
  void orphan() { orphaned_ = true; }
  uint16_t apiPort() const { return api_.port; }
  uint16_t metricsPort() const { return metrics_.port; }
  ExportCounters exportCounters() const { return router_.exportCounters(); }

 private:
  // One listener with its own h2o configuration and context.
  struct Site {
    Impl* impl = nullptr;
    bool metrics = false;
    uv_tcp_t* tcp = nullptr;  // Heap allocated; freed by its close callback.
    uint16_t port = 0;
    h2o_globalconf_t config{};
    h2o_context_t context{};
    h2o_hostconf_t* hosts[2] = {nullptr, nullptr};
    h2o_accept_ctx_t accept{};
  };

  struct Handler {
    h2o_handler_t super;
    Site* site;
  };

  // uv_tcp_t comes first, so the handle pointer h2o passes back is the connection.
  struct Connection {
    uv_tcp_t tcp;
    Impl* impl;
  };

  Status bindSite(Site* site, const ListenAddress& address, const char* key);
  void setUpH2o(Site* site);
  void closeListener(Site* site);
  void onConnectionClosed(Connection* connection);
  void disposeH2o();
  void finish();

  static void onAccept(uv_stream_t* listener, int status);
  static int onRequest(h2o_handler_t* self, h2o_req_t* req);

  uv_loop_t* loop_;
  Options options_;
  Router router_;
  State state_ = State::kIdle;
  bool orphaned_ = false;
  Site api_;
  Site metrics_;
  std::unordered_set<Connection*> connections_;
  uv_timer_t* drain_timer_ = nullptr;
  std::function<void()> on_closed_;
  RateLimitedLog accept_errors_{5, std::chrono::seconds(60)};
};

Status ApiServer::Impl::start() {
  if (state_ != State::kIdle) {
    return Status(ErrorCode::kInternal, "ApiServer::start called twice");
  }
  if (!isLoopbackHost(options_.api_listen.host)) {
    return errorStatus(ErrorCode::kInvalidArgument,
                       "invalid api.listen {}: the API has no authentication yet, so it only "
                       "listens on a loopback address (127.0.0.0/8, ::1 or localhost)",
                       formatAddress(options_.api_listen));
  }
  TITAND_RETURN_IF_ERROR(bindSite(&api_, options_.api_listen, "api.listen"));
  Status status = bindSite(&metrics_, options_.metrics_listen, "metrics.listen");
  if (!status.isOk()) {
    closeListener(&api_);
    return status;
  }
  api_.metrics = false;
  metrics_.metrics = true;
  setUpH2o(&api_);
  setUpH2o(&metrics_);
  state_ = State::kRunning;
  logger()->info("API listening on {}, metrics on {}",
                 formatAddress({options_.api_listen.host, api_.port}),
                 formatAddress({options_.metrics_listen.host, metrics_.port}));
  return Status::ok();
}

Status ApiServer::Impl::bindSite(Site* site, const ListenAddress& address, const char* key) {
  Result<sockaddr_storage> resolved = resolveListenAddress(address, key);
  if (!resolved.isOk()) return resolved.status();
  site->impl = this;
  site->tcp = new uv_tcp_t;
  uv_tcp_init(loop_, site->tcp);
  site->tcp->data = site;
  int rc = uv_tcp_bind(site->tcp, reinterpret_cast<const sockaddr*>(&resolved.value()), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(site->tcp), kListenBacklog, onAccept);
  }
  if (rc != 0) {
    closeListener(site);
    return errorStatus(ErrorCode::kIo, "cannot listen on {} ({}): {}", formatAddress(address), key,
                       uv_strerror(rc));
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  uv_tcp_getsockname(site->tcp, reinterpret_cast<sockaddr*>(&bound), &length);
  site->port = portOf(bound);
  return Status::ok();
}

void ApiServer::Impl::setUpH2o(Site* site) {
  h2o_config_init(&site->config);
  site->config.server_name = h2o_iovec_init(H2O_STRLIT("titand"));
  site->config.max_request_entity_size = kMaxRequestBodyBytes;
  h2o_hostconf_t* host =
      h2o_config_register_host(&site->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
  h2o_pathconf_t* path = h2o_config_register_path(host, "/", 0);
  auto* handler = reinterpret_cast<Handler*>(h2o_create_handler(path, sizeof(Handler)));
  handler->super.on_req = onRequest;
  handler->site = site;
  site->hosts[0] = host;
  h2o_context_init(&site->context, loop_, &site->config);
  site->accept.ctx = &site->context;
  site->accept.hosts = site->hosts;
}

void ApiServer::Impl::closeListener(Site* site) {
  if (site->tcp == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(site->tcp),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
  site->tcp = nullptr;
}

void ApiServer::Impl::onAccept(uv_stream_t* listener, int status) {
  auto* site = static_cast<Site*>(listener->data);
  Impl* impl = site->impl;
  if (status != 0) {
    uint64_t dropped = 0;
    if (impl->accept_errors_.allow(&dropped)) {
      logger()->warn("accepting a connection on port {} failed: {} ({} similar errors dropped)",
                     site->port, uv_strerror(status), dropped);
    }
    return;
  }
  auto* connection = new Connection{};
  connection->impl = impl;
  uv_tcp_init(impl->loop_, &connection->tcp);
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection->tcp);
  if (uv_accept(listener, stream) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(stream),
             [](uv_handle_t* handle) { delete reinterpret_cast<Connection*>(handle); });
    return;
  }
  uv_tcp_nodelay(&connection->tcp, 1);
  impl->connections_.insert(connection);
  h2o_socket_t* socket = h2o_uv_socket_create(stream, [](uv_handle_t* handle) {
    auto* closed = reinterpret_cast<Connection*>(handle);
    closed->impl->onConnectionClosed(closed);
  });
  h2o_accept(&site->accept, socket);
}

int ApiServer::Impl::onRequest(h2o_handler_t* self, h2o_req_t* req) {
  Site* site = reinterpret_cast<Handler*>(self)->site;
  if (site->metrics) {
    site->impl->router_.handleMetricsRequest(req);
  } else {
    site->impl->router_.handleApiRequest(req);
  }
  return 0;
}

// Stops accepting and shuts down every open socket, so h2o reads EOF or fails its next
// write and closes each connection by itself; disposeH2o() follows the last close.
void ApiServer::Impl::stop(std::function<void()> on_closed) {
  if (state_ == State::kIdle) {
    state_ = State::kStopped;
    if (on_closed) on_closed();
    return;
  }
  if (state_ != State::kRunning) return;
  state_ = State::kStopping;
  on_closed_ = std::move(on_closed);
  router_.beginStop();
  api_.context.shutdown_requested = 1;
  metrics_.context.shutdown_requested = 1;
  closeListener(&api_);
  closeListener(&metrics_);
  logger()->info("API stopping; closing {} open connection(s)", connections_.size());
  for (Connection* connection : connections_) {
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&connection->tcp), &fd) == 0) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  drain_timer_ = new uv_timer_t;
  uv_timer_init(loop_, drain_timer_);
  drain_timer_->data = this;
  uv_timer_start(
      drain_timer_,
      [](uv_timer_t* timer) {
        auto* impl = static_cast<Impl*>(timer->data);
        logger()->warn("API stop is still waiting for {} connection(s) to close",
                       impl->connections_.size());
      },
      kDrainWarningMillis, kDrainWarningMillis);
  if (connections_.empty()) disposeH2o();
}

void ApiServer::Impl::onConnectionClosed(Connection* connection) {
  connections_.erase(connection);
  delete connection;
  if (state_ == State::kStopping && connections_.empty()) disposeH2o();
}

// h2o_context_dispose closes the context's timer handles, whose memory is part of this
// object. Their close callbacks run in the loop's next closing phase at the latest, so
// finish() waits for two chained closes of a spare handle before anything is freed.
void ApiServer::Impl::disposeH2o() {
  h2o_context_dispose(&api_.context);
  h2o_context_dispose(&metrics_.context);
  uv_close(reinterpret_cast<uv_handle_t*>(drain_timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  drain_timer_ = nullptr;
  auto* first = new uv_idle_t;
  uv_idle_init(loop_, first);
  first->data = this;
  uv_close(reinterpret_cast<uv_handle_t*>(first), [](uv_handle_t* handle) {
    auto* impl = static_cast<Impl*>(handle->data);
    delete reinterpret_cast<uv_idle_t*>(handle);
    auto* second = new uv_idle_t;
    uv_idle_init(impl->loop_, second);
    second->data = impl;
    uv_close(reinterpret_cast<uv_handle_t*>(second), [](uv_handle_t* last) {
      auto* owner = static_cast<Impl*>(last->data);
      delete reinterpret_cast<uv_idle_t*>(last);
      owner->finish();
    });
  });
}

void ApiServer::Impl::finish() {
  h2o_config_dispose(&api_.config);
  h2o_config_dispose(&metrics_.config);
  state_ = State::kStopped;
  logger()->info("API stopped");
  std::function<void()> on_closed = std::move(on_closed_);
  // The callback may destroy the ApiServer, and with it this object, unless orphaned.
  if (orphaned_) delete this;
  if (on_closed) on_closed();
}

ApiServer::ApiServer(uv_loop_t* loop, store::Store* store, Options options,
                     MetricsRender metrics_render, HealthCheck health)
    : impl_(new Impl(loop, store, std::move(options), std::move(metrics_render),
                     std::move(health))) {}

ApiServer::~ApiServer() {
  switch (impl_->state()) {
    case Impl::State::kIdle:
    case Impl::State::kStopped:
      delete impl_;
      return;
    case Impl::State::kRunning:
      logger()->warn("ApiServer destroyed while running; stopping it in the background");
      impl_->orphan();
      impl_->stop(nullptr);
      return;
    case Impl::State::kStopping:
      impl_->orphan();
      return;
  }
}

Status ApiServer::start() { return impl_->start(); }
uint16_t ApiServer::apiPort() const { return impl_->apiPort(); }
uint16_t ApiServer::metricsPort() const { return impl_->metricsPort(); }
void ApiServer::stop(std::function<void()> on_closed) { impl_->stop(std::move(on_closed)); }
ExportCounters ApiServer::exportCounters() const { return impl_->exportCounters(); }

}  // namespace titand::api
