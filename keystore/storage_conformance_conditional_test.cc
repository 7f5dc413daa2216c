// The storage contract (keystore/storage.h) for conditional writes, checked
// against every backend (instantiated in storage_conformance_test.cc): key
// updates carry a revision, version state changes name the state they
// expect, only rotation moves the primary, a key and its versions load in
// one snapshot, a kid is claimed once; each with two writers racing on one
// database (of two, exactly one wins).
#include <atomic>
#include <thread>

#include "absl/synchronization/barrier.h"
#include "gmock/gmock.h"
#include "keystore/commit_hook.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore::testing {
namespace {

using ::testing::HasSubstr;

// Race runs first(storage()) and second(other) at once, after a barrier,
// and returns their statuses.
template <typename F, typename G>
std::pair<absl::Status, absl::Status> Race(Storage* a, Storage* b, F first,
                                           G second) {
  absl::Status results[2];
  absl::Barrier* start = new absl::Barrier(2);
  std::thread t0([&] {
    if (start->Block()) delete start;
    results[0] = first(a);
  });
  std::thread t1([&] {
    if (start->Block()) delete start;
    results[1] = second(b);
  });
  t0.join();
  t1.join();
  return {results[0], results[1]};
}

// --- Key revisions ----------------------------------------------------------

TEST_P(StorageConformanceTest, UpdateKeyIsConditionalOnTheRevision) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  KeyRecord read = *storage().GetKey("a");
  EXPECT_EQ(read.revision, 1);
  KeyRecord first = read;
  first.description = "first";
  ASSERT_TRUE(storage().UpdateKey(first, 1).ok());
  EXPECT_EQ(storage().GetKey("a")->revision, 2);
  // The same revision again: stale, refused, nothing written, no hook.
  KeyRecord stale = read;
  stale.description = "stale";
  stale.labels = {{"x", "y"}};
  {
    ScopedCommitHook hook([](const CommitInfo&) {
      ADD_FAILURE() << "hook run for a refused update";
      return absl::OkStatus();
    });
    absl::Status s = storage().UpdateKey(stale, 1);
    EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
    EXPECT_THAT(s.message(), HasSubstr("revision 2, not 1"));
  }
  auto got = storage().GetKey("a");
  EXPECT_EQ(got->description, "first");
  EXPECT_EQ(got->labels, Key("a").labels);
  EXPECT_EQ(got->revision, 2);
}

// A copy read before a rotation cannot undo it: the rotation bumped the
// revision, and UpdateKey never writes primary_version anyway.
TEST_P(StorageConformanceTest, OnlyRotationMovesThePrimary) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  const KeyRecord before = *storage().GetKey("a");
  ASSERT_TRUE(storage().AddVersion(Version("a", 2), true).ok());
  auto after = storage().GetKey("a");
  EXPECT_EQ(after->revision, before.revision + 1);
  EXPECT_EQ(after->primary_version, 2);
  EXPECT_EQ(storage().UpdateKey(before, before.revision).code(),
            absl::StatusCode::kAborted);
  KeyRecord fresh = *after;
  fresh.primary_version = 1;  // ignored
  fresh.description = "kept";
  ASSERT_TRUE(storage().UpdateKey(fresh, fresh.revision).ok());
  EXPECT_EQ(storage().GetKey("a")->primary_version, 2);
  EXPECT_EQ(storage().GetKey("a")->description, "kept");
  // A version added without making it primary bumps the revision too.
  const int64_t r = storage().GetKey("a")->revision;
  ASSERT_TRUE(storage().AddVersion(Version("a", 3), false).ok());
  EXPECT_EQ(storage().GetKey("a")->revision, r + 1);
  EXPECT_EQ(storage().GetKey("a")->primary_version, 2);
}

TEST_P(StorageConformanceTest, ConcurrentUpdatesExactlyOneWins) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  auto other = Another();
  ASSERT_NE(other, nullptr);
  for (int round = 0; round < 10; ++round) {
    const KeyRecord read = *storage().GetKey("a");
    auto update = [&](int who) {
      return [&, who](Storage* s) {
        KeyRecord k = read;
        k.description = absl::StrCat("round ", round, " by ", who);
        k.labels = {{"by", absl::StrCat(who)}};
        return s->UpdateKey(k, read.revision);
      };
    };
    auto [r0, r1] = Race(&storage(), other.get(), update(0), update(1));
    ASSERT_NE(r0.ok(), r1.ok()) << r0 << " / " << r1;
    EXPECT_EQ((r0.ok() ? r1 : r0).code(), absl::StatusCode::kAborted);
    const int winner = r0.ok() ? 0 : 1;
    auto got = other->GetKey("a");
    EXPECT_EQ(got->description, absl::StrCat("round ", round, " by ", winner));
    EXPECT_EQ(got->labels.at("by"), absl::StrCat(winner));
    EXPECT_EQ(got->revision, read.revision + 1);
  }
}

