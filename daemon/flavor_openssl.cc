// The default flavor: gRPC with TLS, crypto through OpenSSL 3.
#include "daemon/log.h"

namespace keyward::daemon {
absl::string_view BuildFlavor() { return "openssl"; }
}  // namespace keyward::daemon
