#include "daemon/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keyward::daemon {
namespace {

using ::testing::HasSubstr;

std::string TempPath(absl::string_view name) {
  static int n = 0;
  std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/", name, n++, ".log");
  unlink(path.c_str());
  return path;
}

AuditEntry Entry(int i) {
  AuditEntry e;
  e.principal = "unix:uid:1000";
  e.method = "CryptoService/Sign";
  e.operation = "SIGN";
  e.resource = absl::StrCat("keys/k", i);
  e.version = 1;
  e.code = "OK";
  e.request_id = absl::StrCat("req-", i);
  return e;
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
  EXPECT_EQ(*seq, 2u);
  log->reset();

  ExpectIntact(path, 2);
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
  // Final: the file may end in a torn record now.
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
