// Tests of HttpTarget through libcurl easy and multi handles against servers on 127.0.0.1.
#include "testing/http_target.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

// h2o 2.2 keeps freed memory-pool chunks and HTTP/2 write buffers in per-thread caches that
// no h2o call frees, so every stopped HttpTarget thread leaves them behind. Allocations that
// bypass those caches, such as h2o's connection objects, are still reported.
extern "C" const char* __lsan_default_suppressions() { return "leak:h2o_mem_alloc_recycle\n"; }

namespace titand::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr long kDefaultTimeoutMs = 30000;

struct Request {
  std::string method = "GET";
  std::string body;
  std::string idempotency_key;  // Empty: no Idempotency-Key header.
  long timeout_ms = kDefaultTimeoutMs;
  bool http2 = false;  // h2c with prior knowledge.
};

struct Response {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // Lower-case names.
  long http_version = 0;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

size_t appendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t storeHeader(char* data, size_t size, size_t count, void* user) {
  std::string line(data, size * count);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t start = line.find_first_not_of(' ', colon + 1);
    size_t end = line.find_last_not_of("\r\n");
    std::string value =
        start == std::string::npos || end < start ? "" : line.substr(start, end - start + 1);
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * count;
}

// Holds an easy handle configured for `request`; the header list and response outlive it.
class Transfer {
 public:
  Transfer(const std::string& url, const Request& request) : handle_(curl_easy_init()) {
    configure(url, request);
  }
  ~Transfer() {
    curl_easy_cleanup(handle_);
    curl_slist_free_all(headers_);
  }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  CURL* handle() const { return handle_; }
  Response& response() { return response_; }

  void finish(CURLcode code) {
    response_.code = code;
    curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &response_.status);
    curl_easy_getinfo(handle_, CURLINFO_HTTP_VERSION, &response_.http_version);
  }

 private:
  void configure(const std::string& url, const Request& request) {
    curl_easy_setopt(handle_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle_, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "HEAD") curl_easy_setopt(handle_, CURLOPT_NOBODY, 1L);
    if (!request.body.empty()) {
      curl_easy_setopt(handle_, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(handle_, CURLOPT_COPYPOSTFIELDS, request.body.c_str());
      headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    }
    if (!request.idempotency_key.empty()) {
      std::string line = "Idempotency-Key: " + request.idempotency_key;
      headers_ = curl_slist_append(headers_, line.c_str());
    }
    headers_ = curl_slist_append(headers_, "Expect:");
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(handle_, CURLOPT_TIMEOUT_MS, request.timeout_ms);
    curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle_, CURLOPT_HTTP_VERSION,
                     request.http2 ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, appendBody);
    curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &response_.body);
    curl_easy_setopt(handle_, CURLOPT_HEADERFUNCTION, storeHeader);
    curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &response_.headers);
  }

  CURL* handle_;
  curl_slist* headers_ = nullptr;
  Response response_;
};

Response fetch(const std::string& url, const Request& request = {}) {
  Transfer transfer(url, request);
  transfer.finish(curl_easy_perform(transfer.handle()));
  return transfer.response();
}

// Returns an integer field of a JSON object body, or -1 when it is missing or not a number.
int64_t jsonInt(const std::string& body, const char* field) {
  simdjson::dom::parser parser;
  int64_t value = -1;
  if (parser.parse(body).at_key(field).get(value) != simdjson::SUCCESS) return -1;
  return value;
}

// Returns a field of a JSON object body as minified JSON, or "<missing>".
std::string jsonField(const std::string& body, const char* field) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(body).at_key(field).get(element) != simdjson::SUCCESS) return "<missing>";
  return simdjson::minify(element);
}

// Polls `condition` every 10 ms for at most 10 s.
template <typename Condition>
bool waitFor(Condition condition) {
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return condition();
}

class CurlEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { curl_global_init(CURL_GLOBAL_DEFAULT); }
  void TearDown() override { curl_global_cleanup(); }
};

[[maybe_unused]] const auto* const kCurlEnvironment =
    ::testing::AddGlobalTestEnvironment(new CurlEnvironment);

class HttpTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HttpTarget::start(HttpTarget::Options{});
    ASSERT_TRUE(started.isOk()) << started.status().toString();
    target_ = std::move(started).value();
  }

  std::string url(const std::string& path) const { return target_->baseUrl() + path; }

  std::unique_ptr<HttpTarget> target_;
};

