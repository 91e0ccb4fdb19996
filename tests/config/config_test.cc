#include "config/config.h"

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace titand {
namespace {

constexpr const char* kSource = "test.toml";

// Compares every field, so a default that drifts names the field in the failure.
void expectSameConfig(const Config& actual, const Config& expected) {
  EXPECT_EQ(actual.state_dir, expected.state_dir);

  EXPECT_EQ(actual.spool.dir, expected.spool.dir);
  EXPECT_EQ(actual.spool.rescan_interval_ms, expected.spool.rescan_interval_ms);
  EXPECT_EQ(actual.spool.max_line_bytes, expected.spool.max_line_bytes);
  EXPECT_EQ(actual.spool.commit_chunk_lines, expected.spool.commit_chunk_lines);
  EXPECT_EQ(actual.spool.max_urls_per_task, expected.spool.max_urls_per_task);

  EXPECT_EQ(actual.api.listen, expected.api.listen);
  EXPECT_EQ(actual.metrics.listen, expected.metrics.listen);
  EXPECT_EQ(actual.metrics.max_host_labels, expected.metrics.max_host_labels);

  EXPECT_EQ(actual.store.durability, expected.store.durability);
  EXPECT_EQ(actual.store.write_buffer_mb, expected.store.write_buffer_mb);
  EXPECT_EQ(actual.store.block_cache_mb, expected.store.block_cache_mb);

  EXPECT_EQ(actual.engine.max_in_flight, expected.engine.max_in_flight);
  EXPECT_EQ(actual.engine.claim_batch, expected.engine.claim_batch);
  EXPECT_EQ(actual.engine.default_timeout_seconds, expected.engine.default_timeout_seconds);
  EXPECT_EQ(actual.engine.default_max_retries, expected.engine.default_max_retries);
  EXPECT_EQ(actual.engine.connect_timeout_seconds, expected.engine.connect_timeout_seconds);
  EXPECT_EQ(actual.engine.max_response_bytes, expected.engine.max_response_bytes);
  EXPECT_EQ(actual.engine.backoff_base_ms, expected.engine.backoff_base_ms);
  EXPECT_EQ(actual.engine.backoff_max_ms, expected.engine.backoff_max_ms);
  EXPECT_EQ(actual.engine.retry_after_max_seconds, expected.engine.retry_after_max_seconds);
  EXPECT_EQ(actual.engine.shutdown_grace_seconds, expected.engine.shutdown_grace_seconds);
  EXPECT_EQ(actual.engine.user_agent, expected.engine.user_agent);

  EXPECT_EQ(actual.host_defaults.requests_per_second, expected.host_defaults.requests_per_second);
  EXPECT_EQ(actual.host_defaults.burst, expected.host_defaults.burst);
  EXPECT_EQ(actual.host_defaults.max_connections, expected.host_defaults.max_connections);

  ASSERT_EQ(actual.host_overrides.size(), expected.host_overrides.size());
  for (const auto& [origin, expected_override] : expected.host_overrides) {
    auto it = actual.host_overrides.find(origin);
    ASSERT_NE(it, actual.host_overrides.end()) << origin;
    EXPECT_EQ(it->second.requests_per_second, expected_override.requests_per_second) << origin;
    EXPECT_EQ(it->second.burst, expected_override.burst) << origin;
    EXPECT_EQ(it->second.max_connections, expected_override.max_connections) << origin;
  }
}

Config parseOrFail(const std::string& text) {
  Result<Config> config = parseConfig(text, kSource);
  EXPECT_TRUE(config.isOk()) << config.status().toString();
  return config.isOk() ? config.value() : Config{};
}

TEST(ConfigTest, EmptyPathGivesDefaults) {
  Result<Config> config = loadConfig("");
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  expectSameConfig(config.value(), Config{});
  EXPECT_EQ(config->state_dir, "/var/lib/titand");
  EXPECT_EQ(config->spool.dir, "/var/lib/titand/spool");
  EXPECT_EQ(config->api.listen, "127.0.0.1:8420");
  EXPECT_TRUE(config->host_overrides.empty());
}

TEST(ConfigTest, EmptyTextGivesDefaults) { expectSameConfig(parseOrFail(""), Config{}); }

TEST(ConfigTest, ShippedFileMatchesDefaults) {
  std::string path = std::string(TITAND_SOURCE_DIR) + "/conf/titand.toml";
  Result<Config> config = loadConfig(path);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  expectSameConfig(config.value(), Config{});
}

TEST(ConfigTest, EverySectionParsed) {
  Config config = parseOrFail(R"toml(
state_dir = "/srv/titand"

[spool]
dir = "/srv/spool"
rescan_interval_ms = 250
max_line_bytes = 4096
commit_chunk_lines = 7
max_urls_per_task = 12

[api]
listen = "[::1]:0"

[metrics]
listen = "localhost:9000"
max_host_labels = 0

[store]
durability = "nosync"
write_buffer_mb = 8
block_cache_mb = 16

[engine]
max_in_flight = 100000
claim_batch = 1
default_timeout_seconds = 600
default_max_retries = 0
connect_timeout_seconds = 1
max_response_bytes = 1024
backoff_base_ms = 10
backoff_max_ms = 20
retry_after_max_seconds = 0
shutdown_grace_seconds = 0
user_agent = "probe/2 (+ops)"

[hosts.default]
requests_per_second = 2.5
burst = 3
max_connections = 4
)toml");
  EXPECT_EQ(config.state_dir, "/srv/titand");
  EXPECT_EQ(config.spool.dir, "/srv/spool");
  EXPECT_EQ(config.spool.rescan_interval_ms, 250u);
  EXPECT_EQ(config.spool.max_line_bytes, 4096u);
  EXPECT_EQ(config.spool.commit_chunk_lines, 7u);
  EXPECT_EQ(config.spool.max_urls_per_task, 12u);
  EXPECT_EQ(config.api.listen, "[::1]:0");
  EXPECT_EQ(config.metrics.listen, "localhost:9000");
  EXPECT_EQ(config.metrics.max_host_labels, 0u);
  EXPECT_EQ(config.store.durability, Durability::kNoSync);
  EXPECT_EQ(config.store.write_buffer_mb, 8u);
  EXPECT_EQ(config.store.block_cache_mb, 16u);
  EXPECT_EQ(config.engine.max_in_flight, 100000u);
  EXPECT_EQ(config.engine.claim_batch, 1u);
  EXPECT_EQ(config.engine.default_timeout_seconds, 600u);
  EXPECT_EQ(config.engine.default_max_retries, 0u);
  EXPECT_EQ(config.engine.connect_timeout_seconds, 1u);
  EXPECT_EQ(config.engine.max_response_bytes, 1024u);
  EXPECT_EQ(config.engine.backoff_base_ms, 10u);
  EXPECT_EQ(config.engine.backoff_max_ms, 20u);
  EXPECT_EQ(config.engine.retry_after_max_seconds, 0u);
  EXPECT_EQ(config.engine.shutdown_grace_seconds, 0u);
  EXPECT_EQ(config.engine.user_agent, "probe/2 (+ops)");
  EXPECT_EQ(config.host_defaults.requests_per_second, 2.5);
  EXPECT_EQ(config.host_defaults.burst, 3u);
  EXPECT_EQ(config.host_defaults.max_connections, 4u);
  EXPECT_TRUE(config.host_overrides.empty());
}

TEST(ConfigTest, SectionsLeftOutKeepDefaults) {
  Config config = parseOrFail("[engine]\nmax_in_flight = 7\n");
  Config expected;
  expected.engine.max_in_flight = 7;
  expectSameConfig(config, expected);
}

TEST(ConfigTest, IntegerRateAccepted) {
  Config config = parseOrFail("[hosts.default]\nrequests_per_second = 0\n");
  EXPECT_EQ(config.host_defaults.requests_per_second, 0.0);
}

TEST(ConfigTest, SpoolDirDerivedFromStateDir) {
  EXPECT_EQ(parseOrFail("state_dir = \"/srv/titand\"\n").spool.dir, "/srv/titand/spool");
  EXPECT_EQ(parseOrFail("state_dir = \"/srv/titand/\"\n").spool.dir, "/srv/titand/spool");
  EXPECT_EQ(
      parseOrFail("state_dir = \"/srv/titand\"\n[spool]\nrescan_interval_ms = 100\n").spool.dir,
      "/srv/titand/spool");
}

TEST(ConfigTest, ExplicitSpoolDirWins) {
  Config config = parseOrFail("state_dir = \"/srv/titand\"\n[spool]\ndir = \"/data/in\"\n");
  EXPECT_EQ(config.state_dir, "/srv/titand");
  EXPECT_EQ(config.spool.dir, "/data/in");
}

struct BadValueCase {
  std::string toml;
  std::vector<std::string> fragments;  // Each must appear in the error message.
};

TEST(ConfigTest, BadValuesRejectedWithKeyAndValue) {
  const std::vector<BadValueCase> cases = {
      {"[engine]\nmax_in_flight = 0\n",
       {"invalid config: engine.max_in_flight = 0 in test.toml: must be an integer from 1 to "
        "100000"}},
      {"[engine]\nmax_in_flight = \"many\"\n",
       {"engine.max_in_flight = \"many\"", "must be an integer from 1 to 100000"}},
      {"[engine]\nmax_in_flight = 2.5\n", {"engine.max_in_flight = 2.5", "integer"}},
      {"[engine]\nclaim_batch = 100001\n", {"engine.claim_batch = 100001", "1 to 100000"}},
      {"[engine]\ndefault_timeout_seconds = 601\n",
       {"engine.default_timeout_seconds = 601", "1 to 600"}},
      {"[engine]\nconnect_timeout_seconds = 0\n", {"engine.connect_timeout_seconds = 0"}},
      {"[engine]\ndefault_max_retries = -1\n", {"engine.default_max_retries = -1", "0 to 20"}},
      {"[engine]\ndefault_max_retries = 21\n", {"engine.default_max_retries = 21"}},
      {"[engine]\nmax_response_bytes = 1023\n",
       {"engine.max_response_bytes = 1023", "1024 to 1073741824"}},
      {"[engine]\nshutdown_grace_seconds = 601\n", {"engine.shutdown_grace_seconds = 601"}},
      {"[engine]\nretry_after_max_seconds = 86401\n",
       {"engine.retry_after_max_seconds = 86401", "0 to 86400"}},
      {"[engine]\nbackoff_base_ms = 70000\n",
       {"engine.backoff_base_ms = 70000", "must not exceed engine.backoff_max_ms (60000)"}},
      {"[engine]\nuser_agent = \"\"\n", {"engine.user_agent = \"\"", "printable ASCII"}},
      {"[engine]\nuser_agent = \"a\\r\\nX-Injected: 1\"\n",
       {"engine.user_agent = \"a\\r\\nX-Injected: 1\"", "printable ASCII"}},
      {"[store]\ndurability = \"fast\"\n",
       {"store.durability = \"fast\"", "must be \"sync\" or \"nosync\""}},
      {"[store]\nwrite_buffer_mb = 0\n", {"store.write_buffer_mb = 0", "1 to 4096"}},
      {"[store]\nblock_cache_mb = 65537\n", {"store.block_cache_mb = 65537"}},
      {"[spool]\nmax_line_bytes = true\n", {"spool.max_line_bytes = true", "integer"}},
      {"[spool]\nrescan_interval_ms = 5\n", {"spool.rescan_interval_ms = 5", "10 to 3600000"}},
      {"[spool]\ncommit_chunk_lines = 0\n", {"spool.commit_chunk_lines = 0"}},
      {"[spool]\nmax_urls_per_task = 0\n", {"spool.max_urls_per_task = 0"}},
      {"[spool]\ndir = \"\"\n", {"spool.dir = \"\"", "non-empty"}},
      {"state_dir = \"\"\n", {"state_dir = \"\"", "non-empty"}},
      {"state_dir = [\"/a\"]\n", {"state_dir = [", "path"}},
      {"spool = 5\n", {"spool = 5", "must be a table [spool]"}},
      {"[metrics]\nmax_host_labels = 10001\n", {"metrics.max_host_labels = 10001", "0 to 10000"}},
      {"[metrics]\nlisten = 9420\n", {"metrics.listen = 9420", "must be a string host:port"}},
      {"[api]\nlisten = \"127.0.0.1\"\n", {"api.listen = \"127.0.0.1\"", "has no port"}},
      {"[api]\nlisten = \"127.0.0.1:65536\"\n", {"api.listen = \"127.0.0.1:65536\"", "0 to 65535"}},
      {"[api]\nlisten = \"::1:80\"\n", {"api.listen = \"::1:80\"", "brackets"}},
      {"[metrics]\nlisten = \"127.0.0.1:8420\"\n",
       {"metrics.listen = \"127.0.0.1:8420\"", "must differ from api.listen"}},
      {"[hosts.default]\nrequests_per_second = -1.0\n",
       {"hosts.default.requests_per_second = -1.0", "number from 0 to 1000000"}},
      {"[hosts.default]\nrequests_per_second = nan\n", {"hosts.default.requests_per_second = nan"}},
      {"[hosts.default]\nrequests_per_second = \"fast\"\n",
       {"hosts.default.requests_per_second = \"fast\""}},
      {"[hosts.default]\nburst = 0\n", {"hosts.default.burst = 0", "1 to 1000000"}},
      {"[hosts.default]\nmax_connections = 10001\n",
       {"hosts.default.max_connections = 10001", "1 to 10000"}},
      {"[hosts.\"http://localhost:8080\"]\nburst = 0\n",
       {"hosts.\"http://localhost:8080\".burst = 0"}},
      {"[hosts]\ndefault = 3\n", {"hosts.default = 3", "must be a table"}},
  };
  for (const BadValueCase& bad : cases) {
    SCOPED_TRACE(bad.toml);
    Result<Config> config = parseConfig(bad.toml, kSource);
    ASSERT_FALSE(config.isOk());
    EXPECT_EQ(config.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(config.status().message().find("in test.toml"), std::string::npos)
        << config.status().message();
    for (const std::string& fragment : bad.fragments) {
      EXPECT_NE(config.status().message().find(fragment), std::string::npos)
          << "expected '" << fragment << "' in: " << config.status().message();
    }
  }
}

TEST(ConfigTest, UnknownKeyRejected) {
  Result<Config> config = parseConfig("[engine]\nmax_inflight = 5\n", kSource);
  ASSERT_FALSE(config.isOk());
  const std::string& message = config.status().message();
  EXPECT_NE(message.find("unknown key engine.max_inflight in test.toml"), std::string::npos)
      << message;
  EXPECT_NE(message.find("known keys in [engine]: max_in_flight, claim_batch"), std::string::npos)
      << message;
}

TEST(ConfigTest, NonLoopbackApiListenRejected) {
  for (const char* listen : {"0.0.0.0:8420", "10.0.0.1:8420", "[::]:8420"}) {
    SCOPED_TRACE(listen);
    Result<Config> config = parseConfig(fmt::format("[api]\nlisten = \"{}\"\n", listen), kSource);
    ASSERT_FALSE(config.isOk());
    const std::string& message = config.status().message();
    EXPECT_NE(message.find("api.listen"), std::string::npos) << message;
    EXPECT_NE(message.find(listen), std::string::npos) << message;
    EXPECT_NE(message.find("loopback"), std::string::npos) << message;
  }
  EXPECT_TRUE(parseConfig("[api]\nlisten = \"[::1]:8420\"\n", kSource).isOk());
  EXPECT_TRUE(parseConfig("[api]\nlisten = \"localhost:8420\"\n", kSource).isOk());
}

TEST(ConfigTest, UnknownTopLevelKeyRejected) {
  Result<Config> config = parseConfig("statedir = \"/srv\"\n", kSource);
  ASSERT_FALSE(config.isOk());
  EXPECT_NE(config.status().message().find("unknown key statedir"), std::string::npos)
      << config.status().message();
  EXPECT_NE(config.status().message().find("known top-level keys: state_dir, spool"),
            std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, UnknownSectionRejected) {
  Result<Config> config = parseConfig("[engnie]\nmax_in_flight = 5\n", kSource);
  ASSERT_FALSE(config.isOk());
  EXPECT_NE(config.status().message().find("unknown key engnie"), std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, UnknownHostKeyRejected) {
  Result<Config> config = parseConfig("[hosts.\"http://localhost\"]\nrate = 5\n", kSource);
  ASSERT_FALSE(config.isOk());
  const std::string& message = config.status().message();
  EXPECT_NE(message.find("unknown key hosts.\"http://localhost\".rate"), std::string::npos)
      << message;
  EXPECT_NE(message.find("requests_per_second, burst, max_connections"), std::string::npos)
      << message;
}

TEST(ConfigTest, SyntaxErrorNamesLine) {
  Result<Config> config =
      parseConfig("state_dir = \"/srv\"\n\n[engine\nmax_in_flight = 1\n", kSource);
  ASSERT_FALSE(config.isOk());
  EXPECT_EQ(config.status().code(), ErrorCode::kInvalidArgument);
  const std::string& message = config.status().message();
  EXPECT_NE(message.find("TOML syntax error in test.toml at line 3, column"), std::string::npos)
      << message;
}

TEST(ConfigTest, DuplicateKeyIsSyntaxError) {
  Result<Config> config =
      parseConfig("[api]\nlisten = \"127.0.0.1:1\"\nlisten = \"127.0.0.1:2\"\n", kSource);
  ASSERT_FALSE(config.isOk());
  EXPECT_NE(config.status().message().find("at line 3"), std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, HostOverridesMergeWithDefaults) {
  Config config = parseOrFail(R"(
[hosts.default]
requests_per_second = 20
burst = 10
max_connections = 8

[hosts."http://127.0.0.1:8080"]
requests_per_second = 0.5

[hosts."HTTPS://LocalHost"]
burst = 2
max_connections = 1
)");
  ASSERT_EQ(config.host_overrides.size(), 2u);
  EXPECT_EQ(config.host_overrides.count("http://127.0.0.1:8080"), 1u);
  EXPECT_EQ(config.host_overrides.count("https://localhost:443"), 1u);

  HostLimits other = config.limitsFor("http://127.0.0.1:9090");
  EXPECT_EQ(other.requests_per_second, 20.0);
  EXPECT_EQ(other.burst, 10u);
  EXPECT_EQ(other.max_connections, 8u);

  HostLimits slow = config.limitsFor("http://127.0.0.1:8080");
  EXPECT_EQ(slow.requests_per_second, 0.5);
  EXPECT_EQ(slow.burst, 10u);
  EXPECT_EQ(slow.max_connections, 8u);

  HostLimits local = config.limitsFor("https://localhost:443");
  EXPECT_EQ(local.requests_per_second, 20.0);
  EXPECT_EQ(local.burst, 2u);
  EXPECT_EQ(local.max_connections, 1u);

  // An origin that is not normalized still finds its override.
  EXPECT_EQ(config.limitsFor("https://LOCALHOST").burst, 2u);
}

TEST(ConfigTest, LimitsForWithoutOverrides) {
  Config config;
  HostLimits limits = config.limitsFor("http://127.0.0.1:80");
  EXPECT_EQ(limits.requests_per_second, 100.0);
  EXPECT_EQ(limits.burst, 50u);
  EXPECT_EQ(limits.max_connections, 16u);
}

TEST(ConfigTest, BadOriginKeysRejected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[hosts.\"ftp://localhost\"]\nburst = 1\n", "[hosts.\"ftp://localhost\"]"},
      {"[hosts.\"localhost:8080\"]\nburst = 1\n", "[hosts.\"localhost:8080\"]"},
      {"[hosts.\"http://localhost/api\"]\nburst = 1\n", "path or query"},
      {"[hosts.\"http://localhost:0\"]\nburst = 1\n", "[hosts.\"http://localhost:0\"]"},
      {"[hosts.example]\nburst = 1\n", "[hosts.example]"},
  };
  for (const auto& [toml, fragment] : cases) {
    SCOPED_TRACE(toml);
    Result<Config> config = parseConfig(toml, kSource);
    ASSERT_FALSE(config.isOk());
    EXPECT_NE(config.status().message().find(fragment), std::string::npos)
        << config.status().message();
    EXPECT_NE(config.status().message().find("not a valid origin"), std::string::npos)
        << config.status().message();
  }
}

TEST(ConfigTest, DuplicateOriginRejected) {
  Result<Config> config = parseConfig(
      "[hosts.\"http://localhost\"]\nburst = 1\n[hosts.\"http://localhost:80\"]\nburst = 2\n",
      kSource);
  ASSERT_FALSE(config.isOk());
  EXPECT_NE(config.status().message().find("origin http://localhost:80 is already set"),
            std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, ListenAddressesParsed) {
  struct Case {
    std::string text;
    std::string host;
    uint16_t port;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1:8420", "127.0.0.1", 8420},
      {"[::1]:0", "::1", 0},
      {"localhost:9000", "localhost", 9000},
      {"0.0.0.0:65535", "0.0.0.0", 65535},
      {"[::]:80", "::", 80},
  };
  for (const Case& expected : cases) {
    SCOPED_TRACE(expected.text);
    Result<ListenAddress> address = parseListenAddress(expected.text);
    ASSERT_TRUE(address.isOk()) << address.status().toString();
    EXPECT_EQ(address->host, expected.host);
    EXPECT_EQ(address->port, expected.port);
  }
}

TEST(ConfigTest, BadListenAddressesRejected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"127.0.0.1", "has no port"},
      {"127.0.0.1:", "has no port"},
      {"[::1]", "has no port"},
      {"[::1]:", "has no port"},
      {"", "has no port"},
      {":8420", "invalid host"},
      {"127.0.0.1:65536", "0 to 65535"},
      {"127.0.0.1:-1", "invalid port"},
      {"127.0.0.1:80a", "invalid port"},
      {"127.0.0.1:123456", "invalid port"},
      {"::1:8420", "brackets"},
      {"[::1:8420", "unterminated"},
      {"[localhost]:80", "invalid IPv6 address"},
      {"[::1]x80", "after ']'"},
      {"300.0.0.1:80", "invalid host"},
      {"local_host:80", "invalid host"},
  };
  for (const auto& [text, fragment] : cases) {
    SCOPED_TRACE(text);
    Result<ListenAddress> address = parseListenAddress(text);
    ASSERT_FALSE(address.isOk());
    EXPECT_EQ(address.status().code(), ErrorCode::kInvalidArgument);
    const std::string& message = address.status().message();
    EXPECT_NE(message.find("\"" + text + "\""), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(ConfigTest, LoadReadsFile) {
  testing::TempDir dir;
  std::string path = dir.str() + "/titand.toml";
  std::ofstream(path) << "state_dir = \"" << dir.str() << "\"\n[engine]\nclaim_batch = 9\n";
  Result<Config> config = loadConfig(path);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->state_dir, dir.str());
  EXPECT_EQ(config->spool.dir, dir.str() + "/spool");
  EXPECT_EQ(config->engine.claim_batch, 9u);
}

TEST(ConfigTest, LoadErrorNamesFile) {
  testing::TempDir dir;
  std::string path = dir.str() + "/bad.toml";
  std::ofstream(path) << "[engine]\nmax_in_flight = 0\n";
  Result<Config> config = loadConfig(path);
  ASSERT_FALSE(config.isOk());
  EXPECT_NE(config.status().message().find("engine.max_in_flight = 0 in " + path),
            std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, MissingFileRejected) {
  testing::TempDir dir;
  std::string path = dir.str() + "/absent.toml";
  Result<Config> config = loadConfig(path);
  ASSERT_FALSE(config.isOk());
  EXPECT_EQ(config.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(config.status().message().find(path), std::string::npos) << config.status().message();
}

TEST(ConfigTest, UnreadableFileRejected) {
  testing::TempDir dir;  // A directory opens but cannot be read as a file.
  Result<Config> config = loadConfig(dir.str());
  ASSERT_FALSE(config.isOk());
  EXPECT_EQ(config.status().code(), ErrorCode::kIo);
  EXPECT_NE(config.status().message().find(dir.str()), std::string::npos)
      << config.status().message();
}

}  // namespace
}  // namespace titand
