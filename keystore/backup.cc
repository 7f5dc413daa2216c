#include "keystore/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "keystore/hierarchy.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {
namespace {

constexpr absl::string_view kMagicV1 = "KWBACKUP1\n";
constexpr absl::string_view kMagicV2 = "KWBACKUP2\n";
constexpr absl::string_view kAadV1 = "keyward backup v1";
constexpr absl::string_view kAadV2 = "keyward backup v2";

void PutField(std::string* out, absl::string_view field) {
  const uint32_t n = field.size();
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
  out->append(len, 4);
  out->append(field.data(), field.size());
}

bool TakeField(absl::string_view* in, absl::string_view* field) {
  if (in->size() < 4) return false;
  const auto* b = reinterpret_cast<const unsigned char*>(in->data());
  const uint32_t n = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
                     (uint32_t{b[2]} << 8) | b[3];
  if (in->size() - 4 < n) return false;
  *field = in->substr(4, n);
  in->remove_prefix(4 + n);
  return true;
}

std::string Header(absl::string_view magic, const KeystoreMeta& meta) {
  std::string header(magic);
  PutField(&header, meta.kdf_salt);
  PutField(&header, absl::StrCat(meta.scrypt_n));
  PutField(&header, absl::StrCat(meta.scrypt_r));
  PutField(&header, absl::StrCat(meta.scrypt_p));
  PutField(&header, meta.kek_check);
  PutField(&header, meta.wrapped_root_key);
  return header;
}

bool SameMeta(const KeystoreMeta& a, const KeystoreMeta& b) {
  return a.kdf_salt == b.kdf_salt && a.scrypt_n == b.scrypt_n &&
         a.scrypt_r == b.scrypt_r && a.scrypt_p == b.scrypt_p &&
         a.kek_check == b.kek_check && a.wrapped_root_key == b.wrapped_root_key;
}

absl::Status WriteNewFile(const std::string& path, absl::string_view bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write '", path, "': ", strerror(errno)));
  }
  const bool written =
      write(fd, bytes.data(), bytes.size()) ==
          static_cast<ssize_t>(bytes.size()) &&
      fsync(fd) == 0;
  close(fd);
  if (!written) {
    return absl::UnavailableError(absl::StrCat("cannot write '", path, "'"));
  }
  return absl::OkStatus();
}

void RemoveSqliteFiles(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    unlink(absl::StrCat(path, suffix).c_str());
  }
}

// RecordsOfSqliteFile reads a format-1 backup's SQLite keystore file (its
// bytes `db`) as records: staged at `scratch`, migrated to this build's
// schema by opening it, integrity-checked, exported, removed.
absl::StatusOr<std::vector<StoreRecord>> RecordsOfSqliteFile(
    absl::string_view db, const std::string& scratch) {
  RemoveSqliteFiles(scratch);
  absl::Status s = WriteNewFile(scratch, db);
  std::vector<StoreRecord> records;
  if (s.ok()) {
    auto storage = SqliteStorage::Open(scratch, SqliteStorage::Mode::kOpenExisting);
    s = storage.ok() ? (*storage)->IntegrityCheck() : storage.status();
    if (s.ok()) {
      auto exported = ExportAll(**storage);
      s = exported.status();
      if (s.ok()) records = std::move(*exported);
    }
  }
  RemoveSqliteFiles(scratch);
  if (absl::IsDataLoss(s)) {
    return absl::DataLossError(
        absl::StrCat("the backup's keystore file is damaged: ", s.message()));
  }
  if (!s.ok()) return s;
  return records;
}

}  // namespace

absl::StatusOr<std::string> EncodeBackup(const std::vector<StoreRecord>& records,
                                         const crypto::Aead& root) {
  const KeystoreMeta* meta = nullptr;
  int metas = 0;
  std::string stream;
  for (const StoreRecord& r : records) {
    if (const auto* m = std::get_if<KeystoreMeta>(&r)) {
      meta = m;
      ++metas;
    }
    AppendRecord(r, &stream);
  }
  if (metas != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a backup holds one key hierarchy; the records hold ", metas));
  }
  const std::string header = Header(kMagicV2, *meta);
  auto sealed = root.Encrypt(stream, absl::StrCat(kAadV2, header));
  if (!sealed.ok()) return sealed.status();
  return absl::StrCat(header, *sealed);
}

