// The storage contract (keystore/storage.h) for the key hierarchy, keys and
// versions, checked against every backend (instantiated in
// storage_conformance_test.cc): codes, round trips, conditional writes,
// ordering and paging.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/barrier.h"
#include "gmock/gmock.h"
#include "keystore/commit_hook.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// --- The key hierarchy --------------------------------------------------

TEST_P(StorageConformanceTest, MetaIsWrittenOnceAndReplacedByCompareAndSwap) {
  EXPECT_EQ(storage().ReadMeta().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().ReplaceMeta("root-1", Meta("root-2")).code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(storage().InitMeta(Meta("root-1")).ok());
  EXPECT_EQ(storage().InitMeta(Meta("other")).code(),
            absl::StatusCode::kAlreadyExists);
  auto meta = storage().ReadMeta();
  ASSERT_TRUE(meta.ok()) << meta.status();
  const KeystoreMeta want = Meta("root-1");
  EXPECT_EQ(meta->kdf_salt, want.kdf_salt);
  EXPECT_EQ(meta->scrypt_n, want.scrypt_n);
  EXPECT_EQ(meta->scrypt_r, want.scrypt_r);
  EXPECT_EQ(meta->scrypt_p, want.scrypt_p);
  EXPECT_EQ(meta->kek_check, want.kek_check);
  EXPECT_EQ(meta->wrapped_root_key, "root-1");

  KeystoreMeta next = Meta("root-2");
  next.kdf_salt = "new salt";
  next.scrypt_n = uint64_t{1} << 17;
  EXPECT_EQ(storage().ReplaceMeta("stale", next).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage().ReadMeta()->wrapped_root_key, "root-1");
  ASSERT_TRUE(storage().ReplaceMeta("root-1", next).ok());
  meta = storage().ReadMeta();
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->wrapped_root_key, "root-2");
  EXPECT_EQ(meta->kdf_salt, "new salt");
  EXPECT_EQ(meta->scrypt_n, uint64_t{1} << 17);
  EXPECT_EQ(storage().ReplaceMeta("root-1", next).code(),
            absl::StatusCode::kAborted);
}

// --- Keys and versions --------------------------------------------------

