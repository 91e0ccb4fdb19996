#include "config/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/net.h"
#include "model/model.h"

namespace titand {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

// A config file is a few kilobytes. The limit stops a wrong path such as /dev/zero from
// being read forever.
constexpr size_t kMaxConfigFileBytes = kMiB;
constexpr size_t kMaxShownValueChars = 80;
constexpr size_t kMaxHostNameChars = 253;
constexpr size_t kMaxUserAgentChars = 256;
constexpr uint32_t kMaxTimeoutSeconds = 600;
constexpr uint32_t kMaxConnectionsPerHost = 10000;
constexpr uint32_t kMaxBurst = 1000000;
constexpr double kMaxRequestsPerSecond = 1000000.0;

constexpr std::string_view kTopLevelKeys[] = {"state_dir", "spool",  "api",  "metrics",
                                              "store",     "engine", "hosts"};
constexpr std::string_view kSpoolKeys[] = {"dir", "rescan_interval_ms", "max_line_bytes",
                                           "commit_chunk_lines", "max_urls_per_task"};
constexpr std::string_view kApiKeys[] = {"listen"};
constexpr std::string_view kMetricsKeys[] = {"listen", "max_host_labels"};
constexpr std::string_view kStoreKeys[] = {"durability", "write_buffer_mb", "block_cache_mb"};
constexpr std::string_view kEngineKeys[] = {"max_in_flight",
                                            "claim_batch",
                                            "default_timeout_seconds",
                                            "default_max_retries",
                                            "connect_timeout_seconds",
                                            "max_response_bytes",
                                            "backoff_base_ms",
                                            "backoff_max_ms",
                                            "retry_after_max_seconds",
                                            "shutdown_grace_seconds",
                                            "user_agent"};
constexpr std::string_view kHostKeys[] = {"requests_per_second", "burst", "max_connections"};

Status invalid(std::string message) {
  return Status(ErrorCode::kInvalidArgument, std::move(message));
}

bool isBareKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-') return false;
  }
  return true;
}

// Appends `key` to a dotted TOML key path, quoting it when TOML needs quotes around it.
std::string joinKey(std::string_view path, std::string_view key) {
  std::string part = isBareKey(key) ? std::string(key) : fmt::format("{:?}", key);
  if (path.empty()) return part;
  return fmt::format("{}.{}", path, part);
}

// Formats a TOML value the way it would be written in the file, shortened if long.
std::string describeValue(const toml::node& node) {
  std::string text;
  if (node.is_table()) {
    text = "{ ... }";
  } else if (const auto* string = node.as_string()) {
    text = fmt::format("{:?}", string->get());
  } else {
    std::ostringstream out;
    node.visit([&out](const auto& value) { out << value; });
    text = out.str();
  }
  if (text.size() > kMaxShownValueChars) text = text.substr(0, kMaxShownValueChars) + "...";
  return text;
}

Result<ListenAddress> parsePort(std::string_view port, ListenAddress address) {
  if (port.empty()) {
    return invalid("has no port; expected host:port such as 127.0.0.1:8420 or [::1]:8420");
  }
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
    return invalid(fmt::format("has an invalid port '{}'; the port must be from 0 to 65535", port));
  }
  unsigned long number = std::stoul(std::string(port));
  if (number > 65535) {
    return invalid(fmt::format("has port {}; the port must be from 0 to 65535", number));
  }
  address.port = static_cast<uint16_t>(number);
  return address;
}

bool isValidHostName(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostNameChars) return false;
  for (char c : host) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '.') return false;
  }
  // A host of only digits and dots must be a valid dotted IPv4 address.
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
    in_addr ipv4{};
    return inet_pton(AF_INET, std::string(host).c_str(), &ipv4) == 1;
  }
  return true;
}

// Splits a listen address. The error message is only the reason, without the address.
Result<ListenAddress> splitListenAddress(std::string_view text) {
  ListenAddress address;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return invalid("has an unterminated IPv6 address; expected [address]:port");
    }
    address.host = std::string(text.substr(1, close - 1));
    in6_addr ipv6{};
    if (inet_pton(AF_INET6, address.host.c_str(), &ipv6) != 1) {
      return invalid(fmt::format("has an invalid IPv6 address '{}'", address.host));
    }
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return invalid("has text after ']' that is not ':port'");
    }
    return parsePort(rest.empty() ? rest : rest.substr(1), std::move(address));
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return parsePort({}, std::move(address));
  std::string_view host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos) {
    return invalid("has an IPv6 address without brackets; write it as [address]:port");
  }
  if (!isValidHostName(host)) {
    return invalid(
        fmt::format("has an invalid host '{}'; expected a host name or an IP address", host));
  }
  address.host = std::string(host);
  return parsePort(text.substr(colon + 1), std::move(address));
}

