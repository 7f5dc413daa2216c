#include "daemon/audit_log.h"
#include "daemon/audit_testing.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keyward::daemon {
namespace {

using ::testing::HasSubstr;
using testing::Entry;
using testing::FakeDisk;

std::string TempPath(absl::string_view name) {
  static int n = 0;
  std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/", name, n++, ".log");
  unlink(path.c_str());
  return path;
}


// ExpectIntact checks that the audit log at `path` verifies with `records`
// records and no bad one.
void ExpectIntact(const std::string& path, uint64_t records) {
  auto verdict = AuditLog::Verify(path);
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_EQ(verdict->records_checked, records);
  EXPECT_EQ(verdict->first_bad, 0u);
  EXPECT_EQ(verdict->problem, "");
}

// FakeSync stands in for fdatasync: it counts calls and fails them (EIO)
// while told to.
class FakeSync {
 public:
  std::function<int(int)> Function() {
    return [this](int) {
      absl::MutexLock lock(&mu_);
      ++calls_;
      if (fail_) {
        errno = EIO;
        return -1;
      }
      return 0;
    };
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  void set_fail(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_ = fail;
  }
  // Waits (up to 30 s, a hang guard, not a timing assertion) until `n`
  // calls have been made.
  bool WaitForCalls(int n) const {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return calls_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(30));
  }

 private:
  mutable absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
};

AuditLogOptions Interval(absl::Duration interval, FakeSync* sync) {
  AuditLogOptions options;
  options.fsync = AuditFsyncMode::kInterval;
  options.fsync_interval = interval;
  if (sync != nullptr) options.sync = sync->Function();
  return options;
}

TEST(AuditLogTest, EveryRecordSyncsEachSequentialAppend) {
  FakeSync sync;
  AuditLogOptions options;
  options.sync = sync.Function();
  const std::string path = TempPath("every");
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 1; i <= 5; ++i) {
    auto seq = (*log)->Append(Entry(i));
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, static_cast<uint64_t>(i));
    EXPECT_EQ(sync.calls(), i);
  }
  log->reset();
  EXPECT_EQ(sync.calls(), 5);  // nothing left to sync at close
}