TEST_F(HttpTargetTest, StatusRouteReturnsCode) {
  for (int code : {200, 201, 404, 429, 500, 503}) {
    Response response = fetch(url("/status/" + std::to_string(code)));
    ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
    EXPECT_EQ(response.status, code);
    EXPECT_EQ(response.body, "{\"status\":" + std::to_string(code) + "}");
    EXPECT_EQ(response.header("content-type"), "application/json");
    EXPECT_EQ(response.header("content-length"), std::to_string(response.body.size()));
  }
}

TEST_F(HttpTargetTest, StatusNoContentHasEmptyBody) {
  Response response = fetch(url("/status/204"));
  ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.body, "");
}

TEST_F(HttpTargetTest, InvalidParametersAreBadRequest) {
  for (const char* path : {"/status/abc", "/status/99", "/status/600", "/flaky/x/503", "/flaky/2",
                           "/retry-after/1/100", "/delay/-1", "/bytes/1x"}) {
    Response response = fetch(url(path));
    ASSERT_EQ(response.code, CURLE_OK) << path;
    EXPECT_EQ(response.status, 400) << path;
    EXPECT_NE(jsonField(response.body, "error"), "<missing>") << path << ": " << response.body;
  }
}

TEST_F(HttpTargetTest, FlakyFailsFirstRequestsPerKey) {
  Request first_key;
  first_key.idempotency_key = "item-a";
  EXPECT_EQ(fetch(url("/flaky/2/503"), first_key).status, 503);
  EXPECT_EQ(fetch(url("/flaky/2/503"), first_key).status, 503);
  Response third = fetch(url("/flaky/2/503"), first_key);
  EXPECT_EQ(third.status, 200);
  EXPECT_EQ(jsonInt(third.body, "attempt"), 3);

  Request second_key;
  second_key.idempotency_key = "item-b";
  Response other = fetch(url("/flaky/2/503"), second_key);
  EXPECT_EQ(other.status, 503);
  EXPECT_EQ(jsonInt(other.body, "attempt"), 1);
  EXPECT_EQ(target_->requestsForKey("item-a"), 3u);
  EXPECT_EQ(target_->requestsForKey("item-b"), 1u);
}

TEST_F(HttpTargetTest, RetryAfterSecondsOnFirstRequest) {
  Request request;
  request.idempotency_key = "retry-seconds";
  Response first = fetch(url("/retry-after/7/429"), request);
  ASSERT_EQ(first.code, CURLE_OK);
  EXPECT_EQ(first.status, 429);
  EXPECT_EQ(first.header("retry-after"), "7");

  Response second = fetch(url("/retry-after/7/429"), request);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.header("retry-after"), "");
}

TEST_F(HttpTargetTest, RetryAfterDateIsFutureHttpDate) {
  Request request;
  request.idempotency_key = "retry-date";
  time_t before = time(nullptr);
  Response first = fetch(url("/retry-after-date/120/503"), request);
  time_t after = time(nullptr);
  ASSERT_EQ(first.code, CURLE_OK);
  EXPECT_EQ(first.status, 503);

  std::string value = first.header("retry-after");
  ASSERT_EQ(value.size(), 29u) << value;  // "Sun, 06 Nov 1994 08:49:37 GMT"
  EXPECT_EQ(value.substr(26), "GMT");
  time_t parsed = curl_getdate(value.c_str(), nullptr);
  EXPECT_GE(parsed, before + 120 - 1) << value;
  EXPECT_LE(parsed, after + 120 + 1) << value;

  EXPECT_EQ(fetch(url("/retry-after-date/120/503"), request).status, 200);
}

TEST_F(HttpTargetTest, DelayWaitsAtLeastTheDelay) {
  auto start = steady_clock::now();
  Response response = fetch(url("/delay/300"));
  auto elapsed = steady_clock::now() - start;
  ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(jsonInt(response.body, "delay_ms"), 300);
  EXPECT_GE(elapsed, milliseconds(300));
  EXPECT_EQ(target_->pendingResponses(), 0u);
}

TEST_F(HttpTargetTest, ManyConcurrentDelays) {
  constexpr int kRequests = 2000;
  CURLM* multi = curl_multi_init();
  std::vector<std::unique_ptr<Transfer>> transfers;
  Request request;
  request.timeout_ms = 120000;
  for (int i = 0; i < kRequests; ++i) {
    transfers.push_back(std::make_unique<Transfer>(url("/delay/500"), request));
    curl_multi_add_handle(multi, transfers.back()->handle());
  }
  auto start = steady_clock::now();
  auto deadline = start + std::chrono::seconds(150);
  int running = 1;
  while (running > 0 && steady_clock::now() < deadline) {
    curl_multi_perform(multi, &running);
    curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  auto elapsed = steady_clock::now() - start;
  int messages = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &messages)) {
    if (message->msg != CURLMSG_DONE) continue;
    for (auto& transfer : transfers) {
      if (transfer->handle() == message->easy_handle) transfer->finish(message->data.result);
    }
  }
  int succeeded = 0;
  for (auto& transfer : transfers) {
    if (transfer->response().code == CURLE_OK && transfer->response().status == 200) ++succeeded;
    curl_multi_remove_handle(multi, transfer->handle());
  }
  curl_multi_cleanup(multi);
  EXPECT_EQ(running, 0);
  EXPECT_EQ(succeeded, kRequests);
  EXPECT_EQ(target_->totalRequests(), static_cast<uint64_t>(kRequests));
  EXPECT_GE(elapsed, milliseconds(500));
}

