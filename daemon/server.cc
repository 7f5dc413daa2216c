#include "daemon/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/unix_socket.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace keyward::daemon {

Server::Server(std::string socket_path, std::vector<std::string> service_names)
    : socket_path_(std::move(socket_path)),
      reflection_(std::move(service_names)) {}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options) {
  absl::Status prepared = PrepareUnixSocketPath(options.unix_socket_path);
  if (!prepared.ok()) return prepared;

  std::vector<std::string> names = {"grpc.health.v1.Health",
                                    "grpc.reflection.v1alpha.ServerReflection"};
  for (const auto& served : options.services) names.push_back(served.name);
  std::unique_ptr<Server> server(
      new Server(options.unix_socket_path, std::move(names)));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + options.unix_socket_path,
                           grpc::InsecureServerCredentials());
  for (const auto& served : options.services) {
    builder.RegisterService(served.service);
  }
  builder.RegisterService(&server->reflection_);
  builder.RegisterCallbackGenericService(&server->unimplemented_);

  // The socket is created by BuildAndStart; keep it from ever being wider
  // than the mode asked for, then set that mode exactly.
  mode_t old_umask = umask(0177);
  server->server_ = builder.BuildAndStart();
  umask(old_umask);
  if (server->server_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("could not listen on unix socket '",
                     options.unix_socket_path,
                     "'; check that its directory is writable"));
  }
  absl::Status mode =
      SetSocketMode(options.unix_socket_path, options.unix_socket_mode);
  if (!mode.ok()) return mode;
  return server;
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  if (auto* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  unlink(socket_path_.c_str());
}

}  // namespace keyward::daemon