// Accepts "scheme://host[:port]" and returns it as a normalized origin.
Result<std::string> normalizeOriginKey(std::string_view key) {
  Result<std::string> origin = model::originOf(key);
  if (!origin.isOk()) return origin.status();
  size_t authority_start = key.find("://") + 3;
  if (key.find_first_of("/?", authority_start) != std::string_view::npos) {
    return invalid("must not contain a path or query");
  }
  return origin;
}

// Reads the keys of one TOML table into Config fields, checking the type and range of each.
// Every read leaves the field untouched when the key is absent.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, const std::string& source)
      : table_(table), path_(std::move(path)), source_(source) {}

  const toml::table& table() const { return table_; }
  const std::string& path() const { return path_; }
  const std::string& source() const { return source_; }

  Status checkKnownKeys(std::span<const std::string_view> known) const;

  // Returns the sub-table at `key`, or nullptr when the key is absent.
  Result<const toml::table*> readTable(std::string_view key) const;

  template <typename T>
  Status readInteger(std::string_view key, T min, T max, T* out) const;

  template <typename T>
  Status readInteger(std::string_view key, T min, T max, std::optional<T>* out) const {
    if (!table_.contains(key)) return Status::ok();
    T value{};
    TITAND_RETURN_IF_ERROR(readInteger(key, min, max, &value));
    *out = value;
    return Status::ok();
  }

  Status readNumber(std::string_view key, double min, double max, double* out) const;
  Status readNumber(std::string_view key, double min, double max, std::optional<double>* out) const;
  Status readPath(std::string_view key, std::string* out) const;
  Status readUserAgent(std::string_view key, std::string* out) const;
  Status readListen(std::string_view key, std::string* out) const;
  Status readDurability(std::string_view key, Durability* out) const;

  // Returns an error naming the key, the value found and the rule it breaks.
  Status valueError(std::string_view key, const toml::node& node, std::string_view rule) const {
    return invalid(fmt::format("invalid config: {} = {} in {}: {}", joinKey(path_, key),
                               describeValue(node), source_, rule));
  }

 private:
  const toml::table& table_;
  std::string path_;
  const std::string& source_;
};

Status TableReader::checkKnownKeys(std::span<const std::string_view> known) const {
  for (auto&& [key, node] : table_) {
    bool found = false;
    for (std::string_view name : known) found = found || key.str() == name;
    if (found) continue;
    std::string where =
        path_.empty() ? "known top-level keys" : fmt::format("known keys in [{}]", path_);
    return invalid(fmt::format("invalid config: unknown key {} in {}; {}: {}",
                               joinKey(path_, key.str()), source_, where, fmt::join(known, ", ")));
  }
  return Status::ok();
}

Result<const toml::table*> TableReader::readTable(std::string_view key) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return static_cast<const toml::table*>(nullptr);
  if (!node->is_table()) {
    return valueError(key, *node, fmt::format("must be a table [{}]", joinKey(path_, key)));
  }
  return node->as_table();
}

template <typename T>
Status TableReader::readInteger(std::string_view key, T min, T max, T* out) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return Status::ok();
  const auto* integer = node->as_integer();
  bool in_range = integer != nullptr && integer->get() >= 0 &&
                  static_cast<uint64_t>(integer->get()) >= min &&
                  static_cast<uint64_t>(integer->get()) <= max;
  if (!in_range) {
    return valueError(key, *node, fmt::format("must be an integer from {} to {}", min, max));
  }
  *out = static_cast<T>(integer->get());
  return Status::ok();
}

Status TableReader::readNumber(std::string_view key, double min, double max, double* out) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return Status::ok();
  std::optional<double> value;
  if (const auto* integer = node->as_integer()) value = static_cast<double>(integer->get());
  if (const auto* floating = node->as_floating_point()) value = floating->get();
  // The negated comparison also rejects NaN.
  if (!value.has_value() || !(*value >= min && *value <= max)) {
    return valueError(key, *node, fmt::format("must be a number from {} to {}", min, max));
  }
  *out = *value;
  return Status::ok();
}

Status TableReader::readNumber(std::string_view key, double min, double max,
                               std::optional<double>* out) const {
  if (!table_.contains(key)) return Status::ok();
  double value = 0;
  TITAND_RETURN_IF_ERROR(readNumber(key, min, max, &value));
  *out = value;
  return Status::ok();
}

