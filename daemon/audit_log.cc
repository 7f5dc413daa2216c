#include "daemon/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/log.h"
#include "keystore/crypto/digest.h"

namespace keyward::daemon {
namespace {

constexpr absl::string_view kHashField = ",\"hash\":\"";
const std::string& ZeroHash() {
  static const std::string* zero = new std::string(32, '\0');
  return *zero;
}

std::string Json(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      absl::StrAppend(&out, "\\u00",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(&c), 1)));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Splits a record line into (body, hash hex): body is what the hash covers.
bool SplitRecord(absl::string_view line, absl::string_view* body,
                 absl::string_view* hash_hex) {
  size_t at = line.rfind(kHashField);
  if (at == absl::string_view::npos || !absl::EndsWith(line, "\"}")) {
    return false;
  }
  *body = line.substr(0, at);
  *hash_hex = line.substr(at + kHashField.size(),
                          line.size() - at - kHashField.size() - 2);
  return hash_hex->size() == 64;
}

bool ReadSeq(absl::string_view line, uint64_t* seq) {
  constexpr absl::string_view kSeq = "{\"seq\":";
  if (!absl::StartsWith(line, kSeq)) return false;
  absl::string_view rest = line.substr(kSeq.size());
  return absl::SimpleAtoi(rest.substr(0, rest.find(',')), seq);
}

bool ReadPrev(absl::string_view body, std::string* prev) {
  constexpr absl::string_view kPrev = ",\"prev\":\"";
  size_t at = body.rfind(kPrev);
  if (at == absl::string_view::npos) return false;
  absl::string_view hex = body.substr(at + kPrev.size());
  if (hex.size() != 65 || hex.back() != '"') return false;
  *prev = absl::HexStringToBytes(hex.substr(0, 64));
  return true;
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

}  // namespace

AuditLog::AuditLog(std::string path, int fd, uint64_t seq,
                   std::string last_hash, AuditLogOptions options)
    : path_(std::move(path)),
      fd_(fd),
      options_(std::move(options)),
      next_seq_(seq + 1),
      last_hash_(std::move(last_hash)),
      written_(seq),
      durable_(seq),
      last_sync_(absl::Now()) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    const std::string& path, AuditLogOptions options) {
  if (options.fsync == AuditFsyncMode::kInterval &&
      options.fsync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit fsync_interval = ",
                     absl::FormatDuration(options.fsync_interval),
                     " is not valid: it must be positive"));
  }
  int fd = open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open the audit log '",
                                               path, "': ", strerror(errno)));
  }
  // Find the last complete record. A torn tail (a crash mid-write) was never
  // acknowledged: cut it off.
  struct stat st;
  uint64_t seq = 0;
  std::string last_hash = ZeroHash();
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    off_t tail = std::min<off_t>(st.st_size, 1 << 16);
    std::string buf(tail, '\0');
    if (pread(fd, buf.data(), tail, st.st_size - tail) != tail) {
      close(fd);
      return absl::DataLossError(absl::StrCat("cannot read the audit log '", path, "'"));
    }
    size_t end = buf.rfind('\n');
    if (end != buf.size() - 1) {
      off_t keep = end == std::string::npos ? st.st_size - tail
                                            : st.st_size - tail + end + 1;
      if (ftruncate(fd, keep) != 0) {
        close(fd);
        return absl::UnavailableError("cannot cut a torn audit record");
      }
      buf.resize(end == std::string::npos ? 0 : end + 1);
    }
    if (!buf.empty()) {
      size_t start = buf.rfind('\n', buf.size() - 2);
      absl::string_view line(buf);
      line = line.substr(start == std::string::npos ? 0 : start + 1);
      line.remove_suffix(1);
      absl::string_view body, hash_hex;
      if (!SplitRecord(line, &body, &hash_hex) || !ReadSeq(line, &seq)) {
        close(fd);
        return absl::DataLossError(absl::StrCat(
            "the last record of the audit log '", path,
            "' is damaged; run `keyward audit verify` and keep a copy"));
      }
      last_hash = absl::HexStringToBytes(hash_hex);
    }
  }
  std::unique_ptr<AuditLog> log(
      new AuditLog(path, fd, seq, std::move(last_hash), std::move(options)));
  if (log->options_.fsync == AuditFsyncMode::kInterval) {
    log->sync_thread_ = std::thread(&AuditLog::SyncThread, log.get());
  }
  return log;
}

