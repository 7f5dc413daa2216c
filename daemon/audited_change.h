// RunAudited: a call's work and its audit record, made durable together.
//
// The record of a call that changes the keystore is written inside the
// change's storage transaction (keystore/commit_hook.h): if it cannot be
// written, the transaction rolls back and the call fails with UNAVAILABLE,
// having changed nothing; a change is never made without its record. A call
// that changes nothing is audited after its work, as before: no result
// without its record.
#ifndef KEYWARD_DAEMON_AUDITED_CHANGE_H_
#define KEYWARD_DAEMON_AUDITED_CHANGE_H_

#include <cstdint>
#include <functional>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "daemon/audit_log.h"

namespace keyward::daemon {

// RunAudited runs `work` (which sets *version for the record when it knows
// it) and returns the call's answer, with `entry` (its code and version are
// filled here) appended to `log`:
// - if `work` commits a storage change, the record, with code OK, is written
//   in the change's transaction, before COMMIT (the version is the one the
//   transaction names, else *version). If the record cannot be written,
//   nothing is committed and the answer is UNAVAILABLE, whatever `work`
//   returns (a body that ignores a failed change is still refused).
// - if that COMMIT then fails, a second record with the same request id and
//   the failure's code follows; the answer is `work`'s error.
// - if a step of `work` after its change committed fails (reading back the
//   result), the answer keeps its code and says that the change was made.
// - if `work` commits nothing, its outcome is appended after it; if that
//   append fails, the answer is UNAVAILABLE (no result without its record),
//   and `undo` (if set) reverts what `work` changed in memory (an Unseal, a
//   Login's session), so that a refused call has changed nothing.
// Only the first committing transaction of `work` takes the record; `work`
// must make its one change in one storage call. `note`, if set, is read
// when the record is written: `work` may set the record's note through it.
absl::Status RunAudited(AuditLog& log, AuditEntry entry,
                        absl::FunctionRef<absl::Status(int32_t* version)> work,
                        const std::function<void()>& undo = nullptr,
                        const std::string* note = nullptr);

// AppendOutcome appends `entry` with `version` and the code of `status`, and
// returns `status`, or UNAVAILABLE if the record could not be written.
absl::Status AppendOutcome(AuditLog& log, AuditEntry entry, int32_t version,
                           absl::Status status);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_AUDITED_CHANGE_H_
