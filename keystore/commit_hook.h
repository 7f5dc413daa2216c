// CommitHook: work that must succeed for a storage change to commit, done
// inside the change's own transaction.
//
// The daemon writes a call's audit record this way: every Storage
// implementation runs the current thread's hook inside each transaction that
// changes rows, after its last statement and before COMMIT, and rolls the
// transaction back if the hook fails. So a change and its audit record are
// made durable together or not at all: if the record cannot be written, the
// change is not made, and a change is never made without its record. (A
// crash or a failed COMMIT after the hook ran leaves a record of a change
// that was not made; the daemon follows a failed COMMIT with a record of the
// failure. The reverse, a change without a record, cannot happen.)
//
// The hook belongs to the thread that installs it (ScopedCommitHook), for the
// scope of one call: keystore and storage calls are synchronous, so the
// transaction that a call makes runs on the caller's thread. It runs at most
// once per committed change: the first transaction of the call that commits
// takes the record, and later transactions of the same call (housekeeping
// such as a purge) commit without running it again. A transaction whose
// COMMIT fails gives it back (a retry runs it again).
#ifndef KEYWARD_KEYSTORE_COMMIT_HOOK_H_
#define KEYWARD_KEYSTORE_COMMIT_HOOK_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"

namespace keyward::keystore {

// What a transaction tells its hook about the change it is committing.
struct CommitInfo {
  // The key version the change made or changed (a new version, a state
  // change), or 0 when none applies.
  int32_t version = 0;
};

// ScopedCommitHook installs `hook` for transactions committed on this thread
// until it is destroyed. Scopes do not nest: installing one while another is
// active on the same thread is a programming error (it aborts). Not movable.
class ScopedCommitHook {
 public:
  using Hook = std::function<absl::Status(const CommitInfo&)>;
  explicit ScopedCommitHook(Hook hook);
  ~ScopedCommitHook();
  ScopedCommitHook(const ScopedCommitHook&) = delete;
  ScopedCommitHook& operator=(const ScopedCommitHook&) = delete;

  // ran: whether the hook has run with success for a change that then
  // committed, or is about to commit. committed: whether it committed.
  bool ran() const { return ran_; }
  bool committed() const { return committed_; }

 private:
  friend absl::Status RunCommitHook(const CommitInfo& info);
  friend void NoteCommitOutcome(bool committed);
  Hook hook_;
  bool ran_ = false;
  bool awaiting_outcome_ = false;  // ran in a transaction not yet ended
  bool committed_ = false;
};

// RunCommitHook runs this thread's hook, if one is installed and has not yet
// run with success, and returns its status; OK when there is nothing to run.
// For Storage implementations only: call it inside the transaction, after
// the change's last statement and before COMMIT, and roll back on failure.
absl::Status RunCommitHook(const CommitInfo& info = {});

// LeaseFence: a lease (Storage::AcquireLease) as its holder holds it.
struct LeaseFence {
  std::string name;
  std::string holder;
  int64_t epoch = 0;
};

// ScopedLeaseFence fences the changes made on this thread until it is
// destroyed: every Storage transaction that changes rows checks, inside
// itself, that `fence` still holds (storage.h, "Leases"), so a replica that
// lost its lease (paused past its expiry, say) cannot write as its holder.
// Scopes do not nest (aborts). Independent of ScopedCommitHook.
class ScopedLeaseFence {
 public:
  explicit ScopedLeaseFence(LeaseFence fence);
  ~ScopedLeaseFence();
  ScopedLeaseFence(const ScopedLeaseFence&) = delete;
  ScopedLeaseFence& operator=(const ScopedLeaseFence&) = delete;
};

// CurrentLeaseFence: this thread's fence, or null. For Storage
// implementations.
const LeaseFence* CurrentLeaseFence();

// LeaseLostError: the status of a change refused by `fence`.
absl::Status LeaseLostError(const LeaseFence& fence);

// NoteCommitOutcome tells this thread's hook whether the transaction in
// which it just ran committed. For Storage implementations: call it after
// every COMMIT attempt that followed RunCommitHook.
void NoteCommitOutcome(bool committed);

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_COMMIT_HOOK_H_
