// The storage contract (keystore/storage.h), checked against every backend:
// success and failure codes of every method, ordering and paging, atomicity
// under a failing commit hook, conditional writes, concurrent writers on one
// database, and what happens to whole-store copies. Policies, API keys and
// token records are in storage_conformance_access_test.cc.
#include <atomic>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "absl/synchronization/barrier.h"
#include "gmock/gmock.h"
#include "keystore/commit_hook.h"
#include "keystore/sqlite_storage.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// --- Backends -----------------------------------------------------------

std::string TempPath(const std::string& name) {
  static std::atomic<int> n{0};
  return absl::StrCat(getenv("TEST_TMPDIR"), "/", name, n++);
}

StorageBackend SqliteBackend() {
  auto path = std::make_shared<std::string>();
  StorageBackend b;
  b.name = "Sqlite";
  b.fresh = [path]() -> absl::StatusOr<std::unique_ptr<Storage>> {
    *path = TempPath("conformance.db");
    auto s = SqliteStorage::Open(*path, SqliteStorage::Mode::kCreateNew);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Storage>(std::move(*s));
  };
  b.another = [path]() -> absl::StatusOr<std::unique_ptr<Storage>> {
    auto s = SqliteStorage::Open(*path, SqliteStorage::Mode::kOpenExisting);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Storage>(std::move(*s));
  };
  b.file_snapshots = true;
  return b;
}

