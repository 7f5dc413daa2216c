#include "keystore/testing/postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace keyward::keystore::testing {
namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin/";

// Tail returns the last `n` bytes of the file at `path`.
std::string Tail(const std::string& path, size_t n = 2000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > n ? s.substr(s.size() - n) : s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(
    const Options& options) {
  char tmpl[] = "/tmp/keyward-pg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("mkdtemp under /tmp: ", strerror(errno)));
  }
  std::unique_ptr<PostgresServer> server(
      new PostgresServer(tmpl, options.password));
  const std::string& dir = server->dir_;
  std::vector<std::string> initdb = {
      absl::StrCat(kBinDir, "initdb"), "-D", dir + "/data", "-U", kUser,
      "-E", "UTF8", "--locale=C", "--no-sync"};
  if (options.password.empty()) {
    initdb.push_back("--auth=trust");
  } else {
    const std::string pwfile = dir + "/pwfile";
    int fd = open(pwfile.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, options.password.data(), options.password.size()) !=
                      static_cast<ssize_t>(options.password.size())) {
      if (fd >= 0) close(fd);
      return absl::UnavailableError(absl::StrCat("write ", pwfile));
    }
    close(fd);
    initdb.push_back("--auth=scram-sha-256");
    initdb.push_back("--pwfile=" + pwfile);
  }
  if (geteuid() == 0) {
    // The server's user must own (and be able to reach) everything it uses.
    struct passwd* pw = getpwnam("nobody");
    struct group* gr = getgrnam("nogroup");
    if (pw == nullptr || gr == nullptr) {
      return absl::FailedPreconditionError(
          "running as root, the test server needs user nobody and group "
          "nogroup to run PostgreSQL as (initdb refuses root)");
    }
    for (const std::string& path : {dir, dir + "/pwfile"}) {
      if (chown(path.c_str(), pw->pw_uid, gr->gr_gid) != 0 && errno != ENOENT) {
        return absl::UnavailableError(
            absl::StrCat("chown ", path, ": ", strerror(errno)));
      }
    }
  }
  absl::Status s = server->Run(initdb, /*as_server=*/true);
  if (!s.ok()) return s;
  s = server->StartServer();
  if (!s.ok()) return s;
  return server;
}

PostgresServer::~PostgresServer() {
  if (paused_) Resume().IgnoreError();
  if (running_) Stop().IgnoreError();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status PostgresServer::Run(std::vector<std::string> argv,
                                 bool as_server) {
  if (as_server && geteuid() == 0) {
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=nobody",
                               "--regid=nogroup", "--clear-groups", "--"});
  }
  const std::string log = dir_ + "/commands.log";
  std::string joined;
  for (const std::string& a : argv) absl::StrAppend(&joined, " ", a);
  {
    std::ofstream out(log, std::ios::app);
    out << "+" << joined << "\n";
  }
  pid_t pid = fork();
  if (pid < 0) return absl::UnavailableError("fork failed");
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_APPEND);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    // The client must not pick up a developer's own PG* settings.
    for (const char* var : {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE",
                            "PGPASSFILE", "PGSERVICE", "PGOPTIONS"}) {
      unsetenv(var);
    }
    if (!password_.empty()) {
      setenv("PGPASSWORD", password_.c_str(), 1);
    } else {
      unsetenv("PGPASSWORD");
    }
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "`", joined, "` failed (status ", status, "):\n", Tail(log)));
  }
  return absl::OkStatus();
}

std::string PostgresServer::ServerOptions() const {
  // listen_addresses='' : the Unix socket in dir_ only. pg_ctl hands -o to
  // the server through /bin/sh, which takes the quotes off.
  return absl::StrCat("-k ", dir_,
                      " -c listen_addresses='' -c fsync=on -p 5432");
}

absl::Status PostgresServer::StartServer() {
  absl::Status s = Run({absl::StrCat(kBinDir, "pg_ctl"), "start", "-w", "-t",
                        "60", "-D", dir_ + "/data", "-l", dir_ + "/server.log",
                        "-o", ServerOptions()},
                       /*as_server=*/true);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        s.message(), "\nserver log:\n", Tail(dir_ + "/server.log")));
  }
  running_ = true;
  return absl::OkStatus();
}

absl::Status PostgresServer::Stop() {
  absl::Status s = Run({absl::StrCat(kBinDir, "pg_ctl"), "stop", "-w", "-m",
                        "fast", "-D", dir_ + "/data"},
                       /*as_server=*/true);
  if (s.ok()) running_ = false;
  return s;
}

absl::Status PostgresServer::Restart() { return StartServer(); }

absl::Status PostgresServer::Signal(int signal) {
  std::ifstream pid_file(dir_ + "/data/postmaster.pid");
  pid_t postmaster = 0;
  if (!(pid_file >> postmaster) || postmaster <= 0) {
    return absl::FailedPreconditionError("no postmaster.pid: not running");
  }
  auto send = [signal](pid_t pid) {
    if (kill(pid, signal) == 0 || errno == ESRCH) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat("kill(", pid, ", ", signal, "): ", strerror(errno)));
  };
  // The postmaster first, so that it forks no new child meanwhile; then its
  // children, scanned again until a scan finds none not yet signalled.
  absl::Status s = send(postmaster);
  std::set<pid_t> signalled;
  for (bool more = true; s.ok() && more;) {
    more = false;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces.
      std::ifstream stat(entry.path() / "stat");
      std::string text((std::istreambuf_iterator<char>(stat)),
                       std::istreambuf_iterator<char>());
      const size_t close = text.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(text.substr(close + 1));
      std::string state;
      pid_t ppid = 0;
      const pid_t pid = std::stoi(name);
      if (rest >> state >> ppid && ppid == postmaster &&
          signalled.insert(pid).second) {
        more = true;
        s = send(pid);
        if (!s.ok()) break;
      }
    }
  }
  return s;
}

absl::Status PostgresServer::Pause() {
  absl::Status s = Signal(SIGSTOP);
  if (s.ok()) paused_ = true;
  return s;
}

absl::Status PostgresServer::Resume() {
  absl::Status s = Signal(SIGCONT);
  if (s.ok()) paused_ = false;
  return s;
}

absl::Status PostgresServer::RestartNow(const std::string& mode) {
  absl::Status s = Run({absl::StrCat(kBinDir, "pg_ctl"), "restart", "-w", "-t",
                        "60", "-m", mode, "-D", dir_ + "/data", "-l",
                        dir_ + "/server.log", "-o", ServerOptions()},
                       /*as_server=*/true);
  if (!s.ok()) {
    running_ = false;
    return absl::UnavailableError(absl::StrCat(
        s.message(), "\nserver log:\n", Tail(dir_ + "/server.log")));
  }
  running_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase() {
  const std::string name = absl::StrCat("keyward", ++databases_);
  absl::Status s = Run({absl::StrCat(kBinDir, "createdb"), "-h", dir_, "-p",
                        "5432", "-U", kUser, name},
                       /*as_server=*/false);
  if (!s.ok()) return s;
  return absl::StrCat("host=", dir_, " port=5432 user=", kUser,
                      " dbname=", name);
}

}  // namespace keyward::keystore::testing