TEST_F(HttpTargetTest, HangTimesOutAndServerKeepsServing) {
  Request hang;
  hang.timeout_ms = 300;
  Response response = fetch(url("/hang"), hang);
  EXPECT_EQ(response.code, CURLE_OPERATION_TIMEDOUT) << curl_easy_strerror(response.code);
  EXPECT_EQ(target_->totalRequests(), 1u);
  // The server notices the closed connection and drops the pending request.
  EXPECT_TRUE(waitFor([&] { return target_->pendingResponses() == 0; }));

  Response later = fetch(url("/text"));
  ASSERT_EQ(later.code, CURLE_OK);
  EXPECT_EQ(later.status, 200);
  EXPECT_EQ(later.body, "plain text");
}

TEST_F(HttpTargetTest, HangOverHttp2TimesOut) {
  Request hang;
  hang.timeout_ms = 300;
  hang.http2 = true;
  Response response = fetch(url("/hang"), hang);
  EXPECT_EQ(response.code, CURLE_OPERATION_TIMEDOUT) << curl_easy_strerror(response.code);
  EXPECT_TRUE(waitFor([&] { return target_->pendingResponses() == 0; }));

  Request text;
  text.http2 = true;
  Response later = fetch(url("/text"), text);
  ASSERT_EQ(later.code, CURLE_OK) << curl_easy_strerror(later.code);
  EXPECT_EQ(later.http_version, CURL_HTTP_VERSION_2_0);
  EXPECT_EQ(later.body, "plain text");
}

TEST_F(HttpTargetTest, BytesStreamsExactLength) {
  constexpr size_t kLength = 20 * 1024 * 1024 + 7;
  Response response = fetch(url("/bytes/" + std::to_string(kLength)));
  ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-type"), "text/plain");
  EXPECT_EQ(response.header("content-length"), std::to_string(kLength));
  ASSERT_EQ(response.body.size(), kLength);
  EXPECT_EQ(std::count(response.body.begin(), response.body.end(), 'x'),
            static_cast<ptrdiff_t>(kLength));
}

TEST_F(HttpTargetTest, BytesOverHttp2AndEmpty) {
  Request request;
  request.http2 = true;
  Response response = fetch(url("/bytes/3000000"), request);
  ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
  EXPECT_EQ(response.http_version, CURL_HTTP_VERSION_2_0);
  EXPECT_EQ(response.body.size(), 3000000u);

  Response empty = fetch(url("/bytes/0"));
  ASSERT_EQ(empty.code, CURLE_OK);
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.header("content-length"), "0");
  EXPECT_EQ(empty.body, "");
}

TEST_F(HttpTargetTest, HeadResponsesHaveNoBody) {
  Request head;
  head.method = "HEAD";
  Response bytes = fetch(url("/bytes/5000"), head);
  ASSERT_EQ(bytes.code, CURLE_OK) << curl_easy_strerror(bytes.code);
  EXPECT_EQ(bytes.header("content-length"), "5000");
  EXPECT_EQ(bytes.body, "");

  Response delayed = fetch(url("/delay/10"), head);
  ASSERT_EQ(delayed.code, CURLE_OK) << curl_easy_strerror(delayed.code);
  EXPECT_EQ(delayed.status, 200);
  EXPECT_EQ(delayed.body, "");
}

TEST_F(HttpTargetTest, TextRoute) {
  Response response = fetch(url("/text"));
  ASSERT_EQ(response.code, CURLE_OK);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "plain text");
  EXPECT_EQ(response.header("content-type"), "text/plain");
}

