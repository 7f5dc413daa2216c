// AuditLog rotation (audit_log.h, "Rotation"): the chain across files,
// rotation as a fail-closed audit write, compression, retention, shipped
// markers, followers across rotations, and recovery from an interrupted
// rotation.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/audit_log.h"
#include "daemon/audit_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keyward::daemon {
namespace {

using ::testing::HasSubstr;
using testing::Entry;
using testing::FakeDisk;

// A fresh directory per test, holding "audit.log" and its rotated files.
std::string NewLogPath() {
  static int n = 0;
  const std::string dir =
      absl::StrCat(getenv("TEST_TMPDIR"), "/rotation", n++);
  mkdir(dir.c_str(), 0700);
  return dir + "/audit.log";
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}


// Field reads one string field of a record line.
std::string Field(const std::string& line, const std::string& name) {
  const std::string key = absl::StrCat("\"", name, "\":\"");
  const size_t at = line.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return line.substr(from, line.find('"', from) - from);
}

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void ExpectIntactAcross(const std::string& path, uint64_t records,
                        uint64_t files, uint64_t first = 1) {
  auto verdict = AuditLog::Verify(path);
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_EQ(verdict->first_bad, 0u) << verdict->problem;
  EXPECT_EQ(verdict->records_checked, records);
  EXPECT_EQ(verdict->files_checked, files);
  EXPECT_EQ(verdict->first_sequence, first);
}

TEST(AuditRotationTest, RotatesBySizeAndTheChainRunsOnAcrossFiles) {
  const std::string path = NewLogPath();
  AuditLogOptions options;
  options.rotate_bytes = 2000;  // about six records a file
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 1; i <= 40; ++i) ASSERT_TRUE((*log)->Append(Entry(i)).ok());
  const uint64_t last = (*log)->last_sequence();
  log->reset();
  int rotated = 0;
  while (Exists(absl::StrCat(path, ".", rotated + 1))) ++rotated;
  ASSERT_GE(rotated, 5);
  // Every file but the first starts with a header whose prev is the hash
  // of the file before's last record, and names that file.
  std::vector<std::string> all;
  for (int g = 1; g <= rotated + 1; ++g) {
    const std::string file =
        g <= rotated ? absl::StrCat(path, ".", g) : path;
    std::vector<std::string> lines = Lines(file);
    ASSERT_FALSE(lines.empty()) << file;
    if (g <= rotated) {
      EXPECT_LE(Contents(file).size(), 2000u + 400u) << file;
    }
    if (g > 1) {
      EXPECT_EQ(Field(lines[0], "operation"), "AUDIT_ROTATED");
      EXPECT_EQ(Field(lines[0], "resource"), absl::StrCat("audit.log.", g - 1));
      EXPECT_EQ(Field(lines[0], "prev"), Field(all.back(), "hash"));
      EXPECT_THAT(Field(lines[0], "note"), HasSubstr(Field(all.back(), "hash")));
    }
    all.insert(all.end(), lines.begin(), lines.end());
  }
  ASSERT_EQ(all.size(), last);
  ExpectIntactAcross(path, last, rotated + 1);
  // Read returns them all, in order, from whichever file holds them.
  auto read = AuditLog::Read(path, 1, 1000);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, all);
  auto tail = AuditLog::Read(path, last - 1, 1000);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0], all[last - 2]);

  // Reopened, the log goes on with the chain and the next generation.
  log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 41; i <= 50; ++i) ASSERT_TRUE((*log)->Append(Entry(i)).ok());
  EXPECT_TRUE(Exists(absl::StrCat(path, ".", rotated + 1)));
  ExpectIntactAcross(path, (*log)->last_sequence(),
                     2 + rotated + (Exists(absl::StrCat(path, ".", rotated + 2)) ? 1 : 0));
}

