// The storage contract (keystore/storage.h) for policies, API keys and token
// records, checked against every backend (instantiated in
// storage_conformance_test.cc).
#include "gmock/gmock.h"
#include "keystore/commit_hook.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// --- Policies -----------------------------------------------------------------

TEST_P(StorageConformanceTest, PoliciesRoundTripInIdOrder) {
  for (const char* id : {"p2", "p1", "p10"}) {
    ASSERT_TRUE(storage().CreatePolicy(Policy(id)).ok());
  }
  PolicyRecord dup = Policy("p1");
  dup.principal = "someone else";
  EXPECT_EQ(storage().CreatePolicy(dup).code(),
            absl::StatusCode::kAlreadyExists);
  auto all = storage().ListPolicies();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "p1");
  EXPECT_EQ((*all)[1].id, "p10");
  EXPECT_EQ((*all)[2].id, "p2");
  const PolicyRecord want = Policy("p1");
  EXPECT_EQ((*all)[0].principal, want.principal);
  EXPECT_EQ((*all)[0].resource, want.resource);
  EXPECT_EQ((*all)[0].operations, want.operations);  // order kept
  EXPECT_EQ((*all)[0].description, want.description);
  EXPECT_EQ((*all)[0].created_by, want.created_by);
  EXPECT_EQ((*all)[0].created_at, want.created_at);
  ASSERT_TRUE(storage().DeletePolicy("p10").ok());
  EXPECT_EQ(storage().DeletePolicy("p10").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().ListPolicies()->size(), 2u);
}

// --- API keys -------------------------------------------------------------------

TEST_P(StorageConformanceTest, ApiKeysRoundTripAndAreNeverReused) {
  ApiKeyRecord b = ApiKey("b");
  b.expire_at = absl::FromUnixSeconds(9000);
  ASSERT_TRUE(storage().CreateApiKey(b).ok());
  ASSERT_TRUE(storage().CreateApiKey(ApiKey("a")).ok());
  auto got = storage().GetApiKey("a");
  ASSERT_TRUE(got.ok()) << got.status();
  const ApiKeyRecord want = ApiKey("a");
  EXPECT_EQ(got->description, want.description);
  EXPECT_EQ(got->secret_sha256, want.secret_sha256);
  EXPECT_EQ(got->created_by, want.created_by);
  EXPECT_EQ(got->created_at, want.created_at);
  EXPECT_EQ(got->expire_at, absl::InfiniteFuture());
  EXPECT_EQ(got->revoked_at, absl::InfiniteFuture());
  EXPECT_EQ(got->last_login_at, absl::UnixEpoch());
  EXPECT_EQ(storage().GetApiKey("b")->expire_at, absl::FromUnixSeconds(9000));
  EXPECT_EQ(storage().GetApiKey("c").status().code(),
            absl::StatusCode::kNotFound);
  auto all = storage().ListApiKeys();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "a");
  EXPECT_EQ((*all)[1].id, "b");

  ASSERT_TRUE(storage().TouchApiKey("a", absl::FromUnixSeconds(3000)).ok());
  EXPECT_EQ(storage().GetApiKey("a")->last_login_at,
            absl::FromUnixSeconds(3000));
  EXPECT_EQ(storage().TouchApiKey("c", absl::Now()).code(),
            absl::StatusCode::kNotFound);

  // A second revoke keeps the first time.
  ASSERT_TRUE(storage().RevokeApiKey("a", absl::FromUnixSeconds(4000)).ok());
  ASSERT_TRUE(storage().RevokeApiKey("a", absl::FromUnixSeconds(5000)).ok());
  EXPECT_EQ(storage().GetApiKey("a")->revoked_at, absl::FromUnixSeconds(4000));
  EXPECT_EQ(storage().RevokeApiKey("c", absl::Now()).code(),
            absl::StatusCode::kNotFound);
  // A revoked id is still taken.
  EXPECT_EQ(storage().CreateApiKey(ApiKey("a")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage().GetApiKey("a")->revoked_at, absl::FromUnixSeconds(4000));
}

// --- Token records ---------------------------------------------------------------

