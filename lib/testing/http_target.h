// HttpTarget: a loopback HTTP/1.1 and h2c server (h2o 2.2 on libuv) that tests, the demo and
// the end-to-end benchmark aim titand at. Its routes fail, delay, hang or stream on request,
// and it counts the requests it receives per Idempotency-Key header.
//
// Routes (any method; the path decides):
//   /status/<code>                    <code> with {"status":<code>}
//   /flaky/<n>/<code>                 <code> for the first n requests per key, then 200
//   /retry-after/<seconds>/<code>     <code> plus "Retry-After: <seconds>" for the first
//                                     request per key, then 200
//   /retry-after-date/<seconds>/<code> the same with an IMF-fixdate <seconds> in the future
//   /delay/<ms>                       200 after <ms> milliseconds (a timer, no thread blocks)
//   /hang                             no response until the client disconnects or the
//                                     server stops (then 503)
//   /bytes/<n>                        200 text/plain with exactly n bytes, streamed
//   /text                             200 text/plain "plain text"
//   /__stats                          the statistics as JSON; not counted itself
//   anything else                     200 JSON echo of method, path, body size and body
// Requests without an Idempotency-Key header are counted under the key "".
//
// Thread safety: start() and the destructor belong to the owning thread. The server runs on
// its own thread with its own uv loop. The statistics accessors are thread safe and may be
// called while requests arrive.
// Errors: start() returns kInvalidArgument for a host that is not loopback or an empty port
// list, and kIo when a socket cannot be bound. A malformed route parameter gets a 400 JSON
// response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace titand::testing {

// Returns true for "localhost", an IPv4 literal in 127.0.0.0/8 and the IPv6 literal "::1".
bool isLoopbackHost(std::string_view host);

class HttpTarget {
 public:
  struct Options {
    std::string host = "127.0.0.1";     // Must pass isLoopbackHost().
    std::vector<uint16_t> ports = {0};  // 0 lets the kernel pick a free port.
  };

  struct StatsSnapshot {
    uint64_t total = 0;
    uint64_t distinct_keys = 0;
    uint64_t max_per_key = 0;
    uint64_t duplicate_requests = 0;  // total - distinct_keys
  };

  // Binds every port and starts the server thread. Returns once all sockets listen.
  static Result<std::unique_ptr<HttpTarget>> start(const Options& options);

  // Stops the server and joins its thread. Unanswered /delay and /hang requests get 503 and
  // open connections are shut down first, so this returns with clients still connected.
  ~HttpTarget();

  HttpTarget(const HttpTarget&) = delete;
  HttpTarget& operator=(const HttpTarget&) = delete;

  // The bound ports, in the order of Options::ports.
  const std::vector<uint16_t>& ports() const { return ports_; }
  // "http://127.0.0.1:PORT" ("http://[::1]:PORT" for IPv6).
  std::string baseUrl(size_t port_index = 0) const;

  uint64_t totalRequests() const;
  uint64_t requestsForKey(const std::string& idempotency_key) const;
  size_t distinctKeys() const;
  // Arrival times (SystemClock wall time) of the requests that carried `key`, oldest first.
  std::vector<Micros> requestTimesForKey(const std::string& key) const;
  uint64_t requestsOnPort(uint16_t port) const;
  StatsSnapshot stats() const;
  void resetStats();

  // Number of /delay and /hang requests that have not been answered or abandoned yet.
  size_t pendingResponses() const;

 private:
  class Stats;
  class Server;

  HttpTarget();

  std::unique_ptr<Stats> stats_;
  std::unique_ptr<Server> server_;  // Declared after stats_: it records into stats_.
  std::vector<uint16_t> ports_;
  std::string url_host_;
};

}  // namespace titand::testing
