#include "daemon/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"

namespace keyward::daemon {

Server::Server(std::vector<std::string> service_names)
    : reflection_(std::move(service_names)) {}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options) {
  std::vector<std::string> names = {"grpc.health.v1.Health",
                                    "grpc.reflection.v1alpha.ServerReflection"};
  for (const auto& served : options.services) names.push_back(served.name);
  std::unique_ptr<Server> server(new Server(std::move(names)));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // The Unix socket is not a gRPC port: UnixListener accepts connections
  // itself and hands them over with their kernel credentials recorded.
  std::vector<int> bound(options.tcp.size(), 0);
  for (size_t i = 0; i < options.tcp.size(); ++i) {
    builder.AddListeningPort(options.tcp[i].address,
                             options.tcp[i].credentials, &bound[i]);
  }
  for (const auto& served : options.services) {
    builder.RegisterService(served.service);
  }
  builder.RegisterService(&server->reflection_);
  builder.RegisterCallbackGenericService(&server->unimplemented_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr) {
    return absl::UnavailableError(
        "the gRPC server did not start; check the tcp listener addresses");
  }
  for (size_t i = 0; i < options.tcp.size(); ++i) {
    if (bound[i] == 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on tcp ", options.tcp[i].address,
          "; is the address in use or not local?"));
    }
  }
  if (options.unix_socket_path.empty()) return server;
  auto listener =
      UnixListener::Listen(options.unix_socket_path, options.unix_socket_mode,
                           server->server_.get(), options.peers);
  if (!listener.ok()) return listener.status();
  server->listener_ = std::move(*listener);
  return server;
}

void Server::SetServing(bool serving) {
  if (server_ == nullptr) return;
  if (auto* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  if (auto* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  listener_.reset();  // stop accepting; removes the socket file
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

}  // namespace keyward::daemon
