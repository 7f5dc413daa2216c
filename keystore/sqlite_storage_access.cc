// SqliteStorage: policies, API keys and token records (sqlite_storage.h).
#include <sqlite3.h>

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "keystore/internal/sqlite.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {

using internal::FromMicros;
using internal::SqliteStatement;
using internal::SqliteTransaction;
using internal::ToMicros;

absl::Status SqliteStorage::CreatePolicy(const PolicyRecord& p) {
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s = InsertPolicy(p);
  if (!s.ok()) return s;
  s = AppendChange(ChangeKind::kPolicy, p.id);
  if (!s.ok()) return s;
  return txn.Commit();
}

absl::Status SqliteStorage::InsertPolicy(const PolicyRecord& p) {
  absl::Status s =
      SqliteStatement(db_,
                      "INSERT INTO policies (id, principal, resource, "
                      "operations, description, created_by, created_at_us) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)")
          .Bind(1, p.id)
          .Bind(2, p.principal)
          .Bind(3, p.resource)
          .Bind(4, absl::StrJoin(p.operations, ","))
          .Bind(5, p.description)
          .Bind(6, p.created_by)
          .Bind(7, ToMicros(p.created_at))
          .Run("create a policy");
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a policy named '", p.id, "' already exists; choose another name"));
  }
  return s;
}

absl::Status SqliteStorage::DeletePolicy(const std::string& id) {
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s = SqliteStatement(db_, "DELETE FROM policies WHERE id = ?")
                       .Bind(1, id)
                       .Run("delete a policy");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    return absl::NotFoundError(absl::StrCat("no policy named '", id, "'"));
  }
  s = AppendChange(ChangeKind::kPolicy, id);
  if (!s.ok()) return s;
  return txn.Commit();
}

absl::StatusOr<std::vector<PolicyRecord>> SqliteStorage::ListPolicies() {
  absl::MutexLock lock(&mu_);
  return ListPoliciesLocked();
}

absl::StatusOr<std::vector<PolicyRecord>> SqliteStorage::ListPoliciesLocked() {
  SqliteStatement q(db_,
              "SELECT id, principal, resource, operations, description, "
              "created_by, created_at_us FROM policies ORDER BY id");
  std::vector<PolicyRecord> policies;
  while (q.Step()) {
    PolicyRecord p;
    p.id = q.Text(0);
    p.principal = q.Text(1);
    p.resource = q.Text(2);
    p.operations = absl::StrSplit(q.Text(3), ',', absl::SkipEmpty());
    p.description = q.Text(4);
    p.created_by = q.Text(5);
    p.created_at = FromMicros(q.Int(6));
    policies.push_back(std::move(p));
  }
  absl::Status s = q.status("list policies");
  if (!s.ok()) return s;
  return policies;
}

namespace {
constexpr const char* kApiKeyColumns =
    "id, description, secret_sha256, created_by, created_at_us, "
    "expire_at_us, revoked_at_us, last_login_at_us";
}  // namespace

absl::Status SqliteStorage::CreateApiKey(const ApiKeyRecord& k) {
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s = InsertApiKey(k);
  if (!s.ok()) return s;
  s = AppendChange(ChangeKind::kApiKey, k.id);
  if (!s.ok()) return s;
  return txn.Commit();
}

absl::Status SqliteStorage::InsertApiKey(const ApiKeyRecord& k) {
  absl::Status s =
      SqliteStatement(db_, absl::StrCat("INSERT INTO api_keys (",
                                        kApiKeyColumns,
                                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                               .c_str())
          .Bind(1, k.id)
          .Bind(2, k.description)
          .BindBlob(3, k.secret_sha256)
          .Bind(4, k.created_by)
          .Bind(5, ToMicros(k.created_at))
          .Bind(6, ToMicros(k.expire_at))
          .Bind(7, ToMicros(k.revoked_at))
          .Bind(8, ToMicros(k.last_login_at))
          .Run("create an API key");
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "an API key named '", k.id, "' exists or existed; ids are not reused"));
  }
  return s;
}

absl::StatusOr<std::vector<ApiKeyRecord>> SqliteStorage::ListApiKeys() {
  absl::MutexLock lock(&mu_);
  return ListApiKeysLocked();
}

absl::StatusOr<std::vector<ApiKeyRecord>> SqliteStorage::ListApiKeysLocked() {
  SqliteStatement q(db_, absl::StrCat("SELECT ", kApiKeyColumns,
                                " FROM api_keys ORDER BY id").c_str());
  std::vector<ApiKeyRecord> keys;
  while (q.Step()) {
    ApiKeyRecord k;
    k.id = q.Text(0);
    k.description = q.Text(1);
    k.secret_sha256 = q.Text(2);
    k.created_by = q.Text(3);
    k.created_at = FromMicros(q.Int(4));
    k.expire_at = FromMicros(q.Int(5));
    k.revoked_at = FromMicros(q.Int(6));
    k.last_login_at = FromMicros(q.Int(7));
    keys.push_back(std::move(k));
  }
  absl::Status s = q.status("list API keys");
  if (!s.ok()) return s;
  return keys;
}