std::vector<StorageBackend> Backends() {
  std::vector<StorageBackend> backends = {SqliteBackend()};
  return backends;
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StorageConformanceTest, ::testing::ValuesIn(Backends()),
    [](const ::testing::TestParamInfo<StorageBackend>& info) {
      return info.param.name;
    });

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
  k.labels = {{"only", "this"}};
  k.description = "updated";
  k.primary_version = 2;
  k.min_decrypt_version = 2;
  k.min_encrypt_version = 2;
  k.rotation_period = absl::Hours(48);
  k.jwt_max_ttl = absl::Hours(1);
  // Immutable here: ignored.
  k.type = KeyType::kAes256Gcm;
  k.latest_version = 9;
  k.created_at = absl::FromUnixSeconds(1);
  k.jwe_algorithm = "dir";
  ASSERT_TRUE(storage().UpdateKey(k).ok());
  auto got = storage().GetKey("a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->labels, k.labels);
  EXPECT_EQ(got->description, "updated");
  EXPECT_EQ(got->primary_version, 2);
  EXPECT_EQ(got->min_decrypt_version, 2);
  EXPECT_EQ(got->min_encrypt_version, 2);
  EXPECT_EQ(got->rotation_period, absl::Hours(48));
  EXPECT_EQ(got->jwt_max_ttl, absl::Hours(1));
  EXPECT_EQ(got->type, KeyType::kEd25519);
  EXPECT_EQ(got->latest_version, 2);
  EXPECT_EQ(got->created_at, absl::FromUnixSeconds(1000));
  EXPECT_EQ(got->jwe_algorithm, "");
  k.labels.clear();
  ASSERT_TRUE(storage().UpdateKey(k).ok());
  EXPECT_TRUE(storage().GetKey("a")->labels.empty());
  k.id = "missing";
  EXPECT_EQ(storage().UpdateKey(k).code(), absl::StatusCode::kNotFound);
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
                  .SetVersionState("a", 1, VersionState::kDisabled,
                                   absl::FromUnixSeconds(4000))
                  .ok());
  auto v = storage().GetVersion("a", 1);
  EXPECT_EQ(v->state, VersionState::kDisabled);
  EXPECT_EQ(v->wrapped_material, "wrapped-1");
  EXPECT_EQ(v->destroyed_at, absl::UnixEpoch());
  ASSERT_TRUE(storage()
                  .SetVersionState("a", 1, VersionState::kDestroyed,
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
                                      absl::Now()).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().SetVersionState("b", 1, VersionState::kEnabled,
                                      absl::Now()).code(),
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

// --- The commit hook: atomicity -------------------------------------------

// Sets up one row of every kind, so that every kind of change can be tried.
void Populate(Storage& s) {
  ASSERT_TRUE(s.InitMeta(Meta("root-1")).ok());
  ASSERT_TRUE(s.CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(s.CreatePolicy(Policy("p")).ok());
  ASSERT_TRUE(s.CreateApiKey(ApiKey("ci")).ok());
  TokenRecord old = Token("old", 10);  // purge_at 1010
  old.metadata = {{"txn", "42"}};
  ASSERT_TRUE(s.CreateTokenRecord(old).ok());
}

TEST_P(StorageConformanceTest, AFailingHookLeavesNothingChangedForEveryChange) {
  Populate(storage());
  if (HasFatalFailure()) return;
  const absl::Status down = absl::UnavailableError("audit log down");
  int calls = 0;
  {
    ScopedCommitHook hook([&](const CommitInfo&) {
      ++calls;
      return down;
    });
    KeyRecord changed = Key("a");
    changed.description = "changed";
    changed.labels = {{"x", "y"}};
    EXPECT_EQ(storage().ReplaceMeta("root-1", Meta("root-2")), down);
    EXPECT_EQ(storage().CreateKey(Key("b"), {Version("b", 1)}), down);
    EXPECT_EQ(storage().AddVersion(Version("a", 2), true), down);
    EXPECT_EQ(storage().UpdateKey(changed), down);
    EXPECT_EQ(storage().SetVersionState("a", 1, VersionState::kDestroyed,
                                        absl::Now()),
              down);
    EXPECT_EQ(storage().CreatePolicy(Policy("q")), down);
    EXPECT_EQ(storage().DeletePolicy("p"), down);
    EXPECT_EQ(storage().CreateApiKey(ApiKey("cd")), down);
    EXPECT_EQ(storage().RevokeApiKey("ci", absl::Now()), down);
    EXPECT_EQ(storage().TouchApiKey("ci", absl::Now()), down);
    EXPECT_EQ(storage().CreateTokenRecord(Token("new", 20)), down);
    EXPECT_EQ(storage().RevokeTokenRecord("old", absl::Now(), "r", "me")
                  .status(),
              down);
    EXPECT_EQ(storage().PurgeTokenRecords(absl::FromUnixSeconds(5000), 10)
                  .status(),
              down);
    EXPECT_FALSE(hook.ran());
  }
  EXPECT_EQ(calls, 13);
  // Nothing changed, as another connection sees it.
  auto other = Another();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->ReadMeta()->wrapped_root_key, "root-1");
  EXPECT_EQ(*other->CountKeys(), 1);
  auto key = other->GetKey("a");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->description, "");
  EXPECT_EQ(key->labels, Key("a").labels);
  EXPECT_EQ(key->latest_version, 1);
  auto v = other->GetVersion("a", 1);
  EXPECT_EQ(v->state, VersionState::kEnabled);
  EXPECT_EQ(v->wrapped_material, "wrapped-1");
  EXPECT_EQ(other->ListVersions("a")->size(), 1u);
  auto policies = other->ListPolicies();
  ASSERT_EQ(policies->size(), 1u);
  EXPECT_EQ((*policies)[0].id, "p");
  auto api = other->ListApiKeys();
  ASSERT_EQ(api->size(), 1u);
  EXPECT_EQ((*api)[0].revoked_at, absl::InfiniteFuture());
  EXPECT_EQ((*api)[0].last_login_at, absl::UnixEpoch());
  auto tokens = other->ListTokenRecords({}, {}, 10);
  ASSERT_TRUE(tokens.ok());
  EXPECT_THAT(Jtis(*tokens), ElementsAre("old"));
  EXPECT_FALSE((*tokens)[0].revoked());
  EXPECT_EQ((*tokens)[0].metadata.at("txn"), "42");
}

