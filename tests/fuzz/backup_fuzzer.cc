// Fuzzes the backup stream's header (keystore/backup.h), both formats
// (KWBACKUP1: a SQLite file; KWBACKUP2: the record stream): ParseBackupHeader,
// and RestoreBackup for backups whose header it refuses.
// Asserts, beyond "no crash":
// - ParseBackupHeader refuses only with INVALID_ARGUMENT (not a backup) or
//   DATA_LOSS (truncated, damaged), and RestoreBackup refuses such a backup
//   with the same status, writing nothing at the target path;
// - a header that parses has format 1 or 2, scrypt parameters in range, a
//   size within the input, and re-encodes (EncodeBackup, format 2) to a
//   header that parses to the same hierarchy.
// Not covered: past the header a restore runs scrypt (>= 0.1 s), and the
// rest is AES-GCM under the root key, so only a backup made with the
// passphrase reaches the SQLite file; a fuzzer cannot get there usefully.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "keystore/backup.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/secret_data.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using keyward::crypto::SecretData;
using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;
namespace ks = keyward::keystore;

const std::string& TargetPath() {
  static const std::string* path = [] {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") +
                      "/backup_fuzzer.XXXXXX";
    Require(mkdtemp(dir.data()) != nullptr, "mkdtemp");
    return new std::string(dir + "/restored.db");
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view backup(reinterpret_cast<const char*>(data), size);
  auto header = ks::ParseBackupHeader(backup);
  RequireCode(header.status(),
              {absl::StatusCode::kInvalidArgument, absl::StatusCode::kDataLoss},
              "ParseBackupHeader");
  if (!header.ok()) {
    static const SecretData* passphrase = new SecretData("passphrase");
    absl::Status restored = ks::RestoreBackup(backup, *passphrase, TargetPath());
    Require(restored == header.status(),
            "RestoreBackup and ParseBackupHeader disagree");
    Require(access(TargetPath().c_str(), F_OK) != 0,
            "a refused restore wrote the keystore");
    return 0;
  }
  Require(header->size <= size, "the header is longer than the backup");
  Require(header->format == 1 || header->format == 2, "an unknown format");
  static const auto* root = [] {
    auto aead = keyward::crypto::AesGcm::Create(SecretData(std::string(32, 'r')));
    Require(aead.ok(), "AES-GCM key");
    return aead->release();
  }();
  auto encoded = ks::EncodeBackup({header->meta}, *root);
  Require(encoded.ok(), "a parsed header does not encode");
  auto again = ks::ParseBackupHeader(*encoded);
  Require(again.ok() && again->format == ks::kBackupFormat,
          "an encoded header does not parse");
  const ks::KeystoreMeta& a = header->meta;
  const ks::KeystoreMeta& b = again->meta;
  Require(a.kdf_salt == b.kdf_salt && a.scrypt_n == b.scrypt_n &&
              a.scrypt_r == b.scrypt_r && a.scrypt_p == b.scrypt_p &&
              a.kek_check == b.kek_check &&
              a.wrapped_root_key == b.wrapped_root_key,
          "a re-encoded header parses to another hierarchy");
  return 0;
}
