#include "client/tls_credentials.h"

namespace keyward {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsChannelCredentials(
    const TlsOptions&, grpc::ChannelArguments*) {
  return absl::UnimplementedError(
      "this is the BoringSSL build, whose gRPC has no TLS; use the default "
      "(OpenSSL) build of keyward for TLS targets");
}

}  // namespace keyward
