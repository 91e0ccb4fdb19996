// Config: every setting of titand, with the defaults that conf/titand.toml documents.
//
// loadConfig() reads a TOML file (or nothing, for the embedded defaults) and checks every
// value. A bad value is an error naming the key, the value and what is allowed.
// Thread safety: a Config is built once at start and read-only afterwards.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/status.h"

namespace titand {

enum class Durability { kSync, kNoSync };

// Limits for one origin (scheme, host, port).
struct HostLimits {
  double requests_per_second = 100.0;  // Sustained rate; 0 means unlimited.
  uint32_t burst = 50;                 // Tokens the bucket holds.
  uint32_t max_connections = 16;       // Concurrent requests in flight.
};

struct HostOverride {
  std::optional<double> requests_per_second;
  std::optional<uint32_t> burst;
  std::optional<uint32_t> max_connections;
};

struct Config {
  std::string state_dir = "/var/lib/titand";

  struct Spool {
    std::string dir = "/var/lib/titand/spool";  // Holds incoming/, done/ and failed/.
    uint32_t rescan_interval_ms = 2000;
    uint64_t max_line_bytes = 1024 * 1024;
    uint32_t commit_chunk_lines = 50000;  // Lines per write batch when committing a file.
    uint32_t max_urls_per_task = 10000;
  } spool;

  struct Api {
    std::string listen = "127.0.0.1:8420";
  } api;

  struct Metrics {
    std::string listen = "127.0.0.1:9420";
    uint32_t max_host_labels = 50;  // Further hosts share the label "other".
  } metrics;

  struct Store {
    Durability durability = Durability::kSync;
    uint64_t write_buffer_mb = 64;
    uint64_t block_cache_mb = 32;
  } store;

  struct Engine {
    uint32_t max_in_flight = 512;           // All hosts together.
    uint32_t claim_batch = 256;             // Items claimed per host per claim pass.
    uint32_t default_timeout_seconds = 30;  // When a task sets no limits.timeout_seconds.
    uint32_t default_max_retries = 3;       // When a task sets no limits.max_retries.
    uint32_t connect_timeout_seconds = 10;
    uint64_t max_response_bytes = 10 * 1024 * 1024;
    uint32_t backoff_base_ms = 500;
    uint32_t backoff_max_ms = 60000;
    uint32_t retry_after_max_seconds = 3600;
    uint32_t shutdown_grace_seconds = 20;
    std::string user_agent = "titand/0.1";
  } engine;

  HostLimits host_defaults;
  std::map<std::string, HostOverride> host_overrides;  // Key: "scheme://host:port".

  // Returns the limits that apply to an origin such as "http://127.0.0.1:8080".
  HostLimits limitsFor(const std::string& origin) const;
};

// Parses "host:port" or "[v6]:port". Port 0 asks the kernel for a free port.
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> parseListenAddress(const std::string& text);

// Loads a TOML file. An empty path returns the defaults.
Result<Config> loadConfig(const std::string& path);

// Parses TOML text (for tests and for the embedded defaults).
Result<Config> parseConfig(const std::string& toml_text, const std::string& source_name);

}  // namespace titand