TEST_F(HttpTargetTest, EchoReportsRequest) {
  Request request;
  request.method = "POST";
  request.body = "{ \"name\": \"a\\\"b\", \"n\": [1, 2] }";
  Response response = fetch(url("/x?debug=1"), request);
  ASSERT_EQ(response.code, CURLE_OK);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-type"), "application/json");
  EXPECT_EQ(jsonField(response.body, "ok"), "true");
  EXPECT_EQ(jsonField(response.body, "method"), "\"POST\"");
  EXPECT_EQ(jsonField(response.body, "path"), "\"/x\"");
  EXPECT_EQ(jsonInt(response.body, "body_bytes"), static_cast<int64_t>(request.body.size()));
  EXPECT_EQ(jsonField(response.body, "echo"), "{\"name\":\"a\\\"b\",\"n\":[1,2]}");

  Response get = fetch(url("/anything"));
  EXPECT_EQ(jsonField(get.body, "method"), "\"GET\"");
  EXPECT_EQ(jsonInt(get.body, "body_bytes"), 0);
  EXPECT_EQ(jsonField(get.body, "echo"), "null");
}

TEST_F(HttpTargetTest, EchoIsNullForOtherBodies) {
  std::string large_object = "{\"pad\":\"" + std::string(5000, 'p') + "\"}";
  for (const std::string& body :
       {std::string("[1,2]"), std::string("{\"broken\":"), std::string("plain"), large_object}) {
    Request request;
    request.method = "PUT";
    request.body = body;
    Response response = fetch(url("/x"), request);
    ASSERT_EQ(response.code, CURLE_OK);
    EXPECT_EQ(jsonInt(response.body, "body_bytes"), static_cast<int64_t>(body.size()));
    EXPECT_EQ(jsonField(response.body, "echo"), "null") << body.substr(0, 40);
  }
}

TEST_F(HttpTargetTest, AcceptsOneMebibyteBody) {
  Request request;
  request.method = "POST";
  request.body = std::string(1024 * 1024, 'b');
  Response response = fetch(url("/upload"), request);
  ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(jsonInt(response.body, "body_bytes"), 1024 * 1024);
}

TEST_F(HttpTargetTest, KeepAliveReusesConnection) {
  Transfer transfer(url("/status/200"), Request{});
  for (int i = 0; i < 3; ++i) {
    transfer.response().body.clear();
    ASSERT_EQ(curl_easy_perform(transfer.handle()), CURLE_OK);
    long new_connections = -1;
    curl_easy_getinfo(transfer.handle(), CURLINFO_NUM_CONNECTS, &new_connections);
    EXPECT_EQ(new_connections, i == 0 ? 1 : 0) << "request " << i;
    EXPECT_EQ(transfer.response().body, "{\"status\":200}");
  }
}

TEST_F(HttpTargetTest, StatsCountKeysAndDuplicates) {
  Request key_a;
  key_a.idempotency_key = "a";
  Request key_b;
  key_b.idempotency_key = "b";
  Micros before = SystemClock::instance().nowMicros();
  fetch(url("/x"), key_a);
  fetch(url("/status/500"), key_a);
  fetch(url("/x"), key_b);
  fetch(url("/x"));
  Micros after = SystemClock::instance().nowMicros();

  Response stats = fetch(url("/__stats"));
  ASSERT_EQ(stats.code, CURLE_OK);
  EXPECT_EQ(stats.header("content-type"), "application/json");
  EXPECT_EQ(jsonInt(stats.body, "total"), 4);
  EXPECT_EQ(jsonInt(stats.body, "distinct_keys"), 3);
  EXPECT_EQ(jsonInt(stats.body, "max_per_key"), 2);
  EXPECT_EQ(jsonInt(stats.body, "duplicate_requests"), 1);
  EXPECT_EQ(target_->totalRequests(), 4u);  // /__stats is not counted.
  EXPECT_EQ(target_->distinctKeys(), 3u);
  EXPECT_EQ(target_->requestsForKey("a"), 2u);
  EXPECT_EQ(target_->requestsForKey(""), 1u);
  EXPECT_EQ(target_->requestsForKey("missing"), 0u);

  std::vector<Micros> times = target_->requestTimesForKey("a");
  ASSERT_EQ(times.size(), 2u);
  EXPECT_GE(times[0], before);
  EXPECT_LE(times[0], times[1]);
  EXPECT_LE(times[1], after);

  target_->resetStats();
  EXPECT_EQ(target_->totalRequests(), 0u);
  EXPECT_EQ(target_->distinctKeys(), 0u);
  EXPECT_EQ(target_->stats().max_per_key, 0u);
  EXPECT_EQ(target_->requestsOnPort(target_->ports()[0]), 0u);
}