// An update and a rotation from the same read: the rotation always lands;
// the update either came first or is ABORTED, and never moves the primary
// back.
TEST_P(StorageConformanceTest, AnUpdateRacingARotationNeverUndoesIt) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  auto other = Another();
  ASSERT_NE(other, nullptr);
  for (int round = 0; round < 10; ++round) {
    const KeyRecord read = *storage().GetKey("a");
    const int32_t next = read.latest_version + 1;
    auto [rotated, updated] = Race(
        &storage(), other.get(),
        [&](Storage* s) { return s->AddVersion(Version("a", next), true); },
        [&](Storage* s) {
          KeyRecord k = read;
          k.description = absl::StrCat("round ", round);
          return s->UpdateKey(k, read.revision);
        });
    ASSERT_TRUE(rotated.ok()) << rotated;
    EXPECT_TRUE(updated.ok() || absl::IsAborted(updated)) << updated;
    auto got = storage().GetKey("a");
    EXPECT_EQ(got->primary_version, next);
    EXPECT_EQ(got->latest_version, next);
    EXPECT_EQ(got->revision, read.revision + (updated.ok() ? 2 : 1));
  }
}

// --- Version states ---------------------------------------------------------

TEST_P(StorageConformanceTest, SetVersionStateIsConditionalOnTheExpectedState) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  const absl::Time t = absl::FromUnixSeconds(7000);
  {
    ScopedCommitHook hook([](const CommitInfo&) {
      ADD_FAILURE() << "hook run for a refused state change";
      return absl::OkStatus();
    });
    // Destroy only from disabled: the version is enabled.
    absl::Status s = storage().SetVersionState(
        "a", 1, VersionState::kDisabled, VersionState::kDestroyed, t);
    EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
    EXPECT_THAT(s.message(), HasSubstr("version 1 is enabled"));
  }
  EXPECT_EQ(storage().GetVersion("a", 1)->wrapped_material, "wrapped-1");
  ASSERT_TRUE(storage()
                  .SetVersionState("a", 1, VersionState::kEnabled,
                                   VersionState::kDisabled, t)
                  .ok());
  ASSERT_TRUE(storage()
                  .SetVersionState("a", 1, VersionState::kDisabled,
                                   VersionState::kDestroyed, t)
                  .ok());
  absl::Status again = storage().SetVersionState(
      "a", 1, VersionState::kDisabled, VersionState::kEnabled, t);
  EXPECT_EQ(again.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(again.message(), HasSubstr("is destroyed"));
  auto v = storage().GetVersion("a", 1);
  EXPECT_EQ(v->state, VersionState::kDestroyed);
  EXPECT_TRUE(v->wrapped_material.empty());
}

// Re-enable and destroy race from "disabled": exactly one lands, and the
// version is either enabled with its material or destroyed without it.
TEST_P(StorageConformanceTest, EnableAndDestroyRaceExactlyOneWins) {
  auto other = Another();
  ASSERT_NE(other, nullptr);
  const absl::Time t = absl::FromUnixSeconds(7000);
  for (int round = 0; round < 10; ++round) {
    const std::string id = absl::StrCat("k", round);
    ASSERT_TRUE(storage().CreateKey(Key(id), {Version(id, 1)}).ok());
    ASSERT_TRUE(storage()
                    .SetVersionState(id, 1, VersionState::kEnabled,
                                     VersionState::kDisabled, t)
                    .ok());
    auto [enabled, destroyed] = Race(
        &storage(), other.get(),
        [&](Storage* s) {
          return s->SetVersionState(id, 1, VersionState::kDisabled,
                                    VersionState::kEnabled, t);
        },
        [&](Storage* s) {
          return s->SetVersionState(id, 1, VersionState::kDisabled,
                                    VersionState::kDestroyed, t);
        });
    ASSERT_NE(enabled.ok(), destroyed.ok()) << enabled << " / " << destroyed;
    EXPECT_EQ((enabled.ok() ? destroyed : enabled).code(),
              absl::StatusCode::kAborted);
    auto v = storage().GetVersion(id, 1);
    ASSERT_TRUE(v.ok());
    if (enabled.ok()) {
      EXPECT_EQ(v->state, VersionState::kEnabled);
      EXPECT_EQ(v->wrapped_material, "wrapped-1");
    } else {
      EXPECT_EQ(v->state, VersionState::kDestroyed);
      EXPECT_TRUE(v->wrapped_material.empty());
    }
  }
}