TEST(AuditRotationTest, RotateOnDemandSaysWhatItDidAndRefusesAnEmptyFile) {
  const std::string path = NewLogPath();
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->Rotate().status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  ASSERT_TRUE((*log)->Append(Entry(2)).ok());
  auto rotated = (*log)->Rotate();
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->rotated_file, path + ".1");
  EXPECT_EQ(rotated->last_sequence, 2u);
  EXPECT_EQ(rotated->first_sequence, 3u);
  EXPECT_EQ(Lines(path + ".1").size(), 2u);
  // The new file holds only its header: nothing to rotate yet.
  auto again = (*log)->Rotate();
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("nothing to rotate"));
  EXPECT_FALSE(Exists(path + ".2"));
  ASSERT_TRUE((*log)->Append(Entry(3)).ok());
  ExpectIntactAcross(path, 4, 2);
  // The live file's position names the new file.
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ((*log)->position().inode, static_cast<uint64_t>(st.st_ino));
  EXPECT_EQ((*log)->position().size, static_cast<uint64_t>(st.st_size));

  auto device = AuditLog::Open("/dev/full");
  ASSERT_TRUE(device.ok());
  EXPECT_EQ((*device)->Rotate().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(AuditRotationTest, RequestRotateRotatesInTheBackground) {
  // SIGHUP's path: returns at once; the housekeeping thread rotates.
  const std::string path = NewLogPath();
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  (*log)->RequestRotate();
  // Bounded wait (a hang guard, not a timing assertion).
  for (int i = 0; i < 3000 && !Exists(path + ".1"); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(Exists(path + ".1"));
  ASSERT_TRUE((*log)->Append(Entry(2)).ok());
  ExpectIntactAcross(path, 3, 2);
}

TEST(AuditRotationTest, RotatesByAge) {
  const std::string path = NewLogPath();
  AuditLogOptions options;
  options.rotate_interval = absl::Milliseconds(300);
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  for (int i = 0; i < 3000 && !Exists(path + ".1"); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(Exists(path + ".1"));
  // A file holding only its header is not rotated again by age.
  absl::SleepFor(absl::Milliseconds(700));
  EXPECT_FALSE(Exists(path + ".2"));
  ExpectIntactAcross(path, 2, 2);
}

TEST(AuditRotationTest, ARotationOnAFullDiskFailsClosedAndRecovers) {
  const std::string path = NewLogPath();
  FakeDisk disk;
  AuditLogOptions options;
  options.write = disk.Function();
  options.rotate_bytes = 1000;
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  uint64_t accepted = 0;
  while (Contents(path).size() < 1000) {
    ASSERT_TRUE((*log)->Append(Entry(++accepted)).ok());
  }
  const std::string before = Contents(path);

  // The next write is due to rotate: its header cannot be written.
  disk.set_full(true);
  auto refused = (*log)->Append(Entry(100));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*log)->Rotate().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*log)->Append(Entry(101)).status().code(),
            absl::StatusCode::kUnavailable);
  AuditHealth health = (*log)->health();
  EXPECT_FALSE(health.writable);
  EXPECT_THAT(health.error, HasSubstr("No space left on device"));
  EXPECT_EQ(health.refused, 2u);
  // Nothing moved, nothing left half-made; the old file is as it was.
  EXPECT_EQ(Contents(path), before);
  EXPECT_FALSE(Exists(path + ".1"));
  EXPECT_FALSE(Exists(path + ".rotating"));
  ExpectIntactAcross(path, accepted, 1);

  disk.set_full(false);
  auto resumed = (*log)->Append(Entry(102));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_TRUE((*log)->health().writable);
  // The old file was rotated whole; the new one starts with the header,
  // then the gap record, then the call made.
  EXPECT_EQ(Contents(path + ".1"), before);
  std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Field(lines[0], "operation"), "AUDIT_ROTATED");
  EXPECT_EQ(Field(lines[1], "operation"), "AUDIT_RESUMED");
  EXPECT_THAT(Field(lines[1], "note"), HasSubstr("2 calls were refused"));
  EXPECT_EQ(Field(lines[2], "resource"), "keys/k102");
  EXPECT_EQ(*resumed, accepted + 3);
  ExpectIntactAcross(path, accepted + 3, 2);
}

