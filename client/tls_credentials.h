// Channel credentials for TLS targets. The default flavor's gRPC speaks TLS
// (tls_credentials_openssl.cc); the BoringSSL flavor's gRPC has none, and
// says so (tls_credentials_none.cc).
#ifndef KEYWARD_CLIENT_TLS_CREDENTIALS_H_
#define KEYWARD_CLIENT_TLS_CREDENTIALS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "client/client.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace keyward {

// TlsChannelCredentials reads the PEM files `tls` names and sets the
// server-name override in `args`. FAILED_PRECONDITION naming a file that
// cannot be read, or cert_file without key_file; UNIMPLEMENTED in a build
// without TLS.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsChannelCredentials(
    const TlsOptions& tls, grpc::ChannelArguments* args);

}  // namespace keyward

#endif  // KEYWARD_CLIENT_TLS_CREDENTIALS_H_
