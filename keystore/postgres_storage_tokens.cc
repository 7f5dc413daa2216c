// PostgresStorage: token records (postgres_storage.h).
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/internal/postgres_rows.h"
#include "keystore/internal/pq.h"
#include "keystore/internal/storage_errors.h"
#include "keystore/postgres_storage.h"

namespace keyward::keystore {

using internal::PqParams;
using internal::PqSession;

namespace {

constexpr int64_t kNever = INT64_MAX;

// SelectTokens reads the records that `where` (over token_records, with
// `params`) selects, with their metadata, newest first.
absl::Status SelectTokens(PqSession& q, const std::string& where,
                          const PqParams& params, absl::string_view what,
                          std::vector<TokenRecord>* out) {
  auto rows = q.Query(absl::StrCat("WITH t AS (SELECT * FROM token_records ",
                                   where, ") ",
                                   internal::kSelectTokensWithMetadata)
                          .c_str(),
                      params, what);
  if (!rows.ok()) return rows.status();
  internal::ReadTokensWithMetadata(*rows, out);
  return absl::OkStatus();
}

}  // namespace

absl::Status PostgresStorage::CreateTokenRecord(const TokenRecord& r) {
  return Change([&](PqSession& q, CommitInfo*) {
    return internal::InsertToken(q, r);
  });
}

absl::StatusOr<TokenRecord> PostgresStorage::GetTokenRecord(
    const std::string& jti) {
  auto rows =
      ReadList<TokenRecord>([&](PqSession& q, std::vector<TokenRecord>* out) {
        return SelectTokens(q, "WHERE jti = $1", PqParams().Text(jti),
                            "read a token record", out);
      });
  if (!rows.ok()) return rows.status();
  return internal::FirstOrNotFound(std::move(*rows),
                                   internal::NoTokenRecord(jti));
}

absl::StatusOr<std::vector<TokenRecord>> PostgresStorage::ListTokenRecords(
    const TokenFilter& filter, const TokenCursor& cursor, int limit) {
  // Every parameter has an explicit type, so $5 may go unused.
  const std::string where =
      absl::StrCat("WHERE ", internal::TokenListCondition(filter.state, '$'));
  return ReadList<TokenRecord>(
      [&](PqSession& q, std::vector<TokenRecord>* out) {
        return SelectTokens(q, where,
                            PqParams()
                                .Time(cursor.issued_at)
                                .Text(cursor.jti)
                                .Text(filter.key_id)
                                .Text(filter.external_id)
                                .Time(filter.now)
                                .Int(limit),
                            "list token records", out);
      });
}

absl::StatusOr<TokenRecord> PostgresStorage::RevokeTokenRecord(
    const std::string& jti, absl::Time now, const std::string& reason,
    const std::string& revoked_by) {
  std::vector<TokenRecord> rows;
  absl::Status s = Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    rows.clear();
    // The first revocation is kept: only a record not yet revoked changes.
    auto r = q.Query(
        "UPDATE token_records SET revoked_at_us = $1, revoke_reason = $2, "
        "revoked_by = $3 WHERE jti = $4 AND revoked_at_us = $5",
        PqParams().Time(now).Text(reason).Text(revoked_by).Text(jti).Int(
            kNever),
        "revoke a token");
    if (!r.ok()) return r.status();
    if (r->affected() == 1) {
      absl::Status noted = internal::AppendChange(q, ChangeKind::kToken, jti);
      if (!noted.ok()) return noted;
    }
    absl::Status read = SelectTokens(q, "WHERE jti = $1", PqParams().Text(jti),
                                     "revoke a token", &rows);
    if (!read.ok()) return read;
    if (rows.empty()) return absl::NotFoundError(internal::NoTokenRecord(jti));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return std::move(rows.front());
}

absl::StatusOr<int> PostgresStorage::PurgeTokenRecords(absl::Time now,
                                                       int limit) {
  // SKIP LOCKED: two replicas purging at once take different rows. The
  // metadata goes with its record (ON DELETE CASCADE).
  return DeleteBatch(
      "DELETE FROM token_records WHERE jti IN (SELECT jti FROM "
      "token_records WHERE purge_at_us < $1 ORDER BY purge_at_us LIMIT $2 "
      "FOR UPDATE SKIP LOCKED)",
      now, limit, "purge token records");
}

}  // namespace keyward::keystore
