// titan-target: HttpTarget as a standalone program for the quick-start demo and the
// end-to-end benchmark. Prints one line per listener, serves until SIGINT or SIGTERM, then
// prints the statistics line and exits 0. Exits 1 on invalid options or a bind failure.
// Signals are blocked in every thread and received with sigtimedwait on the main thread.
#include <signal.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "common/log.h"
#include "common/status.h"
#include "testing/http_target.h"

namespace {

using titand::ErrorCode;
using titand::errorStatus;
using titand::Result;
using titand::testing::HttpTarget;

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

// Parses "HOST:PORT" or "[IPV6]:PORT" and checks that HOST is a loopback address.
Result<ListenAddress> parseListenAddress(const std::string& text) {
  ListenAddress address;
  std::string port_text;
  if (text.starts_with('[')) {
    size_t close = text.find("]:");
    if (close == std::string::npos) {
      return errorStatus(ErrorCode::kInvalidArgument,
                         "invalid --listen \"{}\": expected [IPV6]:PORT", text);
    }
    address.host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return errorStatus(ErrorCode::kInvalidArgument,
                         "invalid --listen \"{}\": expected HOST:PORT, with IPv6 hosts in "
                         "brackets such as [::1]:18080",
                         text);
    }
    address.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  const char* end = port_text.data() + port_text.size();
  auto [stop, error] = std::from_chars(port_text.data(), end, address.port);
  if (port_text.empty() || error != std::errc() || stop != end) {
    return errorStatus(ErrorCode::kInvalidArgument,
                       "invalid port in --listen \"{}\": expected 0 to 65535", text);
  }
  if (!titand::testing::isLoopbackHost(address.host)) {
    return errorStatus(ErrorCode::kInvalidArgument,
                       "--listen \"{}\": host \"{}\" is not a loopback address; titan-target "
                       "only listens on 127.0.0.0/8, ::1 or localhost",
                       text, address.host);
  }
  return address;
}

// Turns the --listen values into HttpTarget options. All listeners share one host because
// one HttpTarget binds all its ports on one address.
Result<HttpTarget::Options> buildOptions(const std::vector<std::string>& listen) {
  HttpTarget::Options options;
  options.ports.clear();
  for (const std::string& text : listen) {
    Result<ListenAddress> address = parseListenAddress(text);
    if (!address.isOk()) return address.status();
    if (options.ports.empty()) {
      options.host = address->host;
    } else if (address->host != options.host) {
      return errorStatus(ErrorCode::kInvalidArgument,
                         "--listen \"{}\": every --listen must use the same host, and the first "
                         "one uses \"{}\"",
                         text, options.host);
    }
    options.ports.push_back(address->port);
  }
  return options;
}

void printStats(const HttpTarget& target) {
  HttpTarget::StatsSnapshot stats = target.stats();
  std::string line = fmt::format(
      "titan-target stats: total={} distinct_keys={} max_per_key={} duplicate_requests={}",
      stats.total, stats.distinct_keys, stats.max_per_key, stats.duplicate_requests);
  for (uint16_t port : target.ports()) {
    line += fmt::format(" port_{}={}", port, target.requestsOnPort(port));
  }
  std::puts(line.c_str());
  std::fflush(stdout);
}

// Returns when SIGINT or SIGTERM arrives. Prints the stats line every `interval_seconds`
// in between, unless it is 0.
void waitForStopSignal(const sigset_t& signals, const HttpTarget& target,
                       uint32_t interval_seconds) {
  while (true) {
    if (interval_seconds == 0) {
      int signal_number = 0;
      if (sigwait(&signals, &signal_number) == 0) return;
      continue;
    }
    timespec timeout{static_cast<time_t>(interval_seconds), 0};
    if (sigtimedwait(&signals, nullptr, &timeout) > 0) return;
    if (errno == EAGAIN) printStats(target);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Loopback HTTP server for titand's demo and benchmarks. Routes: /status/<code>, "
      "/flaky/<n>/<code>, /retry-after/<seconds>/<code>, /retry-after-date/<seconds>/<code>, "
      "/delay/<ms>, /hang, /bytes/<n>, /text, /__stats; any other path echoes the request."};
  std::vector<std::string> listen = {"127.0.0.1:18080"};
  uint32_t stats_interval_seconds = 0;
  app.add_option("--listen", listen,
                 "Address to listen on as HOST:PORT or [::1]:PORT; repeatable; HOST must be "
                 "loopback and the same for every listener; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--stats-interval-seconds", stats_interval_seconds,
                 "Print the statistics line every N seconds; 0 turns it off")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  titand::initLogging(spdlog::level::warn);

  Result<HttpTarget::Options> options = buildOptions(listen);
  if (!options.isOk()) {
    std::fprintf(stderr, "titan-target: %s\n", options.status().message().c_str());
    return 1;
  }
  // Blocked before the server thread starts, so that thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto started = HttpTarget::start(options.value());
  if (!started.isOk()) {
    std::fprintf(stderr, "titan-target: %s\n", started.status().message().c_str());
    return 1;
  }
  std::unique_ptr<HttpTarget> target = std::move(started).value();
  for (size_t i = 0; i < target->ports().size(); ++i) {
    std::printf("titan-target listening on %s\n", target->baseUrl(i).c_str());
  }
  std::fflush(stdout);

  waitForStopSignal(signals, *target, stats_interval_seconds);
  printStats(*target);
  target.reset();
  return 0;
}
