#include "model/model.h"

#include <cstring>

#include <fmt/format.h>
#include <simdjson.h>
#include <sodium.h>

namespace titand::model {
namespace {

constexpr uint8_t kItemFormatVersion = 1;

void putU32(std::string* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void putU64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void putBytes(std::string* out, std::string_view bytes) {
  putU32(out, static_cast<uint32_t>(bytes.size()));
  out->append(bytes);
}

// Reads the fields that WorkItem::encode writes, in order, failing on a short buffer.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }

  uint64_t u(int width) {
    if (!take(width)) return 0;
    uint64_t value = 0;
    for (int i = 0; i < width; ++i) value = (value << 8) | static_cast<uint8_t>(bytes_[pos_ + i]);
    pos_ += width;
    return value;
  }
  std::string_view bytes(size_t count) {
    if (!take(count)) return {};
    std::string_view view = bytes_.substr(pos_, count);
    pos_ += count;
    return view;
  }
  std::string str() { return std::string(bytes(static_cast<size_t>(u(4)))); }

 private:
  bool take(size_t count) {
    if (!ok_ || bytes_.size() - pos_ < count) ok_ = false;
    return ok_;
  }
  std::string_view bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string idToString(const Id& id) {
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:"
      "02x}{:02x}",
      id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12],
      id[13], id[14], id[15]);
}

Result<Id> idFromString(std::string_view text) {
  Id id{};
  size_t out = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-' && (i == 8 || i == 13 || i == 18 || i == 23)) continue;
    if (out >= 32 || i + 1 > text.size()) break;
    int digit = hexValue(text[i]);
    if (digit < 0) break;
    if (out % 2 == 0) {
      id[out / 2] = static_cast<uint8_t>(digit << 4);
    } else {
      id[out / 2] |= static_cast<uint8_t>(digit);
    }
    ++out;
    if (out == 32 && i + 1 != text.size()) {
      out = 33;
      break;
    }
  }
  if (out != 32 || text.size() != 36) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("invalid id '{}': expected a UUID such as "
                              "123e4567-e89b-12d3-a456-426614174000",
                              text.substr(0, 64)));
  }
  return id;
}

Id deriveId(std::string_view tag, std::string_view material) {
  uint8_t digest[crypto_generichash_BYTES];
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, sizeof digest);
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(tag.data()), tag.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(material.data()),
                            material.size());
  crypto_generichash_final(&state, digest, sizeof digest);
  Id id{};
  std::memcpy(id.data(), digest, id.size());
  id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x80);  // Version 8: custom.
  id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);  // RFC 9562 variant.
  return id;
}

const char* itemStateName(ItemState state) {
  switch (state) {
    case ItemState::kQueued:
      return "queued";
    case ItemState::kInFlight:
      return "in_flight";
    case ItemState::kSucceeded:
      return "succeeded";
    case ItemState::kRetryScheduled:
      return "retry_scheduled";
    case ItemState::kFailed:
      return "failed";
  }
  return "unknown";
}