TEST(AuditLogTest, AppendAllWritesConsecutiveRecordsWithOneSync) {
  FakeSync sync;
  AuditLogOptions options;
  options.sync = sync.Function();
  const std::string path = TempPath("all");
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append(Entry(0)).ok());
  std::vector<AuditEntry> batch;
  for (int i = 1; i <= 64; ++i) batch.push_back(Entry(i));
  auto last = (*log)->AppendAll(batch);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 65u);
  EXPECT_EQ(sync.calls(), 2) << "one fdatasync for the single record, one "
                                "for the batch";
  EXPECT_EQ((*log)->AppendAll({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  log->reset();
  ExpectIntact(path, 65);
  auto lines = AuditLog::Read(path, 30, 1);
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_THAT((*lines)[0], HasSubstr("\"resource\":\"keys/k29\""));
}

TEST(AuditLogTest, AppendAllFailsAsAWhole) {
  auto log = AuditLog::Open("/dev/full");
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<AuditEntry> batch = {Entry(1), Entry(2)};
  EXPECT_EQ((*log)->AppendAll(batch).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(AuditLogTest, IntervalRecordsAreWrittenBeforeAppendReturnsAndVerify) {
  FakeSync sync;
  const std::string path = TempPath("interval");
  constexpr int kThreads = 4, kPerThread = 250;
  {
    // An interval far longer than the test: no background sync happens.
    auto log = AuditLog::Open(path, Interval(absl::Hours(1), &sync));
    ASSERT_TRUE(log.ok()) << log.status();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto seq = (*log)->Append(Entry(t * kPerThread + i));
          EXPECT_TRUE(seq.ok()) << seq.status();
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ((*log)->last_sequence(), uint64_t{kThreads * kPerThread});

    // Every acknowledged record is in the file already, unsynced.
    auto lines = AuditLog::Read(path, 1, 100000);
    ASSERT_TRUE(lines.ok()) << lines.status();
    EXPECT_EQ(lines->size(), size_t{kThreads * kPerThread});
    EXPECT_EQ(sync.calls(), 0);
  }
  // Closing synced once.
  EXPECT_EQ(sync.calls(), 1);
  ExpectIntact(path, kThreads * kPerThread);

  // Reopened (in either mode), the chain continues.
  auto reopened = AuditLog::Open(path, Interval(absl::Hours(1), nullptr));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto seq = (*reopened)->Append(Entry(0));
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, uint64_t{kThreads * kPerThread + 1});
  reopened->reset();
  ExpectIntact(path, kThreads * kPerThread + 1);
}

TEST(AuditLogTest, IntervalSyncsInTheBackgroundAtMostOncePerInterval) {
  FakeSync sync;
  const absl::Duration interval = absl::Milliseconds(20);
  auto log = AuditLog::Open(TempPath("background"), Interval(interval, &sync));
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  // The background thread syncs without any further append or a close.
  ASSERT_TRUE(sync.WaitForCalls(1));

  // Idle: nothing written, nothing synced.
  const int after_first = sync.calls();
  absl::SleepFor(5 * interval);
  EXPECT_EQ(sync.calls(), after_first);

  // A steady stream of appends: syncs are at least one interval apart, so
  // in `elapsed` there can be at most elapsed / interval + 1 of them (+1
  // for clock rounding). A slow machine makes fewer, never more.
  const absl::Time start = absl::Now();
  const int before = sync.calls();
  int appended = 0;
  while (absl::Now() - start < 10 * interval) {
    ASSERT_TRUE((*log)->Append(Entry(appended)).ok());
    ++appended;
  }
  const absl::Duration elapsed = absl::Now() - start;
  const int syncs = sync.calls() - before;
  EXPECT_GE(syncs, 1) << appended << " appends";
  EXPECT_LE(syncs, elapsed / interval + 2) << appended << " appends";
}

TEST(AuditLogTest, IntervalFailedSyncRefusesAppendsUntilARetrySucceeds) {
  FakeSync sync;
  sync.set_fail(true);
  const std::string path = TempPath("syncfail");
  auto log = AuditLog::Open(path, Interval(absl::Milliseconds(1), &sync));
  ASSERT_TRUE(log.ok()) << log.status();
  auto first = (*log)->Append(Entry(1));
  ASSERT_TRUE(first.ok()) << first.status();  // written; its sync comes later
  // A second attempt starts only after the first failure was recorded.
  ASSERT_TRUE(sync.WaitForCalls(2));

  auto refused = (*log)->Append(Entry(2));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("fdatasync"));
  EXPECT_EQ((*log)->last_sequence(), 1u);  // refused entries take no number

  // The disk recovers: the next retry succeeds and appends work again.
  sync.set_fail(false);
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  absl::StatusOr<uint64_t> seq = absl::UnavailableError("not tried");
  while (!seq.ok() && absl::Now() < give_up) {
    seq = (*log)->Append(Entry(3));
    if (!seq.ok()) {
      EXPECT_EQ(seq.status().code(), absl::StatusCode::kUnavailable);
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 3u);  // after the gap record (2)
  log->reset();

  ExpectIntact(path, 3);
}

TEST(AuditLogTest, IntervalFailedSyncAtCloseIsReported) {
  // Nothing to assert but that closing with a failing disk neither hangs
  // nor crashes; the failure goes to the log.
  FakeSync sync;
  sync.set_fail(true);
  auto log = AuditLog::Open(TempPath("closefail"), Interval(absl::Hours(1), &sync));
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  EXPECT_EQ(sync.calls(), 0);
  log->reset();
  EXPECT_EQ(sync.calls(), 1);
}

// /dev/full accepts open(2) and fails every write(2) with ENOSPC: a real
// failed write, in both modes.
void ExpectWritesFailClosed(AuditLogOptions options) {
  int probe = open("/dev/full", O_WRONLY);
  if (probe < 0) GTEST_SKIP() << "no /dev/full here";
  close(probe);
  auto log = AuditLog::Open("/dev/full", std::move(options));
  ASSERT_TRUE(log.ok()) << log.status();
  auto seq = (*log)->Append(Entry(1));
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(seq.status().message(), HasSubstr("could not be written"));
  // Still refused: every retry fails too.
  seq = (*log)->Append(Entry(2));
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kUnavailable);
}

TEST(AuditLogTest, IntervalFailedWriteFailsTheAppend) {
  FakeSync sync;
  ExpectWritesFailClosed(Interval(absl::Hours(1), &sync));
}

TEST(AuditLogTest, EveryRecordFailedWriteFailsTheAppend) {
  ExpectWritesFailClosed(AuditLogOptions());
}

off_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// Finding: once an append failed, every call was refused until a restart.
// Now the log cuts off what the failed write left, refuses while the disk
// is full, and resumes by itself with a record of the gap.
void ExpectRecoversAfterAFullDisk(AuditLogOptions options) {
  const std::string path = TempPath("recover");
  FakeDisk disk;
  options.write = disk.Function();
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  const off_t before = FileSize(path);
  EXPECT_TRUE((*log)->health().writable);

  disk.set_full(true);
  auto refused = (*log)->Append(Entry(2));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("could not be written"));
  // The half record the failed write left is gone: no torn tail.
  EXPECT_EQ(FileSize(path), before);
  std::vector<AuditEntry> batch = {Entry(3), Entry(4)};
  EXPECT_EQ((*log)->AppendAll(batch).status().code(),
            absl::StatusCode::kUnavailable);
  AuditHealth health = (*log)->health();
  EXPECT_FALSE(health.writable);
  EXPECT_EQ(health.refused, 3u);
  EXPECT_EQ(health.outages, 1u);
  EXPECT_THAT(health.error, HasSubstr("No space left on device"));
  EXPECT_NE(health.failing_since, absl::InfinitePast());
  ExpectIntact(path, 1);

  disk.set_full(false);
  auto resumed = (*log)->Append(Entry(5));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  // Record 2 says what is missing; record 3 is the call that was made.
  EXPECT_EQ(*resumed, 3u);
  health = (*log)->health();
  EXPECT_TRUE(health.writable);
  EXPECT_EQ(health.failing_since, absl::InfinitePast());
  EXPECT_EQ(health.refused, 0u);
  EXPECT_EQ(health.outages, 1u);
  ExpectIntact(path, 3);
  auto lines = AuditLog::Read(path, 2, 10);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_THAT((*lines)[0], HasSubstr("\"operation\":\"AUDIT_RESUMED\""));
  EXPECT_THAT((*lines)[0], HasSubstr("3 calls were refused"));
  EXPECT_THAT((*lines)[0], HasSubstr("No space left on device"));
  EXPECT_THAT((*lines)[1], HasSubstr("keys/k5"));
}

TEST(AuditLogTest, EveryRecordRecoversAfterAFullDisk) {
  ExpectRecoversAfterAFullDisk(AuditLogOptions());
}

TEST(AuditLogTest, IntervalRecoversAfterAFullDisk) {
  FakeSync sync;
  ExpectRecoversAfterAFullDisk(Interval(absl::Hours(1), &sync));
}

TEST(AuditLogTest, FailedSyncDropsTheRefusedRecordsAndRecovers) {
  // A failed fdatasync refuses the calls whose records it was to make
  // durable: those records must not stay in the log, since the calls are
  // answered as not done.
  const std::string path = TempPath("syncfail");
  FakeSync sync;
  AuditLogOptions options;
  options.sync = sync.Function();
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  const off_t before = FileSize(path);
  sync.set_fail(true);
  EXPECT_EQ((*log)->Append(Entry(2)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FileSize(path), before);
  sync.set_fail(false);
  auto resumed = (*log)->Append(Entry(3));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 3u);
  ExpectIntact(path, 3);
  auto lines = AuditLog::Read(path, 1, 10);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_THAT((*lines)[1], HasSubstr("AUDIT_RESUMED"));
  EXPECT_THAT((*lines)[2], HasSubstr("keys/k3"));
  for (const std::string& line : *lines) {
    EXPECT_THAT(line, ::testing::Not(HasSubstr("keys/k2")));
  }
}

TEST(AuditLogTest, ConcurrentAppendsDuringAnOutageAreAllRefusedOrAllKept) {
  const std::string path = TempPath("concurrent");
  FakeDisk disk;
  AuditLogOptions options;
  options.write = disk.Function();
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (i == 10 && t == 0) disk.set_full(true);
        if (i == 30 && t == 0) disk.set_full(false);
        if ((*log)->Append(Entry(t * 100 + i)).ok()) ++accepted;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  disk.set_full(false);
  ASSERT_TRUE((*log)->Append(Entry(999)).ok());
  // Every accepted record is there once, in one unbroken chain; refused
  // ones are not (gap records come on top of the accepted ones).
  auto verdict = AuditLog::Verify(path);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->first_bad, 0u) << verdict->problem;
  auto lines = AuditLog::Read(path, 1, 1000);
  ASSERT_TRUE(lines.ok());
  int gaps = 0;
  for (const std::string& line : *lines) {
    if (absl::StrContains(line, "AUDIT_RESUMED")) ++gaps;
  }
  EXPECT_EQ(static_cast<int>(lines->size()), accepted.load() + 1 + gaps);
  // The outage happened: something was refused, and its gap recorded.
  EXPECT_GE(gaps, 1);
  EXPECT_LT(accepted.load(), 200);
  EXPECT_EQ((*log)->health().outages, static_cast<uint64_t>(gaps));
}

