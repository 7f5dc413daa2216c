#include "daemon/sd_notify.h"

#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace keyward::daemon {
namespace {

// Listener is a datagram socket standing in for systemd's notify socket.
class Listener {
 public:
  // `name` starting with '@' binds in the abstract namespace.
  explicit Listener(const std::string& name) : path_(name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (name.size() >= sizeof(addr.sun_path)) return;
    memcpy(addr.sun_path, name.data(), name.size());
    socklen_t len = offsetof(sockaddr_un, sun_path) + name.size();
    if (name[0] == '@') {
      addr.sun_path[0] = '\0';
    } else {
      unlink(name.c_str());
      ++len;
    }
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  }
  ~Listener() {
    close(fd_);
    if (path_[0] != '@') unlink(path_.c_str());
  }
  bool bound() const { return bound_; }

  // Next returns the next datagram, or "" after `ms` without one.
  std::string Next(int ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, ms) != 1) return "";
    char buf[512];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  const std::string path_;
  int fd_;
  bool bound_ = false;
};

// TempPath is short: Bazel's TEST_TMPDIR is too long for a socket address.
std::string TempPath(const char* name) {
  return absl::StrCat("/tmp/keyward-sd-notify-test-", name, "-", getpid());
}

TEST(SdNotifyTest, WithoutNotifySocketIsANoOp) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(SdNotify("READY=1").ok());
}

TEST(SdNotifyTest, SendsToAPathSocket) {
  const std::string path = TempPath("notify");
  Listener listener(path);
  ASSERT_TRUE(listener.bound());
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ASSERT_TRUE(SdNotify("READY=1\nSTATUS=serving").ok());
  EXPECT_EQ(listener.Next(), "READY=1\nSTATUS=serving");
  ASSERT_TRUE(SdNotify("STOPPING=1").ok());
  EXPECT_EQ(listener.Next(), "STOPPING=1");
  unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotifyTest, SendsToAnAbstractSocket) {
  const std::string name = absl::StrCat("@keyward-sd-notify-test-", getpid());
  Listener listener(name);
  ASSERT_TRUE(listener.bound());
  setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ASSERT_TRUE(SdNotify("READY=1").ok());
  EXPECT_EQ(listener.Next(), "READY=1");
  unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotifyTest, RefusesARelativePath) {
  setenv("NOTIFY_SOCKET", "relative/notify", 1);
  EXPECT_EQ(SdNotify("READY=1").code(), absl::StatusCode::kInvalidArgument);
  unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotifyTest, RefusesAPathTooLongForASocket) {
  setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);
  EXPECT_EQ(SdNotify("READY=1").code(), absl::StatusCode::kInvalidArgument);
  unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotifyTest, NobodyListeningIsUnavailable) {
  const std::string path = TempPath("nobody");
  unlink(path.c_str());
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  absl::Status s = SdNotify("READY=1");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  unsetenv("NOTIFY_SOCKET");
}

TEST(SdWatchdogIntervalTest, HalfOfWatchdogUsecForThisProcess) {
  setenv("WATCHDOG_USEC", "30000000", 1);
  unsetenv("WATCHDOG_PID");
  EXPECT_EQ(SdWatchdogInterval(), absl::Seconds(15));
  setenv("WATCHDOG_PID", absl::StrCat(getpid()).c_str(), 1);
  EXPECT_EQ(SdWatchdogInterval(), absl::Seconds(15));
  setenv("WATCHDOG_PID", absl::StrCat(getpid() + 1).c_str(), 1);
  EXPECT_EQ(SdWatchdogInterval(), absl::ZeroDuration());
  unsetenv("WATCHDOG_PID");
  setenv("WATCHDOG_USEC", "-5", 1);
  EXPECT_EQ(SdWatchdogInterval(), absl::ZeroDuration());
  setenv("WATCHDOG_USEC", "soon", 1);
  EXPECT_EQ(SdWatchdogInterval(), absl::ZeroDuration());
  unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(SdWatchdogInterval(), absl::ZeroDuration());
}

TEST(SdWatchdogTest, PingsOnlyWhileHealthy) {
  const std::string path = TempPath("watchdog");
  Listener listener(path);
  ASSERT_TRUE(listener.bound());
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  std::atomic<bool> healthy{true};
  {
    SdWatchdog watchdog(absl::Milliseconds(20), [&] { return healthy.load(); });
    EXPECT_EQ(listener.Next(), "WATCHDOG=1");
    EXPECT_EQ(listener.Next(), "WATCHDOG=1");
    healthy = false;
    absl::SleepFor(absl::Milliseconds(60));  // a ping in flight may land
    while (!listener.Next(0).empty()) {
    }
    EXPECT_EQ(listener.Next(200), "") << "pinged while unhealthy";
    healthy = true;
    EXPECT_EQ(listener.Next(), "WATCHDOG=1");
    watchdog.Stop();
    while (!listener.Next(50).empty()) {
    }
    EXPECT_EQ(listener.Next(200), "") << "pinged after Stop";
  }
  unsetenv("NOTIFY_SOCKET");
}

TEST(SdWatchdogTest, ZeroIntervalStartsNoThread) {
  std::atomic<int> checks{0};
  SdWatchdog watchdog(absl::ZeroDuration(), [&] { return ++checks > 0; });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(checks.load(), 0);
}

}  // namespace
}  // namespace keyward::daemon
