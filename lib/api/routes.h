// Router: answers the requests of the API and metrics listeners (used by ApiServer only).
//
// API listener, all JSON in the Titan envelope (see responses.h) unless noted:
//   GET /api/v1/executions/:id          the execution document; 400 invalid id, 404 unknown
//   GET /api/v1/executions/:id/results  {"execution_id","results","formats":["ndjson","csv"]}
//   GET /api/v1/executions/:id/results/export?format=ndjson|csv
//       the raw NDJSON or CSV as an attachment, streamed in chunks (no envelope)
//   GET /healthz                        200 "ok\n" or 503 with the health message (text)
//   anything else                       404; a known path with another method gets 405
// Metrics listener (plain text): GET /metrics and GET /healthz.
// While stopping, both listeners answer 503 and running exports end with a truncated body.
// Thread safety: loop thread only, except exportCounters().
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

#include "api/api_server.h"
#include "model/model.h"
#include "store/store.h"

struct st_h2o_req_t;

namespace titand::api {

class Router {
 public:
  Router(store::Store* store, MetricsRender metrics_render, HealthCheck health);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  void handleApiRequest(st_h2o_req_t* req);
  void handleMetricsRequest(st_h2o_req_t* req);

  // Frees the iterators of running exports and answers later requests with 503. The store
  // may close after this returns.
  void beginStop();

  ExportCounters exportCounters() const;

 private:
  struct ExportStream;

  void routeExecution(st_h2o_req_t* req, std::string_view id_text, std::string_view tail);
  void sendExecution(st_h2o_req_t* req, const model::Id& id);
  void sendResultsSummary(st_h2o_req_t* req, const model::Id& id);
  void startExport(st_h2o_req_t* req, const model::Id& id);
  void sendHealth(st_h2o_req_t* req);
  // Sends 404 or 500 and returns false unless the execution exists.
  bool checkExecutionExists(st_h2o_req_t* req, const model::Id& id);

  static void sendNextChunk(ExportStream* stream, st_h2o_req_t* req);
  void onExportClosed(ExportStream* stream);

  store::Store* store_;
  MetricsRender metrics_render_;
  HealthCheck health_;
  bool stopping_ = false;
  std::unordered_set<ExportStream*> open_exports_;

  std::atomic<uint64_t> exports_started_{0};
  std::atomic<uint64_t> exports_completed_{0};
  std::atomic<uint64_t> exports_aborted_{0};
  std::atomic<uint64_t> records_sent_{0};
};

}  // namespace titand::api
