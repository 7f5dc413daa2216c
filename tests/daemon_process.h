// DaemonProcess: the real keywardd binary, started as a child process on a
// fresh data dir and Unix socket, for end-to-end tests.
#ifndef KEYWARD_TESTS_DAEMON_PROCESS_H_
#define KEYWARD_TESTS_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace keyward::testing {

// Path of a file in the test's runfiles, e.g. Runfile("daemon/keywardd").
std::string Runfile(const std::string& workspace_relative_path);

// A fresh, empty directory under TEST_TMPDIR.
std::string NewTempDir();

struct ProcessResult {
  int exit_code = -1;   // exit status, or -1 if killed by a signal
  int signal = 0;       // the signal that killed it, or 0
  std::string output;   // stdout and stderr, interleaved
};

// RunProcess runs `argv` to completion (bounded by `timeout`, then SIGKILL)
// and captures its output.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         absl::Duration timeout = absl::Seconds(60));

class DaemonProcess {
 public:
  // Start runs `keywardd --socket <dir>/keywardd.sock <extra_args...>` and
  // waits until its health check answers (SERVING, or NOT_SERVING while
  // sealed), or it exits, or `timeout` passes.
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const std::string& dir, const std::vector<std::string>& extra_args,
      absl::Duration timeout = absl::Seconds(30));

  // StartBinary is Start for another server with keywardd's --socket flag
  // and health service (`runfile`, e.g. "tools/keyward-bare").
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> StartBinary(
      const std::string& runfile, const std::string& dir,
      const std::vector<std::string>& extra_args,
      absl::Duration timeout = absl::Seconds(30));

  // The destructor kills the daemon if it still runs.
  ~DaemonProcess();

  const std::string& socket_path() const { return socket_path_; }
  pid_t pid() const { return pid_; }
  std::shared_ptr<grpc::Channel> NewChannel() const;

  // Signal sends `signo` and waits (up to `timeout`) for the exit.
  ProcessResult Signal(int signo, absl::Duration timeout = absl::Seconds(30));

  // The daemon's output so far.
  std::string Output() const;

 private:
  DaemonProcess(pid_t pid, std::string socket_path, std::string log_path)
      : pid_(pid),
        socket_path_(std::move(socket_path)),
        log_path_(std::move(log_path)) {}

  pid_t pid_;
  std::string socket_path_;
  std::string log_path_;
  bool exited_ = false;
};

}  // namespace keyward::testing

#endif  // KEYWARD_TESTS_DAEMON_PROCESS_H_
