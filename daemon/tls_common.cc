// The parts of ListenerCredentials both flavors share.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/tls.h"

namespace keyward::daemon {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsCredentials(
    const keyward::v1::TcpListenerConfig& listener);

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ListenerCredentials(
    const keyward::v1::TcpListenerConfig& listener) {
  if (listener.has_tls()) return TlsCredentials(listener);
  const std::string& a = listener.address();
  if (absl::StartsWith(a, "127.") || absl::StartsWith(a, "[::1]:") ||
      absl::StartsWith(a, "localhost:")) {
    return grpc::InsecureServerCredentials();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "tcp listener ", a, " has no tls block: plaintext TCP is allowed only on "
      "loopback (127.0.0.1, [::1], localhost); add tls { cert_file key_file "
      "client_ca_file }"));
}

}  // namespace keyward::daemon
