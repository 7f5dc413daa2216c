#include "daemon/commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "daemon/config.h"
#include "daemon/migrate.h"
#include "daemon/passphrase.h"
#include "keystore/backup.h"
#include "keystore/postgres_storage.h"

namespace keyward::daemon {
namespace {

// MigrationSide reads --from/--to: a SQLite keystore file (by its header),
// a path that does not exist yet (a new SQLite file, as a target), or a
// config file whose `storage` names the keystore.
absl::StatusOr<keystore::StorageSpec> MigrationSide(const std::string& path,
                                                    bool target) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    if (target && access(path.c_str(), F_OK) != 0) {
      return keystore::StorageSpec{path, std::nullopt};
    }
    return absl::NotFoundError(absl::StrCat(
        "cannot read '", path, "' (a config file or a SQLite keystore)"));
  }
  char head[16] = {};
  file.read(head, sizeof(head));
  if (file.gcount() == 16 &&
      std::string(head, 16) == std::string("SQLite format 3\0", 16)) {
    return keystore::StorageSpec{path, std::nullopt};
  }
  auto config = LoadConfigFile(path);
  if (!config.ok()) return config.status();
  absl::Status s = FinalizeConfig(&*config);
  if (!s.ok()) return s;
  if (config->storage().has_postgres() &&
      !keystore::PostgresStorage::Available()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", path, "' sets storage.postgres, but this build (the BoringSSL "
        "flavor) has no PostgreSQL"));
  }
  return StorageSpecFrom(*config);
}

// PrepareDataDir makes the data dir and reads the passphrase file: what
// init and restore do before they write a keystore.
absl::StatusOr<crypto::SecretData> PrepareDataDir(
    const keyward::v1::DaemonConfig& config) {
  absl::Status s = MakeDataDir(config.data_dir());
  if (!s.ok()) return s;
  return ReadPassphraseFile(config.passphrase_file());
}

}  // namespace

int Fail(const absl::Status& status, int code) {
  std::fprintf(stderr, "keywardd: %s\n", std::string(status.message()).c_str());
  return code;
}

std::string KeystorePath(const keyward::v1::DaemonConfig& config) {
  return absl::StrCat(config.data_dir(), "/keystore.db");
}

keystore::StorageSpec StorageSpecFrom(const keyward::v1::DaemonConfig& config) {
  keystore::StorageSpec spec;
  spec.sqlite_path = KeystorePath(config);
  if (config.storage().has_postgres()) {
    const auto& pg = config.storage().postgres();
    keystore::PostgresOptions options;
    options.dsn = pg.dsn();
    options.password_file = pg.password_file();
    options.pool_size = static_cast<int>(pg.pool_size());
    options.connect_timeout = ToDuration(pg.connect_timeout());
    options.statement_timeout = ToDuration(pg.statement_timeout());
    options.lock_timeout = ToDuration(pg.lock_timeout());
    options.idle_in_transaction_session_timeout =
        ToDuration(pg.idle_in_transaction_session_timeout());
    spec.postgres = std::move(options);
  }
  return spec;
}

std::string StorageName(const keyward::v1::DaemonConfig& config) {
  if (config.storage().has_postgres()) {
    return absl::StrCat("in PostgreSQL (dsn \"",
                        config.storage().postgres().dsn(), "\")");
  }
  return KeystorePath(config);
}

int StorageFailCode(const keyward::v1::DaemonConfig& config) {
  return config.storage().has_postgres() ? kExitUsage : 1;
}

absl::Status MakeDataDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create data dir '", dir, "': ", strerror(errno)));
  }
  return absl::OkStatus();
}

keystore::KeystoreOptions KeystoreOptionsFrom(
    const keyward::v1::DaemonConfig& config) {
  keystore::KeystoreOptions options;
  options.cache_size = config.key_cache_size();
  options.kdf.n = uint64_t{1} << config.scrypt().log2_n();
  options.kdf.r = config.scrypt().r();
  options.kdf.p = config.scrypt().p();
  const auto& limits = config.limits();
  options.import_kdf_limits.pbkdf2_max_iterations = limits.pbkdf2_max_iterations();
  options.import_kdf_limits.scrypt_max_n = limits.scrypt_max_n();
  options.import_kdf_limits.scrypt_max_r = limits.scrypt_max_r();
  options.import_kdf_limits.scrypt_max_p = limits.scrypt_max_p();
  options.import_kdf_limits.scrypt_max_memory_bytes =
      limits.scrypt_max_memory_bytes();
  options.import_kdf_limits.scrypt_max_work = limits.scrypt_max_work();
  return options;
}

