#include "keystore/internal/postgres_rows.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/key_types.h"

namespace keyward::keystore::internal {
const char* const kSelectKeysWithLabels =
    "SELECT k.id, k.type, k.purpose, k.description, k.exportable, "
    "k.public_only, k.primary_version, k.latest_version, "
    "k.min_decrypt_version, k.min_encrypt_version, k.rotation_period_s, "
    "k.jwt_max_ttl_s, k.created_at_us, k.rotated_at_us, k.jwe_algorithm, "
    "l.name, l.value FROM k LEFT JOIN key_labels l ON l.key_id = k.id "
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
      out->push_back(std::move(key));
    }
    if (!q.IsNull(i, 15)) out->back().labels[q.Bytes(i, 15)] = q.Bytes(i, 16);
  }
  return absl::OkStatus();
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

}  // namespace keyward::keystore::internal
