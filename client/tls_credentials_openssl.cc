#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "client/tls_credentials.h"

namespace keyward {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    absl::string_view what) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the ", what, " file '", path, "'"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsChannelCredentials(
    const TlsOptions& tls, grpc::ChannelArguments* args) {
  if (!tls.server_name.empty()) args->SetSslTargetNameOverride(tls.server_name);
  grpc::SslCredentialsOptions options;
  if (!tls.ca_file.empty()) {
    auto ca = ReadPem(tls.ca_file, "CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::FailedPreconditionError(
        "a client certificate needs both --tls-cert and --tls-key");
  }
  if (!tls.cert_file.empty()) {
    auto cert = ReadPem(tls.cert_file, "client certificate");
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(tls.key_file, "client key");
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  return grpc::SslCredentials(options);
}

}  // namespace keyward
