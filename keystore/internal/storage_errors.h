// What every backend (sqlite_storage*.cc, postgres_storage*.cc) shares:
// the messages of the Storage contract's conditional-write refusals, the
// decoding of stored values, and the checks and loops of whole-store copies.
// Internal to //keystore.
#ifndef KEYWARD_KEYSTORE_INTERNAL_STORAGE_ERRORS_H_
#define KEYWARD_KEYSTORE_INTERNAL_STORAGE_ERRORS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "keystore/key_types.h"
#include "keystore/records.h"
#include "keystore/storage.h"

namespace keyward::keystore::internal {

// VersionStateName: "enabled", "disabled", "destroyed" (or the number).
inline std::string VersionStateName(VersionState state) {
  switch (state) {
    case VersionState::kEnabled:
      return "enabled";
    case VersionState::kDisabled:
      return "disabled";
    case VersionState::kDestroyed:
      return "destroyed";
  }
  return absl::StrCat("state ", static_cast<int>(state));
}

// VersionStateChanged: SetVersionState's ABORTED when the stored state is
// not the one expected; it names the state found.
inline absl::Status VersionStateChanged(const std::string& key_id,
                                        int32_t version, VersionState current) {
  return absl::AbortedError(absl::StrCat(
      "key '", key_id, "' version ", version, " is ", VersionStateName(current),
      " (it changed since it was read); re-read it and try again"));
}

// StoredAlgorithms decodes a key's stored signature_algorithms column
// (SignatureAlgorithmsText); DATA_LOSS for a name this build does not know.
inline absl::StatusOr<std::vector<crypto::SignatureAlgorithm>> StoredAlgorithms(
    const std::string& key_id, const std::string& text) {
  auto parsed = ParseSignatureAlgorithms(text);
  if (!parsed) {
    return absl::DataLossError(absl::StrCat(
        "key '", key_id, "' has unknown signature algorithms '", text,
        "' in the keystore; run a newer keywardd or restore a backup"));
  }
  return *std::move(parsed);
}

// VersionAddRaced: AddVersion's ABORTED when the key's latest version is no
// longer the one before `version`.
inline absl::Status VersionAddRaced(const std::string& key_id,
                                    int32_t version) {
  return absl::AbortedError(absl::StrCat("key '", key_id,
                                         "' changed while version ", version,
                                         " was being added; try again"));
}

// SinkEach hands each of `records` to `sink` in order (ExportRecords), up
// to the first error, which it returns.
template <typename T>
absl::Status SinkEach(
    const std::vector<T>& records,
    const std::function<absl::Status(const Storage::StoreRecord&)>& sink) {
  for (const T& record : records) {
    absl::Status s = sink(record);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// TokenListCondition: ListTokenRecords's WHERE condition and ORDER BY over
// token_records, in either dialect: its parameters are numbered with
// `param` ('?' for SQLite, '$' for PostgreSQL) as 1 and 2 the cursor's
// issued_at and jti, 3 the key id, 4 the external id ('' for any), 5 the
// filter's now (unused for kAny and kRevoked), 6 the limit.
inline std::string TokenListCondition(TokenFilter::State state, char param) {
  const std::string p(1, param);
  std::string sql =
      absl::StrCat("(issued_at_us < ", p, "1 OR (issued_at_us = ", p,
                   "1 AND jti < ", p, "2)) AND (", p, "3 = '' OR key_id = ", p,
                   "3) AND (", p, "4 = '' OR external_id = ", p, "4)");
  // Times are stored as FORMAT.md says: "never" is INT64_MAX.
  constexpr int64_t kNever = INT64_MAX;
  switch (state) {
    case TokenFilter::State::kAny:
      break;
    case TokenFilter::State::kActive:
      absl::StrAppend(&sql, " AND revoked_at_us = ", kNever,
                      " AND expire_at_us > ", p, "5");
      break;
    case TokenFilter::State::kExpired:
      absl::StrAppend(&sql, " AND revoked_at_us = ", kNever,
                      " AND expire_at_us <= ", p, "5");
      break;
    case TokenFilter::State::kRevoked:
      absl::StrAppend(&sql, " AND revoked_at_us <> ", kNever);
      break;
  }
  absl::StrAppend(&sql, " ORDER BY issued_at_us DESC, jti DESC LIMIT ", p, "6");
  return sql;
}

// FirstOrNotFound: the first of `rows` (what a read by a unique key found),
// or NOT_FOUND with `missing` when it found none.
template <typename T>
absl::StatusOr<T> FirstOrNotFound(std::vector<T>&& rows,
                                  const std::string& missing) {
  if (rows.empty()) return absl::NotFoundError(missing);
  return std::move(rows.front());
}

// NoTokenRecord: the NOT_FOUND message for a jti with no token record.
inline std::string NoTokenRecord(const std::string& jti) {
  return absl::StrCat("no token record for jti '", jti, "'");
}

// ApiKeyNamed: GetApiKey over ListApiKeys' answer `all`: the key `id`, or
// NOT_FOUND.
inline absl::StatusOr<ApiKeyRecord> ApiKeyNamed(
    absl::StatusOr<std::vector<ApiKeyRecord>> all, const std::string& id) {
  if (!all.ok()) return all.status();
  for (ApiKeyRecord& k : *all) {
    if (k.id == id) return std::move(k);
  }
  return absl::NotFoundError(absl::StrCat("no API key named '", id, "'"));
}

// KeyRevisionChanged: UpdateKey's ABORTED for a stale revision.
inline absl::Status KeyRevisionChanged(const std::string& key_id,
                                       int64_t current, int64_t expected) {
  return absl::AbortedError(absl::StrCat(
      "key '", key_id, "' changed (revision ", current, ", not ", expected,
      ") since it was read; re-read it and try again"));
}

// CheckRecordSet: ReplaceAll's INVALID_ARGUMENT unless `records` hold
// exactly one KeystoreMeta and every version comes with its own key.
inline absl::Status CheckRecordSet(
    const std::vector<Storage::StoreRecord>& records) {
  int metas = 0;
  for (const Storage::StoreRecord& r : records) {
    if (std::holds_alternative<KeystoreMeta>(r)) ++metas;
    if (const auto* k = std::get_if<KeyWithVersions>(&r)) {
      for (const VersionRecord& v : k->versions) {
        if (v.key_id != k->key.id) {
          return absl::InvalidArgumentError(absl::StrCat(
              "a version of key '", v.key_id, "' comes with key '", k->key.id,
              "'; the records are not a keystore"));
        }
      }
    }
  }
  if (metas != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the records hold ", metas,
        " key hierarchies, not one; they are not a keystore"));
  }
  return absl::OkStatus();
}

}  // namespace keyward::keystore::internal

#endif  // KEYWARD_KEYSTORE_INTERNAL_STORAGE_ERRORS_H_