TEST_P(StorageConformanceTest, KeysRoundTripEveryField) {
  KeyRecord k = Key("a");
  k.type = KeyType::kRsa3072;
  k.purpose = KeyPurpose::kKeyAgreement;
  k.description = "a key: \"quoted\", 'single', ünïcode";
  k.exportable = true;
  k.public_only = true;
  k.primary_version = 2;
  k.latest_version = 3;
  k.min_decrypt_version = 2;
  k.min_encrypt_version = 3;
  k.jwt_max_ttl = absl::Minutes(90);
  k.jwe_algorithm = "RSA-OAEP-256";
  // Kept to the microsecond, truncated.
  k.created_at = absl::FromUnixMicros(1'700'000'000'123'456) +
                 absl::Nanoseconds(789);
  k.rotated_at = absl::FromUnixMicros(1'700'000'100'000'001);
  ASSERT_TRUE(storage().CreateKey(k, {Version("a", 1), Version("a", 2),
                                      Version("a", 3)})
                  .ok());
  auto got = storage().GetKey("a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, "a");
  EXPECT_EQ(got->type, KeyType::kRsa3072);
  EXPECT_EQ(got->purpose, KeyPurpose::kKeyAgreement);
  EXPECT_EQ(got->description, k.description);
  EXPECT_EQ(got->labels, k.labels);
  EXPECT_TRUE(got->exportable);
  EXPECT_TRUE(got->public_only);
  EXPECT_EQ(got->primary_version, 2);
  EXPECT_EQ(got->latest_version, 3);
  EXPECT_EQ(got->min_decrypt_version, 2);
  EXPECT_EQ(got->min_encrypt_version, 3);
  EXPECT_EQ(got->rotation_period, absl::Hours(24));
  EXPECT_EQ(got->jwt_max_ttl, absl::Minutes(90));
  EXPECT_EQ(got->jwe_algorithm, "RSA-OAEP-256");
  EXPECT_EQ(got->created_at, absl::FromUnixMicros(1'700'000'000'123'456));
  EXPECT_EQ(got->rotated_at, k.rotated_at);
  EXPECT_EQ(storage().GetKey("b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*storage().CountKeys(), 1);
}

TEST_P(StorageConformanceTest, CreateKeyRefusesANameOrKidInUseAndWritesNothing) {
  VersionRecord v1 = Version("a", 1);
  v1.kid = "imported-kid";
  ASSERT_TRUE(storage().CreateKey(Key("a"), {v1}).ok());
  KeyRecord again = Key("a");
  again.description = "second";
  absl::Status s = storage().CreateKey(again, {Version("a", 1), Version("a", 2)});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("'a'"));
  EXPECT_EQ(storage().GetKey("a")->description, "");
  EXPECT_EQ(storage().ListVersions("a")->size(), 1u);

  VersionRecord b1 = Version("b", 1);
  b1.kid = "imported-kid";
  EXPECT_EQ(storage().CreateKey(Key("b"), {b1}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage().GetKey("b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(storage().ListVersions("b")->empty());
  EXPECT_EQ(*storage().CountKeys(), 1);
}

TEST_P(StorageConformanceTest, VersionsRoundTripAndListInOrder) {
  VersionRecord v2 = Version("a", 2);
  v2.state = VersionState::kDisabled;
  v2.imported = true;
  v2.kid = "their-kid";
  v2.wrapped_material = std::string("\x00\xff\x00material", 11);
  VersionRecord v1 = Version("a", 1);
  v1.wrapped_material.clear();  // public-only
  KeyRecord k = Key("a");
  k.latest_version = 2;
  ASSERT_TRUE(storage().CreateKey(k, {v2, v1}).ok());
  auto got = storage().GetVersion("a", 2);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->key_id, "a");
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->state, VersionState::kDisabled);
  EXPECT_EQ(got->created_at, absl::FromUnixSeconds(1002));
  EXPECT_EQ(got->destroyed_at, absl::UnixEpoch());
  EXPECT_EQ(got->wrapped_material, v2.wrapped_material);
  EXPECT_EQ(got->public_key, "spki-2");
  EXPECT_TRUE(got->imported);
  EXPECT_EQ(got->kid, "their-kid");
  auto empty = storage().GetVersion("a", 1);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->wrapped_material, "");
  EXPECT_FALSE(empty->imported);
  EXPECT_EQ(empty->kid, "");

  EXPECT_EQ(storage().GetVersion("a", 3).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().GetVersion("nope", 1).status().code(),
            absl::StatusCode::kNotFound);
  auto list = storage().ListVersions("a");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].version, 1);
  EXPECT_EQ((*list)[1].version, 2);
  EXPECT_EQ((*list)[1].wrapped_material, v2.wrapped_material);
  auto none = storage().ListVersions("nope");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST_P(StorageConformanceTest, AddVersionIsConditionalOnTheLatest) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(storage().AddVersion(Version("a", 2), true).ok());
  auto key = storage().GetKey("a");
  EXPECT_EQ(key->primary_version, 2);
  EXPECT_EQ(key->latest_version, 2);
  EXPECT_EQ(key->rotated_at, absl::FromUnixSeconds(1002));
  // Not primary: only latest_version moves.
  ASSERT_TRUE(storage().AddVersion(Version("a", 3), false).ok());
  key = storage().GetKey("a");
  EXPECT_EQ(key->primary_version, 2);
  EXPECT_EQ(key->latest_version, 3);
  EXPECT_EQ(key->rotated_at, absl::FromUnixSeconds(1002));
  // Skipping a number, or adding one twice, loses: ABORTED, nothing written.
  EXPECT_EQ(storage().AddVersion(Version("a", 5), true).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage().AddVersion(Version("a", 3), true).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage().ListVersions("a")->size(), 3u);
  EXPECT_EQ(storage().GetKey("a")->latest_version, 3);
  EXPECT_EQ(storage().AddVersion(Version("nope", 2), true).code(),
            absl::StatusCode::kNotFound);
  // A kid in use: ALREADY_EXISTS, and the key did not move.
  VersionRecord b1 = Version("b", 1);
  b1.kid = "taken";
  ASSERT_TRUE(storage().CreateKey(Key("b"), {b1}).ok());
  VersionRecord a4 = Version("a", 4);
  a4.kid = "taken";
  EXPECT_EQ(storage().AddVersion(a4, true).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage().GetKey("a")->latest_version, 3);
  EXPECT_EQ(storage().GetVersion("a", 4).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, ListKeysPagesInByteOrderOfIds) {
  // Byte order: '-' < '.' < digits < '_' < letters, whatever the locale.
  const std::vector<std::string> ids = {"b", "a_b", "a.b", "a-b", "a9", "a",
                                        "ab"};
  for (const std::string& id : ids) {
    KeyRecord k = Key(id);
    k.labels = {{"id", id}};
    ASSERT_TRUE(storage().CreateKey(k, {Version(id, 1)}).ok()) << id;
  }
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto keys = storage().ListKeys(after, 3);
    ASSERT_TRUE(keys.ok()) << keys.status();
    EXPECT_LE(keys->size(), 3u);
    if (keys->empty()) break;
    for (const KeyRecord& k : *keys) {
      seen.push_back(k.id);
      EXPECT_EQ(k.labels, (std::map<std::string, std::string>{{"id", k.id}}));
    }
    after = keys->back().id;
  }
  EXPECT_THAT(seen, ElementsAre("a", "a-b", "a.b", "a9", "a_b", "ab", "b"));
  EXPECT_EQ(*storage().CountKeys(), 7);
}

TEST_P(StorageConformanceTest, UpdateKeyRewritesOnlyTheMutableFields) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(storage().AddVersion(Version("a", 2), false).ok());
  KeyRecord k = *storage().GetKey("a");
  EXPECT_EQ(k.revision, 2);  // made 1, the added version 2
  k.labels = {{"only", "this"}};
  k.description = "updated";
  k.min_decrypt_version = 2;
  k.min_encrypt_version = 2;
  k.rotation_period = absl::Hours(48);
  k.jwt_max_ttl = absl::Hours(1);
  // Not written by UpdateKey: ignored.
  k.primary_version = 2;  // only AddVersion moves the primary
  k.type = KeyType::kAes256Gcm;
  k.latest_version = 9;
  k.created_at = absl::FromUnixSeconds(1);
  k.jwe_algorithm = "dir";
  ASSERT_TRUE(storage().UpdateKey(k, 2).ok());
  auto got = storage().GetKey("a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->labels, k.labels);
  EXPECT_EQ(got->description, "updated");
  EXPECT_EQ(got->primary_version, 1);
  EXPECT_EQ(got->min_decrypt_version, 2);
  EXPECT_EQ(got->min_encrypt_version, 2);
  EXPECT_EQ(got->rotation_period, absl::Hours(48));
  EXPECT_EQ(got->jwt_max_ttl, absl::Hours(1));
  EXPECT_EQ(got->type, KeyType::kEd25519);
  EXPECT_EQ(got->latest_version, 2);
  EXPECT_EQ(got->created_at, absl::FromUnixSeconds(1000));
  EXPECT_EQ(got->jwe_algorithm, "");
  EXPECT_EQ(got->revision, 3);
  k.labels.clear();
  ASSERT_TRUE(storage().UpdateKey(k, 3).ok());
  EXPECT_TRUE(storage().GetKey("a")->labels.empty());
  k.id = "missing";
  EXPECT_EQ(storage().UpdateKey(k, 1).code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, KidsAreFoundAndListedInOrder) {
  VersionRecord b2 = Version("b", 2);
  b2.kid = "kid-b2";
  VersionRecord a1 = Version("a", 1);
  a1.kid = "kid-a1";
  KeyRecord b = Key("b");
  b.latest_version = 2;
  ASSERT_TRUE(storage().CreateKey(b, {Version("b", 1), b2}).ok());
  ASSERT_TRUE(storage().CreateKey(Key("a"), {a1}).ok());
  auto found = storage().FindVersionByKid("kid-b2");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->key_id, "b");
  EXPECT_EQ(found->version, 2);
  EXPECT_EQ(found->wrapped_material, "wrapped-2");
  EXPECT_EQ(storage().FindVersionByKid("nope").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().FindVersionByKid("").status().code(),
            absl::StatusCode::kNotFound);
  auto kids = storage().ListVersionKids();
  ASSERT_TRUE(kids.ok()) << kids.status();
  ASSERT_EQ(kids->size(), 2u);
  EXPECT_EQ((*kids)[0].key_id, "a");
  EXPECT_EQ((*kids)[0].kid, "kid-a1");
  EXPECT_EQ((*kids)[0].wrapped_material, "");  // only key_id, version, kid
  EXPECT_EQ((*kids)[1].key_id, "b");
  EXPECT_EQ((*kids)[1].version, 2);
}

TEST_P(StorageConformanceTest, DestroyWipesMaterialAndKeepsThePublicKey) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(storage()
                  .SetVersionState("a", 1, VersionState::kEnabled,
                                   VersionState::kDisabled,
                                   absl::FromUnixSeconds(4000))
                  .ok());
  auto v = storage().GetVersion("a", 1);
  EXPECT_EQ(v->state, VersionState::kDisabled);
  EXPECT_EQ(v->wrapped_material, "wrapped-1");
  EXPECT_EQ(v->destroyed_at, absl::UnixEpoch());
  ASSERT_TRUE(storage()
                  .SetVersionState("a", 1, VersionState::kDisabled,
                                   VersionState::kDestroyed,
                                   absl::FromUnixSeconds(5000))
                  .ok());
  v = storage().GetVersion("a", 1);
  EXPECT_EQ(v->state, VersionState::kDestroyed);
  EXPECT_TRUE(v->wrapped_material.empty());
  EXPECT_EQ(v->public_key, "spki-1");
  EXPECT_EQ(v->destroyed_at, absl::FromUnixSeconds(5000));
  // Seen the same way through another connection.
  auto other = Another();
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->GetVersion("a", 1)->wrapped_material.empty());
  EXPECT_EQ(storage().SetVersionState("a", 2, VersionState::kEnabled,
                                      VersionState::kDisabled, absl::Now())
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().SetVersionState("b", 1, VersionState::kEnabled,
                                      VersionState::kDisabled, absl::Now())
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, KeysDueForRotation) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  KeyRecord due = Key("due");  // 24 h period, rotated at t0
  KeyRecord exact = Key("exact");
  exact.rotation_period = absl::Hours(12);
  KeyRecord later = Key("later");
  later.rotation_period = absl::Hours(48);
  KeyRecord never = Key("never");
  never.rotation_period = absl::ZeroDuration();
  KeyRecord pub = Key("public");
  pub.public_only = true;
  for (const KeyRecord& k : {pub, later, exact, due, never}) {
    ASSERT_TRUE(storage().CreateKey(k, {Version(k.id, 1)}).ok());
  }
  auto ids = storage().ListKeysDueForRotation(t0 + absl::Hours(24));
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre("due", "exact"));
  EXPECT_TRUE(storage().ListKeysDueForRotation(t0 + absl::Hours(11))->empty());
  EXPECT_EQ(*storage().CountKeys(), 5);
}

}  // namespace
}  // namespace keyward::keystore::testing
