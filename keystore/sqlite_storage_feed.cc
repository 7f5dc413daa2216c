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

absl::StatusOr<int64_t> SqliteStorage::ReadChangeHead() {
  return internal::QueryInt(db_, "SELECT seq FROM change_head WHERE id = 1",
                            "read the change feed's head");
}

absl::StatusOr<int64_t> SqliteStorage::ChangeHead() {
  absl::MutexLock lock(&mu_);
  return ReadChangeHead();
}

absl::StatusOr<std::vector<ChangeRecord>> SqliteStorage::ReadChanges(
    int64_t after, int limit) {
  absl::MutexLock lock(&mu_);
  SqliteStatement q(db_,
                    "SELECT seq, kind, subject, at_us FROM changes "
                    "WHERE seq > ? ORDER BY seq LIMIT ?");
  q.Bind(1, after).Bind(2, static_cast<int64_t>(limit));
  std::vector<ChangeRecord> out;
  absl::Status s = internal::ReadRows(
      q, "read the change feed", &out, [](const SqliteStatement& row) {
        ChangeRecord c;
        c.seq = row.Int(0);
        c.kind = static_cast<ChangeKind>(row.Int(1));
        c.subject = row.Text(2);
        c.at = FromMicros(row.Int(3));
        return c;
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int> SqliteStorage::PruneChanges(absl::Time before, int limit) {
  return DeleteBatch(
      "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes "
      "WHERE at_us < ? AND seq < (SELECT seq FROM change_head WHERE id = 1) "
      "ORDER BY seq LIMIT ?)",
      before, limit, "prune the change feed");
}

absl::StatusOr<int> SqliteStorage::DeleteBatch(const char* sql,
                                               absl::Time before, int limit,
                                               absl::string_view what) {
  int deleted = 0;
  absl::Status s = Change([&](CommitInfo*) -> absl::Status {
    absl::Status run = SqliteStatement(db_, sql)
                           .Bind(1, ToMicros(before))
                           .Bind(2, static_cast<int64_t>(limit))
                           .Run(what);
    deleted = sqlite3_changes(db_);
    return run;
  });
  if (!s.ok()) return s;
  return deleted;
}

}  // namespace keyward::keystore
