// SqliteStorage: policies, API keys and token records (sqlite_storage.h).
#include <sqlite3.h>

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "keystore/internal/sqlite.h"
#include "keystore/internal/storage_errors.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {

using internal::FromMicros;
using internal::SqliteStatement;
using internal::ToMicros;

absl::Status SqliteStorage::CreatePolicy(const PolicyRecord& p) {
  return Change([&](CommitInfo*) {
    absl::Status s = InsertPolicy(p);
    if (!s.ok()) return s;
    return AppendChange(ChangeKind::kPolicy, p.id);
  });
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
  return Change([&](CommitInfo*) {
    absl::Status s = SqliteStatement(db_, "DELETE FROM policies WHERE id = ?")
                         .Bind(1, id)
                         .Run("delete a policy");
    if (s.ok()) s = ChangedOneRow(absl::StrCat("no policy named '", id, "'"));
    if (!s.ok()) return s;
    return AppendChange(ChangeKind::kPolicy, id);
  });
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
  absl::Status s = internal::ReadRows(
      q, "list policies", &policies, [](const SqliteStatement& row) {
        PolicyRecord p;
        p.id = row.Text(0);
        p.principal = row.Text(1);
        p.resource = row.Text(2);
        p.operations = absl::StrSplit(row.Text(3), ',', absl::SkipEmpty());
        p.description = row.Text(4);
        p.created_by = row.Text(5);
        p.created_at = FromMicros(row.Int(6));
        return p;
      });
  if (!s.ok()) return s;
  return policies;
}

namespace {
constexpr const char* kApiKeyColumns =
    "id, description, secret_sha256, created_by, created_at_us, "
    "expire_at_us, revoked_at_us, last_login_at_us";
}  // namespace

absl::Status SqliteStorage::CreateApiKey(const ApiKeyRecord& k) {
  return Change([&](CommitInfo*) {
    absl::Status s = InsertApiKey(k);
    if (!s.ok()) return s;
    return AppendChange(ChangeKind::kApiKey, k.id);
  });
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
  absl::Status s = internal::ReadRows(
      q, "list API keys", &keys, [](const SqliteStatement& row) {
        ApiKeyRecord k;
        k.id = row.Text(0);
        k.description = row.Text(1);
        k.secret_sha256 = row.Text(2);
        k.created_by = row.Text(3);
        k.created_at = FromMicros(row.Int(4));
        k.expire_at = FromMicros(row.Int(5));
        k.revoked_at = FromMicros(row.Int(6));
        k.last_login_at = FromMicros(row.Int(7));
        return k;
      });
  if (!s.ok()) return s;
  return keys;
}

absl::StatusOr<ApiKeyRecord> SqliteStorage::GetApiKey(const std::string& id) {
  return internal::ApiKeyNamed(ListApiKeys(), id);
}

// SetApiKeyTime runs `sql`, an UPDATE of API key ?2's row with the time ?1,
// as one change; NOT_FOUND if there is no such key.
absl::Status SqliteStorage::SetApiKeyTime(const char* sql,
                                          const std::string& id, absl::Time now,
                                          absl::string_view what,
                                          bool to_feed) {
  return Change([&](CommitInfo*) {
    absl::Status s =
        SqliteStatement(db_, sql).Bind(1, ToMicros(now)).Bind(2, id).Run(what);
    if (s.ok()) s = ChangedOneRow(absl::StrCat("no API key named '", id, "'"));
    if (!s.ok() || !to_feed) return s;
    return AppendChange(ChangeKind::kApiKey, id);
  });
}

absl::Status SqliteStorage::RevokeApiKey(const std::string& id, absl::Time now) {
  return SetApiKeyTime(
      "UPDATE api_keys SET revoked_at_us = min(revoked_at_us, ?) WHERE id = ?",
      id, now, "revoke an API key", /*to_feed=*/true);
}

absl::Status SqliteStorage::TouchApiKey(const std::string& id, absl::Time now) {
  // A login is no change the replicas must see: not in the feed.
  return SetApiKeyTime("UPDATE api_keys SET last_login_at_us = ? WHERE id = ?",
                       id, now, "record a login", /*to_feed=*/false);
}

namespace {
constexpr const char* kTokenColumns =
    "jti, key_id, version, external_id, subject, claims_json, sealed_token, "
    "issued_by, issued_at_us, expire_at_us, purge_at_us, revoked_at_us, "
    "revoke_reason, revoked_by";
}  // namespace

absl::Status SqliteStorage::CreateTokenRecord(const TokenRecord& r) {
  return Change([&](CommitInfo* info) {
    info->version = r.version;
    return InsertToken(r);
  });
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
  return internal::FirstOrNotFound(std::move(rows),
                                   internal::NoTokenRecord(jti));
}

absl::StatusOr<std::vector<TokenRecord>> SqliteStorage::ListTokenRecords(
    const TokenFilter& filter, const TokenCursor& cursor, int limit) {
  const std::string sql =
      absl::StrCat("SELECT ", kTokenColumns, " FROM token_records WHERE ",
                   internal::TokenListCondition(filter.state, '?'));
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
  absl::Status revoked = Change([&](CommitInfo* info) -> absl::Status {
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
    SqliteStatement version(db_,
                            "SELECT version FROM token_records WHERE jti = ?");
    version.Bind(1, jti);
    if (!version.Step()) {
      s = version.status("revoke a token");
      if (!s.ok()) return s;
      return absl::NotFoundError(internal::NoTokenRecord(jti));
    }
    info->version = static_cast<int32_t>(version.Int(0));
    return absl::OkStatus();
  });
  if (!revoked.ok()) return revoked;
  return GetTokenRecord(jti);
}

absl::StatusOr<int> SqliteStorage::PurgeTokenRecords(absl::Time now,
                                                     int limit) {
  return DeleteBatch(
      "DELETE FROM token_records WHERE jti IN (SELECT jti FROM "
      "token_records WHERE purge_at_us < ? LIMIT ?)",
      now, limit, "purge token records");
}

}  // namespace keyward::keystore