TEST_P(StorageConformanceTest, InitMetaUnderAFailingHookWritesNothing) {
  ScopedCommitHook hook(
      [](const CommitInfo&) { return absl::UnavailableError("down"); });
  EXPECT_EQ(storage().InitMeta(Meta("root")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(storage().ReadMeta().status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, TheHookRunsOnceBeforeCommitUnseenByOthers) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  auto other = Another();
  ASSERT_NE(other, nullptr);
  std::vector<int32_t> versions;
  std::vector<size_t> visible;  // versions another connection sees
  {
    ScopedCommitHook hook([&](const CommitInfo& info) {
      versions.push_back(info.version);
      visible.push_back(other->ListVersions("a")->size());
      EXPECT_EQ(other->GetKey("a")->latest_version, 1);
      return absl::OkStatus();
    });
    ASSERT_TRUE(storage().AddVersion(Version("a", 2), true).ok());
    EXPECT_TRUE(hook.ran());
    EXPECT_TRUE(hook.committed());
    // A later change of the same call does not run it again.
    ASSERT_TRUE(storage().AddVersion(Version("a", 3), true).ok());
  }
  EXPECT_EQ(versions, std::vector<int32_t>({2}));
  EXPECT_EQ(visible, std::vector<size_t>({1}));
  EXPECT_EQ(other->ListVersions("a")->size(), 3u);
  {
    ScopedCommitHook hook([&](const CommitInfo& info) {
      versions.push_back(info.version);
      EXPECT_EQ(other->GetKey("new").status().code(),
                absl::StatusCode::kNotFound);
      return absl::OkStatus();
    });
    ASSERT_TRUE(storage().CreateKey(Key("new"), {Version("new", 1),
                                                 Version("new", 2)})
                    .ok());
    EXPECT_TRUE(hook.committed());
  }
  {
    ScopedCommitHook hook([&](const CommitInfo& info) {
      versions.push_back(info.version);
      EXPECT_EQ(other->GetVersion("a", 1)->wrapped_material, "wrapped-1");
      return absl::OkStatus();
    });
    ASSERT_TRUE(storage().SetVersionState("a", 1, VersionState::kDestroyed,
                                          absl::Now())
                    .ok());
  }
  {
    ScopedCommitHook hook([&](const CommitInfo& info) {
      versions.push_back(info.version);
      EXPECT_TRUE(other->ListPolicies()->empty());
      return absl::OkStatus();
    });
    ASSERT_TRUE(storage().CreatePolicy(Policy("p")).ok());
  }
  EXPECT_EQ(versions, std::vector<int32_t>({2, 2, 1, 0}));
  EXPECT_TRUE(other->GetVersion("a", 1)->wrapped_material.empty());
  EXPECT_EQ(other->ListPolicies()->size(), 1u);
}

TEST_P(StorageConformanceTest, ARefusedChangeDoesNotRunTheHook) {
  Populate(storage());
  if (HasFatalFailure()) return;
  ScopedCommitHook hook([&](const CommitInfo&) {
    ADD_FAILURE() << "hook run for a refused change";
    return absl::OkStatus();
  });
  EXPECT_EQ(storage().InitMeta(Meta("x")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage().ReplaceMeta("stale", Meta("x")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage().CreateKey(Key("a"), {Version("a", 1)}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage().AddVersion(Version("a", 9), true).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage().AddVersion(Version("zz", 2), true).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().UpdateKey(Key("zz")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().SetVersionState("a", 7, VersionState::kDisabled,
                                      absl::Now()).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().CreatePolicy(Policy("p")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage().DeletePolicy("zz").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().CreateApiKey(ApiKey("ci")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage().RevokeApiKey("zz", absl::Now()).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().TouchApiKey("zz", absl::Now()).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().CreateTokenRecord(Token("old", 10)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage().RevokeTokenRecord("zz", absl::Now(), "r", "me")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(hook.ran());
}

// --- Several writers on one database ---------------------------------------

// Two Storage objects on one database, one thread each, race `rounds` times
// with the same conditional write: exactly one wins each round and the other
// gets ABORTED.
TEST_P(StorageConformanceTest, ConcurrentRotationsExactlyOneWins) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  auto other = Another();
  ASSERT_NE(other, nullptr);
  constexpr int kRounds = 15;
  absl::Status results[2][kRounds];
  for (int round = 0; round < kRounds; ++round) {
    absl::Barrier* start = new absl::Barrier(2);
    auto race = [&, start](Storage* s, int who) {
      VersionRecord v = Version("a", round + 2);
      v.wrapped_material = absl::StrCat("from-", who);
      if (start->Block()) delete start;
      results[who][round] = s->AddVersion(v, true);
    };
    std::thread t0(race, &storage(), 0), t1(race, other.get(), 1);
    t0.join();
    t1.join();
    const absl::Status& r0 = results[0][round];
    const absl::Status& r1 = results[1][round];
    EXPECT_NE(r0.ok(), r1.ok()) << "round " << round << ": " << r0 << " / "
                                << r1;
    EXPECT_EQ((r0.ok() ? r1 : r0).code(), absl::StatusCode::kAborted)
        << r0 << " / " << r1;
    auto v = storage().GetVersion("a", round + 2);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->wrapped_material, r0.ok() ? "from-0" : "from-1");
  }
  EXPECT_EQ(storage().GetKey("a")->latest_version, kRounds + 1);
  EXPECT_EQ(other->ListVersions("a")->size(), size_t{kRounds + 1});
}

TEST_P(StorageConformanceTest, ConcurrentPassphraseChangesExactlyOneWins) {
  ASSERT_TRUE(storage().InitMeta(Meta("root-0")).ok());
  auto other = Another();
  ASSERT_NE(other, nullptr);
  for (int round = 0; round < 10; ++round) {
    const std::string from = absl::StrCat("root-", round);
    absl::Status results[2];
    absl::Barrier* start = new absl::Barrier(2);
    auto race = [&, start](Storage* s, int who) {
      if (start->Block()) delete start;
      results[who] = s->ReplaceMeta(
          from, Meta(absl::StrCat("root-", round + 1, "-by-", who)));
    };
    std::thread t0(race, &storage(), 0), t1(race, other.get(), 1);
    t0.join();
    t1.join();
    ASSERT_NE(results[0].ok(), results[1].ok())
        << results[0] << " / " << results[1];
    const int winner = results[0].ok() ? 0 : 1;
    EXPECT_EQ(results[1 - winner].code(), absl::StatusCode::kAborted);
    // Move on from the winner's root.
    const std::string won = absl::StrCat("root-", round + 1, "-by-", winner);
    EXPECT_EQ(other->ReadMeta()->wrapped_root_key, won);
    ASSERT_TRUE(
        storage().ReplaceMeta(won, Meta(absl::StrCat("root-", round + 1))).ok());
  }
}

TEST_P(StorageConformanceTest, ConcurrentCreatesOfOneNameExactlyOneWins) {
  auto other = Another();
  ASSERT_NE(other, nullptr);
  for (int round = 0; round < 10; ++round) {
    const std::string id = absl::StrCat("k", round);
    absl::Status results[2];
    absl::Barrier* start = new absl::Barrier(2);
    auto race = [&, start](Storage* s, int who) {
      if (start->Block()) delete start;
      results[who] = s->CreateKey(Key(id), {Version(id, 1)});
    };
    std::thread t0(race, &storage(), 0), t1(race, other.get(), 1);
    t0.join();
    t1.join();
    ASSERT_NE(results[0].ok(), results[1].ok())
        << results[0] << " / " << results[1];
    EXPECT_EQ((results[0].ok() ? results[1] : results[0]).code(),
              absl::StatusCode::kAlreadyExists);
  }
  EXPECT_EQ(*storage().CountKeys(), 10);
}

// --- Whole-store copies -----------------------------------------------------

TEST_P(StorageConformanceTest, SnapshotAndReplaceWith) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  const std::string path = TempPath("snapshot.db");
  if (!GetParam().file_snapshots) {
    absl::Status s = storage().SnapshotTo(path);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(s.message(), HasSubstr("SQLite-only"));
    EXPECT_NE(access(path.c_str(), F_OK), 0) << "a file was created";
    s = storage().ReplaceWith(path);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(s.message(), HasSubstr("SQLite-only"));
    EXPECT_EQ(*storage().CountKeys(), 1);
    return;
  }
  ASSERT_TRUE(storage().SnapshotTo(path).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(storage().SnapshotTo(path).code(),
            absl::StatusCode::kAlreadyExists);
  // Change everything, then go back to the snapshot.
  ASSERT_TRUE(storage().CreateKey(Key("b"), {Version("b", 1)}).ok());
  ASSERT_TRUE(storage().AddVersion(Version("a", 2), true).ok());
  ASSERT_TRUE(storage().CreatePolicy(Policy("p")).ok());
  ASSERT_TRUE(storage().ReplaceWith(path).ok());
  EXPECT_EQ(*storage().CountKeys(), 1);
  EXPECT_EQ(storage().GetKey("a")->latest_version, 1);
  EXPECT_EQ(storage().GetKey("a")->labels, Key("a").labels);
  EXPECT_TRUE(storage().ListPolicies()->empty());
  auto other = Another();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->GetKey("b").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace keyward::keystore::testing
