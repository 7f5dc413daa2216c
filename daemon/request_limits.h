// Per-principal request limits (config.proto's RateLimitConfig): the
// default token bucket and overrides by principal or prefix, checked once
// when the config is read and again on every SIGHUP. No gRPC here, so the
// config code can check them too.
#ifndef KEYWARD_DAEMON_REQUEST_LIMITS_H_
#define KEYWARD_DAEMON_REQUEST_LIMITS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keyward/v1/config.pb.h"

namespace keyward::daemon {

// RequestLimit is one token bucket's shape: `per_second` refill (0:
// unlimited) and `burst` capacity (0: per_second).
struct RequestLimit {
  uint32_t per_second = 0;
  uint32_t burst = 0;
};

// RequestLimits: the default limit and the overrides by principal, each an
// exact principal or a prefix ending in '*' (config.proto's
// RateLimitConfig).
struct RequestLimits {
  RequestLimit defaults;
  std::vector<std::pair<std::string, RequestLimit>> overrides;

  // For returns the limit of `principal`: the exact override, else the
  // longest matching prefix, else the defaults.
  RequestLimit For(absl::string_view principal) const;
};

// RequestLimitsFromConfig checks and converts a RateLimitConfig:
// INVALID_ARGUMENT naming the field for a rate or burst over 1000000, an
// empty, "*" or over-512-byte principal, a duplicate, or over 1000
// overrides.
absl::StatusOr<RequestLimits> RequestLimitsFromConfig(
    const keyward::v1::RateLimitConfig& config);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_REQUEST_LIMITS_H_
