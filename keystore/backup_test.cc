// Backups as records (backup.h): a backup made on SQLite restores into a
// real PostgreSQL and back with every record byte for byte equal; a damaged
// backup (a flipped byte, a truncation, the wrong passphrase) is refused
// with its specific code and nothing written; a format-1 backup (a SQLite
// file, made by keywardd before format 2: testdata/backup_v1.kwbackup)
// still restores. (In the BoringSSL flavor, which has no PostgreSQL, the
// PostgreSQL leg is skipped and the rest runs.)
#include "keystore/backup.h"

#include <unistd.h>

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/hierarchy.h"
#include "keystore/keystore.h"
#include "keystore/postgres_storage.h"
#include "keystore/sqlite_storage.h"
#include "keystore/testing/postgres_server.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using testing::PostgresServer;
using testing::TempPath;
using ::testing::HasSubstr;

const SecretData& Passphrase() {
  static const SecretData* p = new SecretData("backup test passphrase");
  return *p;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::unique_ptr<Storage> NewSqlite(const std::string& path) {
  auto s = SqliteStorage::Open(path, SqliteStorage::Mode::kCreateNew);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// A SQLite store holding one record of every kind under a real hierarchy
// (passphrase -> scrypt -> root), and that root as an AEAD.
struct Source {
  std::unique_ptr<Storage> storage;
  std::unique_ptr<crypto::Aead> root;
};

Source MakeSource() {
  Source src;
  src.storage = NewSqlite(TempPath("source.db"));
  if (src.storage == nullptr) return src;
  testing::PopulateEveryKind(*src.storage);
  SecretData root;
  auto meta = NewHierarchy(Passphrase(), KdfParams(), &root);
  EXPECT_TRUE(meta.ok());
  EXPECT_TRUE(src.storage->ReplaceMeta("root-1", *meta).ok());
  auto aead = crypto::AesGcm::Create(root);
  EXPECT_TRUE(aead.ok());
  src.root = std::move(*aead);
  return src;
}

class PostgresOnce {
 public:
  static absl::StatusOr<std::unique_ptr<Storage>> FreshDatabase() {
    static PostgresServer* server = [] {
      auto started = PostgresServer::Start({});
      EXPECT_TRUE(started.ok()) << started.status();
      return started.ok() ? started->release() : nullptr;
    }();
    if (server == nullptr) return absl::UnavailableError("no server");
    auto dsn = server->CreateDatabase();
    if (!dsn.ok()) return dsn.status();
    PostgresOptions options;
    options.dsn = *dsn;
    auto s = PostgresStorage::Open(options);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Storage>(std::move(*s));
  }
};

TEST(BackupTest, SqliteToPostgresToSqliteKeepsEveryRecordByteForByte) {
  Source src = MakeSource();
  ASSERT_NE(src.storage, nullptr);
  auto records = ExportAll(*src.storage);
  ASSERT_TRUE(records.ok()) << records.status();
  auto backup = EncodeBackup(*records, *src.root);
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_EQ(backup->substr(0, 10), "KWBACKUP2\n");
  auto header = ParseBackupHeader(*backup);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->format, 2);

  std::string second = *backup;
  if (PostgresStorage::Available()) {
    auto pg = PostgresOnce::FreshDatabase();
    ASSERT_TRUE(pg.ok()) << pg.status();
    ASSERT_TRUE(RestoreBackupInto(*backup, Passphrase(), TempPath("scratch"),
                                  **pg)
                    .ok());
    auto in_pg = ExportAll(**pg);
    ASSERT_TRUE(in_pg.ok()) << in_pg.status();
    absl::Status same = CompareRecords(*records, *in_pg);
    EXPECT_TRUE(same.ok()) << same;
    // A restore into a database that holds a keystore is refused.
    absl::Status again =
        RestoreBackupInto(*backup, Passphrase(), TempPath("scratch"), **pg);
    EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
    // And back: a backup made from PostgreSQL's records.
    auto from_pg = EncodeBackup(*in_pg, *src.root);
    ASSERT_TRUE(from_pg.ok());
    EXPECT_EQ(*from_pg == *backup, false);  // a fresh GCM nonce
    second = *from_pg;
  }
  const std::string path = TempPath("restored.db");
  ASSERT_TRUE(RestoreBackup(second, Passphrase(), path).ok());
  auto restored = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  ASSERT_TRUE(restored.ok()) << restored.status();
  auto back = ExportAll(**restored);
  ASSERT_TRUE(back.ok());
  absl::Status same = CompareRecords(*records, *back);
  EXPECT_TRUE(same.ok()) << same;
  EXPECT_EQ(RestoreBackup(second, Passphrase(), path).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(BackupTest, DamagedBackupsAreRefusedWithTheirCodeAndNothingWritten) {
  Source src = MakeSource();
  ASSERT_NE(src.storage, nullptr);
  auto records = ExportAll(*src.storage);
  ASSERT_TRUE(records.ok());
  auto backup = EncodeBackup(*records, *src.root);
  ASSERT_TRUE(backup.ok());
  const size_t header = ParseBackupHeader(*backup)->size;
  auto target = NewSqlite(TempPath("target.db"));
  ASSERT_NE(target, nullptr);
  const std::string path = TempPath("never.db");
  auto refused = [&](const std::string& bad, const SecretData& pass) {
    absl::Status into =
        RestoreBackupInto(bad, pass, TempPath("scratch"), *target);
    absl::Status file = RestoreBackup(bad, pass, path);
    EXPECT_EQ(into.code(), file.code()) << into << " / " << file;
    EXPECT_NE(access(path.c_str(), F_OK), 0) << "a refused restore wrote";
    EXPECT_TRUE(ExportAll(*target)->empty()) << "a refused restore wrote";
    return into;
  };
  // A flipped byte past the header (the sealed records, the GCM tag).
  for (size_t at : {header, header + 12, header + 40, backup->size() / 2,
                    backup->size() - 1}) {
    std::string bad = *backup;
    bad[at] ^= 0x01;
    absl::Status s = refused(bad, Passphrase());
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "byte " << at;
    EXPECT_THAT(s.message(), HasSubstr("integrity check"));
  }
  // A flipped byte in the header's hierarchy: the salt or the KEK check
  // (the passphrase no longer unlocks it), the wrapped root (damaged).
  {
    std::string bad = *backup;
    bad[14] ^= 0x01;  // inside kdf_salt
    EXPECT_EQ(refused(bad, Passphrase()).code(),
              absl::StatusCode::kUnauthenticated);
    bad = *backup;
    bad[header - 5] ^= 0x01;  // inside wrapped_root_key
    EXPECT_EQ(refused(bad, Passphrase()).code(), absl::StatusCode::kDataLoss);
  }
  // Truncations: inside the header, and of the sealed part.
  for (size_t n : {size_t{5}, size_t{12}, header - 1, header, header + 20,
                   backup->size() - 1}) {
    absl::Status s = refused(backup->substr(0, n), Passphrase());
    EXPECT_EQ(s.code(), n < 10 ? absl::StatusCode::kInvalidArgument
                               : absl::StatusCode::kDataLoss)
        << "cut at " << n << ": " << s;
  }
  // The wrong passphrase.
  absl::Status s = refused(*backup, SecretData("not the passphrase"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("wrong passphrase for this backup"));
}

// testdata/backup_v1.kwbackup: a format-1 backup (the SQLite file) made by
// keywardd at commit 5096e0f with the passphrase below: keys `signing`
// (Ed25519; v1 destroyed, v2 disabled, v3 primary; labels), `cards` (AES;
// testdata/backup_v1.ciphertext is "4111 1111 1111 1111" under it, AAD
// "aad"), `jwt` (ECDSA P-256, purpose JWT), `mac` (HMAC); policy `app`; API
// keys `ci` and `old` (revoked); token records `jti-1` (sealed token,
// metadata) and `jti-2` (revoked).
TEST(BackupTest, AFormatOneBackupStillRestores) {
  const std::string fixture = ReadFile("keystore/testdata/backup_v1.kwbackup");
  ASSERT_FALSE(fixture.empty());
  const SecretData pass("keyward v1 backup fixture passphrase");
  auto header = ParseBackupHeader(fixture);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->format, 1);
  EXPECT_EQ(DecodeBackup(fixture, SecretData("wrong"), TempPath("s")).status().code(),
            absl::StatusCode::kUnauthenticated);
  std::string bad = fixture;
  bad[bad.size() - 3] ^= 0x10;
  EXPECT_EQ(DecodeBackup(bad, pass, TempPath("s")).status().code(),
            absl::StatusCode::kDataLoss);

  const std::string scratch = TempPath("v1-scratch");
  auto records = DecodeBackup(fixture, pass, scratch);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_NE(access(scratch.c_str(), F_OK), 0) << "the staged file was kept";
  RecordCounts counts = CountRecords(*records);
  EXPECT_EQ(counts.metas, 1);
  EXPECT_EQ(counts.keys, 4);
  EXPECT_EQ(counts.versions, 6);
  EXPECT_EQ(counts.policies, 1);
  EXPECT_EQ(counts.api_keys, 2);
  EXPECT_EQ(counts.tokens, 2);
  const auto& cards = std::get<KeyWithVersions>((*records)[1]);
  EXPECT_EQ(cards.key.id, "cards");
  EXPECT_EQ(cards.key.revision, 1);  // migrated: schema 5 had none
  const auto& signing = std::get<KeyWithVersions>((*records)[4]);
  EXPECT_EQ(signing.key.id, "signing");
  EXPECT_EQ(signing.key.labels.at("team"), "payments");
  ASSERT_EQ(signing.versions.size(), 3u);
  EXPECT_EQ(signing.versions[0].state, VersionState::kDestroyed);
  EXPECT_EQ(signing.versions[1].state, VersionState::kDisabled);
  EXPECT_EQ(signing.key.primary_version, 3);

  // Restored into a new SQLite keystore, it opens with its passphrase and
  // decrypts what it encrypted; the revoked token is still revoked.
  const std::string path = TempPath("from-v1.db");
  ASSERT_TRUE(RestoreBackup(fixture, pass, path).ok());
  auto ks = Keystore::Open(path, pass);
  ASSERT_TRUE(ks.ok()) << ks.status();
  auto plain = (*ks)->Decrypt(
      "cards", ReadFile("keystore/testdata/backup_v1.ciphertext"), "aad");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->InsecureView(), "4111 1111 1111 1111");
  EXPECT_TRUE((*ks)->IsTokenRevoked("jti-2"));
  EXPECT_FALSE((*ks)->IsTokenRevoked("jti-1"));
  auto token = (*ks)->GetTokenRecord("jti-1");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*(*ks)->OpenToken(*token), "header.payload.sig");

  // And into PostgreSQL, as records.
  if (PostgresStorage::Available()) {
    auto pg = PostgresOnce::FreshDatabase();
    ASSERT_TRUE(pg.ok()) << pg.status();
    ASSERT_TRUE(RestoreBackupInto(fixture, pass, TempPath("s"), **pg).ok());
    auto in_pg = ExportAll(**pg);
    ASSERT_TRUE(in_pg.ok());
    absl::Status same = CompareRecords(*records, *in_pg);
    EXPECT_TRUE(same.ok()) << same;
  }
}

}  // namespace
}  // namespace keyward::keystore
