// The audit log's rotation and housekeeping (see "Rotation" in
// audit_log.h): when to rotate, the header record, the switch of files, and
// the compression and retention of rotated files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/audit_files.h"
#include "daemon/audit_log.h"
#include "daemon/audit_record.h"
#include "daemon/log.h"

namespace keyward::daemon {

using audit_internal::AuditFile;
using audit_internal::CompressFile;
using audit_internal::kRotationHeader;
using audit_internal::Middle;
using audit_internal::RotatedFiles;
using audit_internal::RotatedName;
using audit_internal::ShippedMarker;
using audit_internal::SyncDirOf;

namespace {

// BaseName: "audit.log.3" of "/var/lib/keyward/audit.log.3".
std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool AuditLog::HasRecords() const {
  return accepted_seq_ > file_header_seq_ || !pending_.empty();
}

bool AuditLog::RotationDue(absl::Time now) const {
  if (!regular_file_ || !HasRecords()) return false;
  return rotate_requested_ ||
         (options_.rotate_bytes > 0 && accepted_size_ >= options_.rotate_bytes) ||
         (options_.rotate_interval > absl::ZeroDuration() &&
          now - file_start_ >= options_.rotate_interval);
}

void AuditLog::ChainHeader(const std::string& time) {
  pending_split_ = pending_.size();
  split_seq_ = next_seq_ - 1;
  split_hash_ = last_hash_;
  const std::string old_name =
      BaseName(RotatedName(path_, next_generation_));
  AuditEntry header;
  header.principal = "keywardd";
  header.method = "daemon";
  header.operation = std::string(kRotationHeader);
  header.resource = old_name;
  header.code = "OK";
  header.note = absl::StrCat(
      "the audit log was rotated; it goes on from ", old_name, " (",
      old_name, ".gz once compressed), whose last record is ", split_seq_,
      " with hash ", last_hash_hex_);
  header_seq_ = Chain(Middle(header), time);
}

const char* AuditLog::SwitchFile(absl::string_view data, uint64_t generation,
                                 std::shared_ptr<File>* opened,
                                 int* error) const {
  const std::string temporary = path_ + ".rotating";
  const std::string rotated = RotatedName(path_, generation);
  int fd = open(temporary.c_str(),
                O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = errno;
    return "open";
  }
  const char* failed = nullptr;
  if (!Write(fd, data)) {
    failed = "write";
  } else if (Sync(fd) != 0) {
    failed = "fdatasync";
  } else if (link(path_.c_str(), rotated.c_str()) != 0) {
    failed = "link";
  } else if (rename(temporary.c_str(), path_.c_str()) != 0) {
    failed = "rename";
    *error = errno;
    unlink(rotated.c_str());
  }
  if (failed != nullptr) {
    if (std::strcmp(failed, "rename") != 0) *error = errno;
    close(fd);
    unlink(temporary.c_str());
    return failed;
  }
  if (SyncDirOf(path_) != 0) {
    // The files are in place; a crash before the directory reaches the disk
    // leaves the old state or the new one, both of which Open handles.
    LogWarning("audit_rotation_dir_sync_failed",
               {{"path", path_}, {"error", strerror(errno)}});
  }
  *opened = std::make_shared<File>(fd);
  return nullptr;
}

void AuditLog::Installed(std::shared_ptr<File> file, uint64_t header_seq,
                         uint64_t generation) {
  file_ = std::move(file);
  accepted_size_ = 0;
  file_start_ = absl::Now();
  file_header_seq_ = header_seq;
  header_seq_ = 0;
  next_generation_ = generation + 1;
  rotate_requested_ = false;
  ++rotations_;
  last_rotation_ = AuditRotation{RotatedName(path_, generation),
                                 header_seq - 1, header_seq};
  housekeeping_wanted_ = true;
  LogInfo("audit_rotated", {{"path", path_},
                            {"rotated_to", last_rotation_.rotated_file},
                            {"last_sequence", absl::StrCat(header_seq - 1)}});
}

absl::StatusOr<AuditRotation> AuditLog::Rotate() {
  uint64_t before = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!regular_file_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the audit log '", path_, "' is not a regular file; it cannot be "
          "rotated"));
    }
    if (!HasRecords() && header_seq_ == 0) {
      return absl::FailedPreconditionError(
          "the live audit log holds no record since it began (or was last "
          "rotated); there is nothing to rotate");
    }
    rotate_requested_ = true;
    before = rotations_;
  }
  // The header is an audit write like any other: written by the leader,
  // refused (UNAVAILABLE, an outage) if it cannot be.
  absl::StatusOr<uint64_t> written = Write({});
  if (!written.ok()) return written.status();
  absl::MutexLock lock(&mu_);
  if (rotations_ == before) {
    return absl::FailedPreconditionError(
        "the audit log was not rotated: it held no record to rotate");
  }
  return last_rotation_;
}

