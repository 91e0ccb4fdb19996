// JSON bodies of the operator API: the Titan response envelope and the execution document.
//
// Success: {"success":true,"data":...}. Error: {"success":false,"error":{"code":"NOT_FOUND",
// "message":"..."}}, where the code names the HTTP status (see errorCodeForStatus).
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "model/model.h"
#include "store/store.h"

namespace titand::api {

// Wraps a JSON value (passed as text) in the success envelope.
std::string successEnvelope(std::string_view data_json);

// Returns the envelope code of an HTTP error status: "BAD_REQUEST" (400), "NOT_FOUND" (404),
// "METHOD_NOT_ALLOWED" (405), "SERVICE_UNAVAILABLE" (503), else "INTERNAL_SERVER_ERROR".
const char* errorCodeForStatus(int http_status);

// Returns the error envelope for an HTTP error status and a message.
std::string errorEnvelope(int http_status, std::string_view message);

// Returns the execution document: id, task_id, status, total_items, counts per item state,
// progress (finished items over total items, 0 to 1), RFC 3339 timestamps (null when unset)
// and source.
std::string executionJson(const model::Execution& execution, const store::StateCounts& counts);

// Returns the fraction of finished (succeeded or failed) items, rounded to 4 decimals. An
// execution without items counts as done once its status is no longer queued or running.
double executionProgress(const model::Execution& execution, const store::StateCounts& counts);

}  // namespace titand::api
