// SqliteStorage: the change feed (storage.h, "The change feed").
#include <sqlite3.h>

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/internal/sqlite.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {

using internal::FromMicros;
using internal::SqliteStatement;
using internal::SqliteTransaction;
using internal::ToMicros;

absl::Status SqliteStorage::AppendChange(ChangeKind kind,
                                         const std::string& subject) {
  absl::Status s = SqliteStatement(db_,
                                   "UPDATE change_head SET seq = seq + 1 "
                                   "WHERE id = 1")
                       .Run("record the change in the feed");
  if (!s.ok()) return s;
  return SqliteStatement(db_,
                         "INSERT INTO changes (seq, kind, subject, at_us) "
                         "SELECT seq, ?, ?, ? FROM change_head WHERE id = 1")
      .Bind(1, static_cast<int64_t>(kind))
      .Bind(2, subject)
      .Bind(3, ToMicros(absl::Now()))
      .Run("record the change in the feed");
}

absl::StatusOr<int64_t> SqliteStorage::ChangeHead() {
  absl::MutexLock lock(&mu_);
  SqliteStatement q(db_, "SELECT seq FROM change_head WHERE id = 1");
  int64_t head = q.Step() ? q.Int(0) : 0;
  absl::Status s = q.status("read the change feed's head");
  if (!s.ok()) return s;
  return head;
}

absl::StatusOr<std::vector<ChangeRecord>> SqliteStorage::ReadChanges(
    int64_t after, int limit) {
  absl::MutexLock lock(&mu_);
  SqliteStatement q(db_,
                    "SELECT seq, kind, subject, at_us FROM changes "
                    "WHERE seq > ? ORDER BY seq LIMIT ?");
  q.Bind(1, after).Bind(2, static_cast<int64_t>(limit));
  std::vector<ChangeRecord> out;
  while (q.Step()) {
    ChangeRecord c;
    c.seq = q.Int(0);
    c.kind = static_cast<ChangeKind>(q.Int(1));
    c.subject = q.Text(2);
    c.at = FromMicros(q.Int(3));
    out.push_back(std::move(c));
  }
  absl::Status s = q.status("read the change feed");
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int> SqliteStorage::PruneChanges(absl::Time before, int limit) {
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      SqliteStatement(db_,
                      "DELETE FROM changes WHERE seq IN (SELECT seq FROM "
                      "changes WHERE at_us < ? AND seq < (SELECT seq FROM "
                      "change_head WHERE id = 1) ORDER BY seq LIMIT ?)")
          .Bind(1, ToMicros(before))
          .Bind(2, static_cast<int64_t>(limit))
          .Run("prune the change feed");
  if (!s.ok()) return s;
  const int pruned = sqlite3_changes(db_);
  s = txn.Commit();
  if (!s.ok()) return s;
  return pruned;
}

}  // namespace keyward::keystore