absl::StatusOr<ApiKeyRecord> SqliteStorage::GetApiKey(const std::string& id) {
  auto all = ListApiKeys();
  if (!all.ok()) return all.status();
  for (ApiKeyRecord& k : *all) {
    if (k.id == id) return std::move(k);
  }
  return absl::NotFoundError(absl::StrCat("no API key named '", id, "'"));
}

absl::Status SqliteStorage::RevokeApiKey(const std::string& id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      SqliteStatement(db_,
                "UPDATE api_keys SET revoked_at_us = min(revoked_at_us, ?) "
                "WHERE id = ?")
          .Bind(1, ToMicros(now))
          .Bind(2, id)
          .Run("revoke an API key");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    return absl::NotFoundError(absl::StrCat("no API key named '", id, "'"));
  }
  s = AppendChange(ChangeKind::kApiKey, id);
  if (!s.ok()) return s;
  return txn.Commit();
}

absl::Status SqliteStorage::TouchApiKey(const std::string& id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      SqliteStatement(db_, "UPDATE api_keys SET last_login_at_us = ? WHERE id = ?")
          .Bind(1, ToMicros(now))
          .Bind(2, id)
          .Run("record a login");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    return absl::NotFoundError(absl::StrCat("no API key named '", id, "'"));
  }
  return txn.Commit();
}

namespace {
constexpr const char* kTokenColumns =
    "jti, key_id, version, external_id, subject, claims_json, sealed_token, "
    "issued_by, issued_at_us, expire_at_us, purge_at_us, revoked_at_us, "
    "revoke_reason, revoked_by";
}  // namespace

absl::StatusOr<std::vector<std::string>> SqliteStorage::ListKeysDueForRotation(
    absl::Time now) {
  absl::MutexLock lock(&mu_);
  // Only the few keys with a period are read, not every key.
  SqliteStatement q(db_,
              "SELECT id FROM keys WHERE rotation_period_s > 0 AND "
              "public_only = 0 AND rotated_at_us + rotation_period_s * 1000000 "
              "<= ? ORDER BY id");
  q.Bind(1, ToMicros(now));
  std::vector<std::string> ids;
  while (q.Step()) ids.push_back(q.Text(0));
  absl::Status s = q.status("list keys due for rotation");
  if (!s.ok()) return s;
  return ids;
}

absl::Status SqliteStorage::CreateTokenRecord(const TokenRecord& r) {
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s = InsertToken(r);
  if (!s.ok()) return s;
  return txn.Commit({r.version});
}

