#include "daemon/request_limits.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keyward::daemon {

RequestLimit RequestLimits::For(absl::string_view principal) const {
  const RequestLimit* best = &defaults;
  size_t best_prefix = 0;
  for (const auto& [name, limit] : overrides) {
    if (name == principal) return limit;
    if (absl::EndsWith(name, "*") && name.size() - 1 >= best_prefix &&
        absl::StartsWith(principal, absl::string_view(name).substr(
                                        0, name.size() - 1))) {
      best = &limit;
      best_prefix = name.size() - 1;
    }
  }
  return *best;
}

absl::StatusOr<RequestLimits> RequestLimitsFromConfig(
    const keyward::v1::RateLimitConfig& config) {
  constexpr uint32_t kMaxRate = 1000000;
  auto check = [&](uint32_t per_second, uint32_t burst,
                   absl::string_view field) -> absl::Status {
    if (per_second > kMaxRate || burst > kMaxRate) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config: rate_limits", field, " requests_per_second and burst are "
          "at most 1000000"));
    }
    return absl::OkStatus();
  };
  RequestLimits out;
  out.defaults = {config.requests_per_second(), config.burst()};
  absl::Status s = check(config.requests_per_second(), config.burst(), "");
  if (!s.ok()) return s;
  if (config.overrides_size() > 1000) {
    return absl::InvalidArgumentError(
        "config: rate_limits.overrides has over 1000 entries");
  }
  absl::flat_hash_set<std::string> seen;
  for (const auto& o : config.overrides()) {
    const std::string field =
        absl::StrCat(".overrides[\"", absl::CHexEscape(o.principal().substr(0, 64)),
                     "\"]");
    if (o.principal().empty() || o.principal() == "*" ||
        o.principal().size() > 512) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config: rate_limits", field, " principal must be a principal or "
          "a prefix ending in '*', 1 to 512 bytes (not \"*\" alone: that is "
          "rate_limits.requests_per_second)"));
    }
    if (!seen.insert(o.principal()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config: rate_limits", field, " is given twice"));
    }
    s = check(o.requests_per_second(), o.burst(), field);
    if (!s.ok()) return s;
    out.overrides.push_back(
        {o.principal(), RequestLimit{o.requests_per_second(), o.burst()}});
  }
  return out;
}

}  // namespace keyward::daemon
