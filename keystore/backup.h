// Backups: an encrypted, integrity-checked snapshot of a whole keystore
// that restores only with the passphrase that was current when it was made.
//
// Format (version 1), all lengths big-endian uint32:
//   "KWBACKUP1\n"
//   len || kdf_salt, len || scrypt n (decimal), len || r, len || p,
//   len || kek_check, len || wrapped_root_key        (the hierarchy, clear)
//   AES-256-GCM under the root key of the SQLite file's bytes, with the
//   associated data "keyward backup v1" || everything before it.
// The hierarchy in the header is the one the snapshot holds, so the
// passphrase unlocks it exactly as it unlocks the keystore.
#ifndef KEYWARD_KEYSTORE_BACKUP_H_
#define KEYWARD_KEYSTORE_BACKUP_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/keystore.h"

namespace keyward::keystore {

// BackupHeader is the clear part of a backup: the hierarchy it holds.
struct BackupHeader {
  KeystoreMeta meta;
  size_t size = 0;  // bytes of the backup the header takes, magic included
};

// ParseBackupHeader reads the header of `backup` without the passphrase (no
// scrypt, no decryption). INVALID_ARGUMENT if it is not a Keyward backup;
// DATA_LOSS if the header is truncated, a number in it is not one, or its
// scrypt parameters are out of range. Thread-safe.
absl::StatusOr<BackupHeader> ParseBackupHeader(absl::string_view backup);

// RestoreBackup checks `backup` against `passphrase` and writes the keystore
// it holds to `path` (mode 0600), which must not exist (ALREADY_EXISTS).
// UNAUTHENTICATED for a wrong passphrase; DATA_LOSS if the backup was
// altered or truncated; INVALID_ARGUMENT if it is not a Keyward backup.
// Writes nothing at `path` unless every check passed (staged in a temporary
// file beside it, checked with integrity_check and opened, then renamed).
// EncodeBackup makes a backup of the SQLite file bytes `db_file`, whose
// hierarchy is `meta` and whose root key `root` holds (for
// Keystore::CreateBackup).
absl::StatusOr<std::string> EncodeBackup(const KeystoreMeta& meta,
                                         absl::string_view db_file,
                                         const crypto::Aead& root);

absl::Status RestoreBackup(absl::string_view backup,
                           const crypto::SecretData& passphrase,
                           const std::string& path);

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_BACKUP_H_
