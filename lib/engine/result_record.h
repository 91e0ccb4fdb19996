// Builds the JSON result record stored for a finished item (column family "results").
// Thread safety: pure function.
#pragma once

#include <string>

#include "http/curl_engine.h"
#include "model/model.h"

namespace titand::engine {

// Returns the result JSON: URL, final state and status, kept headers, the body (embedded as
// JSON when it parses as JSON, else as a string), attempts, timings and the last error.
std::string buildResultJson(const model::WorkItem& item, const http::Response* response);

}  // namespace titand::engine
