// Row codec shared by PostgresStorage's files (postgres_storage*.cc): the
// column lists of keyward's tables, how their rows become records, and the
// row writers that both single changes and ReplaceAll use (inside a
// transaction the caller holds). Internal to //keystore.
#ifndef KEYWARD_KEYSTORE_INTERNAL_POSTGRES_ROWS_H_
#define KEYWARD_KEYSTORE_INTERNAL_POSTGRES_ROWS_H_

#include <vector>

#include "absl/status/status.h"
#include "keystore/internal/pq.h"
#include "keystore/records.h"
#include "keystore/storage.h"

namespace keyward::keystore::internal {

// kSelectKeysWithLabels follows "WITH k AS (SELECT * FROM keys ...)": each
// key of k with each of its labels (one row per label, or one with NULL
// label columns), in key id then label name order.
extern const char* const kSelectKeysWithLabels;

// ReadKeysWithLabels appends the keys of such rows to `out`; DATA_LOSS for
// a key type this build does not know.
absl::Status ReadKeysWithLabels(const PqRows& rows, std::vector<KeyRecord>* out);

// SelectKeyRevision: key `id`'s revision; NOT_FOUND if there is no such key
// (after a conditional write on it matched nothing).
absl::StatusOr<int64_t> SelectKeyRevision(PqSession& q, const std::string& id,
                                          absl::string_view what);

// kVersionColumns: the columns ReadVersion reads, in order.
extern const char* const kVersionColumns;
VersionRecord ReadVersion(const PqRows& rows, int row);
// SelectVersions appends the versions that `condition` (a WHERE clause over
// key_versions, with its ORDER BY if any, using `params`) selects to `out`.
absl::Status SelectVersions(PqSession& q, const char* condition,
                            const PqParams& params, absl::string_view what,
                            std::vector<VersionRecord>* out);

// ReadRows appends row(rows, i) for each row i of `rows` to `out`.
template <typename T, typename RowFn>
void ReadRows(const PqRows& rows, std::vector<T>* out, RowFn row) {
  for (int i = 0; i < rows.size(); ++i) out->push_back(row(rows, i));
}

// kSelectTokensWithMetadata follows "WITH t AS (SELECT * FROM token_records
// ... )": each record of t with each metadata entry, newest first (issued_at
// then jti descending), then by metadata name.
extern const char* const kSelectTokensWithMetadata;
void ReadTokensWithMetadata(const PqRows& rows, std::vector<TokenRecord>* out);

// Row writers: ALREADY_EXISTS naming the id in use.
absl::Status InsertMeta(PqSession& q, const KeystoreMeta& meta);
// InsertKey writes the key row with `revision`, its labels and `versions`.
absl::Status InsertKey(PqSession& q, const KeyRecord& key, int64_t revision,
                       const std::vector<VersionRecord>& versions);
absl::Status InsertVersion(PqSession& q, const VersionRecord& v);
absl::Status WriteLabels(PqSession& q, const KeyRecord& key);
absl::Status InsertPolicy(PqSession& q, const PolicyRecord& p);
absl::Status InsertApiKey(PqSession& q, const ApiKeyRecord& k);
absl::Status InsertToken(PqSession& q, const TokenRecord& r);

// AppendChange writes the change feed's next row (storage.h) inside the
// caller's transaction, after the change's own statements: it takes the
// change_head row's lock until COMMIT (so seqs are gap-free and in commit
// order) and sends NOTIFY keyward_changes, which PostgreSQL delivers at
// COMMIT (postgres_storage_feed.cc).
absl::Status AppendChange(PqSession& q, ChangeKind kind,
                          const std::string& subject);
// SelectChangeHead: the change feed's head (its last seq; 0 if none).
absl::StatusOr<int64_t> SelectChangeHead(PqSession& q);
// CheckLeaseFence: with a ScopedLeaseFence on this thread (commit_hook.h),
// checks inside the caller's transaction, locking the lease row FOR SHARE
// until COMMIT (a take-over waits for it), that the fence's lease is held
// as fenced and not expired: OK, or LeaseLostError. OK without a fence.
absl::Status CheckLeaseFence(PqSession& q);
// The NOTIFY channel of the change feed.
inline constexpr char kChangeChannel[] = "keyward_changes";

// The schema's migrations (internal/postgres_schema.cc), applied in order
// at Open under the advisory lock: from version `from` to `to`.
struct PostgresMigration {
  int from;
  int to;
  const char* sql;
};
extern const PostgresMigration kPostgresMigrations[4];

// Whole-table readers, in id order.
absl::Status SelectMeta(PqSession& q, std::vector<KeystoreMeta>* out);
absl::Status SelectPolicies(PqSession& q, std::vector<PolicyRecord>* out);
absl::Status SelectApiKeys(PqSession& q, std::vector<ApiKeyRecord>* out);

}  // namespace keyward::keystore::internal

#endif  // KEYWARD_KEYSTORE_INTERNAL_POSTGRES_ROWS_H_
