// Keystore: backup and restore, as records (backup.h), on any backend.
#include "keystore/keystore.h"

#include "absl/strings/str_cat.h"
#include "keystore/backup.h"
#include "keystore/keystore_impl.h"
#include "keystore/store_records.h"

namespace keyward::keystore {

using crypto::SecretData;

absl::StatusOr<std::string> Keystore::CreateBackup(
    const std::string& scratch_path) {
  (void)scratch_path;  // records need no staging file
  auto root = impl_->Root();
  if (!root.ok()) return root.status();
  // One snapshot: the hierarchy and every record as of one moment. A
  // passphrase change re-wraps the same root key, so `root` seals it.
  auto records = ExportAll(*impl_->storage_);
  if (!records.ok()) return records.status();
  return EncodeBackup(*records, **root);
}

absl::Status Keystore::Restore(absl::string_view backup,
                               const SecretData& passphrase,
                               const std::string& scratch_path) {
  // Every check (passphrase, integrity, a format-1 file's integrity_check)
  // before anything changes.
  auto records = DecodeBackup(backup, passphrase, scratch_path);
  if (!records.ok()) return records.status();
  {
    // No cache load or admin change of this process runs until the new
    // rows are in and the old root key and cached keys are gone. The rows
    // go in one transaction under the commit hook (the call's audit
    // record).
    absl::MutexLock admin(&impl_->admin_mu_);
    absl::Status s = impl_->storage_->ReplaceAll(*records);
    if (!s.ok()) return s;
    Seal();
  }
  return impl_->LoadIndexes();
}

}  // namespace keyward::keystore
