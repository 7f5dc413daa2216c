#include "daemon/replica.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/log.h"

namespace keyward::daemon {

std::string ReplicaLeaseName(const std::string& id) {
  return absl::StrCat("replica:", id);
}

ReplicaClaim::ReplicaClaim(keystore::Keystore* keystore, std::string id,
                           std::string instance, absl::Duration ttl)
    : keystore_(keystore),
      id_(std::move(id)),
      instance_(std::move(instance)),
      ttl_(ttl) {}

namespace {

// DeadHereBefore: whether `holder` ("<id>#<host>/<pid>/<random>",
// Maintenance::NewHolderName) names a process on this host that no longer
// runs keywardd (a predecessor killed and restarted under the same id).
bool DeadHereBefore(const std::string& holder) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  const size_t hash = holder.rfind('#');
  if (hash == std::string::npos) return false;
  std::vector<std::string> parts = absl::StrSplit(holder.substr(hash + 1), '/');
  int pid = 0;
  if (parts.size() != 3 || parts[0] != host ||
      !absl::SimpleAtoi(parts[1], &pid) || pid <= 0 || pid == getpid()) {
    return false;
  }
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  // A pid reused by another program: the predecessor is gone too.
  std::ifstream comm(absl::StrCat("/proc/", pid, "/comm"));
  std::string name;
  return comm && std::getline(comm, name) && name != "keywardd";
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicaClaim>> ReplicaClaim::Claim(
    keystore::Keystore* keystore, const std::string& id,
    const std::string& instance, absl::Duration ttl) {
  std::unique_ptr<ReplicaClaim> claim(
      new ReplicaClaim(keystore, id, instance, ttl));
  auto lease = keystore->AcquireLease(ReplicaLeaseName(id), instance, ttl);
  if (!lease.ok()) return lease.status();
  if (lease->holder != instance && DeadHereBefore(lease->holder)) {
    // Restarted after a crash on this host: the predecessor cannot renew
    // any more, so end its claim now (as its own clean stop would) rather
    // than refuse until its heartbeat expires.
    LogInfo("replica_id_taken_over", {{"replica_id", id},
                                      {"previous", lease->holder}});
    keystore->AcquireLease(ReplicaLeaseName(id), lease->holder,
                           absl::Microseconds(1))
        .IgnoreError();
    absl::SleepFor(absl::Milliseconds(1));
  }
  absl::Status s = claim->Renew(ttl);
  if (!s.ok()) return s;
  return claim;
}

ReplicaClaim::~ReplicaClaim() { Release(); }

absl::Status ReplicaClaim::Renew(absl::Duration ttl) {
  auto lease = keystore_->AcquireLease(ReplicaLeaseName(id_), instance_, ttl);
  if (!lease.ok()) return lease.status();
  if (lease->holder == instance_) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "replica id \"", id_, "\" is live on this database: the keywardd ",
      "instance ", lease->holder, " holds it (heartbeat valid until ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", lease->expires,
                       absl::UTCTimeZone()),
      ", the database's clock). Give this replica its own id (replica_id in "
      "the config, or --replica_id), or stop the other one; the id of a "
      "replica that died is free once replica_ttl has passed since its last "
      "heartbeat"));
}

void ReplicaClaim::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ReplicaClaim::Loop() {
  bool failing = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_;
      };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), ttl_ / 3)) return;
    }
    absl::Status s = Renew(ttl_);
    if (!s.ok() && !failing) {
      if (absl::IsFailedPrecondition(s)) {
        LogWarning("replica_id_taken", {{"replica_id", id_},
                                        {"error", std::string(s.message())}});
      } else {
        LogWarning("replica_heartbeat_failed",
                   {{"replica_id", id_}, {"error", std::string(s.message())}});
      }
    } else if (s.ok() && failing) {
      LogInfo("replica_heartbeat_resumed", {{"replica_id", id_}});
    }
    failing = !s.ok();
  }
}

void ReplicaClaim::Release() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // Held by this instance: expire it now (never another's: AcquireLease
  // does not steal a live lease).
  Renew(absl::Microseconds(1)).IgnoreError();
}

absl::StatusOr<std::unique_ptr<AuditPathLock>> AuditPathLock::Lock(
    const std::string& audit_path, const std::string& replica_id) {
  const std::string path = audit_path + ".lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open the audit log's lock file ", path, ": ", strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[256] = {};
    const ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
    close(fd);
    if (err != EWOULDBLOCK) {
      return absl::UnavailableError(absl::StrCat(
          "cannot lock the audit log's lock file ", path, ": ", strerror(err)));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "the audit log ", audit_path, " is in use by another keywardd (replica \"",
        std::string(holder, n > 0 ? n : 0),
        "\"): each replica keeps its own chain; give each its own audit.path, "
        "e.g. audit { path: \"/var/log/keyward/audit-{replica_id}.log\" }"));
  }
  // Ours: say whose it is, for the refusal above.
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, replica_id.data(), replica_id.size(), 0) !=
          static_cast<ssize_t>(replica_id.size())) {
    LogWarning("audit_lock_note_failed", {{"path", path}});
  }
  return std::unique_ptr<AuditPathLock>(new AuditPathLock(fd));
}

AuditPathLock::~AuditPathLock() { close(fd_); }

}  // namespace keyward::daemon
