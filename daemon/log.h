// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-27T17:30:00Z","level":"info","event":"serving","socket":"..."}
// Callers pass only non-secret fields: key names, versions, codes, paths.
// Secrets, plaintext and key material never reach a log line.
#ifndef KEYWARD_DAEMON_LOG_H_
#define KEYWARD_DAEMON_LOG_H_

#include <initializer_list>
#include <utility>

#include "absl/strings/string_view.h"

namespace keyward::daemon {

using LogField = std::pair<absl::string_view, absl::string_view>;

// LogInfo and LogWarning write one line atomically. Thread-safe.
void LogInfo(absl::string_view event, std::initializer_list<LogField> fields);
void LogWarning(absl::string_view event, std::initializer_list<LogField> fields);

// BuildFlavor names this build: "openssl" (gRPC with TLS, OpenSSL 3) or
// "boringssl" (gRPC without TLS, BoringSSL).
absl::string_view BuildFlavor();

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_LOG_H_