TEST(AuditLogTest, AProbeEndsAnOutageWithOnlyTheGapRecord) {
  const std::string path = TempPath("probe");
  FakeDisk disk;
  AuditLogOptions options;
  options.write = disk.Function();
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  (*log)->Probe();  // no outage: writes nothing
  EXPECT_EQ((*log)->last_sequence(), 0u);
  disk.set_full(true);
  EXPECT_FALSE((*log)->Append(Entry(1)).ok());
  (*log)->Probe();  // still full: still failing, nothing counted
  EXPECT_FALSE((*log)->health().writable);
  EXPECT_EQ((*log)->health().refused, 1u);
  disk.set_full(false);
  (*log)->Probe();
  EXPECT_TRUE((*log)->health().writable);
  EXPECT_EQ((*log)->health().failing_since, absl::InfinitePast());
  ExpectIntact(path, 1);
  auto lines = AuditLog::Read(path, 1, 10);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_THAT((*lines)[0], HasSubstr("AUDIT_RESUMED"));
  EXPECT_THAT((*lines)[0], HasSubstr("1 calls were refused"));
}

TEST(AuditLogTest, IntervalFailedSyncIsAnOutageWithItsGapRecord) {
  const std::string path = TempPath("intervalgap");
  FakeSync sync;
  auto log = AuditLog::Open(path, Interval(absl::Milliseconds(1), &sync));
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  sync.set_fail(true);
  ASSERT_TRUE(sync.WaitForCalls(1));
  // Bounded wait (a hang guard): the failed sync is seen by the log.
  for (int i = 0; i < 3000 && (*log)->health().writable; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  AuditHealth health = (*log)->health();
  EXPECT_FALSE(health.writable);
  EXPECT_THAT(health.error, HasSubstr("fdatasync"));
  EXPECT_EQ((*log)->Append(Entry(2)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ((*log)->health().refused, 1u);
  sync.set_fail(false);
  for (int i = 0; i < 3000 && !(*log)->health().writable; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  auto resumed = (*log)->Append(Entry(3));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 3u);  // 2 is the gap record
  auto lines = AuditLog::Read(path, 2, 10);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_THAT((*lines)[0], HasSubstr("AUDIT_RESUMED"));
  EXPECT_THAT((*lines)[0], HasSubstr("1 calls were refused"));
  EXPECT_EQ((*log)->health().failing_since, absl::InfinitePast());
}

TEST(AuditLogTest, FollowersReadOnlyAcceptedRecordsAndWaitThroughAnOutage) {
  const std::string path = TempPath("follow");
  FakeDisk disk;
  AuditLogOptions options;
  options.write = disk.Function();
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  AuditTail tail(path);
  // Bytes past the accepted size (a write in progress) are not returned.
  auto first = tail.Next(10, (*log)->accepted_size() - 5);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->empty());
  first = tail.Next(10, (*log)->accepted_size());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 1u);
  disk.set_full(true);
  EXPECT_FALSE((*log)->Append(Entry(2)).ok());
  // A follower waits out its timeout during an outage; it does not spin.
  const absl::Time start = absl::Now();
  EXPECT_EQ((*log)->WaitForNew(1, absl::Milliseconds(200)), 1u);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(190));
  auto none = tail.Next(10, (*log)->accepted_size());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(AuditLogTest, ALongTailWithNoRecordEndIsDamageNotATornRecord) {
  const std::string path = TempPath("zeroes");
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  }
  {
    int fd = open(path.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    const std::string zeroes(100 << 10, '\0');
    ASSERT_EQ(write(fd, zeroes.data(), zeroes.size()),
              static_cast<ssize_t>(zeroes.size()));
    close(fd);
  }
  const off_t size = FileSize(path);
  auto log = AuditLog::Open(path);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr("verify-audit"));
  EXPECT_EQ(FileSize(path), size) << "a damaged log must not be cut";
}