TEST(AuditRotationTest, CompressesAndKeepsTheNewestFiles) {
  const std::string path = NewLogPath();
  AuditLogOptions options;
  options.compress = true;
  options.keep_files = 2;
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE((*log)->Append(Entry(i)).ok());
    ASSERT_TRUE((*log)->Rotate().ok());
  }
  (*log)->Housekeep();
  for (int g = 1; g <= 5; ++g) {
    EXPECT_FALSE(Exists(absl::StrCat(path, ".", g))) << g;
    EXPECT_EQ(Exists(absl::StrCat(path, ".", g, ".gz")), g >= 4) << g;
  }
  const std::string gz = Contents(path + ".5.gz");
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  // The files kept verify as one chain, from the header of the oldest.
  auto verdict = AuditLog::Verify(path);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->first_bad, 0u) << verdict->problem;
  EXPECT_EQ(verdict->files_checked, 3u);
  EXPECT_EQ(verdict->first_sequence, 63u);  // files of 20, 21, 21 removed
  EXPECT_EQ(verdict->first_sequence + verdict->records_checked - 1,
            (*log)->last_sequence());
  auto read = AuditLog::Read(path, 1, 1000);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->size(), verdict->records_checked);
}

TEST(AuditRotationTest, KeepAgeRemovesOldFilesByTheirTimeEvenCompressed) {
  const std::string path = NewLogPath();
  AuditLogOptions options;
  options.compress = true;
  options.keep_age = absl::Hours(24);
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE((*log)->Append(Entry(round)).ok());
    ASSERT_TRUE((*log)->Rotate().ok());
  }
  (*log)->Housekeep();  // all compressed, none old
  for (int g = 1; g <= 3; ++g) {
    ASSERT_TRUE(Exists(absl::StrCat(path, ".", g, ".gz"))) << g;
  }
  // Files 1 and 2 last changed two days ago; compression kept their times.
  const struct timespec old_times[2] = {
      {absl::ToUnixSeconds(absl::Now() - absl::Hours(48)), 0},
      {absl::ToUnixSeconds(absl::Now() - absl::Hours(48)), 0}};
  for (int g = 1; g <= 2; ++g) {
    ASSERT_EQ(utimensat(AT_FDCWD, absl::StrCat(path, ".", g, ".gz").c_str(),
                        old_times, 0), 0);
  }
  (*log)->Housekeep();
  EXPECT_FALSE(Exists(path + ".1.gz"));
  EXPECT_FALSE(Exists(path + ".2.gz"));
  EXPECT_TRUE(Exists(path + ".3.gz"));
  auto verdict = AuditLog::Verify(path);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->first_bad, 0u) << verdict->problem;
  EXPECT_EQ(verdict->first_sequence, 4u);
}

TEST(AuditRotationTest, RequireShippedRemovesOnlyMarkedFilesOldestFirst) {
  const std::string path = NewLogPath();
  AuditLogOptions options;
  options.keep_files = 1;
  options.require_shipped = true;
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE((*log)->Append(Entry(round)).ok());
    ASSERT_TRUE((*log)->Rotate().ok());
  }
  (*log)->Housekeep();
  for (int g = 1; g <= 3; ++g) EXPECT_TRUE(Exists(absl::StrCat(path, ".", g)));
  // A shipped file behind an unshipped one stays: the chain kept is whole.
  std::ofstream(path + ".2.shipped");
  (*log)->Housekeep();
  EXPECT_TRUE(Exists(path + ".1"));
  EXPECT_TRUE(Exists(path + ".2"));
  std::ofstream(path + ".1.shipped");
  (*log)->Housekeep();
  EXPECT_FALSE(Exists(path + ".1"));
  EXPECT_FALSE(Exists(path + ".1.shipped"));
  EXPECT_FALSE(Exists(path + ".2"));
  EXPECT_FALSE(Exists(path + ".2.shipped"));
  EXPECT_TRUE(Exists(path + ".3"));  // within keep_files
  auto verdict = AuditLog::Verify(path);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->first_bad, 0u) << verdict->problem;
  EXPECT_EQ(verdict->files_checked, 2u);
}

