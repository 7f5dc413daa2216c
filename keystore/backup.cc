#include "keystore/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "keystore/hierarchy.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {
namespace {

constexpr absl::string_view kMagic = "KWBACKUP1\n";
constexpr absl::string_view kAadLabel = "keyward backup v1";

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

}  // namespace

absl::StatusOr<std::string> EncodeBackup(const KeystoreMeta& meta,
                                         absl::string_view db_file,
                                         const crypto::Aead& root) {
  std::string header(kMagic);
  PutField(&header, meta.kdf_salt);
  PutField(&header, absl::StrCat(meta.scrypt_n));
  PutField(&header, absl::StrCat(meta.scrypt_r));
  PutField(&header, absl::StrCat(meta.scrypt_p));
  PutField(&header, meta.kek_check);
  PutField(&header, meta.wrapped_root_key);
  auto sealed = root.Encrypt(db_file, absl::StrCat(kAadLabel, header));
  if (!sealed.ok()) return sealed.status();
  return absl::StrCat(header, *sealed);
}

absl::StatusOr<BackupHeader> ParseBackupHeader(absl::string_view backup) {
  absl::string_view in = backup;
  if (!absl::ConsumePrefix(&in, kMagic)) {
    return absl::InvalidArgumentError(
        "this is not a Keyward backup (it does not start with KWBACKUP1)");
  }
  BackupHeader header;
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

absl::Status RestoreBackup(absl::string_view backup,
                           const crypto::SecretData& passphrase,
                           const std::string& path) {
  auto parsed = ParseBackupHeader(backup);
  if (!parsed.ok()) return parsed.status();
  const KeystoreMeta& meta = parsed->meta;
  const absl::string_view header = backup.substr(0, parsed->size);
  const absl::string_view in = backup.substr(parsed->size);
  // The passphrase must unlock the snapshot's own hierarchy.
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
  auto db = (*root)->Decrypt(in, absl::StrCat(kAadLabel, header));
  if (!db.ok()) {
    return absl::DataLossError(
        "the backup fails its integrity check (altered or truncated); "
        "nothing was restored");
  }

  if (access(path.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a keystore already exists at '", path,
        "'; move it away to restore into its place"));
  }
  const std::string staged = absl::StrCat(path, ".restoring");
  unlink(staged.c_str());
  int fd = open(staged.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write '", staged, "': ", strerror(errno)));
  }
  bool written = write(fd, db->data(), db->size()) ==
                     static_cast<ssize_t>(db->size()) &&
                 fsync(fd) == 0;
  close(fd);
  absl::Status checked =
      written ? absl::OkStatus()
              : absl::UnavailableError(absl::StrCat("cannot write '", staged, "'"));
  if (checked.ok()) {
    auto storage = SqliteStorage::Open(staged, SqliteStorage::Mode::kOpenExisting);
    checked = storage.ok() ? (*storage)->IntegrityCheck() : storage.status();
  }
  if (checked.ok()) {
    auto keystore = Keystore::Open(staged, passphrase);
    checked = keystore.status();
  }
  if (checked.ok() && rename(staged.c_str(), path.c_str()) != 0) {
    checked = absl::UnavailableError(
        absl::StrCat("cannot move the restored keystore into place: ",
                     strerror(errno)));
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    unlink(absl::StrCat(staged, suffix).c_str());
  }
  return checked;
}

}  // namespace keyward::keystore
