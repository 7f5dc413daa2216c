// `keywardd migrate`: copies a whole keystore from one storage backend to
// another (SQLite into PostgreSQL, PostgreSQL into SQLite, or SQLite into
// a new SQLite file), as records (keystore/store_records.h), then checks the
// copy record by record.
//
// Nothing is decrypted: the rows are the same envelope-encrypted records in
// every backend, so the copy needs no passphrase, and the target opens with
// the source's passphrase. The source is only read (one snapshot); run it
// with no daemon writing to the source, or changes made after the snapshot
// are not copied.
#ifndef KEYWARD_DAEMON_MIGRATE_H_
#define KEYWARD_DAEMON_MIGRATE_H_

#include <string>

#include "absl/status/statusor.h"
#include "keystore/keystore.h"
#include "keystore/store_records.h"

namespace keyward::daemon {

// MigrateKeystore copies the keystore at `from` into `to`.
// - `from` must hold a keystore: NOT_FOUND otherwise (a missing SQLite
//   file, or a database without one).
// - `to` must hold none: a SQLite target must be a new file (ALREADY_EXISTS
//   if it exists); a PostgreSQL target must hold no record at all
//   (FAILED_PRECONDITION, nothing changed). The copy is one transaction.
// - Afterwards both sides are read again and compared record by record and
//   counted: DATA_LOSS naming the first difference if they differ (a new
//   SQLite target is then removed; a PostgreSQL target is left as written,
//   and the message says so).
// Connection errors as PostgresStorage::Open. Returns the counts copied.
absl::StatusOr<keystore::RecordCounts> MigrateKeystore(
    const keystore::StorageSpec& from, const keystore::StorageSpec& to);

// DescribeCounts: "1 key hierarchy, 4 keys (6 versions), 1 policy, ...".
std::string DescribeCounts(const keystore::RecordCounts& counts);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_MIGRATE_H_
