// ReplicaClaim: one keywardd replica's hold on its replica id
// (DaemonConfig.replica_id) in the keystore's database, so that two live
// processes never serve under one id (their maintenance lease holders,
// status and audit chains would be indistinguishable).
//
// The claim is the lease "replica:<id>" (Storage::AcquireLease: the
// `leases` table, the database's clock, never a session advisory lock,
// which a half-open connection would keep), held by this process's
// instance name and renewed by a heartbeat thread every ttl / 3. A replica
// that dies stops renewing: its id is free once `ttl` has passed since its
// last heartbeat. A clean stop (Release) frees it at once, and so does a
// restart on the same host after a crash: a claim held by a process of this
// host that no longer runs keywardd is ended at once (it cannot renew).
//
// The daemon claims its id on PostgreSQL only (SQLite is one daemon's).
#ifndef KEYWARD_DAEMON_REPLICA_H_
#define KEYWARD_DAEMON_REPLICA_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "keystore/keystore.h"

namespace keyward::daemon {

class ReplicaClaim {
 public:
  // Claim takes the id `id` for `instance` ("<id>#" and
  // Maintenance::NewHolderName: unique per process) for `ttl`. FAILED_PRECONDITION naming the
  // id, the live instance holding it and how to fix it if another process
  // holds it and its heartbeat is younger than its ttl; the storage's error
  // (UNAVAILABLE) if the database cannot be asked. `keystore` outlives the
  // claim.
  static absl::StatusOr<std::unique_ptr<ReplicaClaim>> Claim(
      keystore::Keystore* keystore, const std::string& id,
      const std::string& instance, absl::Duration ttl);
  // The destructor releases the claim (Release).
  ~ReplicaClaim();
  ReplicaClaim(const ReplicaClaim&) = delete;
  ReplicaClaim& operator=(const ReplicaClaim&) = delete;

  // Start runs the heartbeat: a renewal every ttl / 3. A renewal that fails
  // (the database is down) is logged once ("replica_heartbeat_failed") and
  // retried; one that finds the id held by another instance (this process
  // was paused past the ttl and replaced) logs "replica_id_taken" and keeps
  // trying, so that `keyward status` and the logs show it.
  void Start();
  // Release stops the heartbeat and frees the id now (renewed for 1 µs),
  // so that a restart with the same id is not refused. Idempotent.
  void Release();

  const std::string& id() const { return id_; }
  const std::string& instance() const { return instance_; }

 private:
  ReplicaClaim(keystore::Keystore* keystore, std::string id,
               std::string instance, absl::Duration ttl);
  void Loop();
  // Renew takes or renews the claim for `ttl`: OK if this instance holds it.
  absl::Status Renew(absl::Duration ttl);

  keystore::Keystore* const keystore_;
  const std::string id_;
  const std::string instance_;
  const absl::Duration ttl_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// AuditPathLock: one keywardd's exclusive hold (flock) on its audit log's
// path, through the file "<path>.lock" (which says which replica holds it),
// so that two replicas never write one chain. Released when destroyed or
// when the process dies.
class AuditPathLock {
 public:
  // Lock takes the lock for replica `replica_id`. FAILED_PRECONDITION
  // naming the path, the replica holding it and the fix if another process
  // holds it; UNAVAILABLE if the lock file cannot be made.
  static absl::StatusOr<std::unique_ptr<AuditPathLock>> Lock(
      const std::string& audit_path, const std::string& replica_id);
  ~AuditPathLock();
  AuditPathLock(const AuditPathLock&) = delete;
  AuditPathLock& operator=(const AuditPathLock&) = delete;

 private:
  explicit AuditPathLock(int fd) : fd_(fd) {}
  const int fd_;
};

// ReplicaLeaseName: the lease that holds replica id `id`.
std::string ReplicaLeaseName(const std::string& id);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_REPLICA_H_