absl::StatusOr<BackupHeader> ParseBackupHeader(absl::string_view backup) {
  absl::string_view in = backup;
  BackupHeader header;
  if (absl::ConsumePrefix(&in, kMagicV2)) {
    header.format = 2;
  } else if (absl::ConsumePrefix(&in, kMagicV1)) {
    header.format = 1;
  } else {
    return absl::InvalidArgumentError(
        "this is not a Keyward backup (it does not start with KWBACKUP2 or "
        "KWBACKUP1)");
  }
  KeystoreMeta& meta = header.meta;
  absl::string_view fields[6];
  for (absl::string_view& f : fields) {
    if (!TakeField(&in, &f)) {
      return absl::DataLossError("the backup's header is truncated");
    }
  }
  meta.kdf_salt = std::string(fields[0]);
  meta.kek_check = std::string(fields[4]);
  meta.wrapped_root_key = std::string(fields[5]);
  if (!absl::SimpleAtoi(fields[1], &meta.scrypt_n) ||
      !absl::SimpleAtoi(fields[2], &meta.scrypt_r) ||
      !absl::SimpleAtoi(fields[3], &meta.scrypt_p)) {
    return absl::DataLossError("the backup's header is damaged");
  }
  absl::Status valid =
      ValidateKdfParams(KdfParams{meta.scrypt_n, meta.scrypt_r, meta.scrypt_p});
  if (!valid.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the backup's scrypt parameters are damaged: ", valid.message()));
  }
  header.size = backup.size() - in.size();
  return header;
}

absl::StatusOr<std::vector<StoreRecord>> DecodeBackup(
    absl::string_view backup, const crypto::SecretData& passphrase,
    const std::string& scratch_path) {
  auto parsed = ParseBackupHeader(backup);
  if (!parsed.ok()) return parsed.status();
  const KeystoreMeta& meta = parsed->meta;
  const absl::string_view header = backup.substr(0, parsed->size);
  // The passphrase must unlock the backup's own hierarchy.
  auto root_key = UnlockRoot(meta, passphrase);
  if (!root_key.ok()) {
    if (absl::IsUnauthenticated(root_key.status())) {
      return absl::UnauthenticatedError(
          "wrong passphrase for this backup: it restores only with the "
          "passphrase that was current when it was made");
    }
    return root_key.status();
  }
  auto root = crypto::AesGcm::Create(*root_key);
  if (!root.ok()) return root.status();
  const absl::string_view aad = parsed->format == 2 ? kAadV2 : kAadV1;
  auto plain = (*root)->Decrypt(backup.substr(parsed->size),
                                absl::StrCat(aad, header));
  if (!plain.ok()) {
    return absl::DataLossError(
        "the backup fails its integrity check (altered or truncated); "
        "nothing was restored");
  }
  auto records = parsed->format == 2
                     ? DecodeRecords(*plain)
                     : RecordsOfSqliteFile(*plain, scratch_path);
  if (!records.ok()) return records.status();
  // Exactly one hierarchy, the header's, and first.
  int metas = 0;
  for (const StoreRecord& r : *records) {
    if (std::holds_alternative<KeystoreMeta>(r)) ++metas;
  }
  if (metas != 1 || !std::holds_alternative<KeystoreMeta>(records->front()) ||
      !SameMeta(std::get<KeystoreMeta>(records->front()), meta)) {
    return absl::DataLossError(
        "the backup's records do not hold the key hierarchy of its header; "
        "nothing was restored");
  }
  return records;
}

absl::Status RestoreBackup(absl::string_view backup,
                           const crypto::SecretData& passphrase,
                           const std::string& path) {
  auto exists = [&]() -> absl::Status {
    if (access(path.c_str(), F_OK) != 0) return absl::OkStatus();
    return absl::AlreadyExistsError(
        absl::StrCat("a keystore already exists at '", path,
                     "'; move it away to restore into its place"));
  };
  const std::string staged = absl::StrCat(path, ".restoring");
  auto records = DecodeBackup(backup, passphrase, staged);
  if (!records.ok()) return records.status();
  absl::Status s = exists();
  if (!s.ok()) return s;
  RemoveSqliteFiles(staged);
  {
    auto storage = SqliteStorage::Open(staged, SqliteStorage::Mode::kCreateNew);
    s = storage.status();
    if (s.ok()) s = (*storage)->ReplaceAll(*records);
    if (s.ok()) s = (*storage)->IntegrityCheck();
  }
  if (s.ok() && rename(staged.c_str(), path.c_str()) != 0) {
    s = absl::UnavailableError(absl::StrCat(
        "cannot move the restored keystore into place: ", strerror(errno)));
  }
  RemoveSqliteFiles(staged);
  return s;
}

absl::Status RestoreBackupInto(absl::string_view backup,
                               const crypto::SecretData& passphrase,
                               const std::string& scratch_path,
                               Storage& target) {
  auto records = DecodeBackup(backup, passphrase, scratch_path);
  if (!records.ok()) return records.status();
  bool empty = true;
  absl::Status s = target.ExportRecords([&](const StoreRecord&) {
    empty = false;
    return absl::CancelledError();  // one record is enough to know
  });
  if (!s.ok() && !absl::IsCancelled(s)) return s;
  if (!empty) {
    return absl::FailedPreconditionError(
        "the target already holds a keystore (or some of one); restore "
        "into an empty database");
  }
  return target.ReplaceAll(*records);
}

}  // namespace keyward::keystore
