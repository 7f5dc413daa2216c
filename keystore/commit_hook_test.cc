#include "keystore/commit_hook.h"

#include "gtest/gtest.h"

namespace keyward::keystore {
namespace {

TEST(CommitHookTest, NoHookIsOk) {
  EXPECT_TRUE(RunCommitHook({3}).ok());
  NoteCommitOutcome(true);  // nothing to tell
}

TEST(CommitHookTest, RunsOncePerCommittedChange) {
  int calls = 0;
  ScopedCommitHook hook([&](const CommitInfo& info) {
    ++calls;
    EXPECT_EQ(info.version, 7);
    return absl::OkStatus();
  });
  ASSERT_TRUE(RunCommitHook({7}).ok());
  NoteCommitOutcome(true);
  EXPECT_TRUE(hook.ran());
  EXPECT_TRUE(hook.committed());
  ASSERT_TRUE(RunCommitHook({7}).ok());  // a later change of the call
  EXPECT_EQ(calls, 1);
}

TEST(CommitHookTest, AFailedCommitGivesTheHookBack) {
  // A retry after a failed COMMIT (e.g. a PostgreSQL serialization
  // failure) must write its record again, and the call must not think its
  // change was recorded.
  int calls = 0;
  ScopedCommitHook hook([&](const CommitInfo&) {
    ++calls;
    return absl::OkStatus();
  });
  ASSERT_TRUE(RunCommitHook().ok());
  NoteCommitOutcome(false);
  EXPECT_FALSE(hook.ran());
  EXPECT_FALSE(hook.committed());
  ASSERT_TRUE(RunCommitHook().ok());
  NoteCommitOutcome(true);
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(hook.committed());
}

TEST(CommitHookTest, AFailingHookIsReturnedAndNotMarkedRun) {
  ScopedCommitHook hook(
      [](const CommitInfo&) { return absl::UnavailableError("audit down"); });
  EXPECT_EQ(RunCommitHook().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(hook.ran());
}

TEST(CommitHookDeathTest, ScopesDoNotNest) {
  ScopedCommitHook outer([](const CommitInfo&) { return absl::OkStatus(); });
  EXPECT_DEATH(
      { ScopedCommitHook inner([](const CommitInfo&) { return absl::OkStatus(); }); },
      "");
}

}  // namespace
}  // namespace keyward::keystore
