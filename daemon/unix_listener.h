// UnixListener: the daemon's Unix-socket listener. It accepts connections
// itself, reads each peer's uid/gid/pid from the kernel (SO_PEERCRED), and
// only then hands the connection to gRPC (AddInsecureChannelFromFd), so
// that every call can be attributed to a kernel-verified identity.
//
// gRPC names such a connection's peer "fd:N". PeerTable maps N to the
// credentials read at accept. A number is reused only after gRPC closed the
// old connection, and calls of a closed connection are cancelled first;
// handlers check ServerContext::IsCancelled() after resolving the caller.
#ifndef KEYWARD_DAEMON_UNIX_LISTENER_H_
#define KEYWARD_DAEMON_UNIX_LISTENER_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server.h"

namespace keyward::daemon {

struct PeerCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

// PeerTable: credentials by gRPC peer string ("fd:N"). Thread-safe.
class PeerTable {
 public:
  void Set(int fd, const PeerCredentials& creds);
  // Find returns the credentials for `peer`, or nullopt for a peer that did
  // not come through a UnixListener (TCP, or unknown).
  std::optional<PeerCredentials> Find(absl::string_view peer) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, PeerCredentials> by_fd_ ABSL_GUARDED_BY(mu_);
};

class UnixListener {
 public:
  // Listen binds `path` (see PrepareUnixSocketPath for stale sockets), sets
  // its mode, and starts accepting into `server`, recording peers in
  // `peers`. `server` and `peers` must outlive the listener.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Listen(
      const std::string& path, unsigned mode, grpc::Server* server,
      PeerTable* peers);

  // Stops accepting and removes the socket file. Connections already handed
  // to gRPC are gRPC's to drain.
  ~UnixListener();

 private:
  UnixListener(std::string path, int fd, grpc::Server* server,
               PeerTable* peers);
  void AcceptLoop();

  const std::string path_;
  const int listen_fd_;
  int wake_fds_[2] = {-1, -1};  // a pipe that ends the accept loop
  grpc::Server* const server_;
  PeerTable* const peers_;
  std::thread thread_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_UNIX_LISTENER_H_
