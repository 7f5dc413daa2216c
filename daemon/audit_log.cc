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
#include "daemon/audit_files.h"
#include "daemon/audit_record.h"
#include "daemon/log.h"
#include "keystore/crypto/digest.h"

namespace keyward::daemon {
namespace {

using audit_internal::AppendJson;
using audit_internal::AuditFile;
using audit_internal::CleanUpRotation;
using audit_internal::LiveFileFacts;
using audit_internal::Middle;
using audit_internal::ReadLiveFileFacts;
using audit_internal::RotatedFiles;
using audit_internal::kHashBytes;
using audit_internal::kHashField;
using audit_internal::ReadSeq;
using audit_internal::SplitRecord;
using audit_internal::ZeroHash;

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

// QuarantineTornTail copies `torn` (the bytes after the last newline, at
// `offset`) to "<path>.torn-<unix seconds>" (mode 0600) and syncs it, so
// that cutting them off loses nothing a person might want to look at.
absl::Status QuarantineTornTail(const std::string& path,
                                absl::string_view torn, off_t offset) {
  const std::string aside =
      absl::StrCat(path, ".torn-", absl::ToUnixSeconds(absl::Now()));
  int fd = open(aside.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create '", aside, "': ", strerror(errno)));
  }
  const bool ok = WriteAll(fd, torn) && fsync(fd) == 0;
  const int error = errno;
  close(fd);
  if (!ok) {
    return absl::UnavailableError(
        absl::StrCat("cannot write '", aside, "': ", strerror(error)));
  }
  LogWarning("audit_torn_tail_quarantined",
             {{"path", path},
              {"offset", absl::StrCat(offset)},
              {"bytes", absl::StrCat(torn.size())},
              {"moved_to", aside},
              {"note", "a record cut by a crash or a failed write; it was "
                       "never acknowledged"}});
  return absl::OkStatus();
}

}  // namespace

AuditLog::File::File(int fd) : fd(fd) {
  struct stat st;
  if (fstat(fd, &st) == 0) inode = st.st_ino;
}

AuditLog::File::~File() { close(fd); }

AuditLog::AuditLog(std::string path, int fd, uint64_t seq,
                   std::string last_hash, uint64_t size,
                   AuditLogOptions options)
    : path_(std::move(path)),
      options_(std::move(options)),
      file_(std::make_shared<File>(fd)),
      next_seq_(seq + 1),
      last_hash_(std::move(last_hash)),
      last_hash_hex_(absl::BytesToHexString(last_hash_)),
      written_(seq),
      durable_(seq),
      accepted_seq_(seq),
      accepted_hash_(last_hash_),
      accepted_size_(size),
      last_sync_(absl::Now()),
      file_start_(absl::Now()) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    const std::string& path, AuditLogOptions options) {
  if (options.fsync == AuditFsyncMode::kInterval &&
      options.fsync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit fsync_interval = ",
                     absl::FormatDuration(options.fsync_interval),
                     " is not valid: it must be positive"));
  }
  if (options.rotate_interval < absl::ZeroDuration() ||
      options.keep_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "audit rotate_interval and keep_age must not be negative");
  }
  struct stat before;
  if (stat(path.c_str(), &before) == 0 && S_ISREG(before.st_mode)) {
    // What a crash in the middle of a rotation left (audit_rotate.cc).
    absl::Status cleaned = CleanUpRotation(path);
    if (!cleaned.ok()) return cleaned;
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
  uint64_t size = 0;
  std::string last_hash = ZeroHash();
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    size = st.st_size;
    off_t tail = std::min<off_t>(st.st_size, 1 << 16);
    std::string buf(tail, '\0');
    if (pread(fd, buf.data(), tail, st.st_size - tail) != tail) {
      close(fd);
      return absl::DataLossError(absl::StrCat("cannot read the audit log '", path, "'"));
    }
    size_t end = buf.rfind('\n');
    if (end == std::string::npos && tail < st.st_size) {
      // No record ends in the last 64 KiB: not a torn record but damage
      // (e.g. zeroes after a power loss); cutting there would cut records.
      close(fd);
      return absl::DataLossError(absl::StrCat(
          "the audit log '", path, "' has no complete record in its last ",
          tail, " bytes; it is damaged: keep a copy, check it with "
          "`keywardd verify-audit` (same --config/--data_dir), and move it "
          "aside to start a new log"));
    }
    if (end != buf.size() - 1) {
      off_t keep = end == std::string::npos ? st.st_size - tail
                                            : st.st_size - tail + end + 1;
      absl::Status quarantined =
          QuarantineTornTail(path, absl::string_view(buf).substr(
                                       keep - (st.st_size - tail)),
                             keep);
      if (!quarantined.ok() || ftruncate(fd, keep) != 0) {
        close(fd);
        return absl::UnavailableError(absl::StrCat(
            "the audit log '", path, "' ends in a torn record (",
            st.st_size - keep, " bytes at offset ", keep,
            ") that could not be set aside: ",
            quarantined.ok() ? strerror(errno) : quarantined.message()));
      }
      size = keep;
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
            "' is damaged; keep a copy and check it with `keywardd "
            "verify-audit` (same --config/--data_dir)"));
      }
      last_hash = absl::HexStringToBytes(hash_hex);
    }
  }
  std::unique_ptr<AuditLog> log(new AuditLog(
      path, fd, seq, std::move(last_hash), size, std::move(options)));
  {
    absl::MutexLock lock(&log->mu_);
    log->regular_file_ = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (log->regular_file_) {  // (a device such as /dev/full is never rotated)
      LiveFileFacts facts = ReadLiveFileFacts(path);
      log->file_header_seq_ = facts.header_seq;
      if (facts.start != absl::InfinitePast()) log->file_start_ = facts.start;
      const std::vector<AuditFile> rotated = RotatedFiles(path);
      if (!rotated.empty()) {
        log->next_generation_ = rotated.back().generation + 1;
      }
    }
  }
  if (log->options_.fsync == AuditFsyncMode::kInterval) {
    log->sync_thread_ = std::thread(&AuditLog::SyncThread, log.get());
  }
  log->housekeeping_thread_ =
      std::thread(&AuditLog::HousekeepingThread, log.get());
  return log;
}

