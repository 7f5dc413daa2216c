// The audit log's readers: followers (AuditTail), Read and Verify.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>


#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "daemon/audit_files.h"
#include "daemon/audit_log.h"
#include "daemon/audit_record.h"
#include "keystore/crypto/digest.h"

namespace keyward::daemon {

using audit_internal::AuditFile;
using audit_internal::FirstSequence;
using audit_internal::kRotationHeader;
using audit_internal::LineReader;
using audit_internal::ReadPrev;
using audit_internal::RotatedFiles;
using audit_internal::ReadSeq;
using audit_internal::SplitRecord;
using audit_internal::ZeroHash;

AuditTail::AuditTail(std::string path, uint64_t start)
    : path_(std::move(path)), start_(start) {}

AuditTail::~AuditTail() {
  if (fd_ >= 0) close(fd_);
}

absl::Status AuditTail::OpenNext(uint64_t seq) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  reader_.reset();
  offset_ = 0;
  buffer_.clear();
  // The newest file whose first record is at or before `seq` holds it (0:
  // the live file).
  std::vector<AuditFile> files;
  if (seq > 0) files = RotatedFiles(path_);
  size_t chosen = files.size();  // the live file
  uint64_t first = 0;
  if (seq > 0 && !(FirstSequence(path_, &first) && first <= seq)) {
    for (size_t i = files.size(); i-- > 0;) {
      if (FirstSequence(files[i].path, &first) && first <= seq) {
        chosen = i;
        break;
      }
    }
    if (chosen == files.size() && !files.empty() && last_seq_ == 0) {
      chosen = 0;  // a start before every record kept: the oldest file
    } else if (chosen == files.size() && last_seq_ > 0 &&
               !(FirstSequence(path_, &first) && first == seq)) {
      return absl::DataLossError(absl::StrCat(
          "the audit records after sequence ", last_seq_,
          " are not in any file of the log (removed by retention before "
          "they were read?); follow again from the oldest record kept"));
    }
  }
  if (chosen < files.size()) {
    reader_ = std::make_unique<LineReader>();
    if (!reader_->Open(files[chosen].path) &&
        !reader_->Open(files[chosen].path + ".gz")) {
      reader_.reset();
      return absl::NotFoundError(absl::StrCat(
          "cannot read the audit log file '", files[chosen].path, "'"));
    }
    return absl::OkStatus();
  }
  fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the audit log '", path_, "'"));
  }
  struct stat st;
  inode_ = fstat(fd_, &st) == 0 ? st.st_ino : 0;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> AuditTail::Next(size_t max,
                                                         AuditPosition live) {
  bool just_opened = false;
  if (fd_ < 0 && reader_ == nullptr) {
    absl::Status opened = OpenNext(start_);
    if (!opened.ok()) return opened;
    just_opened = true;
  }
  std::vector<std::string> lines;
  // take returns false for a record that does not follow the last one
  // (the live file was rotated again between finding and opening it): the
  // tail then looks again for the file that holds the next record.
  bool reopened = false;
  auto take = [&](std::string line) {
    uint64_t seq = 0;
    const bool numbered = ReadSeq(line, &seq);
    if (numbered && seq < start_) return true;  // before the tail's start
    if (numbered && last_seq_ > 0 && seq > last_seq_ + 1) return false;
    if (numbered) last_seq_ = seq;
    lines.push_back(std::move(line));
    return true;
  };
  auto missing = [&] {
    return absl::DataLossError(absl::StrCat(
        "the audit log has no record ", last_seq_ + 1, " after record ",
        last_seq_, "; run `keyward audit verify`"));
  };
  auto reopen = [&]() -> absl::Status {
    if (reopened) return missing();
    reopened = true;
    just_opened = true;
    // Looking again finds another file only if the live one was rotated
    // meanwhile; the same live file again means the gap is in it (read
    // again, it would hand out records already returned).
    const ino_t was_reading = reader_ == nullptr ? inode_ : 0;
    absl::Status opened = OpenNext(last_seq_ + 1);
    if (opened.ok() && reader_ == nullptr && was_reading != 0 &&
        inode_ == was_reading) {
      return missing();
    }
    return opened;
  };
  while (lines.size() < max) {
    if (reader_ != nullptr) {
      // A rotated file: complete, read to its end, then the next file.
      std::string line;
      bool complete = false;
      if (reader_->Next(&line, &complete) && complete) {
        if (take(std::move(line))) continue;
        absl::Status opened = reopen();
        if (!opened.ok()) return opened;
        continue;
      }
      absl::Status opened = OpenNext(last_seq_ + 1);
      if (!opened.ok()) return opened;
      just_opened = true;
      continue;
    }
    // The live file, or the one that was live when it was opened. A file
    // opened now that is not the writer's live one is newer than `live`:
    // nothing of it is read until a later call.
    const bool is_live = live.inode == 0 || live.inode == inode_;
    uint64_t limit = is_live ? live.size : UINT64_MAX;
    if (!is_live && just_opened) limit = 0;
    struct stat st;
    if (is_live && fstat(fd_, &st) == 0 &&
        static_cast<uint64_t>(st.st_size) < offset_) {
      // The writer cut records off after a failed write or sync (their
      // calls were refused); what follows is not what this follower has
      // read past.
      return absl::AbortedError(absl::StrCat(
          "the audit log was cut back after a failed write (records after "
          "sequence ", last_seq_, " were refused and removed); follow again "
          "from sequence ", last_seq_ + 1));
    }
    size_t at = 0;  // the first byte of buffer_ not returned
    bool at_end = false;
    bool gap = false;
    while (lines.size() < max) {
      size_t newline = buffer_.find('\n', at);
      if (newline == std::string::npos) {
        buffer_.erase(0, at);
        at = 0;
        if (offset_ >= limit) break;
        char chunk[64 << 10];
        const size_t want = std::min<uint64_t>(sizeof(chunk), limit - offset_);
        ssize_t n = pread(fd_, chunk, want, static_cast<off_t>(offset_));
        if (n <= 0) {
          at_end = true;  // nothing more for now
          break;
        }
        offset_ += n;
        buffer_.append(chunk, n);
        continue;
      }
      if (!take(buffer_.substr(at, newline - at))) {
        gap = true;
        break;
      }
      at = newline + 1;
    }
    if (gap) {
      absl::Status opened = reopen();
      if (!opened.ok()) return opened;
      continue;
    }
    buffer_.erase(0, at);
    if (is_live || !at_end) break;
    // A file rotated away and read to its end: go on with the next one.
    absl::Status opened = OpenNext(last_seq_ + 1);
    if (!opened.ok()) return opened;
    just_opened = true;
  }
  return lines;
}

