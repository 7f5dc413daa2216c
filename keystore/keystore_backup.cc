// Keystore: backup and restore.
#include "keystore/keystore.h"

#include <unistd.h>

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "keystore/backup.h"
#include "keystore/key_types.h"
#include "keystore/keystore_impl.h"

namespace keyward::keystore {

using crypto::SecretData;
using crypto::SignatureAlgorithm;

absl::StatusOr<std::string> Keystore::CreateBackup(
    const std::string& scratch_path) {
  absl::Status supported = impl_->BackupsSupported();
  if (!supported.ok()) return supported;
  auto root = impl_->Root();
  if (!root.ok()) return root.status();
  absl::MutexLock lock(&impl_->admin_mu_);  // no passphrase change in between
  auto meta = impl_->storage_->ReadMeta();
  if (!meta.ok()) return meta.status();
  absl::Status s = impl_->storage_->SnapshotTo(scratch_path);
  if (!s.ok()) return s;
  std::string db;
  {
    std::ifstream in(scratch_path, std::ios::binary);
    db.assign(std::istreambuf_iterator<char>(in), {});
  }
  unlink(scratch_path.c_str());
  if (db.empty()) return absl::UnavailableError("the snapshot came out empty");
  return EncodeBackup(*meta, db, **root);
}

absl::Status Keystore::Restore(absl::string_view backup,
                               const SecretData& passphrase,
                               const std::string& scratch_path) {
  absl::Status supported = impl_->BackupsSupported();
  if (!supported.ok()) return supported;
  absl::Status s = RestoreBackup(backup, passphrase, scratch_path);
  if (s.ok()) {
    // No cache load or admin change runs until the new rows are in and the
    // old root key and cached keys are gone.
    absl::MutexLock admin(&impl_->admin_mu_);
    s = impl_->storage_->ReplaceWith(scratch_path);
    if (s.ok()) Seal();
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    unlink(absl::StrCat(scratch_path, suffix).c_str());
  }
  if (!s.ok()) return s;
  return impl_->LoadIndexes();
}

}  // namespace keyward::keystore
