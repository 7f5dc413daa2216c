// Keystore: token records and their revocation, on every storage backend
// (testing/keystore_fixture.h).
#include "keystore/keystore.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/testing/keystore_fixture.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using ::testing::HasSubstr;

TEST_P(KeystoreTest, TokenRecordsRoundTripAndTheTokenIsSealedAtRest) {
  ASSERT_TRUE(ks_->RecordToken(Token("a", now_, "txn-1"), "aaa.bbb.ccc").ok());
  auto got = ks_->GetTokenRecord("a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->external_id, "txn-1");
  EXPECT_EQ(got->metadata.at("txn"), "t-a");
  EXPECT_EQ(got->metadata.size(), 2u);
  EXPECT_EQ(got->expire_at, now_ + absl::Seconds(90));
  EXPECT_FALSE(got->revoked());
  EXPECT_EQ(got->sealed_token.find("aaa.bbb.ccc"), std::string::npos);
  EXPECT_EQ(*ks_->OpenToken(*got), "aaa.bbb.ccc");
  // A sealed token moved to another record does not open.
  TokenRecord swapped = *got;
  swapped.jti = "b";
  EXPECT_EQ(ks_->OpenToken(swapped).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ks_->RecordToken(Token("a", now_), "").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ks_->GetTokenRecord("nope").status().code(),
            absl::StatusCode::kNotFound);
  // Sealed: records can be read, tokens cannot be opened or kept.
  ks_->Seal();
  EXPECT_TRUE(ks_->GetTokenRecord("a").ok());
  EXPECT_EQ(ks_->OpenToken(*got).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ks_->RecordToken(Token("c", now_), "x.y.z").code(),
            absl::StatusCode::kUnavailable);
}

TEST_P(KeystoreTest, TokenRecordsListNewestFirstWithFiltersAndCursor) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(ks_->RecordToken(Token(absl::StrCat("t", i),
                                       now_ + absl::Seconds(i * 60),
                                       i % 2 ? "odd" : "even"),
                                 "")
                    .ok());
  }
  TokenFilter all;
  all.now = now_ + absl::Seconds(200);  // t0..t1 expired by then
  auto page = ks_->ListTokenRecords(all, {}, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].jti, "t4");
  EXPECT_EQ((*page)[1].jti, "t3");
  auto next = ks_->ListTokenRecords(
      all, {page->back().issued_at, page->back().jti}, 10);
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[0].jti, "t2");
  EXPECT_EQ((*next)[2].jti, "t0");

  TokenFilter odd = all;
  odd.external_id = "odd";
  EXPECT_EQ(ks_->ListTokenRecords(odd, {}, 10)->size(), 2u);
  TokenFilter expired = all;
  expired.state = TokenFilter::State::kExpired;
  auto e = ks_->ListTokenRecords(expired, {}, 10);
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].jti, "t1");
  TokenFilter active = all;
  active.state = TokenFilter::State::kActive;
  EXPECT_EQ(ks_->ListTokenRecords(active, {}, 10)->size(), 3u);
  TokenFilter other_key = all;
  other_key.key_id = "other";
  EXPECT_TRUE(ks_->ListTokenRecords(other_key, {}, 10)->empty());
}

TEST_P(KeystoreTest, RevocationIsKeptIdempotentAndSurvivesReopen) {
  ASSERT_TRUE(ks_->RecordToken(Token("r", now_), "").ok());
  ASSERT_TRUE(ks_->RecordToken(Token("s", now_), "").ok());
  EXPECT_FALSE(ks_->IsTokenRevoked("r"));
  auto first = ks_->RevokeToken("r", "phone stolen", "unix:uid:0");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->revoked());
  EXPECT_EQ(first->revoked_at, now_);
  now_ += absl::Seconds(5);
  auto second = ks_->RevokeToken("r", "again", "unix:uid:1");
  EXPECT_EQ(second->revoked_at, first->revoked_at);
  EXPECT_EQ(second->revoke_reason, "phone stolen");
  EXPECT_EQ(second->revoked_by, "unix:uid:0");
  EXPECT_EQ(ks_->RevokeToken("nope", "", "x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(ks_->IsTokenRevoked("r"));
  EXPECT_FALSE(ks_->IsTokenRevoked("s"));
  Reopen();
  EXPECT_TRUE(ks_->IsTokenRevoked("r"));
  EXPECT_FALSE(ks_->IsTokenRevoked("s"));
  TokenFilter revoked;
  revoked.state = TokenFilter::State::kRevoked;
  EXPECT_EQ(ks_->ListTokenRecords(revoked, {}, 10)->size(), 1u);
}

TEST_P(KeystoreTest, RecordsArePurgedAfterTheirRetention) {
  ASSERT_TRUE(ks_->RecordToken(Token("old", now_), "").ok());
  now_ += absl::Seconds(90) + absl::Hours(1) + absl::Seconds(1);
  ASSERT_TRUE(ks_->RecordToken(Token("new", now_), "").ok());
  EXPECT_EQ(ks_->GetTokenRecord("old").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(ks_->GetTokenRecord("new").ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, KeystoreTest,
                         ::testing::ValuesIn(AllBackends()), BackendName);

}  // namespace
}  // namespace keyward::keystore
