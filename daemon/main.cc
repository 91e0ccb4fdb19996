// titand: the daemon. Parses flags, loads the config, wires the components onto one libuv
// loop, and talks to systemd. Everything else lives in lib/.
#include <curl/curl.h>
#include <malloc.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "api/api_server.h"
#include "common/log.h"
#include "config/config.h"
#include "daemon/runtime.h"

int main(int argc, char** argv) {
  CLI::App app{"titand: executes Titan-style api_call tasks from a RocksDB queue"};
  std::string config_path;
  std::string log_level = "info";
  bool check_only = false;
  app.add_option("-c,--config", config_path,
                 "TOML config file; without it titand runs on the built-in defaults "
                 "(documented in conf/titand.toml)");
  app.add_option("--log-level", log_level, "Log level: trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_flag("--check-config", check_only, "Validate the config, print the result and exit");
  app.set_version_flag("--version", "titand 0.1.0");
  CLI11_PARSE(app, argc, argv);
  // glibc gives each thread that allocates its own arena by default, and RocksDB's and
  // titand's threads each kept freed memory there. Two arenas were enough in the end-to-end
  // bench and kept the steady RSS with a million queued items near 35 MiB instead of 290 MiB.
  ::mallopt(M_ARENA_MAX, 2);

  titand::initLogging(spdlog::level::from_str(log_level));
  auto log = titand::componentLogger("titand");
  auto config = titand::loadConfig(config_path);
  if (!config.isOk()) {
    log->critical("{}", config.status().message());
    return 2;
  }
  if (check_only) {
    std::printf("config %s is valid\n",
                config_path.empty() ? "(built-in defaults)" : config_path.c_str());
    return 0;
  }
  if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    log->critical("cannot initialise libsodium or libcurl");
    return 1;
  }
  titand::daemon::Runtime runtime(config.value());
  int code = runtime.run();
  curl_global_cleanup();
  return code;
}
