// The daemon's gRPC server: its listeners, the services it serves, health and
// reflection, and a graceful shutdown.
#ifndef KEYWARD_DAEMON_SERVER_H_
#define KEYWARD_DAEMON_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/reflection.h"
#include "daemon/unimplemented_service.h"
#include "daemon/unix_listener.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"

namespace keyward::daemon {

struct ServerOptions {
  // Path of the Unix socket to listen on; empty for none.
  std::string unix_socket_path;
  // Permission bits of the socket file.
  unsigned unix_socket_mode = 0660;
  // Services to serve, each with its full name (the generated
  // `service_full_name()`), owned by the caller and outliving the Server.
  struct Service {
    std::string name;
    grpc::Service* service;
  };
  std::vector<Service> services;
  // TCP listeners, each with its credentials (TLS, mTLS, or plaintext on
  // loopback; see tls.h).
  struct Tcp {
    std::string address;
    std::shared_ptr<grpc::ServerCredentials> credentials;
  };
  std::vector<Tcp> tcp;
  // Where the listener records each connection's kernel credentials; owned
  // by the caller and outliving the Server.
  PeerTable* peers = nullptr;
};

// Server listens and serves until Shutdown. Health (grpc.health.v1, overall
// status SERVING once started) and reflection are always on; a method no
// service implements answers UNIMPLEMENTED with a message naming it.
class Server {
 public:
  // Start binds the listeners and starts serving. Errors name the listener
  // and what to do (a live daemon on the socket: FAILED_PRECONDITION).
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options);

  ~Server();

  // SetServing sets the overall health status (NOT_SERVING while sealed).
  void SetServing(bool serving);

  // Shutdown marks health NOT_SERVING, stops accepting calls, waits up to
  // `grace` for calls in flight, then cancels the rest. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  explicit Server(std::vector<std::string> service_names);

  ReflectionService reflection_;
  UnimplementedService unimplemented_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<UnixListener> listener_;
  bool shut_down_ = false;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_SERVER_H_
