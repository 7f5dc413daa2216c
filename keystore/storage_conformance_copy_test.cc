// The storage contract (keystore/storage.h) for whole-store copies as
// records, checked against every backend (instantiated in
// storage_conformance_test.cc): ExportRecords gives every record once, in
// the contract's order; ReplaceAll swaps the whole store in one transaction
// under the commit hook, keeps every field, and refuses a set that is not a
// keystore with nothing changed.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "keystore/commit_hook.h"
#include "keystore/store_records.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore::testing {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Names(const std::vector<StoreRecord>& records) {
  std::vector<std::string> out;
  for (const StoreRecord& r : records) out.push_back(RecordName(r));
  return out;
}

TEST_P(StorageConformanceTest, ExportRecordsGivesEveryRecordInOrder) {
  auto empty = ExportAll(storage());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
  PopulateEveryKind(storage());
  if (HasFatalFailure()) return;
  auto records = ExportAll(storage());
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(Names(*records),
              ElementsAre("the key hierarchy", "key 'a'", "key 'b'",
                          "policy 'p'", "policy 'q'", "API key 'ci'",
                          "API key 'old'", "token record 't1'",
                          "token record 't2'"));
  const auto& meta = std::get<KeystoreMeta>((*records)[0]);
  EXPECT_EQ(meta.wrapped_root_key, "root-1");
  EXPECT_EQ(meta.kdf_salt, Meta("x").kdf_salt);
  const auto& a = std::get<KeyWithVersions>((*records)[1]);
  EXPECT_EQ(a.key.description, "updated once");
  EXPECT_EQ(a.key.revision, 2);
  EXPECT_EQ(a.key.type, KeyType::kAes256Gcm);
  ASSERT_EQ(a.versions.size(), 1u);
  EXPECT_EQ(a.versions[0].wrapped_material, std::string("\0\1\2wrapped", 10));
  EXPECT_EQ(a.versions[0].kid, "imported-kid");
  EXPECT_TRUE(a.versions[0].imported);
  const auto& b = std::get<KeyWithVersions>((*records)[2]);
  EXPECT_EQ(b.key.labels, Key("b").labels);
  ASSERT_EQ(b.versions.size(), 2u);
  EXPECT_EQ(b.versions[0].state, VersionState::kDestroyed);
  EXPECT_TRUE(b.versions[0].wrapped_material.empty());
  EXPECT_EQ(b.versions[0].destroyed_at, absl::FromUnixSeconds(3001));
  EXPECT_EQ(b.versions[1].wrapped_material, "wrapped-2");
  const auto& old = std::get<ApiKeyRecord>((*records)[6]);
  EXPECT_EQ(old.revoked_at, absl::FromUnixSeconds(2500));
  EXPECT_EQ(old.expire_at, absl::InfiniteFuture());
  const auto& t2 = std::get<TokenRecord>((*records)[8]);
  EXPECT_EQ(t2.metadata.at("phone"), "+1555");
  EXPECT_EQ(t2.sealed_token, std::string("\0sealed", 7));
  EXPECT_EQ(t2.revoke_reason, "lost");
  EXPECT_EQ(std::get<TokenRecord>((*records)[7]).revoked_at,
            absl::InfiniteFuture());
  // The encoding decodes to the same records.
  std::string stream;
  for (const StoreRecord& r : *records) AppendRecord(r, &stream);
  auto decoded = DecodeRecords(stream);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(CompareRecords(*records, *decoded).ok());
}

TEST_P(StorageConformanceTest, ReplaceAllSwapsTheWholeStoreKeepingEveryField) {
  PopulateEveryKind(storage());
  if (HasFatalFailure()) return;
  auto saved = ExportAll(storage());
  ASSERT_TRUE(saved.ok()) << saved.status();
  // Change everything, then go back.
  ASSERT_TRUE(storage().CreateKey(Key("c"), {Version("c", 1)}).ok());
  ASSERT_TRUE(storage().AddVersion(Version("a", 2), true).ok());
  ASSERT_TRUE(storage().DeletePolicy("p").ok());
  ASSERT_TRUE(storage().ReplaceMeta("root-1", Meta("root-2")).ok());
  ASSERT_TRUE(storage().CreateTokenRecord(Token("t3", 40)).ok());
  std::vector<int32_t> hook_versions;
  {
    ScopedCommitHook hook([&](const CommitInfo& info) {
      hook_versions.push_back(info.version);
      return absl::OkStatus();
    });
    ASSERT_TRUE(storage().ReplaceAll(*saved).ok());
    EXPECT_TRUE(hook.committed());
  }
  EXPECT_EQ(hook_versions, std::vector<int32_t>({0}));
  auto other = Another();
  ASSERT_NE(other, nullptr);
  auto now = ExportAll(*other);
  ASSERT_TRUE(now.ok()) << now.status();
  absl::Status same = CompareRecords(*saved, *now);
  EXPECT_TRUE(same.ok()) << same;
  EXPECT_EQ(other->GetKey("c").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(other->FindVersionByKid("imported-kid")->key_id, "a");
  // The restored store works on: its conditional writes hold.
  EXPECT_EQ(other->UpdateKey(*other->GetKey("a"), 1).code(),
            absl::StatusCode::kAborted);
  EXPECT_TRUE(other->AddVersion(Version("a", 2), true).ok());
}

TEST_P(StorageConformanceTest, ReplaceAllRefusesWhatIsNotAKeystore) {
  PopulateEveryKind(storage());
  if (HasFatalFailure()) return;
  auto before = ExportAll(storage());
  ASSERT_TRUE(before.ok());
  std::vector<StoreRecord> no_meta(before->begin() + 1, before->end());
  std::vector<StoreRecord> two_metas = *before;
  two_metas.push_back(Meta("root-9"));
  std::vector<StoreRecord> stray = *before;
  KeyWithVersions d{Key("d"), {Version("e", 1)}};
  stray.push_back(d);
  std::vector<StoreRecord> duplicate = *before;
  duplicate.push_back(Policy("p"));
  std::vector<StoreRecord> kid_twice = *before;
  KeyWithVersions f{Key("f"), {Version("f", 1)}};
  f.versions[0].kid = "imported-kid";
  kid_twice.push_back(f);
  {
    ScopedCommitHook hook([](const CommitInfo&) {
      ADD_FAILURE() << "hook run for a refused ReplaceAll";
      return absl::OkStatus();
    });
    EXPECT_EQ(storage().ReplaceAll(no_meta).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(storage().ReplaceAll(two_metas).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(storage().ReplaceAll(stray).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(storage().ReplaceAll(duplicate).code(),
              absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(storage().ReplaceAll(kid_twice).code(),
              absl::StatusCode::kAlreadyExists);
  }
  // A failing hook: rolled back too.
  {
    ScopedCommitHook hook(
        [](const CommitInfo&) { return absl::UnavailableError("audit down"); });
    EXPECT_EQ(storage().ReplaceAll({Meta("root-9")}).code(),
              absl::StatusCode::kUnavailable);
  }
  auto after = ExportAll(*Another());
  ASSERT_TRUE(after.ok());
  absl::Status same = CompareRecords(*before, *after);
  EXPECT_TRUE(same.ok()) << same;
}

}  // namespace
}  // namespace keyward::keystore::testing