// --- One snapshot -----------------------------------------------------------

TEST_P(StorageConformanceTest, GetKeyWithVersionsReadsTheKeyAndItsVersions) {
  EXPECT_EQ(storage().GetKeyWithVersions("a").status().code(),
            absl::StatusCode::kNotFound);
  KeyRecord k = Key("a");
  k.latest_version = 2;
  ASSERT_TRUE(storage().CreateKey(k, {Version("a", 2), Version("a", 1)}).ok());
  ASSERT_TRUE(storage().CreateKey(Key("b"), {Version("b", 1)}).ok());
  auto got = storage().GetKeyWithVersions("a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->key.id, "a");
  EXPECT_EQ(got->key.labels, Key("a").labels);
  EXPECT_EQ(got->key.revision, 1);
  ASSERT_EQ(got->versions.size(), 2u);
  EXPECT_EQ(got->versions[0].version, 1);
  EXPECT_EQ(got->versions[1].version, 2);
  EXPECT_EQ(got->versions[1].wrapped_material, "wrapped-2");
  // The feed's head in the same snapshot: both creations are in it.
  EXPECT_EQ(got->feed_head, storage().ChangeHead().value_or(-1));
}

// While another connection rotates, every load sees a key and versions
// that agree: the latest version is there, and nothing beyond it.
TEST_P(StorageConformanceTest, GetKeyWithVersionsIsOneSnapshotUnderRotation) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  const int64_t created = storage().ChangeHead().value_or(-1);
  auto other = Another();
  ASSERT_NE(other, nullptr);
  std::atomic<bool> done{false};
  std::thread rotator([&] {
    for (int v = 2; v <= 60; ++v) {
      EXPECT_TRUE(other->AddVersion(Version("a", v), true).ok());
    }
    done = true;
  });
  int loads = 0;
  while (!done.load() || loads == 0) {
    auto got = storage().GetKeyWithVersions("a");
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->versions.size(), static_cast<size_t>(got->key.latest_version))
        << "load " << loads;
    EXPECT_EQ(got->versions.back().version, got->key.primary_version);
    // Each rotation is one change: the head read with it agrees.
    EXPECT_EQ(got->feed_head, created + got->key.latest_version - 1);
    ++loads;
  }
  rotator.join();
  EXPECT_EQ(storage().GetKeyWithVersions("a")->versions.size(), 60u);
}

// --- Kids -------------------------------------------------------------------

TEST_P(StorageConformanceTest, ConcurrentClaimsOfOneKidExactlyOneWins) {
  auto other = Another();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(storage().CreateKey(Key("b"), {Version("b", 1)}).ok());
  for (int round = 0; round < 10; ++round) {
    const std::string kid = absl::StrCat("kid-", round);
    auto claim = [&](const std::string& id) {
      return [&, id](Storage* s) {
        VersionRecord v = Version(id, round + 2);
        v.kid = kid;
        return s->AddVersion(v, true);
      };
    };
    auto [ra, rb] = Race(&storage(), other.get(), claim("a"), claim("b"));
    ASSERT_NE(ra.ok(), rb.ok()) << ra << " / " << rb;
    EXPECT_EQ((ra.ok() ? rb : ra).code(), absl::StatusCode::kAlreadyExists);
    auto owner = storage().FindVersionByKid(kid);
    ASSERT_TRUE(owner.ok());
    EXPECT_EQ(owner->key_id, ra.ok() ? "a" : "b");
    // The loser's key did not move: its next add reuses the number.
    const std::string loser = ra.ok() ? "b" : "a";
    ASSERT_TRUE(storage().AddVersion(Version(loser, round + 2), true).ok());
  }
}

}  // namespace
}  // namespace keyward::keystore::testing
