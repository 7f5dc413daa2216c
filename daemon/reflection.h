// gRPC server reflection (grpc.reflection.v1alpha), so that tools such as
// grpcurl can list and call the daemon's services without .proto files.
//
// Debian's libgrpc++_reflection links gRPC with TLS and therefore OpenSSL,
// which the BoringSSL flavor cannot load; this small implementation over the
// generated descriptor pool serves both flavors the same way.
#ifndef KEYWARD_DAEMON_REFLECTION_H_
#define KEYWARD_DAEMON_REFLECTION_H_

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace keyward::daemon {

// ReflectionService answers list_services with `services` (full names, e.g.
// "keyward.v1.CryptoService") and file requests from the generated pool.
// Thread-safe; each stream is independent.
class ReflectionService final
    : public grpc::reflection::v1alpha::ServerReflection::Service {
 public:
  explicit ReflectionService(std::vector<std::string> services);

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<
          grpc::reflection::v1alpha::ServerReflectionResponse,
          grpc::reflection::v1alpha::ServerReflectionRequest>* stream) override;

 private:
  std::vector<std::string> services_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_REFLECTION_H_
