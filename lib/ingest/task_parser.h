// Task parser: validates one NDJSON line of the file drop as a one-action api_call task (the
// body of POST /api/v1/tasks) and turns it into a model::TaskSpec.
//
// Errors are values: a line that breaks any rule yields every FieldError found, each naming the
// JSON path of the field ("limits.timeout_seconds", "urls[2]"; "" for the whole line) and a
// reason the operator can act on. Nothing here throws or logs.
// Thread safety: stateless functions; a simdjson parser belongs to one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <simdjson.h>

#include "model/model.h"

namespace titand::ingest {

struct FieldError {
  std::string field;  // JSON path of the offending field; "" for the whole line.
  std::string reason;
};

struct ParseLimits {
  uint32_t max_urls_per_task = 10000;
  size_t max_url_bytes = 8192;
};

using ParseResult = std::variant<model::TaskSpec, std::vector<FieldError>>;

// Validates one JSON text and returns the task or every problem found (not just the first).
// Copies `json` into a padded buffer; use the padded_string_view overload to avoid the copy.
ParseResult parseTask(std::string_view json, const ParseLimits& limits,
                      simdjson::ondemand::parser& parser);

// Same as above for a text that already has SIMDJSON_PADDING readable bytes after its end.
ParseResult parseTask(simdjson::padded_string_view json, const ParseLimits& limits,
                      simdjson::ondemand::parser& parser);

// Validates a document of an ondemand::document_stream (the reader's fast path). Unlike
// parseTask, it does not check for text after the document, because the stream has already
// split the documents. Sets `*invalid_json` when the text is not valid JSON (as opposed to valid
// JSON with bad fields), so the caller can re-check the line on its own for the exact error.
ParseResult parseTaskDocument(simdjson::ondemand::document_reference document,
                              const ParseLimits& limits, bool* invalid_json);

}  // namespace titand::ingest
