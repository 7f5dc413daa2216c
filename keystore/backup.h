// Backups: an encrypted, integrity-checked copy of a whole keystore that
// restores only with the passphrase that was current when it was made, into
// any backend (a backup made on SQLite restores into PostgreSQL and back).
//
// Format 2 (what EncodeBackup writes), all lengths big-endian uint32:
//   "KWBACKUP2\n"
//   len || kdf_salt, len || scrypt n (decimal), len || r, len || p,
//   len || kek_check, len || wrapped_root_key        (the hierarchy, clear)
//   AES-256-GCM under the root key of the keystore's records
//   (store_records.h: the KeystoreMeta, then keys with their labels and
//   versions, policies, API keys, token records), with the associated data
//   "keyward backup v2" || everything before it.
// Format 1 (written by keywardd before format 2; still restored): the same
// header after "KWBACKUP1\n", and AES-256-GCM of a SQLite keystore file with
// the associated data "keyward backup v1" || header; its file is staged,
// migrated and read back as records.
// The hierarchy in the header is the one the backup holds, so the
// passphrase unlocks it exactly as it unlocks the keystore.
#ifndef KEYWARD_KEYSTORE_BACKUP_H_
#define KEYWARD_KEYSTORE_BACKUP_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/records.h"
#include "keystore/storage.h"
#include "keystore/store_records.h"

namespace keyward::keystore {

// The backup format EncodeBackup writes (BackupInfo.format_version).
inline constexpr int kBackupFormat = 2;

// BackupHeader is the clear part of a backup: the hierarchy it holds.
struct BackupHeader {
  KeystoreMeta meta;
  size_t size = 0;  // bytes of the backup the header takes, magic included
  int format = 0;   // 1 (a SQLite file) or 2 (records)
};

// ParseBackupHeader reads the header of `backup` without the passphrase (no
// scrypt, no decryption). INVALID_ARGUMENT if it is not a Keyward backup
// (neither magic); DATA_LOSS if the header is truncated, a number in it is
// not one, or its scrypt parameters are out of range. Thread-safe.
absl::StatusOr<BackupHeader> ParseBackupHeader(absl::string_view backup);

// EncodeBackup makes a format-2 backup of `records` (what
// Storage::ExportRecords gives: one KeystoreMeta, whose hierarchy goes in
// the header and whose root key `root` holds). INVALID_ARGUMENT if the
// records hold no KeystoreMeta or more than one.
absl::StatusOr<std::string> EncodeBackup(const std::vector<StoreRecord>& records,
                                         const crypto::Aead& root);

// DecodeBackup checks `backup` against `passphrase` and returns the records
// it holds, with their KeystoreMeta first. UNAUTHENTICATED for a wrong
// passphrase; DATA_LOSS if the backup was altered or truncated (the GCM tag
// fails, a record does not parse, or the records' hierarchy is not the
// header's); INVALID_ARGUMENT if it is not a Keyward backup. A format-1
// backup's SQLite file is staged at `scratch_path` (mode 0600; removed
// before returning), migrated and integrity-checked. Reads no keystore.
absl::StatusOr<std::vector<StoreRecord>> DecodeBackup(
    absl::string_view backup, const crypto::SecretData& passphrase,
    const std::string& scratch_path);

// RestoreBackup checks `backup` against `passphrase` and writes the keystore
// it holds to a new SQLite file at `path` (mode 0600), which must not exist
// (ALREADY_EXISTS). Errors as DecodeBackup. Writes nothing at `path` unless
// every check passed (staged in a temporary file beside it, checked with
// integrity_check, then renamed).
absl::Status RestoreBackup(absl::string_view backup,
                           const crypto::SecretData& passphrase,
                           const std::string& path);

// RestoreBackupInto writes the keystore `backup` holds into `target` (any
// backend), which must hold no keystore: FAILED_PRECONDITION if it has a
// key hierarchy or any record (nothing is changed then). Errors otherwise as
// DecodeBackup (with `scratch_path` for a format-1 backup) and
// Storage::ReplaceAll; one transaction, under the commit hook.
absl::Status RestoreBackupInto(absl::string_view backup,
                               const crypto::SecretData& passphrase,
                               const std::string& scratch_path,
                               Storage& target);

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_BACKUP_H_
