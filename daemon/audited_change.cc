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
                        absl::FunctionRef<absl::Status(int32_t* version)> work) {
  int32_t version = 0;
  absl::Status status;
  bool ran = false;
  bool committed = false;
  absl::Status unrecordable;  // why the hook could not write the record
  {
    keystore::ScopedCommitHook hook(
        [&](const keystore::CommitInfo& info) -> absl::Status {
          AuditEntry committing = entry;
          committing.version = info.version;
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
    committed = hook.committed();
  }
  // The log refused the record of the change, which was rolled back: the
  // call is refused (once: a second record would be refused too), even if
  // `work` went on as if the change were optional.
  if (!ran && !unrecordable.ok()) return unrecordable;
  if (!ran) return AppendOutcome(log, std::move(entry), version, status);
  if (committed) {
    if (status.ok()) return status;
    // The change is made (and recorded); what failed came after it.
    AppendOutcome(log, std::move(entry), version, status).IgnoreError();
    return absl::Status(status.code(),
                        absl::StrCat("the change was made, but a later step "
                                     "failed: ",
                                     status.message()));
  }
  // The record of the change was written, then COMMIT failed: the change is
  // not made. Say so in the log, under the same request id.
  if (status.ok()) {
    status = absl::UnavailableError(
        "the change could not be committed; nothing was changed");
  }
  AppendOutcome(log, std::move(entry), version, status).IgnoreError();
  return status;
}

}  // namespace keyward::daemon
