// Checks systemd/titand.service with systemd-analyze verify and for the directives that the
// daemon's behaviour relies on (notify readiness, the watchdog, restarts, hardening).
//
// systemd-analyze accepts unknown values with a warning and exit status 0, so a clean unit is
// one that verifies with status 0 and prints nothing at all.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace titand {
namespace {

const char* kUnitPath = TITAND_SOURCE_DIR "/systemd/titand.service";

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult runCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

// Writes the shipped unit into `dir` with ExecStart aimed at the freshly built binary, since
// verify checks that the command exists and /usr/local/bin/titand is not installed here.
std::string writeTestUnit(const testing::TempDir& dir, const std::string& unit_text) {
  std::string text = unit_text;
  const std::string installed = "/usr/local/bin/titand";
  size_t at = text.find(installed);
  EXPECT_NE(at, std::string::npos) << "ExecStart no longer names " << installed;
  if (at != std::string::npos) text.replace(at, installed.size(), TITAND_BINARY);
  std::string path = (dir.path() / "titand.service").string();
  std::ofstream(path) << text;
  return path;
}

CommandResult verify(const std::string& path) {
  return runCommand("systemd-analyze verify --man=no '" + path + "'");
}

// Collects the "Key=Value" lines of the [Service] section. A key may repeat.
std::multimap<std::string, std::string> serviceDirectives(const std::string& text) {
  std::multimap<std::string, std::string> directives;
  std::istringstream lines(text);
  std::string line;
  bool in_service = false;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') {
      in_service = line == "[Service]";
      continue;
    }
    size_t equals = line.find('=');
    if (in_service && equals != std::string::npos) {
      directives.emplace(line.substr(0, equals), line.substr(equals + 1));
    }
  }
  return directives;
}

TEST(SystemdUnitTest, VerifiesCleanly) {
  testing::TempDir dir;
  CommandResult result = verify(writeTestUnit(dir, readFile(kUnitPath)));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "") << "systemd-analyze printed warnings";
}

TEST(SystemdUnitTest, VerifyReportsTypo) {
  // Guards the check above: a typo in a value must show up in the output.
  testing::TempDir dir;
  std::string text = readFile(kUnitPath);
  size_t at = text.find("Type=notify");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 11, "Type=notfy");
  CommandResult result = verify(writeTestUnit(dir, text));
  EXPECT_NE(result.output.find("notfy"), std::string::npos) << result.output;
}

TEST(SystemdUnitTest, RequiredDirectivesPresent) {
  auto directives = serviceDirectives(readFile(kUnitPath));
  std::map<std::string, std::string> required = {
      {"Type", "notify"},           {"Restart", "on-failure"},
      {"NoNewPrivileges", "yes"},   {"ProtectSystem", "strict"},
      {"ProtectHome", "yes"},       {"PrivateTmp", "yes"},
      {"StateDirectory", "titand"}, {"ConfigurationDirectory", "titand"},
  };
  for (const auto& [key, value] : required) {
    auto range = directives.equal_range(key);
    ASSERT_NE(range.first, range.second) << key << " is missing";
    EXPECT_EQ(range.first->second, value) << key;
  }
  for (const char* key : {"WatchdogSec", "LimitNOFILE", "TimeoutStopSec"}) {
    EXPECT_EQ(directives.count(key), 1u) << key;
  }
  auto exec = directives.find("ExecStart");
  ASSERT_NE(exec, directives.end());
  EXPECT_NE(exec->second.find("--config /etc/titand/titand.toml"), std::string::npos);
}

}  // namespace
}  // namespace titand
