// keywardd's commands other than serving (`init`, `restore`, `migrate`),
// and what they share with serving: where the config puts the keystore and
// the options the config gives the keystore and the audit log.
//
// Each command returns the process's exit code (0; 1 for a failure;
// kExitUsage for a bad flag or config value) after printing what it did, or
// why it failed, on stdout or stderr.
#ifndef KEYWARD_DAEMON_COMMANDS_H_
#define KEYWARD_DAEMON_COMMANDS_H_

#include <string>

#include "absl/status/status.h"
#include "daemon/audit_log.h"
#include "keystore/keystore.h"
#include "keyward/v1/config.pb.h"

namespace keyward::daemon {

inline constexpr int kExitUsage = 2;

// Fail prints "keywardd: <message>" on stderr and returns `code`.
int Fail(const absl::Status& status, int code = 1);

// KeystorePath: the SQLite keystore file in the config's data_dir.
std::string KeystorePath(const keyward::v1::DaemonConfig& config);
// StorageSpecFrom: the keystore's database as the config's `storage` says
// (SQLite at KeystorePath unless storage.postgres is set).
keystore::StorageSpec StorageSpecFrom(const keyward::v1::DaemonConfig& config);
// StorageName: where the keystore is, for messages.
std::string StorageName(const keyward::v1::DaemonConfig& config);
// StorageFailCode: the exit code when the keystore cannot be opened or made.
// On PostgreSQL that is a configuration problem (wrong dsn, server
// unreachable, login refused, a database without this keystore): exit 2,
// as for a bad config value. SQLite keeps its exit code 1.
int StorageFailCode(const keyward::v1::DaemonConfig& config);

// MakeDataDir creates `dir` (mode 0700) unless it exists.
absl::Status MakeDataDir(const std::string& dir);

keystore::KeystoreOptions KeystoreOptionsFrom(
    const keyward::v1::DaemonConfig& config);
AuditLogOptions AuditLogOptionsFrom(const keyward::v1::DaemonConfig& config);

// `keywardd init`: a new keystore where the config says, under the
// passphrase in the config's passphrase_file.
int Init(const keyward::v1::DaemonConfig& config);
// `keywardd restore`: writes the keystore held by the backup file `in` into
// the config's storage: a new SQLite file in the data dir, or a PostgreSQL
// database that holds no keystore. The daemon must not be running on it.
int Restore(const keyward::v1::DaemonConfig& config, const std::string& in);
// `keywardd migrate`: copies the keystore `from` to `to` (each a config file,
// by its storage, or a SQLite keystore file; `to` may be a new file) and
// checks the copy record by record.
int Migrate(const std::string& from, const std::string& to);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_COMMANDS_H_
