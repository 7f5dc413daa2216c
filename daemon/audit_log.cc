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
constexpr size_t kHashBytes = 32;  // SHA-256
const std::string& ZeroHash() {
  static const std::string* zero = new std::string(32, '\0');
  return *zero;
}

// AppendJson appends `s` escaped for a JSON string.
void AppendJson(std::string* out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
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
      last_hash_hex_(absl::BytesToHexString(last_hash_)),
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
      // buf ends with '\n'; the last line starts after the '\n' before it.
      // (A buf of just "\n" has none: rfind from size() - 2 would wrap
      // around and find that same '\n', leaving an empty line to trim.)
      size_t start = buf.size() >= 2 ? buf.rfind('\n', buf.size() - 2)
                                     : std::string::npos;
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
    std::string middle;
    middle.reserve(160 + e.principal.size() + e.method.size() +
                   e.resource.size() + e.request_id.size());
    absl::StrAppend(&middle, "\",\"principal\":\"");
    AppendJson(&middle, e.principal);
    absl::StrAppend(&middle, "\",\"method\":\"");
    AppendJson(&middle, e.method);
    absl::StrAppend(&middle, "\",\"operation\":\"");
    AppendJson(&middle, e.operation);
    absl::StrAppend(&middle, "\",\"resource\":\"");
    AppendJson(&middle, e.resource);
    absl::StrAppend(&middle, "\",\"version\":", e.version, ",\"code\":\"");
    AppendJson(&middle, e.code);
    absl::StrAppend(&middle, "\",\"request_id\":\"");
    AppendJson(&middle, e.request_id);
    absl::StrAppend(&middle, "\",\"prev\":\"");
    middles.push_back(std::move(middle));
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
  const std::string& time = TimeField(absl::Now());
  uint64_t seq = 0;
  // The hash covers the previous hash's bytes and then the record's body:
  // both are built in one buffer, and the body is appended from it.
  std::string chained;
  for (const std::string& middle : middles) {
    seq = next_seq_++;
    chained.clear();
    absl::StrAppend(&chained, last_hash_, "{\"seq\":", seq, ",\"time\":\"",
                    time, middle, last_hash_hex_, "\"");
    last_hash_ = crypto::Sha256(chained);
    last_hash_hex_ = absl::BytesToHexString(last_hash_);
    absl::StrAppend(&pending_,
                    absl::string_view(chained).substr(kHashBytes), kHashField,
                    last_hash_hex_, "\"}\n");
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

const std::string& AuditLog::TimeField(absl::Time now) {
  // "%Y-%m-%dT%H:%M:%E6SZ" (what absl::FormatTime makes, truncated to the
  // microsecond), with the part up to the second formatted once per second.
  const int64_t micros = absl::ToUnixMicros(now);
  if (micros < 0) {
    time_field_ = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", now,
                                   absl::UTCTimeZone());
    time_second_ = -1;
    return time_field_;
  }
  const int64_t second = micros / 1000000;
  int64_t fraction = micros % 1000000;
  if (second != time_second_) {
    time_field_ = absl::FormatTime("%Y-%m-%dT%H:%M:%S.000000Z",
                                   absl::FromUnixSeconds(second),
                                   absl::UTCTimeZone());
    time_second_ = second;
  }
  // Overwrite the six digits before the final 'Z'.
  char* digits = &time_field_[time_field_.size() - 7];
  for (int i = 5; i >= 0; --i, fraction /= 10) {
    digits[i] = static_cast<char>('0' + fraction % 10);
  }
  return time_field_;
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