AuditLog::~AuditLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (housekeeping_thread_.joinable()) housekeeping_thread_.join();
  if (sync_thread_.joinable()) {
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
}

int AuditLog::Sync(int fd) const {
  return options_.sync ? options_.sync(fd) : fdatasync(fd);
}

bool AuditLog::Write(int fd, absl::string_view data) const {
  if (!options_.write) return WriteAll(fd, data);
  while (!data.empty()) {
    ssize_t n = options_.write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
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
  // A rotation may replace the live file meanwhile; it syncs the old one
  // itself, and this sync then covers a file already synced.
  const uint64_t upto = written_;
  const std::shared_ptr<File> file = file_;
  mu_.Unlock();
  const int rc = Sync(file->fd);
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
      // The next Append writes the gap record that ends the outage.
      health_.writable = !failed_;
    }
    durable_ = std::max(durable_, upto);
    return;
  }
  ++sync_failures_;
  health_.writable = false;
  health_.error = absl::StrCat("fdatasync: ", strerror(error));
  if (!in_outage_) {
    in_outage_ = true;
    health_.failing_since = absl::Now();
    ++health_.outages;
  }
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
    // Not on failure: a follower waits through an outage, it does not spin.
    return (every_record ? durable_ : written_) > seq || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return every_record ? durable_ : written_;
}

uint64_t AuditLog::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return next_seq_ - 1;
}

absl::StatusOr<uint64_t> AuditLog::Append(const AuditEntry& e) {
  return AppendAll(absl::MakeConstSpan(&e, 1));
}

uint64_t AuditLog::Chain(absl::string_view middle, const std::string& time) {
  const uint64_t seq = next_seq_++;
  // The hash covers the previous hash's bytes and then the record's body:
  // both are built in one buffer, and the body is appended from it.
  std::string chained;
  absl::StrAppend(&chained, last_hash_, "{\"seq\":", seq, ",\"time\":\"",
                  time, middle, last_hash_hex_, "\"");
  last_hash_ = crypto::Sha256(chained);
  last_hash_hex_ = absl::BytesToHexString(last_hash_);
  absl::StrAppend(&pending_, absl::string_view(chained).substr(kHashBytes),
                  kHashField, last_hash_hex_, "\"}\n");
  pending_last_ = seq;
  pending_last_hash_ = last_hash_;
  return seq;
}

