#include "daemon/access.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keyward::daemon {
namespace {

using ::testing::HasSubstr;

TEST(SessionTableTest, ARevokedKeyLosesItsSessionsAndGetsNoNewOnes) {
  SessionTable table;
  std::optional<std::string> a = table.Create("a", absl::InfiniteFuture(), table.epoch());
  std::optional<std::string> b = table.Create("b", absl::InfiniteFuture(), table.epoch());
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  ASSERT_TRUE(table.Find(*a).has_value());
  EXPECT_EQ(table.Find(*a)->api_key_id, "a");

  table.Revoke("a");
  EXPECT_FALSE(table.Find(*a).has_value());
  EXPECT_TRUE(table.Find(*b).has_value());
  // A Login that read key "a" before its revocation and makes its session
  // only now is refused: the session could otherwise outlive the revocation.
  EXPECT_FALSE(table.Create("a", absl::InfiniteFuture(), table.epoch()).has_value());
  EXPECT_EQ(table.size(), 1u);

  // A key that could not be read loses its sessions but may log in again.
  table.EndSessionsOf("b");
  EXPECT_FALSE(table.Find(*b).has_value());
  std::optional<std::string> b2 = table.Create("b", absl::InfiniteFuture(), table.epoch());
  ASSERT_TRUE(b2.has_value());
  EXPECT_TRUE(table.Find(*b2).has_value());

  // A seal ends every session and keeps the revocations.
  table.Clear();
  EXPECT_FALSE(table.Find(*b2).has_value());
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(
      table.Create("a", absl::InfiniteFuture(), table.epoch()).has_value());

  // A restore brings the backup's keys: revocations are forgotten with the
  // sessions.
  table.Restored();
  EXPECT_TRUE(
      table.Create("a", absl::InfiniteFuture(), table.epoch()).has_value());
}

// A Login reads epoch() before the key; a seal or restore before its Create
// refuses the session, which would otherwise outlive the seal.
TEST(SessionTableTest, ALoginAcrossASealGetsNoSession) {
  SessionTable table;
  const uint64_t before = table.epoch();
  table.Clear();
  EXPECT_FALSE(table.Create("a", absl::InfiniteFuture(), before).has_value());
  const uint64_t after_seal = table.epoch();
  table.Restored();
  EXPECT_FALSE(
      table.Create("a", absl::InfiniteFuture(), after_seal).has_value());
  EXPECT_TRUE(
      table.Create("a", absl::InfiniteFuture(), table.epoch()).has_value());
  EXPECT_EQ(table.size(), 1u);
}

TEST(SessionTableTest, ExpiredSessionsAreDroppedAsTheTableGrows) {
  SessionTable table;
  const absl::Time past = absl::Now() - absl::Seconds(1);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(table.Create(absl::StrCat("k", i % 7), past, table.epoch()).has_value());
  }
  // Each purge leaves at most the one just added: never near 5000.
  EXPECT_LE(table.size(), 1024u);
  std::optional<std::string> live =
      table.Create("k0", absl::Now() + absl::Hours(1), table.epoch());
  ASSERT_TRUE(live.has_value());
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(table.Create("k1", past, table.epoch()).has_value());
  }
  EXPECT_LE(table.size(), 1025u);
  // Live sessions survive every purge.
  EXPECT_TRUE(table.Find(*live).has_value());
}

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

keyward::v1::RateLimitConfig LimitsConfig(const std::string& text) {
  keyward::v1::RateLimitConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config))
      << text;
  return config;
}

TEST(RequestLimitsTest, TheMostSpecificOverrideWins) {
  auto limits = RequestLimitsFromConfig(LimitsConfig(R"(
      requests_per_second: 10
      overrides { principal: "apikey:*" requests_per_second: 5 }
      overrides { principal: "apikey:batch-*" requests_per_second: 1 burst: 3 }
      overrides { principal: "apikey:batch-main" requests_per_second: 0 }
  )"));
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_EQ(limits->For("unix:uid:1000").per_second, 10u);
  EXPECT_EQ(limits->For("apikey:ci").per_second, 5u);
  EXPECT_EQ(limits->For("apikey:batch-nightly").per_second, 1u);
  EXPECT_EQ(limits->For("apikey:batch-nightly").burst, 3u);
  EXPECT_EQ(limits->For("apikey:batch-main").per_second, 0u);  // unlimited
  EXPECT_EQ(limits->For("apikey").per_second, 10u);  // not the prefix
}

TEST(RequestLimitsTest, BadConfigsAreRefusedNamingTheEntry) {
  for (const char* text : {
           R"(overrides { principal: "" requests_per_second: 1 })",
           R"(overrides { principal: "*" requests_per_second: 1 })",
           R"(overrides { principal: "a" } overrides { principal: "a" })",
           R"(requests_per_second: 1000001)",
           R"(overrides { principal: "x" burst: 2000000 })",
       }) {
    auto limits = RequestLimitsFromConfig(LimitsConfig(text));
    EXPECT_EQ(limits.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_THAT(std::string(limits.status().message()),
                HasSubstr("rate_limits"));
  }
}

TEST(RequestLimiterTest, OverridesApplyAndReloadKeepsBuckets) {
  RequestLimiter limiter(*RequestLimitsFromConfig(LimitsConfig(R"(
      overrides { principal: "apikey:slow" requests_per_second: 1 burst: 2 }
  )")));
  // No default limit: others are never refused.
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.Allow("apikey:fast").ok());
  EXPECT_TRUE(limiter.Allow("apikey:slow").ok());
  EXPECT_TRUE(limiter.Allow("apikey:slow").ok());
  absl::Status refused = limiter.Allow("apikey:slow");
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("limit of 1 requests"));
  // A reload that lifts the limit takes effect at once...
  limiter.Reload(*RequestLimitsFromConfig(LimitsConfig("")));
  EXPECT_TRUE(limiter.Allow("apikey:slow").ok());
  // ...and one that sets a default limits everyone else.
  limiter.Reload(*RequestLimitsFromConfig(
      LimitsConfig("requests_per_second: 1 burst: 1")));
  EXPECT_TRUE(limiter.Allow("apikey:fast").ok());
  EXPECT_EQ(limiter.Allow("apikey:fast").code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace keyward::daemon
