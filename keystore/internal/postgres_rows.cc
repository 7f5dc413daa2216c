#include "keystore/internal/postgres_rows.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "keystore/internal/storage_errors.h"
#include "keystore/key_types.h"

namespace keyward::keystore::internal {
const char* const kSelectKeysWithLabels =
    "SELECT k.id, k.type, k.purpose, k.description, k.exportable, "
    "k.public_only, k.primary_version, k.latest_version, "
    "k.min_decrypt_version, k.min_encrypt_version, k.rotation_period_s, "
    "k.jwt_max_ttl_s, k.created_at_us, k.rotated_at_us, k.jwe_algorithm, "
    "k.revision, k.signature_algorithms, k.jwt_default_ttl_s, k.jwt_issuer, "
    "k.legacy_short_secret, l.name, l.value "
    "FROM k LEFT JOIN key_labels l ON l.key_id = k.id "
    "ORDER BY k.id, l.name";

absl::Status ReadKeysWithLabels(const PqRows& q, std::vector<KeyRecord>* out) {
  for (int i = 0; i < q.size(); ++i) {
    const std::string id = q.Bytes(i, 0);
    if (out->empty() || out->back().id != id) {
      KeyRecord key;
      key.id = id;
      const std::string type = q.Bytes(i, 1);
      if (std::optional<KeyType> parsed = KeyTypeFromName(type)) {
        key.type = *parsed;
      } else {
        return absl::DataLossError(absl::StrCat(
            "key '", id, "' has an unknown type '", type,
            "' in the keystore; run a newer keywardd or restore a backup"));
      }
      key.purpose = static_cast<KeyPurpose>(q.Int(i, 2));
      key.description = q.Bytes(i, 3);
      key.exportable = q.Int(i, 4) != 0;
      key.public_only = q.Int(i, 5) != 0;
      key.primary_version = static_cast<int32_t>(q.Int(i, 6));
      key.latest_version = static_cast<int32_t>(q.Int(i, 7));
      key.min_decrypt_version = static_cast<int32_t>(q.Int(i, 8));
      key.min_encrypt_version = static_cast<int32_t>(q.Int(i, 9));
      key.rotation_period = absl::Seconds(q.Int(i, 10));
      key.jwt_max_ttl = absl::Seconds(q.Int(i, 11));
      key.created_at = q.Time(i, 12);
      key.rotated_at = q.Time(i, 13);
      key.jwe_algorithm = q.Bytes(i, 14);
      key.revision = q.Int(i, 15);
      auto algorithms = StoredAlgorithms(id, q.Bytes(i, 16));
      if (!algorithms.ok()) return algorithms.status();
      key.signature_algorithms = std::move(*algorithms);
      key.jwt_default_ttl = absl::Seconds(q.Int(i, 17));
      key.jwt_issuer = q.Bytes(i, 18);
      key.legacy_short_secret = q.Int(i, 19) != 0;
      out->push_back(std::move(key));
    }
    if (!q.IsNull(i, 20)) out->back().labels[q.Bytes(i, 20)] = q.Bytes(i, 21);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SelectKeyRevision(PqSession& q, const std::string& id,
                                          absl::string_view what) {
  auto rows = q.Query("SELECT revision FROM keys WHERE id = $1",
                      PqParams().Text(id), what);
  if (!rows.ok()) return rows.status();
  if (rows->size() == 0) {
    return absl::NotFoundError(absl::StrCat("no key named '", id, "'"));
  }
  return rows->Int(0, 0);
}

const char* const kVersionColumns =
    "key_id, version, state, created_at_us, destroyed_at_us, "
    "wrapped_material, public_key, imported, kid";

VersionRecord ReadVersion(const PqRows& q, int i) {
  VersionRecord v;
  v.key_id = q.Bytes(i, 0);
  v.version = static_cast<int32_t>(q.Int(i, 1));
  v.state = static_cast<VersionState>(q.Int(i, 2));
  v.created_at = q.Time(i, 3);
  v.destroyed_at = q.Time(i, 4);
  v.wrapped_material = q.Bytes(i, 5);
  v.public_key = q.Bytes(i, 6);
  v.imported = q.Int(i, 7) != 0;
  v.kid = q.Bytes(i, 8);
  return v;
}

absl::Status SelectVersions(PqSession& q, const char* condition,
                            const PqParams& params, absl::string_view what,
                            std::vector<VersionRecord>* out) {
  auto rows = q.Query(
      absl::StrCat("SELECT ", kVersionColumns, " FROM key_versions ", condition)
          .c_str(),
      params, what);
  if (!rows.ok()) return rows.status();
  ReadRows(*rows, out, ReadVersion);
  return absl::OkStatus();
}

const char* const kSelectTokensWithMetadata =
    "SELECT t.jti, t.key_id, t.version, t.external_id, t.subject, "
    "t.claims_json, t.sealed_token, t.issued_by, t.issued_at_us, "
    "t.expire_at_us, t.purge_at_us, t.revoked_at_us, t.revoke_reason, "
    "t.revoked_by, m.name, m.value FROM t LEFT JOIN token_metadata m "
    "ON m.jti = t.jti ORDER BY t.issued_at_us DESC, t.jti DESC, m.name";

void ReadTokensWithMetadata(const PqRows& q, std::vector<TokenRecord>* out) {
  for (int i = 0; i < q.size(); ++i) {
    const std::string jti = q.Bytes(i, 0);
    if (out->empty() || out->back().jti != jti) {
      TokenRecord r;
      r.jti = jti;
      r.key_id = q.Bytes(i, 1);
      r.version = static_cast<int32_t>(q.Int(i, 2));
      r.external_id = q.Bytes(i, 3);
      r.subject = q.Bytes(i, 4);
      r.claims_json = q.Bytes(i, 5);
      r.sealed_token = q.Bytes(i, 6);
      r.issued_by = q.Bytes(i, 7);
      r.issued_at = q.Time(i, 8);
      r.expire_at = q.Time(i, 9);
      r.purge_at = q.Time(i, 10);
      r.revoked_at = q.Time(i, 11);
      r.revoke_reason = q.Bytes(i, 12);
      r.revoked_by = q.Bytes(i, 13);
      out->push_back(std::move(r));
    }
    if (!q.IsNull(i, 14)) out->back().metadata[q.Bytes(i, 14)] = q.Bytes(i, 15);
  }
}

// --- Row writers ------------------------------------------------------------

absl::Status InsertMeta(PqSession& q, const KeystoreMeta& meta) {
  auto r = q.Query(
      "INSERT INTO meta (id, kdf_salt, scrypt_n, scrypt_r, scrypt_p, "
      "kek_check, wrapped_root_key) VALUES (1, $1, $2, $3, $4, $5, $6)",
      PqParams()
          .Bytes(meta.kdf_salt)
          .Int(static_cast<int64_t>(meta.scrypt_n))
          .Int(meta.scrypt_r)
          .Int(meta.scrypt_p)
          .Bytes(meta.kek_check)
          .Bytes(meta.wrapped_root_key),
      "write the key hierarchy");
  if (absl::IsAlreadyExists(r.status())) {
    return absl::AlreadyExistsError("the keystore already has a key hierarchy");
  }
  return r.status();
}

absl::Status InsertKey(PqSession& q, const KeyRecord& key, int64_t revision,
                       const std::vector<VersionRecord>& versions) {
  auto r = q.Query(
      "INSERT INTO keys (id, type, purpose, description, exportable, "
      "public_only, primary_version, latest_version, min_decrypt_version, "
      "min_encrypt_version, rotation_period_s, jwt_max_ttl_s, "
      "created_at_us, rotated_at_us, jwe_algorithm, revision, "
      "signature_algorithms, jwt_default_ttl_s, jwt_issuer, "
      "legacy_short_secret) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
      "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
      PqParams()
          .Text(key.id)
          .Text(crypto::KeyTypeName(key.type))
          .Int(static_cast<int64_t>(key.purpose))
          .Text(key.description)
          .Int(key.exportable ? 1 : 0)
          .Int(key.public_only ? 1 : 0)
          .Int(key.primary_version)
          .Int(key.latest_version)
          .Int(key.min_decrypt_version)
          .Int(key.min_encrypt_version)
          .Int(absl::ToInt64Seconds(key.rotation_period))
          .Int(absl::ToInt64Seconds(key.jwt_max_ttl))
          .Time(key.created_at)
          .Time(key.rotated_at)
          .Text(key.jwe_algorithm)
          .Int(revision)
          .Text(SignatureAlgorithmsText(key.signature_algorithms))
          .Int(absl::ToInt64Seconds(key.jwt_default_ttl))
          .Text(key.jwt_issuer)
          .Int(key.legacy_short_secret ? 1 : 0),
      "create a key");
  if (absl::IsAlreadyExists(r.status())) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a key named '", key.id, "' already exists; choose another name"));
  }
  if (!r.ok()) return r.status();
  absl::Status s = WriteLabels(q, key);
  for (const VersionRecord& v : versions) {
    if (!s.ok()) break;
    s = InsertVersion(q, v);
  }
  return s;
}

absl::Status InsertVersion(PqSession& q, const VersionRecord& v) {
  auto r = q.Query(
      "INSERT INTO key_versions (key_id, version, state, created_at_us, "
      "destroyed_at_us, wrapped_material, public_key, imported, kid) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      PqParams()
          .Text(v.key_id)
          .Int(v.version)
          .Int(static_cast<int64_t>(v.state))
          .Time(v.created_at)
          .Time(v.destroyed_at)
          .Bytes(v.wrapped_material)
          .Bytes(v.public_key)
          .Int(v.imported ? 1 : 0)
          .Text(v.kid),
      "write a key version");
  if (absl::IsAlreadyExists(r.status())) {
    return absl::AlreadyExistsError(absl::StrCat(
        "key '", v.key_id, "' version ", v.version,
        " or its kid '", absl::CHexEscape(v.kid), "' is already in use"));
  }
  return r.status();
}

absl::Status WriteLabels(PqSession& q, const KeyRecord& key) {
  auto r = q.Query("DELETE FROM key_labels WHERE key_id = $1",
                   PqParams().Text(key.id), "write labels");
  if (!r.ok()) return r.status();
  for (const auto& [name, value] : key.labels) {
    r = q.Query("INSERT INTO key_labels (key_id, name, value) "
                "VALUES ($1, $2, $3)",
                PqParams().Text(key.id).Text(name).Text(value),
                "write labels");
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::Status InsertPolicy(PqSession& q, const PolicyRecord& p) {
  auto r = q.Query(
      "INSERT INTO policies (id, principal, resource, operations, "
      "description, created_by, created_at_us) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      PqParams()
          .Text(p.id)
          .Text(p.principal)
          .Text(p.resource)
          .Text(absl::StrJoin(p.operations, ","))
          .Text(p.description)
          .Text(p.created_by)
          .Time(p.created_at),
      "create a policy");
  if (absl::IsAlreadyExists(r.status())) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a policy named '", p.id, "' already exists; choose another name"));
  }
  return r.status();
}

namespace {
constexpr const char* kApiKeyColumns =
    "id, description, secret_sha256, created_by, created_at_us, "
    "expire_at_us, revoked_at_us, last_login_at_us";
}  // namespace

absl::Status InsertApiKey(PqSession& q, const ApiKeyRecord& k) {
  auto r = q.Query(
      absl::StrCat("INSERT INTO api_keys (", kApiKeyColumns,
                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
          .c_str(),
      PqParams()
          .Text(k.id)
          .Text(k.description)
          .Bytes(k.secret_sha256)
          .Text(k.created_by)
          .Time(k.created_at)
          .Time(k.expire_at)
          .Time(k.revoked_at)
          .Time(k.last_login_at),
      "create an API key");
  if (absl::IsAlreadyExists(r.status())) {
    return absl::AlreadyExistsError(absl::StrCat(
        "an API key named '", k.id, "' exists or existed; ids are not reused"));
  }
  return r.status();
}

absl::Status InsertToken(PqSession& q, const TokenRecord& r) {
  auto row = q.Query(
      "INSERT INTO token_records (jti, key_id, version, external_id, "
      "subject, claims_json, sealed_token, issued_by, issued_at_us, "
      "expire_at_us, purge_at_us, revoked_at_us, revoke_reason, revoked_by) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
      PqParams()
          .Text(r.jti)
          .Text(r.key_id)
          .Int(r.version)
          .Text(r.external_id)
          .Text(r.subject)
          .Text(r.claims_json)
          .Bytes(r.sealed_token)
          .Text(r.issued_by)
          .Time(r.issued_at)
          .Time(r.expire_at)
          .Time(r.purge_at)
          .Time(r.revoked_at)
          .Text(r.revoke_reason)
          .Text(r.revoked_by),
      "record a token");
  if (absl::IsAlreadyExists(row.status())) {
    return absl::AlreadyExistsError(
        absl::StrCat("a token record with jti '", r.jti, "' exists"));
  }
  if (!row.ok()) return row.status();
  for (const auto& [name, value] : r.metadata) {
    row = q.Query(
        "INSERT INTO token_metadata (jti, name, value) VALUES ($1, $2, $3)",
        PqParams().Text(r.jti).Text(name).Text(value), "record token metadata");
    if (!row.ok()) return row.status();
  }
  return absl::OkStatus();
}

// --- Whole-table readers ----------------------------------------------------

absl::Status SelectMeta(PqSession& q, std::vector<KeystoreMeta>* out) {
  auto rows = q.Query(
      "SELECT kdf_salt, scrypt_n, scrypt_r, scrypt_p, kek_check, "
      "wrapped_root_key FROM meta WHERE id = 1",
      "read the key hierarchy");
  if (!rows.ok()) return rows.status();
  for (int i = 0; i < rows->size(); ++i) {
    KeystoreMeta& meta = out->emplace_back();
    meta.kdf_salt = rows->Bytes(i, 0);
    meta.scrypt_n = rows->Int(i, 1);
    meta.scrypt_r = rows->Int(i, 2);
    meta.scrypt_p = rows->Int(i, 3);
    meta.kek_check = rows->Bytes(i, 4);
    meta.wrapped_root_key = rows->Bytes(i, 5);
  }
  return absl::OkStatus();
}

absl::Status SelectPolicies(PqSession& q, std::vector<PolicyRecord>* out) {
  auto rows = q.Query(
      "SELECT id, principal, resource, operations, description, "
      "created_by, created_at_us FROM policies ORDER BY id",
      "list policies");
  if (!rows.ok()) return rows.status();
  for (int i = 0; i < rows->size(); ++i) {
    PolicyRecord& p = out->emplace_back();
    p.id = rows->Bytes(i, 0);
    p.principal = rows->Bytes(i, 1);
    p.resource = rows->Bytes(i, 2);
    p.operations = absl::StrSplit(rows->Bytes(i, 3), ',', absl::SkipEmpty());
    p.description = rows->Bytes(i, 4);
    p.created_by = rows->Bytes(i, 5);
    p.created_at = rows->Time(i, 6);
  }
  return absl::OkStatus();
}

absl::Status SelectApiKeys(PqSession& q, std::vector<ApiKeyRecord>* out) {
  auto rows = q.Query(
      absl::StrCat("SELECT ", kApiKeyColumns, " FROM api_keys ORDER BY id")
          .c_str(),
      "list API keys");
  if (!rows.ok()) return rows.status();
  for (int i = 0; i < rows->size(); ++i) {
    ApiKeyRecord& k = out->emplace_back();
    k.id = rows->Bytes(i, 0);
    k.description = rows->Bytes(i, 1);
    k.secret_sha256 = rows->Bytes(i, 2);
    k.created_by = rows->Bytes(i, 3);
    k.created_at = rows->Time(i, 4);
    k.expire_at = rows->Time(i, 5);
    k.revoked_at = rows->Time(i, 6);
    k.last_login_at = rows->Time(i, 7);
  }
  return absl::OkStatus();
}

}  // namespace keyward::keystore::internal