Status TableReader::readPath(std::string_view key, std::string* out) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return Status::ok();
  const auto* string = node->as_string();
  if (string == nullptr || string->get().empty() || string->get().find('\0') != std::string::npos) {
    return valueError(key, *node, "must be a non-empty path string without NUL characters");
  }
  *out = string->get();
  return Status::ok();
}

Status TableReader::readUserAgent(std::string_view key, std::string* out) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return Status::ok();
  const auto* string = node->as_string();
  bool valid =
      string != nullptr && !string->get().empty() && string->get().size() <= kMaxUserAgentChars;
  // Printable ASCII only, so the value cannot break the header line it is sent in.
  for (size_t i = 0; valid && i < string->get().size(); ++i) {
    char c = string->get()[i];
    valid = c >= 0x20 && c <= 0x7e;
  }
  if (!valid) {
    return valueError(
        key, *node,
        fmt::format("must be a string of 1 to {} printable ASCII characters", kMaxUserAgentChars));
  }
  *out = string->get();
  return Status::ok();
}

Status TableReader::readListen(std::string_view key, std::string* out) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return Status::ok();
  const auto* string = node->as_string();
  if (string == nullptr) {
    return valueError(key, *node, "must be a string host:port such as \"127.0.0.1:8420\"");
  }
  Result<ListenAddress> address = splitListenAddress(string->get());
  if (!address.isOk()) return valueError(key, *node, address.status().message());
  *out = string->get();
  return Status::ok();
}

Status TableReader::readDurability(std::string_view key, Durability* out) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return Status::ok();
  const auto* string = node->as_string();
  if (string != nullptr && string->get() == "sync") {
    *out = Durability::kSync;
  } else if (string != nullptr && string->get() == "nosync") {
    *out = Durability::kNoSync;
  } else {
    return valueError(key, *node, "must be \"sync\" or \"nosync\"");
  }
  return Status::ok();
}

// Runs `read` on the section [name] after checking its keys. An absent section is fine.
template <typename ReadFn>
Status readSection(const TableReader& root, std::string_view name,
                   std::span<const std::string_view> known, ReadFn&& read) {
  Result<const toml::table*> table = root.readTable(name);
  if (!table.isOk()) return table.status();
  if (table.value() == nullptr) return Status::ok();
  TableReader reader(*table.value(), std::string(name), root.source());
  TITAND_RETURN_IF_ERROR(reader.checkKnownKeys(known));
  return read(reader);
}

Status readSpool(const TableReader& reader, Config::Spool* spool) {
  TITAND_RETURN_IF_ERROR(reader.readPath("dir", &spool->dir));
  TITAND_RETURN_IF_ERROR(reader.readInteger<uint32_t>("rescan_interval_ms", 10, 3600 * 1000,
                                                      &spool->rescan_interval_ms));
  TITAND_RETURN_IF_ERROR(
      reader.readInteger<uint64_t>("max_line_bytes", kKiB, kGiB, &spool->max_line_bytes));
  TITAND_RETURN_IF_ERROR(
      reader.readInteger<uint32_t>("commit_chunk_lines", 1, 1000000, &spool->commit_chunk_lines));
  return reader.readInteger<uint32_t>("max_urls_per_task", 1, 1000000, &spool->max_urls_per_task);
}

Status readStore(const TableReader& reader, Config::Store* store) {
  TITAND_RETURN_IF_ERROR(reader.readDurability("durability", &store->durability));
  TITAND_RETURN_IF_ERROR(
      reader.readInteger<uint64_t>("write_buffer_mb", 1, 4096, &store->write_buffer_mb));
  return reader.readInteger<uint64_t>("block_cache_mb", 1, 65536, &store->block_cache_mb);
}

Status readEngineLimits(const TableReader& reader, Config::Engine* engine) {
  TITAND_RETURN_IF_ERROR(
      reader.readInteger<uint32_t>("max_in_flight", 1, 100000, &engine->max_in_flight));
  TITAND_RETURN_IF_ERROR(
      reader.readInteger<uint32_t>("claim_batch", 1, 100000, &engine->claim_batch));
  TITAND_RETURN_IF_ERROR(reader.readInteger<uint32_t>(
      "default_timeout_seconds", 1, kMaxTimeoutSeconds, &engine->default_timeout_seconds));
  TITAND_RETURN_IF_ERROR(
      reader.readInteger<uint32_t>("default_max_retries", 0, 20, &engine->default_max_retries));
  TITAND_RETURN_IF_ERROR(reader.readInteger<uint32_t>(
      "connect_timeout_seconds", 1, kMaxTimeoutSeconds, &engine->connect_timeout_seconds));
  TITAND_RETURN_IF_ERROR(
      reader.readInteger<uint64_t>("max_response_bytes", kKiB, kGiB, &engine->max_response_bytes));
  TITAND_RETURN_IF_ERROR(reader.readInteger<uint32_t>(
      "shutdown_grace_seconds", 0, kMaxTimeoutSeconds, &engine->shutdown_grace_seconds));
  return reader.readUserAgent("user_agent", &engine->user_agent);
}