void AuditLog::RequestRotate() {
  absl::MutexLock lock(&mu_);
  rotate_soon_ = true;
  housekeeping_wanted_ = true;
}

void AuditLog::HousekeepingThread() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    // Wake for a rotation's aftermath or a request, and in time for the
    // next rotation by age (or a minute, for retention by age).
    const absl::Time now = absl::Now();
    absl::Time wake = absl::InfiniteFuture();
    if (options_.rotate_interval > absl::ZeroDuration()) {
      wake = HasRecords() ? file_start_ + options_.rotate_interval
                          : now + std::min(options_.rotate_interval,
                                           absl::Minutes(1));
    }
    if (options_.keep_age > absl::ZeroDuration()) {
      wake = std::min(wake, now + absl::Minutes(1));
    }
    wake = std::max(wake, now + absl::Milliseconds(10));
    mu_.AwaitWithDeadline(
        absl::Condition(this, &AuditLog::HousekeepingWanted), wake);
    if (stopping_) return;
    const bool rotate = rotate_soon_ || RotationDue(absl::Now());
    rotate_soon_ = false;
    housekeeping_wanted_ = false;
    mu_.Unlock();
    if (rotate) {
      absl::StatusOr<AuditRotation> rotated = Rotate();
      if (!rotated.ok() && !absl::IsFailedPrecondition(rotated.status())) {
        LogWarning("audit_rotation_failed",
                   {{"path", path_}, {"error", rotated.status().ToString()}});
      }
    }
    Housekeep();
    mu_.Lock();
  }
}

void AuditLog::Housekeep() {
  absl::MutexLock lock(&housekeeping_mu_);
  std::vector<AuditFile> files = RotatedFiles(path_);
  if (options_.compress) {
    for (AuditFile& file : files) {
      if (file.compressed) continue;
      absl::Status compressed = CompressFile(file.path);
      if (!compressed.ok()) {
        LogWarning("audit_compress_failed",
                   {{"path", file.path}, {"error", compressed.ToString()}});
        break;  // retried on the next pass
      }
      file.path += ".gz";
      file.compressed = true;
    }
  }
  // Retention removes the oldest files first, and stops at the first one
  // it must keep, so that the files kept form one unbroken chain.
  const absl::Time now = absl::Now();
  bool removed = false;
  for (size_t i = 0; i < files.size(); ++i) {
    const AuditFile& file = files[i];
    const bool over_count =
        options_.keep_files > 0 && files.size() - i > options_.keep_files;
    bool too_old = false;
    struct stat st;
    if (options_.keep_age > absl::ZeroDuration() &&
        stat(file.path.c_str(), &st) == 0) {
      too_old = absl::FromUnixSeconds(st.st_mtime) < now - options_.keep_age;
    }
    if (!over_count && !too_old) break;
    const std::string marker = ShippedMarker(path_, file.generation);
    if (options_.require_shipped && access(marker.c_str(), F_OK) != 0) {
      if (unshipped_warned_.insert(file.generation).second) {
        LogWarning("audit_file_not_shipped",
                   {{"path", file.path},
                    {"marker", marker},
                    {"effect", "kept, with every newer rotated file, until "
                               "the marker exists (audit.require_shipped)"}});
      }
      break;
    }
    if (unlink(file.path.c_str()) != 0 && errno != ENOENT) {
      LogWarning("audit_remove_failed",
                 {{"path", file.path}, {"error", strerror(errno)}});
      break;
    }
    unlink(marker.c_str());
    unshipped_warned_.erase(file.generation);
    removed = true;
    LogInfo("audit_file_removed",
            {{"path", file.path},
             {"reason", over_count ? "audit.keep_files" : "audit.keep_age"}});
  }
  if (removed) SyncDirOf(path_);
}

}  // namespace keyward::daemon
