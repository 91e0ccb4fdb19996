// The data model: ids, item encoding, origins.
#include "model/model.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace titand::model {
namespace {

TEST(ModelTest, IdStringRoundTrip) {
  Id id = deriveId("task", "material");
  std::string text = idToString(id);
  EXPECT_EQ(text.size(), 36u);
  EXPECT_EQ(text[14], '8');  // Version 8.
  auto parsed = idFromString(text);
  ASSERT_TRUE(parsed.isOk());
  EXPECT_EQ(parsed.value(), id);
  EXPECT_EQ(deriveId("task", "material"), id);
  EXPECT_NE(deriveId("execution", "material"), id);
}

TEST(ModelTest, InvalidIdsRejected) {
  for (const char* text :
       {"", "not-a-uuid", "123e4567-e89b-12d3-a456-42661417400",
        "123e4567-e89b-12d3-a456-4266141740000", "123e4567xe89b-12d3-a456-426614174000",
        "g23e4567-e89b-12d3-a456-426614174000"}) {
    EXPECT_FALSE(idFromString(text).isOk()) << text;
  }
  EXPECT_TRUE(idFromString("123E4567-E89B-12D3-A456-426614174000").isOk());
}

TEST(ModelTest, WorkItemEncodingRoundTrip) {
  WorkItem item;
  item.key = {deriveId("execution", "x"), 77};
  item.task_id = deriveId("task", "x");
  item.step = 1;
  item.host_id = 9;
  item.state = ItemState::kRetryScheduled;
  item.method = "POST";
  item.url = "https://127.0.0.1:8443/v1/quotes?x=1";
  item.body = R"({"weight_kg":12.5})";
  item.timeout_seconds = 20;
  item.max_retries = 2;
  item.attempts = 2;
  item.queued_at = 1;
  item.first_attempt_at = 2;
  item.next_attempt_at = 3;
  item.finished_at = 0;
  item.last_http_status = 503;
  item.last_error = "HTTP status 503";
  auto decoded = WorkItem::decode(item.encode());
  ASSERT_TRUE(decoded.isOk()) << decoded.status().toString();
  EXPECT_EQ(decoded.value().encode(), item.encode());
  EXPECT_EQ(decoded.value().state, ItemState::kRetryScheduled);
  EXPECT_EQ(decoded.value().last_error, "HTTP status 503");
  std::string truncated = item.encode().substr(0, 30);
  EXPECT_FALSE(WorkItem::decode(truncated).isOk());
  EXPECT_EQ(item.idempotencyKey(), "titand-" + idToString(item.key.execution_id) + "-77");
}

TEST(ModelTest, OriginNormalisesSchemeHostAndPort) {
  EXPECT_EQ(originOf("HTTP://Example.COM/path").value(), "http://example.com:80");
  EXPECT_EQ(originOf("https://127.0.0.1/x?y").value(), "https://127.0.0.1:443");
  EXPECT_EQ(originOf("http://[::1]:8080/").value(), "http://[::1]:8080");
  for (const char* bad : {"ftp://x/", "http://", "http://user@host/", "http://h/#frag",
                          "http://h:99999/", "http://h:abc/", "/relative"}) {
    EXPECT_FALSE(originOf(bad).isOk()) << bad;
  }
}

TEST(ModelTest, ExecutionJsonRoundTrip) {
  Execution execution;
  execution.id = deriveId("execution", "json");
  execution.task_id = deriveId("task", "json");
  execution.status = ExecutionStatus::kCompletedWithErrors;
  execution.total_items = 4;
  execution.created_at = 10;
  execution.source = "file \"a\".ndjson line 3";
  auto parsed = Execution::fromJson(execution.toJson());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed.value().toJson(), execution.toJson());
}

TEST(ModelTest, JsonStringKeepsValidUtf8) {
  std::string out;
  appendJsonString(&out, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \"q\"\n");
  EXPECT_EQ(out, "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \\\"q\\\"\\n\"");
}

TEST(ModelTest, JsonStringReplacesInvalidUtf8) {
  struct Case {
    std::string input;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"bad\xFFname", "\"bad\ufffdname\""},
      {"\xC3", "\"\ufffd\""},                                // Truncated sequence.
      {"\xC0\xAF", "\"\ufffd\ufffd\""},                      // Overlong '/'.
      {"\xED\xA0\x80", "\"\ufffd\ufffd\ufffd\""},            // Surrogate.
      {"\xF4\x90\x80\x80", "\"\ufffd\ufffd\ufffd\ufffd\""},  // Above U+10FFFF.
      {"\x80ok", "\"\ufffdok\""},                            // Stray continuation byte.
  };
  for (const Case& test : cases) {
    std::string out;
    appendJsonString(&out, test.input);
    EXPECT_EQ(out, test.expected) << test.input;
  }
}

}  // namespace
}  // namespace titand::model