TEST_P(StorageConformanceTest, TokenRecordsRoundTrip) {
  TokenRecord r = Token("j1", 1000);
  r.external_id = "txn-42";
  r.metadata = {{"phone", "+4912345"}, {"channel", "sms"}};
  r.sealed_token = std::string("\x00sealed\xff", 8);
  r.claims_json = R"({"sub":"bob","n":"ünï"})";
  ASSERT_TRUE(storage().CreateTokenRecord(r).ok());
  EXPECT_EQ(storage().CreateTokenRecord(Token("j1", 5)).code(),
            absl::StatusCode::kAlreadyExists);
  auto got = storage().GetTokenRecord("j1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->jti, "j1");
  EXPECT_EQ(got->key_id, r.key_id);
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->external_id, "txn-42");
  EXPECT_EQ(got->metadata, r.metadata);
  EXPECT_EQ(got->subject, "bob");
  EXPECT_EQ(got->claims_json, r.claims_json);
  EXPECT_EQ(got->sealed_token, r.sealed_token);
  EXPECT_EQ(got->issued_by, r.issued_by);
  EXPECT_EQ(got->issued_at, absl::FromUnixSeconds(1000));
  EXPECT_EQ(got->expire_at, absl::FromUnixSeconds(1100));
  EXPECT_EQ(got->purge_at, absl::FromUnixSeconds(2000));
  EXPECT_EQ(got->revoked_at, absl::InfiniteFuture());
  EXPECT_FALSE(got->revoked());
  EXPECT_EQ(got->revoke_reason, "");
  EXPECT_EQ(storage().GetTokenRecord("j2").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, TokenRecordsListNewestFirstWithCursorAndFilter) {
  // issued_at ties are ordered by jti, descending.
  struct {
    const char* jti;
    int64_t issued;
    const char* key;
    const char* external;
  } rows[] = {{"t1", 100, "k1", "x"}, {"t2", 200, "k2", "x"},
              {"t3", 200, "k1", "y"}, {"t4", 300, "k1", "x"},
              {"t5", 400, "k2", ""}};
  for (const auto& row : rows) {
    TokenRecord r = Token(row.jti, row.issued);
    r.key_id = row.key;
    r.external_id = row.external;
    r.metadata = {{"jti", row.jti}};
    ASSERT_TRUE(storage().CreateTokenRecord(r).ok());
  }
  auto all = storage().ListTokenRecords({}, {}, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Jtis(*all), ElementsAre("t5", "t4", "t3", "t2", "t1"));
  EXPECT_EQ((*all)[2].metadata.at("jti"), "t3");

  // Pages of two, each after the last one's position.
  std::vector<std::string> paged;
  TokenCursor cursor;
  for (int page = 0; page < 5; ++page) {
    auto got = storage().ListTokenRecords({}, cursor, 2);
    ASSERT_TRUE(got.ok());
    EXPECT_LE(got->size(), 2u);
    if (got->empty()) break;
    for (const TokenRecord& r : *got) paged.push_back(r.jti);
    cursor.issued_at = got->back().issued_at;
    cursor.jti = got->back().jti;
  }
  EXPECT_THAT(paged, ElementsAre("t5", "t4", "t3", "t2", "t1"));

  TokenFilter by_key;
  by_key.key_id = "k1";
  EXPECT_THAT(Jtis(*storage().ListTokenRecords(by_key, {}, 100)),
              ElementsAre("t4", "t3", "t1"));
  TokenFilter by_external;
  by_external.external_id = "x";
  EXPECT_THAT(Jtis(*storage().ListTokenRecords(by_external, {}, 100)),
              ElementsAre("t4", "t2", "t1"));
  by_external.key_id = "k1";
  EXPECT_THAT(Jtis(*storage().ListTokenRecords(by_external, {}, 100)),
              ElementsAre("t4", "t1"));

  // States at now = 350: t1..t3 expired (expire = issued + 100 <= 350 for
  // t1, t2, t3), t4 (400) and t5 (500) active; then revoke t5 and t1.
  ASSERT_TRUE(storage()
                  .RevokeTokenRecord("t5", absl::FromUnixSeconds(450), "leak",
                                     "admin")
                  .ok());
  ASSERT_TRUE(storage()
                  .RevokeTokenRecord("t1", absl::FromUnixSeconds(450), "leak",
                                     "admin")
                  .ok());
  TokenFilter state;
  state.now = absl::FromUnixSeconds(350);
  state.state = TokenFilter::State::kActive;
  EXPECT_THAT(Jtis(*storage().ListTokenRecords(state, {}, 100)),
              ElementsAre("t4"));
  state.state = TokenFilter::State::kExpired;
  EXPECT_THAT(Jtis(*storage().ListTokenRecords(state, {}, 100)),
              ElementsAre("t3", "t2"));
  state.state = TokenFilter::State::kRevoked;
  EXPECT_THAT(Jtis(*storage().ListTokenRecords(state, {}, 100)),
              ElementsAre("t5", "t1"));
  // The boundary: expire_at == now is expired.
  state.now = absl::FromUnixSeconds(400);
  state.state = TokenFilter::State::kExpired;
  EXPECT_THAT(Jtis(*storage().ListTokenRecords(state, {}, 100)),
              ElementsAre("t4", "t3", "t2"));
  TokenCursor after_t3;
  after_t3.issued_at = absl::FromUnixSeconds(200);
  after_t3.jti = "t3";
  EXPECT_THAT(Jtis(*storage().ListTokenRecords(state, after_t3, 100)),
              ElementsAre("t2"));
}

TEST_P(StorageConformanceTest, RevokeKeepsTheFirstRevocation) {
  ASSERT_TRUE(storage().CreateTokenRecord(Token("j", 100)).ok());
  auto first =
      storage().RevokeTokenRecord("j", absl::FromUnixSeconds(150), "lost",
                                  "alice");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->revoked());
  EXPECT_EQ(first->revoked_at, absl::FromUnixSeconds(150));
  EXPECT_EQ(first->revoke_reason, "lost");
  EXPECT_EQ(first->revoked_by, "alice");
  auto second =
      storage().RevokeTokenRecord("j", absl::FromUnixSeconds(160), "again",
                                  "bob");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->revoked_at, absl::FromUnixSeconds(150));
  EXPECT_EQ(second->revoke_reason, "lost");
  EXPECT_EQ(second->revoked_by, "alice");
  EXPECT_EQ(storage().GetTokenRecord("j")->revoked_by, "alice");
  EXPECT_EQ(storage()
                .RevokeTokenRecord("nope", absl::Now(), "r", "me")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, PurgeDeletesUpToTheLimitWithMetadata) {
  for (int i = 0; i < 5; ++i) {
    TokenRecord r = Token(absl::StrCat("old", i), 10 * i);  // purge 1000+10i
    r.metadata = {{"n", absl::StrCat(i)}};
    ASSERT_TRUE(storage().CreateTokenRecord(r).ok());
  }
  ASSERT_TRUE(storage().CreateTokenRecord(Token("young", 5000)).ok());
  // purge_at must be before now: old0 (1000) and old1 (1010) at 1010... only
  // old0 is strictly before.
  auto n = storage().PurgeTokenRecords(absl::FromUnixSeconds(1010), 100);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  n = storage().PurgeTokenRecords(absl::FromUnixSeconds(4000), 3);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3);
  n = storage().PurgeTokenRecords(absl::FromUnixSeconds(4000), 3);
  EXPECT_EQ(*n, 1);
  n = storage().PurgeTokenRecords(absl::FromUnixSeconds(4000), 3);
  EXPECT_EQ(*n, 0);
  EXPECT_THAT(Jtis(*storage().ListTokenRecords({}, {}, 100)),
              ElementsAre("young"));
  // The metadata went with its record: a new record under an old jti has
  // only its own.
  TokenRecord again = Token("old3", 10);
  again.metadata = {{"fresh", "yes"}};
  ASSERT_TRUE(storage().CreateTokenRecord(again).ok());
  EXPECT_EQ(storage().GetTokenRecord("old3")->metadata,
            (std::map<std::string, std::string>{{"fresh", "yes"}}));
}

TEST_P(StorageConformanceTest, TokenRecordHookSeesNothingCommitted) {
  auto other = Another();
  ASSERT_NE(other, nullptr);
  {
    ScopedCommitHook hook([&](const CommitInfo&) {
      EXPECT_EQ(other->GetTokenRecord("j").status().code(),
                absl::StatusCode::kNotFound);
      return absl::OkStatus();
    });
    TokenRecord r = Token("j", 100);
    r.metadata = {{"a", "b"}};
    ASSERT_TRUE(storage().CreateTokenRecord(r).ok());
    EXPECT_TRUE(hook.committed());
  }
  EXPECT_EQ(other->GetTokenRecord("j")->metadata.at("a"), "b");
  EXPECT_THAT(Jtis(*other->ListTokenRecords({}, {}, 10)), ElementsAre("j"));
  EXPECT_THAT(*other->ListPolicies(), IsEmpty());
}

}  // namespace
}  // namespace keyward::keystore::testing