// ReadLines returns the log file's lines (without newlines).
std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& line : lines) out << line << "\n";
}

TEST(AuditLogTest, VerifyChecksOnlyTheRangeAsked) {
  // Finding: VerifyAuditLog's start_sequence and end_sequence were ignored.
  const std::string path = TempPath("range");
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok());
    for (int i = 1; i <= 10; ++i) ASSERT_TRUE((*log)->Append(Entry(i)).ok());
  }
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 10u);
  // Record 2 altered: a break before the range is not the range's.
  lines[1] = absl::StrReplaceAll(lines[1], {{"\"code\":\"OK\"", "\"code\":\"XX\""}});
  WriteLines(path, lines);

  auto range = AuditLog::Verify(path, UINT64_MAX, 5, 8);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->first_bad, 0u) << range->problem;
  EXPECT_EQ(range->first_sequence, 5u);
  EXPECT_EQ(range->records_checked, 4u);

  auto head = AuditLog::Verify(path, UINT64_MAX, 1, 3);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->first_bad, 2u);
  EXPECT_EQ(head->records_checked, 1u);

  // A record missing inside the range is a break, at its sequence.
  lines.erase(lines.begin() + 5);  // record 6
  WriteLines(path, lines);
  auto gap = AuditLog::Verify(path, UINT64_MAX, 5, 8);
  ASSERT_TRUE(gap.ok());
  EXPECT_EQ(gap->first_bad, 6u);
  EXPECT_THAT(gap->problem, HasSubstr("says seq 7 where 6 belongs"));
  // Starting at the record after the gap, the range is intact.
  auto after = AuditLog::Verify(path, UINT64_MAX, 7, 0);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->first_bad, 0u) << after->problem;
  EXPECT_EQ(after->records_checked, 4u);
}

