// The BoringSSL flavor's gRPC has no TLS: a TLS listener is refused.
#include "absl/strings/str_cat.h"
#include "daemon/tls.h"

namespace keyward::daemon {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsCredentials(
    const keyward::v1::TcpListenerConfig& listener) {
  return absl::FailedPreconditionError(absl::StrCat(
      "tcp listener ", listener.address(),
      " asks for TLS, but this is the BoringSSL build, whose gRPC has no TLS; "
      "use the default (OpenSSL) build for TLS listeners, or the Unix socket"));
}

}  // namespace keyward::daemon
