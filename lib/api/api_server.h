// ApiServer: the operator HTTP API and the metrics endpoint, served by h2o 2.2 on the
// daemon's uv loop.
//
// Two listeners: the API (api.listen, loopback only until the API has authentication) with
// GET /api/v1/executions/:id, /api/v1/executions/:id/results,
// /api/v1/executions/:id/results/export?format=ndjson|csv and /healthz; and the metrics
// listener (metrics.listen) with GET /metrics and /healthz. See lib/api/routes.h for the
// response formats.
// Thread safety: every method except exportCounters() must run on the loop thread, and the
// loop must not run on another thread while the constructor or start() runs.
// Errors: start() returns kInvalidArgument for a non-loopback API host or an unresolvable
// host, and kIo when a socket cannot be bound; both messages name the address.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <uv.h>

#include "common/net.h"
#include "common/status.h"
#include "config/config.h"
#include "store/store.h"

namespace titand::api {

// Returns the Prometheus text exposition for GET /metrics.
using MetricsRender = std::function<std::string()>;
// Returns {healthy, message} for GET /healthz; the message is shown when unhealthy.
using HealthCheck = std::function<std::pair<bool, std::string>()>;

// Export statistics since start. `completed` counts exports whose last byte was handed to
// h2o; `aborted` counts exports that ended early (client disconnect, read error, stop).
struct ExportCounters {
  uint64_t started = 0;
  uint64_t completed = 0;
  uint64_t aborted = 0;
  uint64_t open = 0;
  uint64_t records_sent = 0;
};

class ApiServer {
 public:
  struct Options {
    ListenAddress api_listen;
    ListenAddress metrics_listen;
  };

  // The store must stay open until stop() has called back (or the server never started).
  ApiServer(uv_loop_t* loop, store::Store* store, Options options, MetricsRender metrics_render,
            HealthCheck health);
  // Destroying a running server stops it in the background; its memory is freed once the
  // loop has closed every connection.
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds both listeners (port 0 picks a free port) and starts accepting connections.
  Status start();
  uint16_t apiPort() const;
  uint16_t metricsPort() const;

  // Stops accepting, frees the RocksDB iterators of running exports at once, shuts down
  // open connections and calls `on_closed` on the loop thread once every handle of the
  // server has closed. Only the first call has an effect. Before a successful start(),
  // `on_closed` runs at once.
  void stop(std::function<void()> on_closed);

  // Thread safe.
  ExportCounters exportCounters() const;

 private:
  class Impl;
  Impl* impl_;  // Owned; deletes itself when the server is destroyed while still stopping.
};

}  // namespace titand::api