void AuditLog::Fail(const char* call, int error) {
  // Every record past the accepted ones is discarded: those of the batch
  // that failed and those queued behind it. Their Appends fail.
  for (Ticket* ticket : tickets_) {
    ticket->settled = true;
    health_.refused += ticket->count;
  }
  tickets_.clear();
  next_seq_ = accepted_seq_ + 1;
  last_hash_ = accepted_hash_;
  last_hash_hex_ = absl::BytesToHexString(last_hash_);
  pending_.clear();
  pending_last_ = accepted_seq_;
  gap_seq_ = 0;
  header_seq_ = 0;  // a rotation not made: the next write tries again
  pending_split_ = std::string::npos;
  failed_ = true;
  // Cut off what was written of the failed batch now (a torn record must
  // not stay at the end); Recover does it again if this fails.
  if (ftruncate(file_->fd, static_cast<off_t>(accepted_size_)) != 0) {
    LogWarning("audit_truncate_failed",
               {{"path", path_}, {"error", strerror(errno)}});
  }
  health_.writable = false;
  health_.error = absl::StrCat(call, ": ", strerror(error));
  if (!in_outage_) {
    in_outage_ = true;
    health_.failing_since = absl::Now();
    ++health_.outages;
    LogWarning("audit_write_failed",
               {{"path", path_},
                {"call", call},
                {"error", strerror(error)},
                {"effect", "refusing every operation until a record can be "
                           "written again; retried on every call"}});
  }
}

bool AuditLog::Recover() {
  // A regular file is cut back to its accepted records (in case Fail could
  // not) and synced; a device (tests' /dev/full) is simply tried again.
  if (regular_file_ &&
      (ftruncate(file_->fd, static_cast<off_t>(accepted_size_)) != 0 ||
       Sync(file_->fd) != 0)) {
    health_.error = absl::StrCat("cutting back the log: ", strerror(errno));
    return false;
  }
  failed_ = false;
  health_.writable = sync_error_.empty();
  return true;
}

absl::StatusOr<uint64_t> AuditLog::AppendAll(
    absl::Span<const AuditEntry> entries) {
  if (entries.empty()) return absl::InvalidArgumentError("no audit entries");
  return Write(entries);
}

void AuditLog::Probe() {
  {
    absl::MutexLock lock(&mu_);
    if (!in_outage_) return;
  }
  // Writes only the gap record, if the log can be written now.
  Write({}).IgnoreError();
}

