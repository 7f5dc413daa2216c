// TLS and mutual TLS for TCP listeners (default flavor: gRPC over OpenSSL 3).
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "daemon/tls.h"

namespace keyward::daemon {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    absl::string_view what) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the TLS ", what, " file '", path, "'"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsCredentials(
    const keyward::v1::TcpListenerConfig& listener) {
  const auto& tls = listener.tls();
  auto cert = ReadPem(tls.cert_file(), "certificate");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(tls.key_file(), "private key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!tls.client_ca_file().empty()) {
    auto ca = ReadPem(tls.client_ca_file(), "client CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        tls.require_client_cert()
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace keyward::daemon
