#include "daemon/sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/log.h"

namespace keyward::daemon {
namespace {

// Fd closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

absl::Status SdNotify(absl::string_view state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || env[0] == '\0') return absl::OkStatus();
  const std::string path = env;
  if (path[0] != '/' && path[0] != '@') {
    return absl::InvalidArgumentError(absl::StrCat(
        "NOTIFY_SOCKET='", path, "' is neither an absolute path nor @name"));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() > sizeof(addr.sun_path) - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NOTIFY_SOCKET is ", path.size(), " bytes; a socket path holds at most ",
        sizeof(addr.sun_path) - 1));
  }
  memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                             (path[0] == '@' ? 0 : 1));
  Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return absl::UnavailableError(
        absl::StrCat("sd_notify: socket: ", strerror(errno)));
  }
  ssize_t sent;
  do {
    sent = sendto(fd.get(), state.data(), state.size(),
                  MSG_NOSIGNAL | MSG_DONTWAIT,
                  reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    return absl::UnavailableError(absl::StrCat("sd_notify: sendto ", path, ": ",
                                               strerror(errno)));
  }
  if (static_cast<size_t>(sent) != state.size()) {
    return absl::UnavailableError("sd_notify: the datagram was cut short");
  }
  return absl::OkStatus();
}

absl::Duration SdWatchdogInterval() {
  const char* usec_env = std::getenv("WATCHDOG_USEC");
  if (usec_env == nullptr) return absl::ZeroDuration();
  const char* pid_env = std::getenv("WATCHDOG_PID");
  if (pid_env != nullptr) {
    int64_t pid = 0;
    if (!absl::SimpleAtoi(pid_env, &pid) || pid != getpid()) {
      return absl::ZeroDuration();  // meant for another process
    }
  }
  int64_t usec = 0;
  if (!absl::SimpleAtoi(usec_env, &usec) || usec <= 0) return absl::ZeroDuration();
  return absl::Microseconds(usec) / 2;
}

SdWatchdog::SdWatchdog(absl::Duration interval, std::function<bool()> healthy)
    : interval_(interval), healthy_(std::move(healthy)) {
  if (interval_ > absl::ZeroDuration()) thread_ = std::thread([this] { Loop(); });
}

SdWatchdog::~SdWatchdog() { Stop(); }

void SdWatchdog::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void SdWatchdog::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.Unlock();
    const bool healthy = healthy_();
    if (healthy) {
      absl::Status s = SdNotify("WATCHDOG=1");
      if (!s.ok()) LogWarning("watchdog_notify_failed", {{"error", s.message()}});
    }
    if (healthy != was_healthy_) {
      if (healthy) {
        LogInfo("watchdog_resumed", {});
      } else {
        LogWarning("watchdog_withheld",
                   {{"reason", "health check failed; systemd restarts the "
                               "daemon if it stays unhealthy past WatchdogSec"}});
      }
      was_healthy_ = healthy;
    }
    mu_.Lock();
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
  }
}

}  // namespace keyward::daemon