absl::StatusOr<uint64_t> AuditLog::Write(absl::Span<const AuditEntry> entries) {
  // What does not depend on the chain is made before taking the lock.
  std::vector<std::string> middles;
  middles.reserve(entries.size());
  for (const AuditEntry& e : entries) middles.push_back(Middle(e));

  absl::MutexLock lock(&mu_);
  if (failed_ && (flushing_ || !Recover())) {
    health_.refused += entries.size();
    return absl::UnavailableError(absl::StrCat(
        "the audit log cannot be written (", health_.error,
        "), so the operation was not done; keywardd refuses every operation "
        "until it can write its audit log again (it retries on every call); "
        "check the audit log's disk"));
  }
  if (!sync_error_.empty()) {
    health_.refused += entries.size();
    return absl::UnavailableError(absl::StrCat(
        "the audit log could not be flushed to disk (fdatasync: ", sync_error_,
        "); refusing every operation until a retry succeeds; check the audit "
        "log's disk"));
  }
  const bool every_record = options_.fsync == AuditFsyncMode::kEveryRecord;
  const absl::Time now = absl::Now();
  const std::string& time = TimeField(now);
  // A new file starts with its header, before any gap record.
  const bool rotating = header_seq_ == 0 && RotationDue(now);
  if (rotating) ChainHeader(time);
  if (in_outage_ && gap_seq_ == 0) {
    // The first record after an outage says what the log is missing.
    AuditEntry gap;
    gap.principal = "keywardd";
    gap.method = "daemon";
    gap.operation = "AUDIT_RESUMED";
    gap.resource = "audit";
    gap.code = "OK";
    gap.note = absl::StrCat(
        "the audit log could not be written from ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", health_.failing_since,
                         absl::UTCTimeZone()),
        " until ", time, " (", health_.error, "); ", health_.refused,
        " calls were refused and are not in this log");
    gap_seq_ = Chain(Middle(gap), time);
  }
  uint64_t seq = gap_seq_ != 0 ? gap_seq_ : next_seq_ - 1;
  if (rotating) seq = next_seq_ - 1;  // Rotate waits for its header
  for (const std::string& middle : middles) seq = Chain(middle, time);
  if (middles.empty() && seq <= accepted_seq_) return seq;  // a Probe: no gap

  // One caller at a time (the leader) writes everything pending, and with
  // kEveryRecord syncs it: concurrent callers share one write and sync.
  // Each caller waits for its ticket to be settled: accepted when its
  // records are written (and synced), refused when a failure discards them.
  Ticket ticket{seq, entries.size()};  // seq: the gap record's, for a Probe
  tickets_.push_back(&ticket);
  while (!ticket.settled) {
    if (flushing_) {
      // Another caller is writing; it or the next leader will cover us.
      mu_.Await(absl::Condition(this, &AuditLog::NotFlushing));
      continue;
    }
    flushing_ = true;
    std::string batch;
    batch.swap(pending_);
    const uint64_t upto = pending_last_;
    const std::string upto_hash = pending_last_hash_;
    // With a rotation queued, the batch up to `split` ends the old file and
    // the rest (from the header on) starts the new one.
    const size_t split = std::min(pending_split_, batch.size());
    const bool rotate = pending_split_ != std::string::npos;
    pending_split_ = std::string::npos;
    const uint64_t split_seq = split_seq_;
    const std::string split_hash = split_hash_;
    const uint64_t header_seq = header_seq_;
    const uint64_t generation = next_generation_;
    const std::shared_ptr<File> file = file_;
    mu_.Unlock();
    const absl::string_view old_part = absl::string_view(batch).substr(0, split);
    const char* failed_call = nullptr;
    if (!old_part.empty() && !Write(file->fd, old_part)) {
      failed_call = "write";
    } else if ((every_record || rotate) && Sync(file->fd) != 0) {
      failed_call = "fdatasync";  // a rotated file is always synced
    }
    int error = errno;
    std::shared_ptr<File> opened;
    if (failed_call == nullptr && rotate) {
      // The old file's records are in; then the switch, which may fail
      // (a full disk) and refuse only what follows the header.
      mu_.Lock();
      Accept(split_seq, split_hash, old_part.size(), true);
      mu_.Unlock();
      failed_call = SwitchFile(absl::string_view(batch).substr(split),
                               generation, &opened, &error);
    }
    mu_.Lock();
    flushing_ = false;
    if (failed_call != nullptr) {
      Fail(failed_call, error);
      break;
    }
    if (rotate) {
      Installed(std::move(opened), header_seq, generation);
      Accept(upto, upto_hash, batch.size() - split, true);
    } else {
      Accept(upto, upto_hash, batch.size(), every_record);
    }
  }
  if (!ticket.accepted) {
    return absl::UnavailableError(
        "the audit record could not be written, so the operation was not "
        "done; check the audit log's disk");
  }
  return seq;
}

void AuditLog::Accept(uint64_t upto, const std::string& hash, uint64_t bytes,
                      bool durable) {
  written_ = std::max(written_, upto);
  if (durable) durable_ = std::max(durable_, upto);
  accepted_seq_ = upto;
  accepted_hash_ = hash;
  accepted_size_ += bytes;
  size_t n = 0;
  while (n < tickets_.size() && tickets_[n]->last <= upto) {
    tickets_[n]->settled = tickets_[n]->accepted = true;
    ++n;
  }
  tickets_.erase(tickets_.begin(), tickets_.begin() + n);
  if (in_outage_ && gap_seq_ != 0 && upto >= gap_seq_) {
    LogWarning("audit_resumed",
               {{"path", path_},
                {"refused", absl::StrCat(health_.refused)},
                {"gap_record", absl::StrCat(gap_seq_)}});
    in_outage_ = false;
    gap_seq_ = 0;
    health_.failing_since = absl::InfinitePast();
    health_.error.clear();
    health_.refused = 0;
  }
}

AuditHealth AuditLog::health() const {
  absl::MutexLock lock(&mu_);
  return health_;
}

uint64_t AuditLog::accepted_size() const {
  absl::MutexLock lock(&mu_);
  return accepted_size_;
}

AuditPosition AuditLog::position() const {
  absl::MutexLock lock(&mu_);
  return AuditPosition{file_->inode, accepted_size_};
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

}  // namespace keyward::daemon
