#include "engine/result_record.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <sodium.h>

namespace titand::engine {
namespace {

bool isJson(const std::string& body) {
  if (body.empty()) return false;
  static thread_local simdjson::dom::parser parser;
  simdjson::dom::element ignored;
  return parser.parse(body).get(ignored) == simdjson::SUCCESS;
}

// Appends a JSON body minified, so each result stays on one line of an NDJSON export.
void appendMinified(std::string* out, const std::string& body) {
  size_t start = out->size();
  out->resize(start + body.size());
  size_t written = 0;
  if (simdjson::minify(body.data(), body.size(), out->data() + start, written) !=
      simdjson::SUCCESS) {
    out->resize(start);
    out->append(body);
    return;
  }
  out->resize(start + written);
}

void appendBase64(std::string* out, const std::string& bytes) {
  size_t size = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string encoded(size, '\0');
  sodium_bin2base64(encoded.data(), size, reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  encoded.resize(size - 1);  // Drop the terminating NUL.
  model::appendJsonString(out, encoded);
}

void appendTimestamp(std::string* out, const char* name, Micros micros) {
  *out += fmt::format("\"{}\":", name);
  if (micros <= 0) {
    *out += "null";
  } else {
    model::appendJsonString(out, formatTimestamp(micros));
  }
}

}  // namespace

std::string buildResultJson(const model::WorkItem& item, const http::Response* response) {
  std::string out;
  out.reserve(256 + item.url.size() + (response != nullptr ? response->body.size() : 0));
  out += "{\"execution_id\":";
  model::appendJsonString(&out, model::idToString(item.key.execution_id));
  out += ",\"task_id\":";
  model::appendJsonString(&out, model::idToString(item.task_id));
  out += fmt::format(",\"item_index\":{},\"step\":{},\"url\":", item.key.index, item.step);
  model::appendJsonString(&out, item.url);
  out += ",\"method\":";
  model::appendJsonString(&out, item.method);
  out += fmt::format(",\"state\":\"{}\",\"http_status\":", model::itemStateName(item.state));
  out += item.last_http_status > 0 ? std::to_string(item.last_http_status) : "null";

  out += ",\"headers\":{";
  bool first = true;
  bool body_is_json = false;
  if (response != nullptr) {
    for (const auto& [name, value] : response->headers) {
      if (!first) out.push_back(',');
      first = false;
      model::appendJsonString(&out, name);
      out.push_back(':');
      model::appendJsonString(&out, value);
    }
    body_is_json = !response->body_too_large && isJson(response->body);
  }
  out += "},\"body\":";
  const char* encoding = "json";
  if (response == nullptr || response->body_too_large || response->body.empty()) {
    out += "null";
  } else if (body_is_json) {
    appendMinified(&out, response->body);
  } else if (simdjson::validate_utf8(response->body.data(), response->body.size())) {
    encoding = "text";
    model::appendJsonString(&out, response->body);
  } else {
    encoding = "base64";
    appendBase64(&out, response->body);
  }
  out += fmt::format(",\"body_encoding\":\"{}\"", encoding);
  size_t body_bytes = response != nullptr ? response->body.size() : 0;
  out +=
      fmt::format(",\"body_bytes\":{},\"attempts\":{},\"timings\":{{", body_bytes, item.attempts);
  appendTimestamp(&out, "queued_at", item.queued_at);
  out.push_back(',');
  appendTimestamp(&out, "first_attempt_at", item.first_attempt_at);
  out.push_back(',');
  appendTimestamp(&out, "finished_at", item.finished_at);
  double duration_ms = item.first_attempt_at > 0 && item.finished_at >= item.first_attempt_at
                           ? static_cast<double>(item.finished_at - item.first_attempt_at) / 1000.0
                           : 0.0;
  out += fmt::format(",\"duration_ms\":{:.3f}}},\"error\":", duration_ms);
  if (item.last_error.empty()) {
    out += "null";
  } else {
    model::appendJsonString(&out, item.last_error);
  }
  out.push_back('}');
  return out;
}

}  // namespace titand::engine
