// Maintenance: the daemon's periodic work, on its own thread, every
// DaemonConfig.maintenance_interval:
// - rotating keys whose rotation_period has passed (KeyService's
//   rotation_period, as Vault's auto_rotate_period and KMS's automatic
//   rotation), each rotation audited as principal "keywardd", method
//   "daemon", operation ROTATE;
// - purging token records past their retention;
// - pruning the change feed (storage.h) of changes older than an hour.
// Nothing runs while the keystore is sealed. Failures are logged and
// audited, and the next pass tries again.
//
// Replicas on one database do this work once: each pass first takes or
// renews the lease "maintenance" (Storage::AcquireLease, the database's
// clock) for three intervals; a replica that does not hold it does nothing.
// The holder's writes are fenced by its lease epoch (ScopedLeaseFence): a
// holder paused past the lease's expiry (and replaced) finds its first write
// refused, logs "maintenance_lease_lost" and stops the pass; its next pass
// sees the other holder and does nothing. A rotation is RotateKeyIfDue, so a
// key rotated elsewhere meanwhile is not rotated twice.
#ifndef KEYWARD_DAEMON_MAINTENANCE_H_
#define KEYWARD_DAEMON_MAINTENANCE_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/audit_log.h"
#include "keystore/keystore.h"

namespace keyward::daemon {

class Maintenance {
 public:
  // `keystore` and `audit` outlive this object. `holder` names this
  // replica in the lease (unique among live replicas).
  Maintenance(keystore::Keystore* keystore, AuditLog* audit,
              absl::Duration interval, std::string holder);
  // The destructor stops the thread (Stop).
  ~Maintenance();
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  // Start runs a pass now and then every interval, until Stop.
  void Start();
  // Stop ends the thread, waiting for a pass in progress, and gives the
  // lease up if this replica holds it (renewed for 1 microsecond), so that
  // another replica, or this daemon restarted, takes it at its next pass
  // instead of after three intervals.
  void Stop();

  // RunOnce does one pass on the caller's thread and returns the ids of
  // the keys it rotated (none when another replica holds the lease).
  std::vector<std::string> RunOnce();

  // NewHolderName: this process's name in leases: host, pid and a random
  // part, so a restarted replica is a new holder.
  static std::string NewHolderName();

  // The lease as this replica last saw it (holder empty: not read yet).
  keystore::LeaseRecord lease() const;
  // This replica's name in the lease (the constructor's `holder`).
  const std::string& holder() const { return holder_; }

 private:
  void Loop();
  // Work: the pass's work under the lease's fence; false if the fence
  // refused a write (the lease was lost).
  bool Work(std::vector<std::string>* rotated);

  keystore::Keystore* const keystore_;
  AuditLog* const audit_;
  const absl::Duration interval_;
  const std::string holder_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  keystore::LeaseRecord lease_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_MAINTENANCE_H_
