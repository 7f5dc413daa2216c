// The storage contract's change feed (keystore/storage.h, "The change
// feed"), checked against every backend (instantiated in
// storage_conformance_test.cc): which changes write a record and which do
// not, a refused or rolled-back change writes none, seqs are gap-free and in
// commit order under concurrent writers on several connections, paging,
// pruning (never the head), and the feed surviving ReplaceAll.
#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "keystore/commit_hook.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Kinds and subjects of the feed, from the start.
std::vector<std::pair<ChangeKind, std::string>> Feed(Storage& s) {
  std::vector<std::pair<ChangeKind, std::string>> out;
  auto changes = s.ReadChanges(0, 1000);
  EXPECT_TRUE(changes.ok()) << changes.status();
  if (!changes.ok()) return out;
  int64_t want = 1;
  for (const ChangeRecord& c : *changes) {
    EXPECT_EQ(c.seq, want++);
    out.emplace_back(c.kind, c.subject);
  }
  return out;
}

TEST_P(StorageConformanceTest, ChangesOthersMustSeeEachWriteOneRecord) {
  EXPECT_EQ(*storage().ChangeHead(), 0);
  EXPECT_TRUE(storage().ReadChanges(0, 10)->empty());
  const absl::Time before = absl::Now() - absl::Seconds(1);
  ASSERT_TRUE(storage().InitMeta(Meta("root")).ok());
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(storage().AddVersion(Version("a", 2), true).ok());
  ASSERT_TRUE(storage().UpdateKey(Key("a"), 2).ok());
  ASSERT_TRUE(storage()
                  .SetVersionState("a", 1, VersionState::kEnabled,
                                   VersionState::kDisabled, absl::Now())
                  .ok());
  ASSERT_TRUE(storage().CreatePolicy(Policy("p")).ok());
  ASSERT_TRUE(storage().DeletePolicy("p").ok());
  ASSERT_TRUE(storage().CreateApiKey(ApiKey("ci")).ok());
  ASSERT_TRUE(storage().TouchApiKey("ci", absl::Now()).ok());
  ASSERT_TRUE(storage().RevokeApiKey("ci", absl::Now()).ok());
  ASSERT_TRUE(storage().CreateTokenRecord(Token("t1", 10)).ok());
  ASSERT_TRUE(storage().RevokeTokenRecord("t1", absl::Now(), "r", "me").ok());
  // A second revoke keeps the first and changes nothing: no record.
  ASSERT_TRUE(storage().RevokeTokenRecord("t1", absl::Now(), "r", "me").ok());
  ASSERT_TRUE(storage().ReplaceMeta("root", Meta("root-2")).ok());
  ASSERT_EQ(*storage().PurgeTokenRecords(absl::FromUnixSeconds(5000), 10), 1);
  EXPECT_THAT(Feed(storage()),
              ElementsAre(Pair(ChangeKind::kKey, "a"),
                          Pair(ChangeKind::kKey, "a"),
                          Pair(ChangeKind::kKey, "a"),
                          Pair(ChangeKind::kKey, "a"),
                          Pair(ChangeKind::kPolicy, "p"),
                          Pair(ChangeKind::kPolicy, "p"),
                          Pair(ChangeKind::kApiKey, "ci"),
                          Pair(ChangeKind::kApiKey, "ci"),
                          Pair(ChangeKind::kToken, "t1")));
  EXPECT_EQ(*storage().ChangeHead(), 9);
  auto all = storage().ReadChanges(0, 100);
  ASSERT_TRUE(all.ok());
  for (const ChangeRecord& c : *all) {
    EXPECT_GE(c.at, before);
    EXPECT_LE(c.at, absl::Now() + absl::Seconds(1));
  }
  // Another connection reads the same feed.
  auto other = Another();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(*other->ChangeHead(), 9);
  EXPECT_EQ(other->ReadChanges(4, 2)->size(), 2u);
  EXPECT_EQ(other->ReadChanges(4, 2)->front().seq, 5);
}