TEST(AuditRotationTest, VerifyNamesTheFileAndOffsetOfABreak) {
  const std::string path = NewLogPath();
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok());
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*log)->Append(Entry(i)).ok());
    ASSERT_TRUE((*log)->Rotate().ok());
  }
  log->reset();
  // Files .1 (records 1-3), .2 (4-7), .3 (8-11), live (12).
  std::string second = Contents(path + ".2");
  const size_t line2 = second.find('\n') + 1;  // record 5
  const size_t at = second.find("keys/k", line2);
  ASSERT_NE(at, std::string::npos);
  second[at + 6] = '9';
  std::ofstream(path + ".2", std::ios::binary | std::ios::trunc) << second;
  auto verdict = AuditLog::Verify(path);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->first_bad, 5u);
  EXPECT_EQ(verdict->records_checked, 4u);
  EXPECT_EQ(verdict->file, path + ".2");
  EXPECT_EQ(verdict->offset, line2);
  EXPECT_THAT(verdict->problem, HasSubstr(absl::StrCat(
                                    "'", path, ".2', offset ", line2)));
  EXPECT_THAT(verdict->problem, HasSubstr("altered"));

  // A file missing in the middle breaks the chain at the next one.
  unlink((path + ".2").c_str());
  verdict = AuditLog::Verify(path);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->first_bad, 4u);
  EXPECT_EQ(verdict->file, path + ".3");
  EXPECT_EQ(verdict->offset, 0u);
  EXPECT_THAT(verdict->problem, HasSubstr("it says seq 8 where 4 belongs"));
}

TEST(AuditRotationTest, FollowersGoOnAcrossRotations) {
  const std::string path = NewLogPath();
  AuditLogOptions options;
  options.compress = true;
  auto log = AuditLog::Open(path, options);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  ASSERT_TRUE((*log)->Rotate().ok());
  (*log)->Housekeep();  // audit.log.1.gz
  ASSERT_TRUE(Exists(path + ".1.gz"));
  ASSERT_TRUE((*log)->Append(Entry(2)).ok());
  // One follower from record 1 (in a compressed file), one attached to the
  // live file before it is rotated.
  AuditTail from_start(path, 1);
  AuditTail live(path);
  std::vector<uint64_t> seen_start, seen_live;
  auto drain = [&](AuditTail& tail, std::vector<uint64_t>* seen) {
    auto lines = tail.Next(1000, (*log)->position());
    ASSERT_TRUE(lines.ok()) << lines.status();
    for (const std::string& line : *lines) {
      uint64_t seq = 0;
      ASSERT_TRUE(absl::SimpleAtoi(
          line.substr(7, line.find(',') - 7), &seq)) << line;
      seen->push_back(seq);
    }
  };
  drain(live, &seen_live);
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE((*log)->Append(Entry(3)).ok());
    ASSERT_TRUE((*log)->Rotate().ok());
    ASSERT_TRUE((*log)->Append(Entry(4)).ok());
    if (round == 1) (*log)->Housekeep();  // compressed under the followers
    drain(from_start, &seen_start);
  }
  drain(live, &seen_live);
  const uint64_t last = (*log)->last_sequence();
  std::vector<uint64_t> all;
  for (uint64_t s = 1; s <= last; ++s) all.push_back(s);
  EXPECT_EQ(seen_start, all);
  EXPECT_EQ(seen_live, std::vector<uint64_t>(all.begin() + 1, all.end()));
}

TEST(AuditRotationTest, OpenCleansUpAnInterruptedRotation) {
  const std::string path = NewLogPath();
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Entry(1)).ok());
    ASSERT_TRUE((*log)->Rotate().ok());
    ASSERT_TRUE((*log)->Append(Entry(2)).ok());
  }
  // A crash after the link and before the rename: the live file is also
  // "audit.log.2", and the new file (never accepted) is beside it.
  ASSERT_EQ(link(path.c_str(), (path + ".2").c_str()), 0);
  std::ofstream(path + ".rotating") << "{\"seq\":4}\n";
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_FALSE(Exists(path + ".2"));
  EXPECT_FALSE(Exists(path + ".rotating"));
  ASSERT_TRUE((*log)->Append(Entry(3)).ok());
  ASSERT_TRUE((*log)->Rotate().ok());
  EXPECT_TRUE(Exists(path + ".2"));
  ExpectIntactAcross(path, 5, 3);
}

}  // namespace
}  // namespace keyward::daemon