TEST(AuditLogTest, VerifyReportsATornLastRecord) {
  // Finding: a full disk left `..."code":"OK"` with no newline at the end
  // of the log, and verification reported ok.
  const std::string path = TempPath("torn");
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Entry(1)).ok());
    ASSERT_TRUE((*log)->Append(Entry(2)).ok());
  }
  const off_t intact = FileSize(path);
  {
    int fd = open(path.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    const std::string torn = "{\"seq\":3,\"time\":\"x\",\"code\":\"OK\"";
    ASSERT_EQ(write(fd, torn.data(), torn.size()),
              static_cast<ssize_t>(torn.size()));
    close(fd);
  }
  auto verdict = AuditLog::Verify(path);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->records_checked, 2u);
  EXPECT_EQ(verdict->first_bad, 3u);
  EXPECT_EQ(verdict->torn_offset, static_cast<uint64_t>(intact));
  EXPECT_EQ(verdict->torn_bytes, 31u);
  EXPECT_THAT(verdict->problem, HasSubstr("record 3 is torn"));
  EXPECT_THAT(verdict->problem,
              HasSubstr(absl::StrCat("from offset ", intact)));
  // Checked only up to the intact part (as a live log is), it is intact.
  auto upto = AuditLog::Verify(path, intact);
  ASSERT_TRUE(upto.ok());
  EXPECT_EQ(upto->first_bad, 0u);
  EXPECT_EQ(upto->records_checked, 2u);

  // Opening the log sets the torn bytes aside and cuts them off.
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(FileSize(path), intact);
  ASSERT_TRUE((*log)->Append(Entry(3)).ok());
  ExpectIntact(path, 3);
  bool found = false;
  for (int delta = -2; delta <= 2 && !found; ++delta) {
    const std::string aside = absl::StrCat(
        path, ".torn-", absl::ToUnixSeconds(absl::Now()) + delta);
    if (FileSize(aside) == 31) found = true;
  }
  EXPECT_TRUE(found) << "no " << path << ".torn-* file of 31 bytes";
}