const char* executionStatusName(ExecutionStatus status) {
  switch (status) {
    case ExecutionStatus::kQueued:
      return "queued";
    case ExecutionStatus::kRunning:
      return "running";
    case ExecutionStatus::kCompleted:
      return "completed";
    case ExecutionStatus::kCompletedWithErrors:
      return "completed_with_errors";
    case ExecutionStatus::kFailed:
      return "failed";
    case ExecutionStatus::kPaused:
      return "paused";
    case ExecutionStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string ItemKey::encode() const {
  std::string out(reinterpret_cast<const char*>(execution_id.data()), execution_id.size());
  putU32(&out, index);
  return out;
}

Result<ItemKey> ItemKey::decode(std::string_view bytes) {
  if (bytes.size() != kEncodedSize) {
    return errorStatus(ErrorCode::kCorruption, "item key has {} bytes, expected {}", bytes.size(),
                       kEncodedSize);
  }
  ItemKey key;
  std::memcpy(key.execution_id.data(), bytes.data(), key.execution_id.size());
  Reader reader(bytes.substr(16));
  key.index = static_cast<uint32_t>(reader.u(4));
  return key;
}

std::string ItemKey::toString() const {
  return fmt::format("{}/{}", idToString(execution_id), index);
}

std::string WorkItem::idempotencyKey() const {
  return fmt::format("titand-{}-{}", idToString(key.execution_id), key.index);
}

std::string WorkItem::encode() const {
  std::string out;
  out.reserve(96 + url.size() + body.size() + method.size() + last_error.size());
  out.push_back(static_cast<char>(kItemFormatVersion));
  out.append(key.encode());
  out.append(reinterpret_cast<const char*>(task_id.data()), task_id.size());
  putU32(&out, step);
  putU32(&out, host_id);
  out.push_back(static_cast<char>(state));
  putBytes(&out, method);
  putBytes(&out, url);
  putBytes(&out, body);
  putU32(&out, timeout_seconds);
  putU32(&out, max_retries);
  putU32(&out, attempts);
  putU64(&out, static_cast<uint64_t>(queued_at));
  putU64(&out, static_cast<uint64_t>(first_attempt_at));
  putU64(&out, static_cast<uint64_t>(next_attempt_at));
  putU64(&out, static_cast<uint64_t>(finished_at));
  putU32(&out, static_cast<uint32_t>(last_http_status));
  putBytes(&out, last_error);
  return out;
}

Result<WorkItem> WorkItem::decode(std::string_view bytes) {
  Reader reader(bytes);
  uint64_t version = reader.u(1);
  if (reader.ok() && version != kItemFormatVersion) {
    return errorStatus(ErrorCode::kCorruption, "work item has format version {}, expected {}",
                       version, kItemFormatVersion);
  }
  WorkItem item;
  std::string_view key = reader.bytes(ItemKey::kEncodedSize);
  std::string_view task = reader.bytes(16);
  item.step = static_cast<uint32_t>(reader.u(4));
  item.host_id = static_cast<uint32_t>(reader.u(4));
  uint64_t state = reader.u(1);
  item.method = reader.str();
  item.url = reader.str();
  item.body = reader.str();
  item.timeout_seconds = static_cast<uint32_t>(reader.u(4));
  item.max_retries = static_cast<uint32_t>(reader.u(4));
  item.attempts = static_cast<uint32_t>(reader.u(4));
  item.queued_at = static_cast<Micros>(reader.u(8));
  item.first_attempt_at = static_cast<Micros>(reader.u(8));
  item.next_attempt_at = static_cast<Micros>(reader.u(8));
  item.finished_at = static_cast<Micros>(reader.u(8));
  item.last_http_status = static_cast<int32_t>(reader.u(4));
  item.last_error = reader.str();
  if (!reader.ok() || state >= kItemStateCount) {
    return Status(ErrorCode::kCorruption, "work item record is truncated or has a bad state");
  }
  auto decoded_key = ItemKey::decode(key);
  if (!decoded_key.isOk()) return decoded_key.status();
  item.key = decoded_key.value();
  std::memcpy(item.task_id.data(), task.data(), item.task_id.size());
  item.state = static_cast<ItemState>(state);
  return item;
}

namespace {

// Returns the length of the well-formed UTF-8 sequence that starts at `text[i]`, or 0 when the
// bytes there are not one (stray continuation byte, truncated, overlong, surrogate, > U+10FFFF).
size_t utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  size_t length;
  unsigned char min_second = 0x80, max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // Overlong.
    if (lead == 0xED) max_second = 0x9F;  // UTF-16 surrogates.
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // Overlong.
    if (lead == 0xF4) max_second = 0x8F;  // Above U+10FFFF.
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < min_second || byte(i + 1) > max_second) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

void appendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      // JSON text must be UTF-8, and file names or upstream headers need not be: each byte
      // that does not start a well-formed sequence becomes U+FFFD.
      size_t length = utf8SequenceLength(text, i);
      if (length == 0) {
        out->append("\ufffd");
      } else {
        out->append(text.substr(i, length));
        i += length - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out->append(fmt::format("\\u{:04x}", static_cast<unsigned>(c)));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string Execution::toJson() const {
  std::string out = "{\"id\":";
  appendJsonString(&out, idToString(id));
  out += ",\"task_id\":";
  appendJsonString(&out, idToString(task_id));
  out += fmt::format(
      ",\"status\":\"{}\",\"total_items\":{},\"created_at\":{},\"started_at\":{},"
      "\"finished_at\":{},\"source\":",
      executionStatusName(status), total_items, created_at, started_at, finished_at);
  appendJsonString(&out, source);
  out.push_back('}');
  return out;
}

Result<Execution> Execution::fromJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return Status(ErrorCode::kCorruption, "execution record is not valid JSON");
  }
  Execution execution;
  std::string_view id_text, task_text, status_text, source;
  int64_t total = 0;
  if (root["id"].get(id_text) || root["task_id"].get(task_text) ||
      root["status"].get(status_text) || root["total_items"].get(total) ||
      root["created_at"].get(execution.created_at) ||
      root["started_at"].get(execution.started_at) ||
      root["finished_at"].get(execution.finished_at) || root["source"].get(source)) {
    return Status(ErrorCode::kCorruption, "execution record misses a field");
  }
  auto id = idFromString(id_text);
  auto task = idFromString(task_text);
  if (!id.isOk() || !task.isOk()) return Status(ErrorCode::kCorruption, "execution id is invalid");
  execution.id = id.value();
  execution.task_id = task.value();
  execution.total_items = static_cast<uint32_t>(total);
  execution.source = std::string(source);
  bool known = false;
  for (uint8_t value = 0; value <= static_cast<uint8_t>(ExecutionStatus::kCancelled); ++value) {
    if (status_text == executionStatusName(static_cast<ExecutionStatus>(value))) {
      execution.status = static_cast<ExecutionStatus>(value);
      known = true;
    }
  }
  if (!known) return Status(ErrorCode::kCorruption, "execution record has an unknown status");
  return execution;
}

std::string Task::toJson() const {
  std::string out = "{\"id\":";
  appendJsonString(&out, idToString(id));
  const std::pair<const char*, const std::string*> fields[] = {
      {"name", &spec.name},
      {"objective", &spec.objective},
      {"execution_type", &spec.execution_type},
      {"action_type", &spec.action_type},
      {"input_source", &spec.input_source},
      {"template_slug", &spec.template_slug},
      {"status", &status}};
  for (const auto& [name, value] : fields) {
    out += fmt::format(",\"{}\":", name);
    appendJsonString(&out, *value);
  }
  out += ",\"urls\":[";
  for (size_t i = 0; i < spec.urls.size(); ++i) {
    if (i > 0) out.push_back(',');
    appendJsonString(&out, spec.urls[i]);
  }
  out += "],\"payload\":";
  out += spec.payload_json.empty() ? "null" : spec.payload_json;
  out += ",\"limits\":{";
  bool first = true;
  if (spec.limits.timeout_seconds) {
    out += fmt::format("\"timeout_seconds\":{}", *spec.limits.timeout_seconds);
    first = false;
  }
  if (spec.limits.max_retries) {
    out += fmt::format("{}\"max_retries\":{}", first ? "" : ",", *spec.limits.max_retries);
  }
  out += fmt::format("}},\"created_at\":\"{}\"}}", formatTimestamp(created_at));
  return out;
}

Result<std::string> originOf(std::string_view url) {
  std::string lower;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return Status(ErrorCode::kInvalidArgument, "must be an absolute http or https URL");
  }
  for (char c : url.substr(0, scheme_end)) lower.push_back(static_cast<char>(std::tolower(c)));
  if (lower != "http" && lower != "https") {
    return errorStatus(ErrorCode::kInvalidArgument, "scheme '{}' is not allowed, use http or https",
                       lower);
  }
  std::string_view rest = url.substr(scheme_end + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return Status(ErrorCode::kInvalidArgument, "must not contain user info");
  }
  if (url.find('#') != std::string_view::npos) {
    return Status(ErrorCode::kInvalidArgument, "must not contain a fragment");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status(ErrorCode::kInvalidArgument, "has an unterminated IPv6 address");
    }
    host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return Status(ErrorCode::kInvalidArgument, "has an invalid host");
      }
      port = authority.substr(close + 2);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return Status(ErrorCode::kInvalidArgument, "has no host");
  for (char c : host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '%' || c == '\\') {
      return Status(ErrorCode::kInvalidArgument, "has an invalid character in the host");
    }
  }
  unsigned long port_number = lower == "https" ? 443 : 80;
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return Status(ErrorCode::kInvalidArgument, "has an invalid port");
    }
    port_number = std::stoul(std::string(port));
    if (port_number == 0 || port_number > 65535) {
      return Status(ErrorCode::kInvalidArgument, "has a port outside 1-65535");
    }
  }
  std::string origin = lower + "://";
  for (char c : host) origin.push_back(static_cast<char>(std::tolower(c)));
  origin += fmt::format(":{}", port_number);
  return origin;
}

}  // namespace titand::model