namespace {

// LogFiles: the rotated files of the log at `path`, oldest first, then the
// live file (generation 0).
std::vector<AuditFile> LogFiles(const std::string& path) {
  std::vector<AuditFile> files = RotatedFiles(path);
  files.push_back(AuditFile{0, path, false});
  return files;
}

// OpenFile opens `file` into `reader` (the live file up to `max_bytes`); a
// rotated file compressed meanwhile is found under its new name.
bool OpenFile(const AuditFile& file, LineReader* reader,
              uint64_t max_bytes = UINT64_MAX) {
  if (file.generation == 0) return reader->Open(file.path, max_bytes);
  return reader->Open(file.path) ||
         (file.generation != 0 && !file.compressed &&
          reader->Open(file.path + ".gz"));
}

bool IsRotationHeader(absl::string_view line) {
  return absl::StrContains(
      line, absl::StrCat("\"operation\":\"", kRotationHeader, "\""));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> AuditLog::Read(const std::string& path,
                                                       uint64_t start,
                                                       size_t max,
                                                       uint64_t max_bytes) {
  const std::vector<AuditFile> files = LogFiles(path);
  // Start with the newest file whose first record is at or before `start`.
  size_t from = 0;
  for (size_t i = files.size(); i-- > 1;) {
    uint64_t first = 0;
    if (FirstSequence(files[i].path, &first) && first <= start) {
      from = i;
      break;
    }
  }
  std::vector<std::string> lines;
  for (size_t i = from; i < files.size() && lines.size() < max; ++i) {
    const bool live = files[i].generation == 0;
    LineReader reader;
    if (!OpenFile(files[i], &reader, max_bytes)) {
      if (live) {
        return absl::NotFoundError(
            absl::StrCat("cannot read the audit log '", path, "'"));
      }
      continue;  // removed by retention meanwhile
    }
    std::string line;
    bool complete = false;
    while (lines.size() < max && reader.Next(&line, &complete)) {
      if (!complete) break;  // torn, or past max_bytes
      uint64_t seq = 0;
      if (ReadSeq(line, &seq) && seq >= start) lines.push_back(line);
    }
  }
  return lines;
}

absl::StatusOr<AuditLog::Verdict> AuditLog::Verify(const std::string& path,
                                                  uint64_t max_bytes,
                                                  uint64_t start,
                                                  uint64_t end) {
  std::vector<AuditFile> files = LogFiles(path);
  if (start > 1) {
    // Skip the rotated files wholly before the range (as Read does).
    for (size_t i = files.size(); i-- > 1;) {
      uint64_t first = 0;
      if (FirstSequence(files[i].path, &first) && first <= start) {
        files.erase(files.begin(), files.begin() + i);
        break;
      }
    }
  }
  Verdict verdict;
  bool skipped = false;  // records before `start` were passed over
  verdict.first_sequence = 1;
  std::string prev = ZeroHash();
  bool started = false;  // a record was checked: the chain's start is set
  for (const AuditFile& file : files) {
    const bool live = file.generation == 0;
    LineReader reader;
    if (!OpenFile(file, &reader, max_bytes)) {
      if (live) {
        return absl::NotFoundError(
            absl::StrCat("cannot read the audit log '", path, "'"));
      }
      if (!started) continue;  // the oldest, removed by retention meanwhile
      verdict.first_bad = verdict.first_sequence + verdict.records_checked;
      verdict.file = file.path;
      verdict.problem = absl::StrCat("record ", verdict.first_bad, ": the file '",
                                     file.path, "' that holds it cannot be read");
      return verdict;
    }
    ++verdict.files_checked;
    std::string line;
    bool newline = false;
    while (reader.Next(&line, &newline)) {
      if (end != 0 && started &&
          verdict.first_sequence + verdict.records_checked > end) {
        return verdict;  // the range is checked
      }
      const uint64_t offset = reader.offset();
      if (!newline && reader.at_limit()) {
        break;  // past what the caller asked to check (a live log's tail)
      }
      absl::string_view body, hash_hex;
      uint64_t seq = 0;
      std::string stated_prev;
      const bool parsed = SplitRecord(line, &body, &hash_hex) &&
                          ReadSeq(line, &seq) && ReadPrev(body, &stated_prev);
      if (!started && newline && parsed && seq < start) {
        skipped = true;  // before the range: not checked
        continue;
      }
      if (!started && skipped && newline && parsed) {
        // The range's first record: its stated prev is trusted, and a
        // record missing between `start` and it is a break.
        verdict.first_sequence = start;
        prev = stated_prev;
      } else if (!started && newline && parsed && seq > 1 &&
                 (IsRotationHeader(line) || seq == start)) {
        // The oldest file kept begins with a rotation header (older files
        // were removed), or the range starts here: the chain is checked
        // from its stated prev.
        verdict.first_sequence = seq;
        prev = stated_prev;
      }
      started = true;
      const uint64_t expected = verdict.first_sequence + verdict.records_checked;
      std::string problem;
      if (!newline) {
        verdict.torn_offset = offset;
        verdict.torn_bytes = line.size();
        problem = live ? absl::StrCat(
                             "record ", expected, " is torn: the last ",
                             line.size(), " bytes of the log, from offset ",
                             offset,
                             ", end without a newline (a write cut by a crash "
                             "or a full disk; never acknowledged); keywardd "
                             "sets them aside to '",
                             path, ".torn-*' and cuts them off when it next "
                             "opens the log")
                       : absl::StrCat("record ", expected, " ('", file.path,
                                      "', offset ", offset,
                                      ") is torn: the rotated file ends "
                                      "without a newline (it was damaged)");
      } else if (!parsed) {
        problem = "it is not a well-formed record";
      } else if (seq != expected) {
        problem = absl::StrCat("it says seq ", seq, " where ", expected, " belongs");
      } else if (stated_prev != prev) {
        problem = "its prev hash does not match the record before it";
      } else {
        std::string hash = crypto::Sha256(absl::StrCat(prev, body));
        if (absl::BytesToHexString(hash) != hash_hex) {
          problem = "its hash does not match its contents (it was altered)";
        }
        prev = hash;
      }
      if (!problem.empty()) {
        verdict.first_bad = expected;
        verdict.file = file.path;
        verdict.offset = offset;
        verdict.problem =
            newline ? absl::StrCat("record ", expected, " ('", file.path,
                                   "', offset ", offset, "): ", problem)
                    : problem;
        return verdict;
      }
      ++verdict.records_checked;
    }
    if (reader.error()) {
      verdict.first_bad = verdict.first_sequence + verdict.records_checked;
      verdict.file = file.path;
      verdict.problem = absl::StrCat(
          "record ", verdict.first_bad, ": the file '", file.path,
          "' cannot be read past offset ", reader.offset(),
          " (a damaged compressed file?)");
      return verdict;
    }
  }
  return verdict;
}

}  // namespace keyward::daemon
