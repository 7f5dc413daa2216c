// SqliteStorage: leases (storage.h, "Leases"). SQLite is one process's
// database, so its one daemon holds every lease; the rules are PostgreSQL's
// all the same (the conformance tests hold both to them), on this
// process's clock.
#include <sqlite3.h>

#include "keystore/internal/sqlite.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {

using internal::FromMicros;
using internal::SqliteStatement;
using internal::SqliteTransaction;
using internal::ToMicros;

absl::StatusOr<LeaseRecord> SqliteStorage::AcquireLease(
    const std::string& name, const std::string& holder, absl::Duration ttl) {
  if (name.empty() || holder.empty() || ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "a lease needs a name, a holder and a positive time to live");
  }
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_, SqliteTransaction::Kind::kUnfencedWrite);
  if (!txn.status().ok()) return txn.status();
  const absl::Time now = absl::Now();
  LeaseRecord lease;
  lease.name = name;
  SqliteStatement read(
      db_, "SELECT holder, epoch, expires_at_us FROM leases WHERE name = ?");
  read.Bind(1, name);
  const bool exists = read.Step();
  absl::Status s = read.status("read the lease");
  if (!s.ok()) return s;
  if (exists) {
    lease.holder = read.Text(0);
    lease.epoch = read.Int(1);
    lease.expires = FromMicros(read.Int(2));
  }
  const bool live = exists && lease.expires > now;
  if (live && lease.holder != holder) return lease;  // never stolen
  if (!live) ++lease.epoch;                          // taken: a new epoch
  lease.holder = holder;
  lease.expires = FromMicros(ToMicros(now + ttl));  // as stored
  s = SqliteStatement(db_,
                      "INSERT OR REPLACE INTO leases "
                      "(name, holder, epoch, expires_at_us) VALUES (?, ?, ?, ?)")
          .Bind(1, name)
          .Bind(2, holder)
          .Bind(3, lease.epoch)
          .Bind(4, ToMicros(lease.expires))
          .Run("take the lease");
  if (!s.ok()) return s;
  s = txn.CommitWithoutHook();
  if (!s.ok()) return s;
  return lease;
}

}  // namespace keyward::keystore
