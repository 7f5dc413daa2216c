// The sidecar flavor: gRPC without TLS, crypto through BoringSSL.
#include "daemon/log.h"

namespace keyward::daemon {
absl::string_view BuildFlavor() { return "boringssl"; }
}  // namespace keyward::daemon