AuditLog::~AuditLog() {
  if (sync_thread_.joinable()) {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    sync_thread_.join();
    // Shutdown: make what was acknowledged durable.
    absl::MutexLock lock(&mu_);
    if (written_ > durable_ || !sync_error_.empty()) SyncWritten();
    if (!sync_error_.empty()) {
      LogWarning("audit_sync_failed_at_shutdown",
                 {{"path", path_},
                  {"error", sync_error_},
                  {"unsynced_after", absl::StrCat(durable_)}});
    }
  }
  close(fd_);
}

int AuditLog::Sync() const {
  return options_.sync ? options_.sync(fd_) : fdatasync(fd_);
}

void AuditLog::SyncThread() {
  absl::MutexLock lock(&mu_);
  while (true) {
    // Sleep until there is something to sync (or a failed sync to retry),
    // then until one interval has passed since the last sync.
    mu_.Await(absl::Condition(this, &AuditLog::SyncWanted));
    if (stopping_) return;
    mu_.AwaitWithDeadline(absl::Condition(&stopping_),
                          last_sync_ + options_.fsync_interval);
    if (stopping_) return;
    SyncWritten();
  }
}

void AuditLog::SyncWritten() {
  // Everything up to `upto` was written before the sync starts, so the
  // sync covers it. Appends go on (writing) meanwhile.
  const uint64_t upto = written_;
  mu_.Unlock();
  const int rc = Sync();
  const int error = errno;
  mu_.Lock();
  last_sync_ = absl::Now();
  if (rc == 0) {
    if (!sync_error_.empty()) {
      // After a failed fdatasync Linux may have dropped the pages it could
      // not write; a later success does not prove they reached the disk.
      LogWarning("audit_sync_recovered",
                 {{"path", path_},
                  {"failed_attempts", absl::StrCat(sync_failures_)},
                  {"note", "records written before the failure may be "
                           "missing from the disk; run `keyward audit verify`"}});
      sync_error_.clear();
      sync_failures_ = 0;
    }
    durable_ = std::max(durable_, upto);
    return;
  }
  ++sync_failures_;
  if (sync_error_.empty()) {
    sync_error_ = strerror(error);
    LogWarning("audit_sync_failed",
               {{"path", path_},
                {"error", sync_error_},
                {"unsynced_after", absl::StrCat(durable_)},
                {"effect", "refusing every operation until a retry succeeds"}});
  }
}

uint64_t AuditLog::WaitForNew(uint64_t seq, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const bool every_record = options_.fsync == AuditFsyncMode::kEveryRecord;
  auto ready = [this, seq, every_record]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (every_record ? durable_ : written_) > seq || stopping_ || failed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return every_record ? durable_ : written_;
}

AuditTail::~AuditTail() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::vector<std::string>> AuditTail::Next(size_t max) {
  if (fd_ < 0) {
    fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return absl::NotFoundError(
          absl::StrCat("cannot read the audit log '", path_, "'"));
    }
  }
  std::vector<std::string> lines;
  size_t at = 0;  // the first byte of buffer_ not returned
  while (lines.size() < max) {
    size_t newline = buffer_.find('\n', at);
    if (newline == std::string::npos) {
      buffer_.erase(0, at);
      at = 0;
      char chunk[64 << 10];
      ssize_t n = read(fd_, chunk, sizeof(chunk));
      if (n <= 0) break;  // nothing more for now
      buffer_.append(chunk, n);
      continue;
    }
    lines.push_back(buffer_.substr(at, newline - at));
    at = newline + 1;
  }
  buffer_.erase(0, at);
  return lines;
}

uint64_t AuditLog::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return next_seq_ - 1;
}

absl::StatusOr<uint64_t> AuditLog::Append(const AuditEntry& e) {
  return AppendAll(absl::MakeConstSpan(&e, 1));
}