TEST(AuditLogTest, RecordsCarryTheirTimeAndEscapedFields) {
  for (AuditFsyncMode mode :
       {AuditFsyncMode::kEveryRecord, AuditFsyncMode::kInterval}) {
    const std::string path = TempPath("fields");
    AuditLogOptions options;
    options.fsync = mode;
    auto log = AuditLog::Open(path, options);
    ASSERT_TRUE(log.ok()) << log.status();
    AuditEntry e = Entry(1);
    e.principal = std::string("a\"b\\c\x01\x1f", 7);
    // Across several seconds' worth of records the time stays exact.
    std::vector<std::pair<absl::Time, absl::Time>> windows;
    for (int i = 0; i < 3; ++i) {
      const absl::Time before = absl::Now();
      ASSERT_TRUE((*log)->Append(e).ok());
      windows.emplace_back(before, absl::Now());
      absl::SleepFor(absl::Milliseconds(400));
    }
    auto lines = AuditLog::Read(path, 1, 10);
    ASSERT_TRUE(lines.ok()) << lines.status();
    ASSERT_EQ(lines->size(), 3u);
    for (size_t i = 0; i < lines->size(); ++i) {
      const std::string& line = (*lines)[i];
      EXPECT_THAT(line, HasSubstr(R"("principal":"a\"b\\c\u0001\u001f")"));
      const size_t at = line.find(R"("time":")");
      ASSERT_NE(at, std::string::npos) << line;
      const std::string text = line.substr(at + 8, 27);
      absl::Time t;
      std::string error;
      ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E6SZ", text, &t, &error))
          << text << ": " << error;
      EXPECT_EQ(text, absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t,
                                       absl::UTCTimeZone()));
      EXPECT_GE(t, absl::FromUnixMicros(absl::ToUnixMicros(windows[i].first)))
          << text;
      EXPECT_LE(t, windows[i].second) << text;
    }
    log->reset();
    ExpectIntact(path, 3);
  }
}

TEST(AuditLogTest, IntervalMustBePositive) {
  for (absl::Duration bad : {absl::ZeroDuration(), absl::Seconds(-1)}) {
    auto log = AuditLog::Open(TempPath("bad"), Interval(bad, nullptr));
    EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(log.status().message(), HasSubstr("fsync_interval"));
  }
}

// Found by //tests/fuzz:audit_log_fuzzer: a log that is one empty line (or
// that is after cutting a torn tail) made Open trim an empty line.
TEST(AuditLogTest, OpenRefusesALogOfAnEmptyLineAsDamaged) {
  for (const char* content : {"\n", "\ntorn tail", "\n\n"}) {
    const std::string path = TempPath("emptyline");
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, content, strlen(content)),
              static_cast<ssize_t>(strlen(content)));
    close(fd);
    auto log = AuditLog::Open(path);
    EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss) << content;
    EXPECT_THAT(log.status().message(), HasSubstr("is damaged"));
  }
}

}  // namespace
}  // namespace keyward::daemon