TEST_P(StorageConformanceTest, RefusedAndRolledBackChangesWriteNoRecord) {
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(storage().CreatePolicy(Policy("p")).ok());
  ASSERT_EQ(*storage().ChangeHead(), 2);
  EXPECT_EQ(storage().CreateKey(Key("a"), {Version("a", 1)}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(storage().AddVersion(Version("a", 5), true).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage().UpdateKey(Key("a"), 7).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(storage()
                .SetVersionState("a", 1, VersionState::kDisabled,
                                 VersionState::kEnabled, absl::Now())
                .code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage().DeletePolicy("nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().RevokeApiKey("nope", absl::Now()).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(storage().RevokeTokenRecord("nope", absl::Now(), "r", "me")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  {
    ScopedCommitHook hook(
        [](const CommitInfo&) { return absl::UnavailableError("audit down"); });
    EXPECT_EQ(storage().CreatePolicy(Policy("q")).code(),
              absl::StatusCode::kUnavailable);
    EXPECT_EQ(storage().AddVersion(Version("a", 2), true).code(),
              absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(*storage().ChangeHead(), 2);
  EXPECT_EQ(storage().ReadChanges(0, 10)->size(), 2u);
  // The next change takes the next number: nothing was used up.
  ASSERT_TRUE(storage().AddVersion(Version("a", 2), true).ok());
  EXPECT_EQ(storage().ReadChanges(2, 10)->front().seq, 3);
}

TEST_P(StorageConformanceTest, ConcurrentChangesGetGapFreeSeqsInCommitOrder) {
  constexpr int kWriters = 3;
  constexpr int kEach = 15;
  std::vector<std::unique_ptr<Storage>> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.push_back(Another());
    ASSERT_NE(writers.back(), nullptr);
  }
  std::unique_ptr<Storage> reader = Another();
  ASSERT_NE(reader, nullptr);
  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        PolicyRecord p = Policy(absl::StrCat("w", i, "-", j));
        if (!writers[i]->CreatePolicy(p).ok()) ++failures;
      }
      ++done;
    });
  }
  // A follower reading while they write: every read continues exactly
  // where the last one ended (a seq seen means every smaller one is seen).
  int64_t position = 0;
  int reads = 0;
  while (true) {
    const bool last = done.load() == kWriters;
    auto batch = reader->ReadChanges(position, 7);
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const ChangeRecord& c : *batch) {
      ASSERT_EQ(c.seq, position + 1) << "a gap after " << position;
      position = c.seq;
    }
    ++reads;
    if (last && batch->empty()) break;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(position, kWriters * kEach);
  EXPECT_EQ(*storage().ChangeHead(), kWriters * kEach);
  EXPECT_GT(reads, 1);
}

TEST_P(StorageConformanceTest, PruningKeepsTheHeadAndShowsAsAGap) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(storage().CreatePolicy(Policy(absl::StrCat("p", i))).ok());
  }
  // Nothing is older than a time before the first change.
  EXPECT_EQ(*storage().PruneChanges(absl::Now() - absl::Hours(1), 100), 0);
  EXPECT_EQ(*storage().PruneChanges(absl::Now() + absl::Hours(1), 2), 2);
  // All but the head, even when asked for more.
  EXPECT_EQ(*storage().PruneChanges(absl::Now() + absl::Hours(1), 100), 2);
  EXPECT_EQ(*storage().ChangeHead(), 5);
  auto rest = storage().ReadChanges(0, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->front().seq, 5);  // a reader at 1 sees the gap (not 2)
  EXPECT_EQ(rest->front().subject, "p4");
  // Numbering goes on from the head.
  ASSERT_TRUE(storage().CreatePolicy(Policy("p5")).ok());
  EXPECT_EQ(storage().ReadChanges(5, 10)->front().seq, 6);
}

TEST_P(StorageConformanceTest, TheFeedSurvivesReplaceAll) {
  ASSERT_TRUE(storage().InitMeta(Meta("root")).ok());
  ASSERT_TRUE(storage().CreatePolicy(Policy("p")).ok());
  std::vector<Storage::StoreRecord> records = {Meta("root-2")};
  ASSERT_TRUE(storage().ReplaceAll(records).ok());
  EXPECT_THAT(Feed(storage()), ElementsAre(Pair(ChangeKind::kPolicy, "p"),
                                           Pair(ChangeKind::kStore, "")));
  // ExportRecords holds no feed: the meta row only.
  int exported = 0;
  ASSERT_TRUE(storage()
                  .ExportRecords([&](const Storage::StoreRecord&) {
                    ++exported;
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(exported, 1);
}

}  // namespace
}  // namespace keyward::keystore::testing
