#include "daemon/access.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keyward::daemon {
namespace {

using ::testing::HasSubstr;

TEST(FailureLimiterTest, RefusesWhileAnyKeyIsOverTheLimit) {
  FailureLimiter limiter(3);
  const std::vector<std::string> attack = {"ipv4:10.0.0.1", "credential:apikey:ci"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Check(attack).ok());
    limiter.RecordFailure(attack);
  }
  EXPECT_EQ(limiter.Check(attack).code(), absl::StatusCode::kResourceExhausted);
  // Another host trying the same key: refused by the key.
  absl::Status other_host =
      limiter.Check({"ipv4:10.0.0.2", "credential:apikey:ci"});
  EXPECT_EQ(other_host.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(other_host.message(), HasSubstr("credential:apikey:ci"));
  // The same host trying another key: refused by the host.
  EXPECT_EQ(limiter.Check({"ipv4:10.0.0.1", "credential:apikey:other"}).code(),
            absl::StatusCode::kResourceExhausted);
  // Neither: allowed.
  EXPECT_TRUE(limiter.Check({"ipv4:10.0.0.2", "credential:apikey:other"}).ok());
}

TEST(FailureLimiterTest, MemoryIsBoundedAndTheLeastRecentKeysGoFirst) {
  FailureLimiter limiter(2, /*max_keys=*/100);
  const std::vector<std::string> attacked = {"credential:apikey:ci"};
  limiter.RecordFailure(attacked);
  limiter.RecordFailure(attacked);
  // A flood of distinct addresses, each failing once, with the attacked key
  // failing again now and then: the table stays at 100 keys and the
  // attacked key, recently failed, stays throttled.
  for (int i = 0; i < 10000; ++i) {
    limiter.RecordFailure({absl::StrCat("ipv4:10.", i / 65536, ".", (i / 256) % 256,
                                        ".", i % 256)});
    if (i % 50 == 0) limiter.RecordFailure(attacked);
    EXPECT_LE(limiter.size(), 100u);
  }
  EXPECT_EQ(limiter.Check(attacked).code(), absl::StatusCode::kResourceExhausted);
  // The first addresses were forgotten: allowed again.
  EXPECT_TRUE(limiter.Check({"ipv4:10.0.0.0"}).ok());
}

}  // namespace
}  // namespace keyward::daemon
