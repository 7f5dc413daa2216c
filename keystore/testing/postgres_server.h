// PostgresServer: a real, throwaway PostgreSQL 15 cluster for tests (no mock
// anywhere). Start() runs initdb in a fresh directory under /tmp and starts
// the server with pg_ctl on a Unix socket in that directory only (no TCP),
// with fsync on; the destructor stops it (pg_ctl stop -m fast) and removes
// the directory. Test-only.
//
// initdb refuses to run as root, and CI runs the tests as root: then initdb,
// pg_ctl and the server run as `nobody:nogroup` (setpriv), and the directory
// (mkdtemp under /tmp, not Bazel's TEST_TMPDIR, which may sit under /root
// where nobody cannot go) is given to that user. As any other user they run
// as that user. Clients (createdb, the code under test) run as the caller.
//
// The binaries come from Debian's postgresql-15 in /usr/lib/postgresql/15/bin
// (tools/install-deps). Not thread-safe: one thread drives a server.
#ifndef KEYWARD_KEYSTORE_TESTING_POSTGRES_SERVER_H_
#define KEYWARD_KEYSTORE_TESTING_POSTGRES_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keyward::keystore::testing {

class PostgresServer {
 public:
  struct Options {
    // Empty: local connections are trusted. Otherwise the superuser has this
    // password and every connection must give it (scram-sha-256).
    std::string password;
  };

  // Start makes and starts a new cluster; UNAVAILABLE with initdb's or the
  // server log's tail if it cannot.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start(
      const Options& options);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // CreateDatabase creates a new, empty database and returns a libpq
  // connection string for it (Unix socket, superuser; no password in it).
  absl::StatusOr<std::string> CreateDatabase();

  // Stop stops the server (pg_ctl stop -m fast: sessions are cut) and
  // Restart starts it again on the same data and socket.
  absl::Status Stop();
  absl::Status Restart();
  // RestartNow runs `pg_ctl restart -m {mode}` ("fast": sessions are cut;
  // "immediate": the server is killed and recovers from its WAL at start).
  absl::Status RestartNow(const std::string& mode);

  // Pause stops the server and every one of its processes (SIGSTOP), as a
  // hung server or a cut network looks to a client: connections stay open
  // and nothing answers. Resume lets them go on (SIGCONT). The destructor
  // resumes a paused server before stopping it.
  absl::Status Pause();
  absl::Status Resume();

  const std::string& dir() const { return dir_; }
  static constexpr const char* kUser = "keyward";

 private:
  explicit PostgresServer(std::string dir, std::string password)
      : dir_(std::move(dir)), password_(std::move(password)) {}
  // Run runs argv (no shell) and waits; as the server's user if `as_server`.
  // Output goes to {dir}/commands.log; an error quotes its tail.
  absl::Status Run(std::vector<std::string> argv, bool as_server);
  absl::Status StartServer();
  // Signal sends `signal` to the postmaster and each of its children.
  absl::Status Signal(int signal);
  // The server's options for pg_ctl -o.
  std::string ServerOptions() const;

  std::string dir_;
  std::string password_;
  bool running_ = false;
  bool paused_ = false;
  int databases_ = 0;
};

}  // namespace keyward::keystore::testing

#endif  // KEYWARD_KEYSTORE_TESTING_POSTGRES_SERVER_H_
