// Follower: keeps one keywardd replica's memory coherent with the others on
// the same PostgreSQL database, by following the keystore's change feed
// (keystore.h, "Replicas"; storage.h, "The change feed").
//
// A thread waits for NOTIFY keyward_changes (Keystore::WaitForChange) or
// `poll` at most, whichever comes first (NOTIFY is lost while the LISTEN
// connection is down: the poll is the safety net), then catches up
// (Keystore::CatchUp: key cache entries, the kid index, revoked tokens, a
// restore elsewhere seals this replica) and applies what the keystore does
// not hold: a policy change reloads the Authorizer's snapshot; an API key
// revoked ends that key's sessions and refuses it new ones (one created
// leaves them); a restore or a reload ends every session and reloads the
// policies. A step that fails (the database is down) is logged once and
// retried on the next pass; nothing is skipped.
//
// Only PostgreSQL keystores are followed (SQLite is one process's
// database). Thread-safe.
#ifndef KEYWARD_DAEMON_FOLLOWER_H_
#define KEYWARD_DAEMON_FOLLOWER_H_

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/access.h"
#include "daemon/metrics.h"
#include "keystore/keystore.h"

namespace keyward::daemon {

class Follower {
 public:
  // The pointers outlive this object.
  Follower(keystore::Keystore* keystore, Authorizer* authorizer,
           SessionTable* sessions, absl::Duration poll);
  // The destructor stops the thread (Stop).
  ~Follower();
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  void Start();
  // Stop ends the thread within about `poll`.
  void Stop();

  // RunOnce catches up fully on the caller's thread: OK, or the storage's
  // error (nothing more applied; the next call goes on from there).
  absl::Status RunOnce();

  // Lag: how long ago the last pass that reached the feed's head started
  // (0 right after one).
  absl::Duration Lag() const;

  // ExportLag makes each pass set `metrics`' lag gauges (Metrics::
  // SetFeedLag): Lag(), and the feed's head (read after the pass; the last
  // one read while the database is down) minus the position applied.
  // Call before Start; `metrics` outlives this object.
  void ExportLag(Metrics* metrics);

 private:
  void Loop();
  void Apply(const std::vector<keystore::ChangeRecord>& changes);

  keystore::Keystore* const keystore_;
  Authorizer* const authorizer_;
  SessionTable* const sessions_;
  const absl::Duration poll_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Policies still to reload (a reload that failed is retried).
  bool policies_stale_ ABSL_GUARDED_BY(mu_) = false;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;  // logged once per outage
  Metrics* metrics_ = nullptr;
  int64_t head_ ABSL_GUARDED_BY(mu_) = 0;  // the last head read (ExportLag)
  std::thread thread_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_FOLLOWER_H_