absl::Status SqliteStorage::InsertToken(const TokenRecord& r) {
  absl::Status s =
      SqliteStatement(db_, absl::StrCat("INSERT INTO token_records (",
                                        kTokenColumns,
                                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                        "?, ?, ?, ?, ?)")
                               .c_str())
          .Bind(1, r.jti)
          .Bind(2, r.key_id)
          .Bind(3, r.version)
          .Bind(4, r.external_id)
          .Bind(5, r.subject)
          .Bind(6, r.claims_json)
          .BindBlob(7, r.sealed_token)
          .Bind(8, r.issued_by)
          .Bind(9, ToMicros(r.issued_at))
          .Bind(10, ToMicros(r.expire_at))
          .Bind(11, ToMicros(r.purge_at))
          .Bind(12, ToMicros(r.revoked_at))
          .Bind(13, r.revoke_reason)
          .Bind(14, r.revoked_by)
          .Run("record a token");
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(
        absl::StrCat("a token record with jti '", r.jti, "' exists"));
  }
  if (!s.ok()) return s;
  for (const auto& [name, value] : r.metadata) {
    s = SqliteStatement(db_,
                        "INSERT INTO token_metadata (jti, name, value) "
                        "VALUES (?, ?, ?)")
            .Bind(1, r.jti)
            .Bind(2, name)
            .Bind(3, value)
            .Run("record token metadata");
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStorage::ReadAllTokens(std::vector<TokenRecord>* out) {
  SqliteStatement q(db_, absl::StrCat("SELECT ", kTokenColumns,
                                      " FROM token_records ORDER BY jti")
                             .c_str());
  return ReadTokenRows(q, out);
}

absl::Status SqliteStorage::ReadTokenRows(SqliteStatement& q,
                                          std::vector<TokenRecord>* out) {
  while (q.Step()) {
    TokenRecord r;
    r.jti = q.Text(0);
    r.key_id = q.Text(1);
    r.version = static_cast<int32_t>(q.Int(2));
    r.external_id = q.Text(3);
    r.subject = q.Text(4);
    r.claims_json = q.Text(5);
    r.sealed_token = q.Text(6);
    r.issued_by = q.Text(7);
    r.issued_at = FromMicros(q.Int(8));
    r.expire_at = FromMicros(q.Int(9));
    r.purge_at = FromMicros(q.Int(10));
    r.revoked_at = FromMicros(q.Int(11));
    r.revoke_reason = q.Text(12);
    r.revoked_by = q.Text(13);
    out->push_back(std::move(r));
  }
  absl::Status s = q.status("read token records");
  if (!s.ok()) return s;
  for (TokenRecord& r : *out) {
    SqliteStatement m(db_, "SELECT name, value FROM token_metadata WHERE jti = ?");
    m.Bind(1, r.jti);
    while (m.Step()) r.metadata[m.Text(0)] = m.Text(1);
    s = m.status("read token metadata");
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenRecord> SqliteStorage::GetTokenRecord(
    const std::string& jti) {
  absl::MutexLock lock(&mu_);
  SqliteStatement q(db_, absl::StrCat("SELECT ", kTokenColumns,
                                " FROM token_records WHERE jti = ?")
                       .c_str());
  q.Bind(1, jti);
  std::vector<TokenRecord> rows;
  absl::Status s = ReadTokenRows(q, &rows);
  if (!s.ok()) return s;
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no token record for jti '", jti, "'"));
  }
  return std::move(rows.front());
}

absl::StatusOr<std::vector<TokenRecord>> SqliteStorage::ListTokenRecords(
    const TokenFilter& filter, const TokenCursor& cursor, int limit) {
  constexpr int64_t kNever = INT64_MAX;
  std::string sql = absl::StrCat(
      "SELECT ", kTokenColumns,
      " FROM token_records WHERE (issued_at_us < ?1 OR (issued_at_us = ?1 AND "
      "jti < ?2)) AND (?3 = '' OR key_id = ?3) AND (?4 = '' OR external_id = "
      "?4)");
  switch (filter.state) {
    case TokenFilter::State::kAny:
      break;
    case TokenFilter::State::kActive:
      absl::StrAppend(&sql, " AND revoked_at_us = ", kNever,
                      " AND expire_at_us > ?5");
      break;
    case TokenFilter::State::kExpired:
      absl::StrAppend(&sql, " AND revoked_at_us = ", kNever,
                      " AND expire_at_us <= ?5");
      break;
    case TokenFilter::State::kRevoked:
      absl::StrAppend(&sql, " AND revoked_at_us != ", kNever);
      break;
  }
  absl::StrAppend(&sql, " ORDER BY issued_at_us DESC, jti DESC LIMIT ?6");
  absl::MutexLock lock(&mu_);
  SqliteStatement q(db_, sql.c_str());
  q.Bind(1, ToMicros(cursor.issued_at))
      .Bind(2, cursor.jti)
      .Bind(3, filter.key_id)
      .Bind(4, filter.external_id)
      .Bind(5, ToMicros(filter.now))
      .Bind(6, static_cast<int64_t>(limit));
  std::vector<TokenRecord> rows;
  absl::Status s = ReadTokenRows(q, &rows);
  if (!s.ok()) return s;
  return rows;
}

absl::StatusOr<TokenRecord> SqliteStorage::RevokeTokenRecord(
    const std::string& jti, absl::Time now, const std::string& reason,
    const std::string& revoked_by) {
  {
    absl::MutexLock lock(&mu_);
    SqliteTransaction txn(db_);
    if (!txn.status().ok()) return txn.status();
    absl::Status s =
        SqliteStatement(db_,
                  "UPDATE token_records SET revoked_at_us = ?1, "
                  "revoke_reason = ?2, revoked_by = ?3 "
                  "WHERE jti = ?4 AND revoked_at_us = ?5")
            .Bind(1, ToMicros(now))
            .Bind(2, reason)
            .Bind(3, revoked_by)
            .Bind(4, jti)
            .Bind(5, INT64_MAX)
            .Run("revoke a token");
    if (!s.ok()) return s;
    if (sqlite3_changes(db_) == 1) {
      s = AppendChange(ChangeKind::kToken, jti);
      if (!s.ok()) return s;
    }
    // The record names the signing version, for the call's audit record;
    // no row: NOT_FOUND (and the hook is not run).
    SqliteStatement version(db_, "SELECT version FROM token_records WHERE jti = ?");
    version.Bind(1, jti);
    if (!version.Step()) {
      s = version.status("revoke a token");
      if (!s.ok()) return s;
      return absl::NotFoundError(
          absl::StrCat("no token record for jti '", jti, "'"));
    }
    s = txn.Commit({static_cast<int32_t>(version.Int(0))});
    if (!s.ok()) return s;
  }
  return GetTokenRecord(jti);
}

absl::StatusOr<int> SqliteStorage::PurgeTokenRecords(absl::Time now,
                                                     int limit) {
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      SqliteStatement(db_,
                "DELETE FROM token_records WHERE jti IN (SELECT jti FROM "
                "token_records WHERE purge_at_us < ? LIMIT ?)")
          .Bind(1, ToMicros(now))
          .Bind(2, static_cast<int64_t>(limit))
          .Run("purge token records");
  if (!s.ok()) return s;
  const int purged = sqlite3_changes(db_);
  s = txn.Commit();
  if (!s.ok()) return s;
  return purged;
}

}  // namespace keyward::keystore