TEST(HttpTargetPorts, TwoPortsCountedSeparately) {
  HttpTarget::Options options;
  options.ports = {0, 0};
  auto started = HttpTarget::start(options);
  ASSERT_TRUE(started.isOk()) << started.status().toString();
  HttpTarget& target = *started.value();
  ASSERT_EQ(target.ports().size(), 2u);
  EXPECT_NE(target.ports()[0], target.ports()[1]);

  EXPECT_EQ(fetch(target.baseUrl(0) + "/text").status, 200);
  EXPECT_EQ(fetch(target.baseUrl(0) + "/text").status, 200);
  EXPECT_EQ(fetch(target.baseUrl(1) + "/text").status, 200);
  EXPECT_EQ(target.requestsOnPort(target.ports()[0]), 2u);
  EXPECT_EQ(target.requestsOnPort(target.ports()[1]), 1u);
  EXPECT_EQ(target.totalRequests(), 3u);
}

TEST(HttpTargetPorts, Ipv6Loopback) {
  HttpTarget::Options options;
  options.host = "::1";
  auto started = HttpTarget::start(options);
  if (!started.isOk()) GTEST_SKIP() << "no IPv6 loopback: " << started.status().toString();
  HttpTarget& target = *started.value();
  EXPECT_EQ(target.baseUrl(), "http://[::1]:" + std::to_string(target.ports()[0]));
  Response response = fetch(target.baseUrl() + "/text");
  ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
  EXPECT_EQ(response.body, "plain text");
}

TEST(HttpTargetPorts, BusyPortIsIoError) {
  auto first = HttpTarget::start(HttpTarget::Options{});
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  HttpTarget::Options options;
  options.ports = {0, first.value()->ports()[0]};
  auto second = HttpTarget::start(options);
  ASSERT_FALSE(second.isOk());
  EXPECT_EQ(second.status().code(), ErrorCode::kIo);
  EXPECT_NE(second.status().message().find(std::to_string(options.ports[1])), std::string::npos)
      << second.status().message();
}

TEST(HttpTargetPorts, RejectsNonLoopbackHosts) {
  for (const char* host : {"0.0.0.0", "10.0.0.1", "::", "example.com", ""}) {
    HttpTarget::Options options;
    options.host = host;
    auto started = HttpTarget::start(options);
    ASSERT_FALSE(started.isOk()) << host;
    EXPECT_EQ(started.status().code(), ErrorCode::kInvalidArgument) << host;
  }
  HttpTarget::Options no_ports;
  no_ports.ports.clear();
  EXPECT_EQ(HttpTarget::start(no_ports).status().code(), ErrorCode::kInvalidArgument);
}

TEST(HttpTargetPorts, LoopbackHostCheck) {
  EXPECT_TRUE(isLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(isLoopbackHost("127.10.20.30"));
  EXPECT_TRUE(isLoopbackHost("::1"));
  EXPECT_TRUE(isLoopbackHost("localhost"));
  EXPECT_FALSE(isLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(isLoopbackHost("::2"));
  EXPECT_FALSE(isLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(isLoopbackHost("[::1]"));
}

TEST(HttpTargetShutdown, DestructorWithHangingConnections) {
  auto started = HttpTarget::start(HttpTarget::Options{});
  ASSERT_TRUE(started.isOk()) << started.status().toString();
  std::unique_ptr<HttpTarget> target = std::move(started).value();
  std::string base = target->baseUrl();

  Response http1;
  Response http2;
  Response delayed;
  std::thread http1_client([&] { http1 = fetch(base + "/hang"); });
  std::thread http2_client([&] {
    Request request;
    request.http2 = true;
    http2 = fetch(base + "/hang", request);
  });
  std::thread delayed_client([&] { delayed = fetch(base + "/delay/600000"); });
  ASSERT_TRUE(waitFor([&] { return target->pendingResponses() == 3; }));
  EXPECT_EQ(target->totalRequests(), 3u);

  target.reset();  // Must return although three requests are still open.
  http1_client.join();
  http2_client.join();
  delayed_client.join();
  for (const Response* response : {&http1, &http2, &delayed}) {
    EXPECT_NE(response->code, CURLE_OPERATION_TIMEDOUT);
    if (response->code == CURLE_OK) {
      EXPECT_EQ(response->status, 503);
    }
  }
}

TEST(HttpTargetShutdown, DestructorWithIdleKeepAliveConnection) {
  auto started = HttpTarget::start(HttpTarget::Options{});
  ASSERT_TRUE(started.isOk()) << started.status().toString();
  std::unique_ptr<HttpTarget> target = std::move(started).value();
  Transfer transfer(target->baseUrl() + "/text", Request{});
  ASSERT_EQ(curl_easy_perform(transfer.handle()), CURLE_OK);
  target.reset();  // The idle connection is still held open by `transfer`.
  EXPECT_EQ(transfer.response().body, "plain text");
}

}  // namespace
}  // namespace titand::testing
