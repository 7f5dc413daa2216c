#include "tests/daemon_process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace keyward::testing {
namespace {

// Forks and execs argv with stdout and stderr going to `log_path`.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid` up to `timeout`; SIGKILLs it after that.
void WaitFor(pid_t pid, absl::Duration timeout, ProcessResult* result) {
  absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (WIFEXITED(status)) result->exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result->signal = WTERMSIG(status);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string Runfile(const std::string& path) {
  const char* srcdir = getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir ? srcdir : ".", "/keyward/", path);
}

std::string NewTempDir() {
  // Under /tmp, not TEST_TMPDIR: a socket path must fit in 108 bytes.
  char tmpl[] = "/tmp/kw-test-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  return dir ? dir : "/tmp";
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         absl::Duration timeout) {
  std::string log = NewTempDir() + "/output";
  ProcessResult result;
  pid_t pid = Spawn(argv, log);
  WaitFor(pid, timeout, &result);
  result.output = ReadFile(log);
  return result;
}

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(
    const std::string& dir, const std::vector<std::string>& extra_args,
    absl::Duration timeout) {
  return StartBinary("daemon/keywardd", dir, extra_args, timeout);
}

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::StartBinary(
    const std::string& runfile, const std::string& dir,
    const std::vector<std::string>& extra_args, absl::Duration timeout) {
  const std::string name(absl::string_view(runfile).substr(runfile.rfind('/') + 1));
  std::string socket = absl::StrCat(dir, "/", name, ".sock");
  std::string log = absl::StrCat(dir, "/", name, ".log");
  std::vector<std::string> argv = {Runfile(runfile), "--socket", socket};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  std::unique_ptr<DaemonProcess> daemon(
      new DaemonProcess(Spawn(argv, log), socket, log));

  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status;
    if (waitpid(daemon->pid_, &status, WNOHANG) == daemon->pid_) {
      daemon->exited_ = true;
      return absl::FailedPreconditionError(absl::StrCat(
          name, " exited during start:\n", daemon->Output()));
    }
    if (access(socket.c_str(), F_OK) == 0) {
      auto stub = grpc::health::v1::Health::NewStub(daemon->NewChannel());
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
      grpc::health::v1::HealthCheckRequest req;
      grpc::health::v1::HealthCheckResponse resp;
      if (stub->Check(&ctx, req, &resp).ok()) return daemon;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      name, " did not become healthy in time:\n", daemon->Output()));
}

DaemonProcess::~DaemonProcess() {
  if (!exited_) Signal(SIGKILL, absl::Seconds(10));
}

std::shared_ptr<grpc::Channel> DaemonProcess::NewChannel() const {
  return grpc::CreateChannel("unix:" + socket_path_,
                             grpc::InsecureChannelCredentials());
}

ProcessResult DaemonProcess::Signal(int signo, absl::Duration timeout) {
  ProcessResult result;
  if (!exited_) {
    kill(pid_, signo);
    WaitFor(pid_, timeout, &result);
    exited_ = true;
  }
  result.output = Output();
  return result;
}

std::string DaemonProcess::Output() const { return ReadFile(log_path_); }

}  // namespace keyward::testing
