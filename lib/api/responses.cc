#include "api/responses.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace titand::api {
namespace {

void appendTimestamp(std::string* out, const char* name, Micros micros) {
  fmt::format_to(std::back_inserter(*out), ",\"{}\":", name);
  if (micros <= 0) {
    out->append("null");
  } else {
    model::appendJsonString(out, formatTimestamp(micros));
  }
}

int64_t countOf(const store::StateCounts& counts, model::ItemState state) {
  return counts[static_cast<size_t>(state)];
}

}  // namespace

std::string successEnvelope(std::string_view data_json) {
  std::string out = "{\"success\":true,\"data\":";
  out.append(data_json);
  out.push_back('}');
  return out;
}

const char* errorCodeForStatus(int http_status) {
  switch (http_status) {
    case 400:
      return "BAD_REQUEST";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "METHOD_NOT_ALLOWED";
    case 503:
      return "SERVICE_UNAVAILABLE";
    default:
      return "INTERNAL_SERVER_ERROR";
  }
}

std::string errorEnvelope(int http_status, std::string_view message) {
  std::string out = "{\"success\":false,\"error\":{\"code\":\"";
  out.append(errorCodeForStatus(http_status));
  out.append("\",\"message\":");
  model::appendJsonString(&out, message);
  out.append("}}");
  return out;
}

double executionProgress(const model::Execution& execution, const store::StateCounts& counts) {
  if (execution.total_items == 0) {
    bool active = execution.status == model::ExecutionStatus::kQueued ||
                  execution.status == model::ExecutionStatus::kRunning;
    return active ? 0.0 : 1.0;
  }
  int64_t done =
      countOf(counts, model::ItemState::kSucceeded) + countOf(counts, model::ItemState::kFailed);
  double fraction = static_cast<double>(done) / static_cast<double>(execution.total_items);
  fraction = std::clamp(fraction, 0.0, 1.0);
  return std::round(fraction * 10000.0) / 10000.0;
}

std::string executionJson(const model::Execution& execution, const store::StateCounts& counts) {
  std::string out = "{\"id\":";
  model::appendJsonString(&out, model::idToString(execution.id));
  out.append(",\"task_id\":");
  model::appendJsonString(&out, model::idToString(execution.task_id));
  fmt::format_to(std::back_inserter(out), ",\"status\":\"{}\",\"total_items\":{},\"counts\":{{",
                 model::executionStatusName(execution.status), execution.total_items);
  for (int state = 0; state < model::kItemStateCount; ++state) {
    if (state > 0) out.push_back(',');
    fmt::format_to(std::back_inserter(out), "\"{}\":{}",
                   model::itemStateName(static_cast<model::ItemState>(state)), counts[state]);
  }
  fmt::format_to(std::back_inserter(out), "}},\"progress\":{}",
                 executionProgress(execution, counts));
  appendTimestamp(&out, "created_at", execution.created_at);
  appendTimestamp(&out, "started_at", execution.started_at);
  appendTimestamp(&out, "finished_at", execution.finished_at);
  out.append(",\"source\":");
  model::appendJsonString(&out, execution.source);
  out.push_back('}');
  return out;
}

}  // namespace titand::api
