// Server credentials for TCP listeners. The default flavor builds TLS and
// mutual-TLS credentials (gRPC over OpenSSL 3); the BoringSSL flavor's gRPC
// has no TLS, so it refuses a TLS listener at start (tls_none.cc), and both
// refuse plaintext TCP anywhere but loopback.
#ifndef KEYWARD_DAEMON_TLS_H_
#define KEYWARD_DAEMON_TLS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "keyward/v1/config.pb.h"

namespace keyward::daemon {

// ListenerCredentials returns the credentials for `listener`: TLS (mutual
// if client_ca_file is set) when it has a tls block, else plaintext, which
// is allowed only on a loopback address. FAILED_PRECONDITION naming the
// listener and the fix otherwise (a missing file, TLS in the BoringSSL
// build, plaintext on a non-loopback address).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ListenerCredentials(
    const keyward::v1::TcpListenerConfig& listener);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_TLS_H_
