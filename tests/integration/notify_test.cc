// Runs titand under a fake service manager: a datagram socket passed in NOTIFY_SOCKET, the
// way systemd starts a Type=notify unit, and checks the messages of the sd_notify protocol.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/daemon_harness.h"

namespace titand::testing {
namespace {

using std::chrono::milliseconds;

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool bound() const { return bound_; }

  // Reads datagrams until one contains `field` or `timeout` passes; keeps every message.
  bool waitFor(const std::string& field, milliseconds timeout) {
    if (seen(field)) return true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd poll_fd{fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, 50) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      messages_.emplace_back(buffer, static_cast<size_t>(n));
      if (seen(field)) return true;
    }
    return false;
  }

  std::string all() const {
    std::string text;
    for (const auto& message : messages_) text += message + "\n---\n";
    return text;
  }

 private:
  bool seen(const std::string& field) const {
    for (const auto& message : messages_) {
      if (message.find(field) != std::string::npos) return true;
    }
    return false;
  }

  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> messages_;
};

TEST(NotifyTest, ReadyStatusWatchdogStopping) {
  DaemonHarness daemon;
  NotifySocket socket((daemon.configPath().parent_path() / "notify.sock").string());
  ASSERT_TRUE(socket.bound());
  daemon.setEnv("NOTIFY_SOCKET", (daemon.configPath().parent_path() / "notify.sock").string());
  daemon.setEnv("WATCHDOG_USEC", "600000");
  daemon.start();

  EXPECT_TRUE(socket.waitFor("READY=1", milliseconds(10000))) << socket.all();
  EXPECT_TRUE(
      socket.waitFor("STATUS=queued 0, retry scheduled 0, in flight 0", milliseconds(10000)))
      << socket.all();
  EXPECT_TRUE(socket.waitFor("WATCHDOG=1", milliseconds(10000))) << socket.all();
  EXPECT_NE(daemon.readLog().find("watchdog enabled, pinging every 200 ms"), std::string::npos)
      << daemon.readLog();

  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_TRUE(socket.waitFor("STOPPING=1", milliseconds(5000))) << socket.all();
}

TEST(NotifyTest, NoWatchdogWithoutWatchdogUsec) {
  DaemonHarness daemon;
  NotifySocket socket((daemon.configPath().parent_path() / "notify.sock").string());
  ASSERT_TRUE(socket.bound());
  daemon.setEnv("NOTIFY_SOCKET", (daemon.configPath().parent_path() / "notify.sock").string());
  daemon.start();
  EXPECT_TRUE(socket.waitFor("READY=1", milliseconds(10000))) << socket.all();
  EXPECT_FALSE(socket.waitFor("WATCHDOG=1", milliseconds(1000))) << socket.all();
  EXPECT_EQ(daemon.stop(), 0);
}

}  // namespace
}  // namespace titand::testing
