// TLS and mutual TLS for TCP listeners (default flavor: gRPC over OpenSSL 3).
// Certificates are watched: replacing the files (as a renewal does) takes
// effect for new connections within kRefreshSeconds, without a restart and
// without dropping connections.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "daemon/tls.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace keyward::daemon {
namespace {

constexpr unsigned kRefreshSeconds = 5;

absl::Status Readable(const std::string& path, absl::string_view what) {
  if (!path.empty() && access(path.c_str(), R_OK) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("cannot read the TLS ", what, " file '", path, "'"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsCredentials(
    const keyward::v1::TcpListenerConfig& listener) {
  const auto& tls = listener.tls();
  absl::Status s = Readable(tls.cert_file(), "certificate");
  if (s.ok()) s = Readable(tls.key_file(), "private key");
  if (s.ok() && !tls.client_ca_file().empty()) {
    s = Readable(tls.client_ca_file(), "client CA");
  }
  if (!s.ok()) return s;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file(), tls.cert_file(), tls.client_ca_file(), kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.client_ca_file().empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(
        tls.require_client_cert()
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace keyward::daemon
