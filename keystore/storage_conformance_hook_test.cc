// The storage contract (keystore/storage.h), checked against every backend
// (instantiated in storage_conformance_test.cc): a failing commit hook leaves
// nothing changed for every kind of change; the hook runs once, before
// COMMIT, unseen by other connections; refused changes do not run it;
// concurrent conditional writers on one database (exactly one wins).
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
    EXPECT_EQ(storage().UpdateKey(changed, 1), down);
    EXPECT_EQ(storage().SetVersionState("a", 1, VersionState::kEnabled,
                                        VersionState::kDisabled, absl::Now()),
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
    ASSERT_TRUE(storage().SetVersionState("a", 1, VersionState::kEnabled,
                                          VersionState::kDestroyed, absl::Now())
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
  EXPECT_EQ(storage().UpdateKey(Key("zz"), 1).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().UpdateKey(Key("a"), 7).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(storage().SetVersionState("a", 1, VersionState::kDisabled,
                                      VersionState::kEnabled, absl::Now())
                .code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage().SetVersionState("a", 7, VersionState::kEnabled,
                                      VersionState::kDisabled, absl::Now())
                .code(),
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

}  // namespace
}  // namespace keyward::keystore::testing
