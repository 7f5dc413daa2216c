// PostgresStorage: the change feed (storage.h, "The change feed") and the
// LISTEN connection that wakes its followers.
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/internal/postgres_rows.h"
#include "keystore/internal/pq.h"
#include "keystore/postgres_storage.h"

namespace keyward::keystore {

using internal::PqParams;
using internal::PqSession;

namespace internal {

absl::Status AppendChange(PqSession& q, ChangeKind kind,
                          const std::string& subject) {
  // The UPDATE locks change_head's row until COMMIT: a concurrent change
  // waits here, then takes the next number, so seq order is commit order.
  // The time is the database's clock, the same for every replica.
  auto r = q.Query(
      "WITH h AS (UPDATE change_head SET seq = seq + 1 WHERE id = 1 "
      "RETURNING seq) "
      "INSERT INTO changes (seq, kind, subject, at_us) "
      "SELECT seq, $1, $2, "
      "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint FROM h",
      PqParams().Int(static_cast<int64_t>(kind)).Text(subject),
      "record the change in the feed");
  if (!r.ok()) return r.status();
  if (r->affected() != 1) {
    return absl::InternalError(
        "PostgreSQL: the change feed has no head row (change_head)");
  }
  auto n = q.Query(
      absl::StrCat("SELECT pg_notify('", kChangeChannel, "', '')").c_str(),
      "notify the replicas");
  return n.status();
}

absl::StatusOr<int64_t> SelectChangeHead(PqSession& q) {
  auto rows = q.Query("SELECT seq FROM change_head WHERE id = 1",
                      "read the change feed's head");
  if (!rows.ok()) return rows.status();
  return rows->size() == 0 ? 0 : rows->Int(0, 0);
}

}  // namespace internal

absl::StatusOr<int64_t> PostgresStorage::ChangeHead() {
  int64_t head = 0;
  absl::Status s = Read([&](PqSession& q) -> absl::Status {
    auto read = internal::SelectChangeHead(q);
    if (read.ok()) head = *read;
    return read.status();
  });
  if (!s.ok()) return s;
  return head;
}

absl::StatusOr<std::vector<ChangeRecord>> PostgresStorage::ReadChanges(
    int64_t after, int limit) {
  return ReadList<ChangeRecord>(
      [&](PqSession& q, std::vector<ChangeRecord>* out) -> absl::Status {
        auto rows = q.Query(
            "SELECT seq, kind, subject, at_us FROM changes WHERE seq > $1 "
            "ORDER BY seq LIMIT $2",
            PqParams().Int(after).Int(limit), "read the change feed");
        if (!rows.ok()) return rows.status();
        internal::ReadRows(*rows, out, [](const internal::PqRows& r, int i) {
          ChangeRecord c;
          c.seq = r.Int(i, 0);
          c.kind = static_cast<ChangeKind>(r.Int(i, 1));
          c.subject = r.Bytes(i, 2);
          c.at = r.Time(i, 3);
          return c;
        });
        return absl::OkStatus();
      });
}

absl::StatusOr<int> PostgresStorage::PruneChanges(absl::Time before,
                                                  int limit) {
  return DeleteBatch(
      "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes "
      "WHERE at_us < $1 AND seq < (SELECT seq FROM change_head WHERE id = 1) "
      "ORDER BY seq LIMIT $2)",
      before, limit, "prune the change feed");
}

absl::StatusOr<int> PostgresStorage::DeleteBatch(const char* sql,
                                                 absl::Time before, int limit,
                                                 absl::string_view what) {
  int deleted = 0;
  absl::Status s = Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    auto r = q.Query(sql, PqParams().Time(before).Int(limit), what);
    if (!r.ok()) return r.status();
    deleted = static_cast<int>(r->affected());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return deleted;
}

void PostgresStorage::WaitForChange(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  if (listener_ == nullptr) {
    auto opened = internal::PqListener::Open(*pool_, internal::kChangeChannel);
    if (opened.ok()) listener_ = std::move(*opened);
  }
  if (listener_ != nullptr) {
    auto woken = listener_->Wait(timeout);
    if (woken.ok()) return;
    listener_.reset();  // lost: reopened on the next call
  }
  // No listener now: the caller polls.
  absl::SleepFor(deadline - absl::Now());
}

}  // namespace keyward::keystore