AuditLogOptions AuditLogOptionsFrom(const keyward::v1::DaemonConfig& config) {
  AuditLogOptions options;
  if (config.audit().fsync() == keyward::v1::AUDIT_FSYNC_INTERVAL) {
    const auto& interval = config.audit().fsync_interval();
    options.fsync = AuditFsyncMode::kInterval;
    options.fsync_interval = absl::Seconds(interval.seconds()) +
                             absl::Nanoseconds(interval.nanos());
  }
  const auto& audit = config.audit();
  options.rotate_bytes = audit.rotate_bytes();
  options.rotate_interval = absl::Seconds(audit.rotate_interval().seconds()) +
                            absl::Nanoseconds(audit.rotate_interval().nanos());
  options.keep_files = audit.keep_files();
  options.keep_age = absl::Seconds(audit.keep_age().seconds()) +
                     absl::Nanoseconds(audit.keep_age().nanos());
  options.compress = audit.compress();
  options.require_shipped = audit.require_shipped();
  return options;
}

int Init(const keyward::v1::DaemonConfig& config) {
  if (config.passphrase_file().empty()) {
    return Fail(absl::InvalidArgumentError(
                    "init needs --passphrase_file (a file, mode 0600, holding "
                    "the new keystore's passphrase)"),
                kExitUsage);
  }
  auto passphrase = PrepareDataDir(config);
  if (!passphrase.ok()) return Fail(passphrase.status());
  auto ks = keystore::Keystore::Init(StorageSpecFrom(config), *passphrase,
                                     KeystoreOptionsFrom(config));
  if (!ks.ok()) return Fail(ks.status(), StorageFailCode(config));
  std::printf("keywardd: created keystore %s\n", StorageName(config).c_str());
  return 0;
}

int Restore(const keyward::v1::DaemonConfig& config, const std::string& in) {
  if (config.passphrase_file().empty() || in.empty()) {
    return Fail(absl::InvalidArgumentError(
                    "restore needs --in BACKUP and --passphrase-file FILE (the "
                    "passphrase current when the backup was made)"),
                kExitUsage);
  }
  auto passphrase = PrepareDataDir(config);
  if (!passphrase.ok()) return Fail(passphrase.status());
  std::ifstream file(in, std::ios::binary);
  if (!file) return Fail(absl::NotFoundError(absl::StrCat("cannot read '", in, "'")));
  std::string backup((std::istreambuf_iterator<char>(file)), {});
  absl::Status s;
  if (config.storage().has_postgres()) {
    auto pg = keystore::PostgresStorage::Open(*StorageSpecFrom(config).postgres);
    if (!pg.ok()) {
      return Fail(absl::Status(pg.status().code(),
                               absl::StrCat("PostgreSQL storage (dsn \"",
                                            config.storage().postgres().dsn(),
                                            "\"): ", pg.status().message())),
                  kExitUsage);
    }
    s = keystore::RestoreBackupInto(
        backup, *passphrase,
        absl::StrCat(config.data_dir(), "/restore-", getpid(), ".staged"),
        **pg);
  } else {
    s = keystore::RestoreBackup(backup, *passphrase, KeystorePath(config));
  }
  if (!s.ok()) return Fail(s);
  std::printf("keywardd: restored keystore %s\n", StorageName(config).c_str());
  return 0;
}

int Migrate(const std::string& from, const std::string& to) {
  if (from.empty() || to.empty()) {
    return Fail(absl::InvalidArgumentError(
                    "migrate needs --from and --to: each a config file (its "
                    "storage) or a SQLite keystore file"),
                kExitUsage);
  }
  auto source = MigrationSide(from, /*target=*/false);
  if (!source.ok()) return Fail(source.status(), kExitUsage);
  auto target = MigrationSide(to, /*target=*/true);
  if (!target.ok()) return Fail(target.status(), kExitUsage);
  if (!target->postgres.has_value() && !source->postgres.has_value() &&
      target->sqlite_path == source->sqlite_path) {
    return Fail(absl::InvalidArgumentError(
                    "--from and --to name the same keystore"),
                kExitUsage);
  }
  auto counts = MigrateKeystore(*source, *target);
  if (!counts.ok()) return Fail(counts.status());
  std::printf("keywardd: migrated %s; checked record by record\n",
              DescribeCounts(*counts).c_str());
  return 0;
}


}  // namespace keyward::daemon
