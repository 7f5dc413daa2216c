#include "daemon/audited_change.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/commit_hook.h"

namespace keyward::daemon {

absl::Status AppendOutcome(AuditLog& log, AuditEntry entry, int32_t version,
                           absl::Status status) {
  entry.version = version;
  entry.code = absl::StatusCodeToString(status.code());
  auto appended = log.Append(entry);
  if (!appended.ok()) return appended.status();
  return status;
}

absl::Status RunAudited(AuditLog& log, AuditEntry entry,
                        absl::FunctionRef<absl::Status(int32_t* version)> work,
                        const std::function<void()>& undo,
                        const std::string* note) {
  int32_t version = 0;
  absl::Status status;
  bool ran = false;
  absl::Status unrecordable;  // why the hook could not write the record
  {
    keystore::ScopedCommitHook hook(
        [&](const keystore::CommitInfo& info) -> absl::Status {
          AuditEntry committing = entry;
          if (note != nullptr && !note->empty()) committing.note = *note;
          committing.version = info.version != 0 ? info.version : version;
          committing.code = absl::StatusCodeToString(absl::StatusCode::kOk);
          auto appended = log.Append(committing);
          if (!appended.ok()) {
            unrecordable = appended.status();
            return unrecordable;
          }
          return absl::OkStatus();
        });
    status = work(&version);
    ran = hook.ran();
  }
  // The log refused the record of the change, which was rolled back: the
  // call is refused (once: a second record would be refused too), even if
  // `work` went on as if the change were optional.
  if (!ran && !unrecordable.ok()) {
    if (status.ok() && undo) undo();
    return unrecordable;
  }
  if (note != nullptr && !note->empty()) entry.note = *note;
  if (!ran) {
    // No change was committed (if a COMMIT failed after its record was
    // written, this record of the failure follows it, under the same
    // request id).
    absl::Status answer = AppendOutcome(log, std::move(entry), version, status);
    if (!answer.ok() && status.ok() && undo) undo();
    return answer;
  }
  if (status.ok()) return status;
  // The change is made (and recorded); what failed came after it.
  AppendOutcome(log, std::move(entry), version, status).IgnoreError();
  return absl::Status(status.code(),
                      absl::StrCat("the change was made, but a later step "
                                   "failed: ",
                                   status.message()));
}

}  // namespace keyward::daemon
