// Maintenance: the daemon's periodic work, on its own thread, every
// DaemonConfig.maintenance_interval:
// - rotating keys whose rotation_period has passed (KeyService's
//   rotation_period, as Vault's auto_rotate_period and KMS's automatic
//   rotation), each rotation audited as principal "keywardd", method
//   "daemon", operation ROTATE;
// - purging token records past their retention.
// Nothing runs while the keystore is sealed. Failures are logged and
// audited, and the next pass tries again.
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
  // `keystore` and `audit` outlive this object.
  Maintenance(keystore::Keystore* keystore, AuditLog* audit,
              absl::Duration interval);
  // The destructor stops the thread (Stop).
  ~Maintenance();
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  // Start runs a pass now and then every interval, until Stop.
  void Start();
  // Stop ends the thread, waiting for a pass in progress.
  void Stop();

  // RunOnce does one pass on the caller's thread and returns the ids of
  // the keys it rotated.
  std::vector<std::string> RunOnce();

 private:
  void Loop();

  keystore::Keystore* const keystore_;
  AuditLog* const audit_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_MAINTENANCE_H_
