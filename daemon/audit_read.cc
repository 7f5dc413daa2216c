// The audit log's readers: followers (AuditTail), Read and Verify.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "daemon/audit_log.h"
#include "daemon/audit_record.h"
#include "keystore/crypto/digest.h"

namespace keyward::daemon {

using audit_internal::ReadPrev;
using audit_internal::ReadSeq;
using audit_internal::SplitRecord;
using audit_internal::ZeroHash;

AuditTail::~AuditTail() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::vector<std::string>> AuditTail::Next(size_t max,
                                                         uint64_t limit) {
  if (fd_ < 0) {
    fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return absl::NotFoundError(
          absl::StrCat("cannot read the audit log '", path_, "'"));
    }
  }
  struct stat st;
  if (fstat(fd_, &st) == 0 && static_cast<uint64_t>(st.st_size) < offset_) {
    // The writer cut records off after a failed write or sync (their calls
    // were refused); what follows is not what this follower has read past.
    return absl::AbortedError(absl::StrCat(
        "the audit log was cut back after a failed write (records after "
        "sequence ", last_seq_, " were refused and removed); follow again "
        "from sequence ", last_seq_ + 1));
  }
  std::vector<std::string> lines;
  size_t at = 0;  // the first byte of buffer_ not returned
  while (lines.size() < max) {
    size_t newline = buffer_.find('\n', at);
    if (newline == std::string::npos) {
      buffer_.erase(0, at);
      at = 0;
      if (offset_ >= limit) break;
      char chunk[64 << 10];
      const size_t want = std::min<uint64_t>(sizeof(chunk), limit - offset_);
      ssize_t n = pread(fd_, chunk, want, static_cast<off_t>(offset_));
      if (n <= 0) break;  // nothing more for now
      offset_ += n;
      buffer_.append(chunk, n);
      continue;
    }
    lines.push_back(buffer_.substr(at, newline - at));
    ReadSeq(lines.back(), &last_seq_);
    at = newline + 1;
  }
  buffer_.erase(0, at);
  return lines;
}

absl::StatusOr<std::vector<std::string>> AuditLog::Read(const std::string& path,
                                                       uint64_t start,
                                                       size_t max,
                                                       uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read the audit log '", path, "'"));
  }
  std::vector<std::string> lines;
  std::string line;
  uint64_t read = 0;
  while (lines.size() < max && std::getline(in, line)) {
    read += line.size() + 1;
    if (read > max_bytes || in.eof()) break;  // past the limit, or torn
    uint64_t seq = 0;
    if (ReadSeq(line, &seq) && seq >= start) lines.push_back(line);
  }
  return lines;
}

absl::StatusOr<AuditLog::Verdict> AuditLog::Verify(const std::string& path,
                                                  uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read the audit log '", path, "'"));
  }
  Verdict verdict;
  std::string prev = ZeroHash();
  std::string line;
  uint64_t offset = 0;  // where `line` starts
  while (offset < max_bytes && std::getline(in, line)) {
    const uint64_t expected = verdict.records_checked + 1;
    const bool newline = !in.eof();
    if (offset + line.size() + (newline ? 1 : 0) > max_bytes) {
      break;  // past what the caller asked to check (a live log's tail)
    }
    if (!newline) {
      verdict.first_bad = expected;
      verdict.torn_offset = offset;
      verdict.torn_bytes = line.size();
      verdict.problem = absl::StrCat(
          "record ", expected, " is torn: the last ", line.size(),
          " bytes of the log, from offset ", offset,
          ", end without a newline (a write cut by a crash or a full disk; "
          "never acknowledged); keywardd sets them aside to '", path,
          ".torn-*' and cuts them off when it next opens the log");
      return verdict;
    }
    offset += line.size() + 1;
    absl::string_view body, hash_hex;
    uint64_t seq = 0;
    std::string stated_prev;
    std::string problem;
    if (!SplitRecord(line, &body, &hash_hex) || !ReadSeq(line, &seq) ||
        !ReadPrev(body, &stated_prev)) {
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
      verdict.problem = absl::StrCat("record ", expected, " (offset ",
                                     offset - line.size() - 1, "): ", problem);
      return verdict;
    }
    verdict.records_checked = expected;
  }
  return verdict;
}

}  // namespace keyward::daemon