Status readEngineRetries(const TableReader& reader, Config::Engine* engine) {
  constexpr uint32_t kMaxBackoffMs = 24 * 3600 * 1000;
  TITAND_RETURN_IF_ERROR(
      reader.readInteger<uint32_t>("backoff_base_ms", 1, kMaxBackoffMs, &engine->backoff_base_ms));
  TITAND_RETURN_IF_ERROR(
      reader.readInteger<uint32_t>("backoff_max_ms", 1, kMaxBackoffMs, &engine->backoff_max_ms));
  TITAND_RETURN_IF_ERROR(reader.readInteger<uint32_t>("retry_after_max_seconds", 0, 24 * 3600,
                                                      &engine->retry_after_max_seconds));
  if (engine->backoff_base_ms > engine->backoff_max_ms) {
    return invalid(
        fmt::format("invalid config: engine.backoff_base_ms = {} in {}: must not exceed "
                    "engine.backoff_max_ms ({})",
                    engine->backoff_base_ms, reader.source(), engine->backoff_max_ms));
  }
  return Status::ok();
}

template <typename Limits>
Status readHostLimits(const TableReader& reader, Limits* limits) {
  TITAND_RETURN_IF_ERROR(reader.readNumber("requests_per_second", 0.0, kMaxRequestsPerSecond,
                                           &limits->requests_per_second));
  TITAND_RETURN_IF_ERROR(reader.readInteger<uint32_t>("burst", 1, kMaxBurst, &limits->burst));
  return reader.readInteger<uint32_t>("max_connections", 1, kMaxConnectionsPerHost,
                                      &limits->max_connections);
}

// Reads [hosts.default] and every [hosts."scheme://host:port"] table.
Status readHosts(const TableReader& hosts, Config* config) {
  std::map<std::string, std::string> key_of_origin;
  for (auto&& [key, node] : hosts.table()) {
    std::string path = joinKey("hosts", key.str());
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return hosts.valueError(key.str(), node, fmt::format("must be a table [{}]", path));
    }
    TableReader reader(*table, path, hosts.source());
    TITAND_RETURN_IF_ERROR(reader.checkKnownKeys(kHostKeys));
    if (key.str() == "default") {
      TITAND_RETURN_IF_ERROR(readHostLimits(reader, &config->host_defaults));
      continue;
    }
    Result<std::string> origin = normalizeOriginKey(key.str());
    if (!origin.isOk()) {
      return invalid(
          fmt::format("invalid config: [{}] in {}: the key is not a valid origin ({}); expected "
                      "\"default\" or an origin such as \"http://127.0.0.1:8080\"",
                      path, hosts.source(), origin.status().message()));
    }
    auto [previous, inserted] = key_of_origin.emplace(origin.value(), path);
    if (!inserted) {
      return invalid(fmt::format("invalid config: [{}] in {}: origin {} is already set by [{}]",
                                 path, hosts.source(), origin.value(), previous->second));
    }
    HostOverride host_override;
    TITAND_RETURN_IF_ERROR(readHostLimits(reader, &host_override));
    config->host_overrides[origin.value()] = host_override;
  }
  return Status::ok();
}

Status checkListenAddresses(const Config& config, const std::string& source) {
  Result<ListenAddress> api = parseListenAddress(config.api.listen);
  Result<ListenAddress> metrics = parseListenAddress(config.metrics.listen);
  if (!api.isOk() || !metrics.isOk()) return Status::ok();  // readListen reported them.
  if (!isLoopbackHost(api->host)) {
    return invalid(fmt::format(
        "invalid config: api.listen = {:?} in {}: the API has no authentication yet, so it "
        "must listen on a loopback address (127.0.0.0/8, ::1 or localhost)",
        config.api.listen, source));
  }
  if (api->port != 0 && api->port == metrics->port && api->host == metrics->host) {
    return invalid(
        fmt::format("invalid config: metrics.listen = {:?} in {}: must differ from api.listen",
                    config.metrics.listen, source));
  }
  return Status::ok();
}

