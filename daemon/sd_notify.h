// sd_notify: tells the service manager (systemd, Type=notify) how the daemon
// is doing, over the sd_notify datagram protocol, without libsystemd: one
// datagram of "KEY=VALUE\n..." text sent to the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). See
// sd_notify(3). Both build flavors link it; it needs only libc.
//
// When $NOTIFY_SOCKET is unset (not started by systemd, or by a manager that
// does not ask), every call is a successful no-op, so the daemon behaves the
// same outside systemd.
#ifndef KEYWARD_DAEMON_SD_NOTIFY_H_
#define KEYWARD_DAEMON_SD_NOTIFY_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace keyward::daemon {

// SdNotify sends `state` (e.g. "READY=1", "STOPPING=1",
// "STATUS=serving\nREADY=1") to $NOTIFY_SOCKET as one datagram. OK when sent
// or when $NOTIFY_SOCKET is unset; INVALID_ARGUMENT if $NOTIFY_SOCKET is not
// an absolute path or "@name", or is too long for a socket address;
// UNAVAILABLE (with errno's text) if the datagram could not be sent.
// Thread-safe; never blocks on a full socket (MSG_DONTWAIT).
absl::Status SdNotify(absl::string_view state);

// SdWatchdogInterval is how often systemd wants WATCHDOG=1: half of
// $WATCHDOG_USEC (the unit's WatchdogSec=), as sd_watchdog_enabled(3)
// advises. Zero when there is no watchdog: $WATCHDOG_USEC unset, not a
// positive number, or $WATCHDOG_PID set to another process.
absl::Duration SdWatchdogInterval();

// SdWatchdog sends WATCHDOG=1 every `interval` from its own thread, but only
// after `healthy` returned true for that tick: a daemon that stops being
// healthy (or whose check hangs)
// stops pinging, and systemd restarts it after WatchdogSec. `healthy` runs
// on the watchdog's thread. With a zero interval no thread is started.
class SdWatchdog {
 public:
  SdWatchdog(absl::Duration interval, std::function<bool()> healthy);
  // The destructor stops the thread (Stop).
  ~SdWatchdog();
  SdWatchdog(const SdWatchdog&) = delete;
  SdWatchdog& operator=(const SdWatchdog&) = delete;

  // Stop ends the pings and waits for the thread; idempotent. Call it when
  // shutting down, before STOPPING=1.
  void Stop();

 private:
  void Loop();

  const absl::Duration interval_;
  const std::function<bool()> healthy_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool was_healthy_ = true;  // the thread's own: logs each change once
  std::thread thread_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_SD_NOTIFY_H_
