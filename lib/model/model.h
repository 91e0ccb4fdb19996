// The data model shared by ingest, the store, the engine and the API.
//
// A task is the durable definition (the body of POST /api/v1/tasks). An execution is one
// run of a task. Each URL of an api_call execution is one work item; items are what the
// queue holds and the engine sends. `step` is the index of the execution-plan step an item
// belongs to; one-action tasks only have step 0.
// Thread safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace titand::model {

// A 128-bit id, shown as a UUID string.
using Id = std::array<uint8_t, 16>;

std::string idToString(const Id& id);
Result<Id> idFromString(std::string_view text);

// Derives a stable UUID (version 8, RFC 9562) from a namespace tag and some bytes, so the
// same file content always yields the same task and execution ids.
Id deriveId(std::string_view tag, std::string_view material);

struct TaskLimits {
  std::optional<uint32_t> timeout_seconds;
  std::optional<uint32_t> max_retries;
};

// A validated one-action api_call task with static URLs.
struct TaskSpec {
  std::string name;
  std::string objective;
  std::string execution_type = "single";
  std::string action_type = "api_call";
  std::string input_source = "static_urls";
  std::string template_slug;
  std::vector<std::string> urls;
  std::string payload_json;  // Minified JSON object; empty when the task has no payload.
  TaskLimits limits;
};

enum class ItemState : uint8_t {
  kQueued = 0,
  kInFlight = 1,
  kSucceeded = 2,
  kRetryScheduled = 3,
  kFailed = 4,
};
constexpr int kItemStateCount = 5;
const char* itemStateName(ItemState state);
inline bool isTerminal(ItemState state) {
  return state == ItemState::kSucceeded || state == ItemState::kFailed;
}

enum class ExecutionStatus : uint8_t {
  kQueued = 0,
  kRunning = 1,
  kCompleted = 2,
  kCompletedWithErrors = 3,
  kFailed = 4,
  kPaused = 5,
  kCancelled = 6,
};
const char* executionStatusName(ExecutionStatus status);

// Identifies one item: its execution and its position in the execution.
struct ItemKey {
  Id execution_id{};
  uint32_t index = 0;

  static constexpr size_t kEncodedSize = 20;
  std::string encode() const;
  static Result<ItemKey> decode(std::string_view bytes);
  std::string toString() const;  // "<execution uuid>/<index>"
  bool operator==(const ItemKey&) const = default;
};

struct WorkItem {
  ItemKey key;
  Id task_id{};
  uint32_t step = 0;
  uint32_t host_id = 0;
  ItemState state = ItemState::kQueued;
  std::string method;  // "GET" or "POST".
  std::string url;
  std::string body;  // JSON request body; empty for GET.
  uint32_t timeout_seconds = 0;
  uint32_t max_retries = 0;
  uint32_t attempts = 0;  // Attempts started so far, including one in flight.
  Micros queued_at = 0;
  Micros first_attempt_at = 0;
  Micros next_attempt_at = 0;  // Due time while queued or waiting for a retry.
  Micros finished_at = 0;
  int32_t last_http_status = 0;
  std::string last_error;

  // The header value every attempt of this item carries.
  std::string idempotencyKey() const;

  std::string encode() const;
  static Result<WorkItem> decode(std::string_view bytes);
};

struct Execution {
  Id id{};
  Id task_id{};
  ExecutionStatus status = ExecutionStatus::kQueued;
  uint32_t total_items = 0;
  Micros created_at = 0;
  Micros started_at = 0;
  Micros finished_at = 0;
  std::string source;  // Origin of the execution, such as "file batch.ndjson line 12".

  std::string toJson() const;
  static Result<Execution> fromJson(std::string_view json);
};

struct Task {
  Id id{};
  TaskSpec spec;
  Micros created_at = 0;
  std::string status = "active";

  std::string toJson() const;
};

// Writes `text` as a JSON string literal, quotes included.
void appendJsonString(std::string* out, std::string_view text);

// Returns the origin ("scheme://host:port", lower case, default port filled in) of an
// absolute http or https URL, or an error naming what is wrong with it.
Result<std::string> originOf(std::string_view url);

}  // namespace titand::model