Status readRoot(const TableReader& root, Config* config) {
  TITAND_RETURN_IF_ERROR(root.checkKnownKeys(kTopLevelKeys));
  TITAND_RETURN_IF_ERROR(root.readPath("state_dir", &config->state_dir));
  // Unless [spool] sets dir, the spool lives in the state directory.
  config->spool.dir = (std::filesystem::path(config->state_dir) / "spool").string();
  TITAND_RETURN_IF_ERROR(readSection(root, "spool", kSpoolKeys, [&](const TableReader& reader) {
    return readSpool(reader, &config->spool);
  }));
  TITAND_RETURN_IF_ERROR(readSection(root, "api", kApiKeys, [&](const TableReader& reader) {
    return reader.readListen("listen", &config->api.listen);
  }));
  TITAND_RETURN_IF_ERROR(readSection(root, "metrics", kMetricsKeys, [&](const TableReader& reader) {
    TITAND_RETURN_IF_ERROR(reader.readListen("listen", &config->metrics.listen));
    return reader.readInteger<uint32_t>("max_host_labels", 0, 10000,
                                        &config->metrics.max_host_labels);
  }));
  TITAND_RETURN_IF_ERROR(readSection(root, "store", kStoreKeys, [&](const TableReader& reader) {
    return readStore(reader, &config->store);
  }));
  TITAND_RETURN_IF_ERROR(readSection(root, "engine", kEngineKeys, [&](const TableReader& reader) {
    TITAND_RETURN_IF_ERROR(readEngineLimits(reader, &config->engine));
    return readEngineRetries(reader, &config->engine);
  }));
  Result<const toml::table*> hosts = root.readTable("hosts");
  if (!hosts.isOk()) return hosts.status();
  if (hosts.value() != nullptr) {
    TITAND_RETURN_IF_ERROR(readHosts(TableReader(*hosts.value(), "hosts", root.source()), config));
  }
  return checkListenAddresses(*config, root.source());
}

Result<std::string> readConfigFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    return Status(error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                  fmt::format("failed to open config file {}: {}", path, std::strerror(error)));
  }
  std::string text;
  char buffer[16 * 1024];
  while (true) {
    ssize_t count = ::read(fd, buffer, sizeof(buffer));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      int error = errno;
      ::close(fd);
      return Status(ErrorCode::kIo,
                    fmt::format("failed to read config file {}: {}", path, std::strerror(error)));
    }
    if (count == 0) break;
    text.append(buffer, static_cast<size_t>(count));
    if (text.size() > kMaxConfigFileBytes) {
      ::close(fd);
      return invalid(fmt::format("config file {} is larger than {} bytes; is it the right file?",
                                 path, kMaxConfigFileBytes));
    }
  }
  ::close(fd);
  return text;
}

}  // namespace

HostLimits Config::limitsFor(const std::string& origin) const {
  if (host_overrides.empty()) return host_defaults;
  auto it = host_overrides.find(origin);
  if (it == host_overrides.end()) {
    // Callers normally pass normalized origins. This also accepts forms such as "HTTP://Host".
    Result<std::string> normalized = model::originOf(origin);
    if (normalized.isOk()) it = host_overrides.find(normalized.value());
  }
  HostLimits limits = host_defaults;
  if (it == host_overrides.end()) return limits;
  const HostOverride& host_override = it->second;
  limits.requests_per_second =
      host_override.requests_per_second.value_or(limits.requests_per_second);
  limits.burst = host_override.burst.value_or(limits.burst);
  limits.max_connections = host_override.max_connections.value_or(limits.max_connections);
  return limits;
}

Result<ListenAddress> parseListenAddress(const std::string& text) {
  Result<ListenAddress> address = splitListenAddress(text);
  if (!address.isOk()) {
    return invalid(
        fmt::format("invalid listen address {:?}: {}", text, address.status().message()));
  }
  return address;
}

Result<Config> parseConfig(const std::string& toml_text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, std::string_view(source_name));
  } catch (const toml::parse_error& error) {
    return invalid(fmt::format("invalid config: TOML syntax error in {} at line {}, column {}: {}",
                               source_name, error.source().begin.line, error.source().begin.column,
                               error.description()));
  }
  Config config;
  TITAND_RETURN_IF_ERROR(readRoot(TableReader(root, "", source_name), &config));
  return config;
}

Result<Config> loadConfig(const std::string& path) {
  if (path.empty()) return Config{};
  Result<std::string> text = readConfigFile(path);
  if (!text.isOk()) return text.status();
  return parseConfig(text.value(), path);
}

}  // namespace titand
