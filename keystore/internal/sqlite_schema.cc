// SqliteStorage's schema (keystore/FORMAT.md): its migrations, in order;
// SQL that both dialects share word for word is in internal/shared_sql.h.
#include "keystore/internal/shared_sql.h"
#include "keystore/internal/sqlite.h"

namespace keyward::keystore::internal {

// Schema migrations, applied in order; PRAGMA user_version is the number
// applied. Never edit one that has shipped: add the next.
const char* const kSqliteMigrations[] = {
    // 1: the key hierarchy, keys, labels and versions.
    R"sql(
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  kdf_salt BLOB NOT NULL,
  scrypt_n INTEGER NOT NULL,
  scrypt_r INTEGER NOT NULL,
  scrypt_p INTEGER NOT NULL,
  kek_check BLOB NOT NULL,
  wrapped_root_key BLOB NOT NULL
);
CREATE TABLE keys (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  purpose INTEGER NOT NULL,
  description TEXT NOT NULL,
  exportable INTEGER NOT NULL,
  public_only INTEGER NOT NULL,
  primary_version INTEGER NOT NULL,
  latest_version INTEGER NOT NULL,
  min_decrypt_version INTEGER NOT NULL,
  min_encrypt_version INTEGER NOT NULL,
  rotation_period_s INTEGER NOT NULL,
  jwt_max_ttl_s INTEGER NOT NULL,
  created_at_us INTEGER NOT NULL,
  rotated_at_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE key_labels (
  key_id TEXT NOT NULL REFERENCES keys(id),
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (key_id, name)
) WITHOUT ROWID;
CREATE TABLE key_versions (
  key_id TEXT NOT NULL REFERENCES keys(id),
  version INTEGER NOT NULL,
  state INTEGER NOT NULL,
  created_at_us INTEGER NOT NULL,
  destroyed_at_us INTEGER NOT NULL,
  wrapped_material BLOB NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (key_id, version)
) WITHOUT ROWID;
)sql",
    // 2: access policies.
    R"sql(
CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  principal TEXT NOT NULL,
  resource TEXT NOT NULL,
  operations TEXT NOT NULL,
  description TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_us INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 3: API keys (secrets stored only as SHA-256 hashes).
    R"sql(
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  secret_sha256 BLOB NOT NULL,
  created_by TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  expire_at_us INTEGER NOT NULL,
  revoked_at_us INTEGER NOT NULL,
  last_login_at_us INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 4: records of issued JWTs, for look-up and revocation.
    R"sql(
CREATE TABLE token_records (
  jti TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  external_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  claims_json TEXT NOT NULL,
  sealed_token BLOB NOT NULL,
  issued_by TEXT NOT NULL,
  issued_at_us INTEGER NOT NULL,
  expire_at_us INTEGER NOT NULL,
  purge_at_us INTEGER NOT NULL,
  revoked_at_us INTEGER NOT NULL,
  revoke_reason TEXT NOT NULL,
  revoked_by TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX token_records_by_time ON token_records (issued_at_us, jti);
CREATE INDEX token_records_by_external_id
  ON token_records (external_id, issued_at_us);
CREATE INDEX token_records_by_purge ON token_records (purge_at_us);
CREATE TABLE token_metadata (
  jti TEXT NOT NULL REFERENCES token_records(jti) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (jti, name)
) WITHOUT ROWID;
)sql",
    // 5: a JWE key's one algorithm; where a version came from and its own
    // JOSE kid (imported keys keep the kid their tokens carry).
    R"sql(
ALTER TABLE keys ADD COLUMN jwe_algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE key_versions ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_versions ADD COLUMN kid TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX key_versions_by_kid ON key_versions (kid) WHERE kid != '';
)sql",
    // 6: a key's revision, bumped by every change of its row; UpdateKey is
    // conditional on it.
    R"sql(
ALTER TABLE keys ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
)sql",
    // 7: a key's own signature algorithms (existing keys get their type's
    // default, key_types.h DefaultSignatureAlgorithms, which they signed
    // with), a JWT key's default lifetime and issuer, and the mark of a
    // legacy short HMAC secret.
    R"sql(
ALTER TABLE keys ADD COLUMN signature_algorithms TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN jwt_default_ttl_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN jwt_issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN legacy_short_secret INTEGER NOT NULL DEFAULT 0;
)sql" KEYWARD_SQL_BACKFILL_SIGNATURE_ALGORITHMS,
    // 8: the change feed (storage.h), as on PostgreSQL: change_head's one
    // row is the last seq; and the leases of work done once.
    R"sql(
CREATE TABLE change_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL
);
INSERT INTO change_head (id, seq) VALUES (1, 0);
CREATE TABLE changes (
  seq INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  subject TEXT NOT NULL,
  at_us INTEGER NOT NULL
);
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  expires_at_us INTEGER NOT NULL
);
)sql",
};

const int kSqliteSchemaVersion =
    sizeof(kSqliteMigrations) / sizeof(kSqliteMigrations[0]);

}  // namespace keyward::keystore::internal