absl::StatusOr<uint64_t> AuditLog::AppendAll(
    absl::Span<const AuditEntry> entries) {
  if (entries.empty()) return absl::InvalidArgumentError("no audit entries");
  // What does not depend on the chain is made before taking the lock.
  std::vector<std::string> middles;
  middles.reserve(entries.size());
  for (const AuditEntry& e : entries) {
    middles.push_back(absl::StrCat(
        "\",\"principal\":\"", Json(e.principal), "\",\"method\":\"",
        Json(e.method), "\",\"operation\":\"", Json(e.operation),
        "\",\"resource\":\"", Json(e.resource), "\",\"version\":", e.version,
        ",\"code\":\"", Json(e.code), "\",\"request_id\":\"",
        Json(e.request_id), "\",\"prev\":\""));
  }
  absl::MutexLock lock(&mu_);
  if (failed_) {
    return absl::UnavailableError(
        "the audit log cannot be written; refusing every operation until "
        "keywardd is restarted with a writable audit log");
  }
  if (!sync_error_.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "the audit log could not be flushed to disk (fdatasync: ", sync_error_,
        "); refusing every operation until a retry succeeds; check the audit "
        "log's disk"));
  }
  const bool every_record = options_.fsync == AuditFsyncMode::kEveryRecord;
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  uint64_t seq = 0;
  for (const std::string& middle : middles) {
    seq = next_seq_++;
    std::string body =
        absl::StrCat("{\"seq\":", seq, ",\"time\":\"", time, middle,
                     absl::BytesToHexString(last_hash_), "\"");
    last_hash_ = crypto::Sha256(absl::StrCat(last_hash_, body));
    absl::StrAppend(&pending_, body, kHashField,
                    absl::BytesToHexString(last_hash_), "\"}\n");
  }
  pending_last_ = seq;

  // One caller at a time (the leader) writes everything pending, and with
  // kEveryRecord syncs it: concurrent callers share one write and sync.
  uint64_t& done = every_record ? durable_ : written_;
  while (done < seq) {
    if (failed_) break;
    if (flushing_) {
      // Another caller is writing; it or the next leader will cover us.
      mu_.Await(absl::Condition(this, &AuditLog::NotFlushing));
      continue;
    }
    flushing_ = true;
    std::string batch;
    batch.swap(pending_);
    const uint64_t upto = pending_last_;
    mu_.Unlock();
    const char* failed_call = nullptr;
    if (!WriteAll(fd_, batch)) {
      failed_call = "write";
    } else if (every_record && Sync() != 0) {
      failed_call = "fdatasync";
    }
    const int error = errno;
    mu_.Lock();
    flushing_ = false;
    if (failed_call != nullptr) {
      failed_ = true;
      LogWarning("audit_write_failed",
                 {{"path", path_},
                  {"call", failed_call},
                  {"error", strerror(error)},
                  {"effect", "refusing every operation until restarted"}});
      break;
    }
    written_ = upto;
    if (every_record) durable_ = upto;
  }
  if (done < seq) {
    return absl::UnavailableError(
        "the audit record could not be written, so the operation was not "
        "done; check the audit log's disk");
  }
  return seq;
}

absl::StatusOr<std::vector<std::string>> AuditLog::Read(const std::string& path,
                                                       uint64_t start,
                                                       size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read the audit log '", path, "'"));
  }
  std::vector<std::string> lines;
  std::string line;
  while (lines.size() < max && std::getline(in, line)) {
    uint64_t seq = 0;
    if (ReadSeq(line, &seq) && seq >= start) lines.push_back(line);
  }
  return lines;
}

absl::StatusOr<AuditLog::Verdict> AuditLog::Verify(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read the audit log '", path, "'"));
  }
  Verdict verdict;
  std::string prev = ZeroHash();
  std::string line;
  while (std::getline(in, line)) {
    const uint64_t expected = verdict.records_checked + 1;
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
      verdict.problem = absl::StrCat("record ", expected, ": ", problem);
      return verdict;
    }
    verdict.records_checked = expected;
  }
  return verdict;
}

}  // namespace keyward::daemon
