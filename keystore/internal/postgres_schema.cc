// PostgresStorage's schema (keystore/FORMAT.md, "PostgreSQL schema"): its
// migrations, in the dialect's own types; SQL that both dialects share word
// for word is in internal/shared_sql.h.
#include "keystore/internal/postgres_rows.h"
#include "keystore/internal/shared_sql.h"

namespace keyward::keystore::internal {

// The keyward_schema row holds the version reached. Never edit one that has
// shipped: add the next. Versions follow SQLite's numbering (FORMAT.md):
// PostgreSQL starts at 5, the schema SQLite reached in five steps. Ids are
// COLLATE "C" so that order is byte order whatever the database's locale.
const PostgresMigration kPostgresMigrations[4] = {
    {0, 5, R"sql(
CREATE TABLE meta (
  id integer PRIMARY KEY CHECK (id = 1),
  kdf_salt bytea NOT NULL,
  scrypt_n bigint NOT NULL,
  scrypt_r bigint NOT NULL,
  scrypt_p bigint NOT NULL,
  kek_check bytea NOT NULL,
  wrapped_root_key bytea NOT NULL
);
CREATE TABLE keys (
  id text COLLATE "C" PRIMARY KEY,
  type text NOT NULL,
  purpose integer NOT NULL,
  description text NOT NULL,
  exportable integer NOT NULL,
  public_only integer NOT NULL,
  primary_version integer NOT NULL,
  latest_version integer NOT NULL,
  min_decrypt_version integer NOT NULL,
  min_encrypt_version integer NOT NULL,
  rotation_period_s bigint NOT NULL,
  jwt_max_ttl_s bigint NOT NULL,
  created_at_us bigint NOT NULL,
  rotated_at_us bigint NOT NULL,
  jwe_algorithm text NOT NULL DEFAULT ''
);
CREATE TABLE key_labels (
  key_id text COLLATE "C" NOT NULL REFERENCES keys(id),
  name text COLLATE "C" NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (key_id, name)
);
CREATE TABLE key_versions (
  key_id text COLLATE "C" NOT NULL REFERENCES keys(id),
  version integer NOT NULL,
  state integer NOT NULL,
  created_at_us bigint NOT NULL,
  destroyed_at_us bigint NOT NULL,
  wrapped_material bytea NOT NULL,
  public_key bytea NOT NULL,
  imported integer NOT NULL DEFAULT 0,
  kid text COLLATE "C" NOT NULL DEFAULT '',
  PRIMARY KEY (key_id, version)
);
CREATE UNIQUE INDEX key_versions_by_kid ON key_versions (kid) WHERE kid <> '';
CREATE TABLE policies (
  id text COLLATE "C" PRIMARY KEY,
  principal text NOT NULL,
  resource text NOT NULL,
  operations text NOT NULL,
  description text NOT NULL,
  created_by text NOT NULL,
  created_at_us bigint NOT NULL
);
CREATE TABLE api_keys (
  id text COLLATE "C" PRIMARY KEY,
  description text NOT NULL,
  secret_sha256 bytea NOT NULL,
  created_by text NOT NULL,
  created_at_us bigint NOT NULL,
  expire_at_us bigint NOT NULL,
  revoked_at_us bigint NOT NULL,
  last_login_at_us bigint NOT NULL
);
CREATE TABLE token_records (
  jti text COLLATE "C" PRIMARY KEY,
  key_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  external_id text COLLATE "C" NOT NULL,
  subject text NOT NULL,
  claims_json text NOT NULL,
  sealed_token bytea NOT NULL,
  issued_by text NOT NULL,
  issued_at_us bigint NOT NULL,
  expire_at_us bigint NOT NULL,
  purge_at_us bigint NOT NULL,
  revoked_at_us bigint NOT NULL,
  revoke_reason text NOT NULL,
  revoked_by text NOT NULL
);
CREATE INDEX token_records_by_time ON token_records (issued_at_us, jti);
CREATE INDEX token_records_by_external_id
  ON token_records (external_id, issued_at_us);
CREATE INDEX token_records_by_purge ON token_records (purge_at_us);
CREATE TABLE token_metadata (
  jti text COLLATE "C" NOT NULL REFERENCES token_records(jti) ON DELETE CASCADE,
  name text COLLATE "C" NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (jti, name)
);
)sql"},
    // A key's revision, bumped by every change of its row (UpdateKey is
    // conditional on it).
    {5, 6, R"sql(
ALTER TABLE keys ADD COLUMN revision bigint NOT NULL DEFAULT 1;
)sql"},
    // A key's own signature algorithms (existing keys get their type's
    // default, which they signed with), a JWT key's default lifetime and
    // issuer, and the mark of a legacy short HMAC secret (as SQLite's 7).
    {6, 7, R"sql(
ALTER TABLE keys ADD COLUMN signature_algorithms text NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN jwt_default_ttl_s bigint NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN jwt_issuer text NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN legacy_short_secret integer NOT NULL DEFAULT 0;
)sql" KEYWARD_SQL_BACKFILL_SIGNATURE_ALGORITHMS},
    // The change feed (storage.h): one row per change others must see.
    // change_head's one row is the sequence: a change takes head + 1 under
    // that row's lock, held to its COMMIT, so seqs are gap-free and in commit
    // order (a SERIAL is neither). And the leases of work done once
    // (storage.h, "Leases"). As SQLite's 8.
    {7, 8, R"sql(
CREATE TABLE change_head (
  id integer PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL
);
INSERT INTO change_head (id, seq) VALUES (1, 0);
CREATE TABLE changes (
  seq bigint PRIMARY KEY,
  kind integer NOT NULL,
  subject text COLLATE "C" NOT NULL,
  at_us bigint NOT NULL
);
CREATE TABLE leases (
  name text COLLATE "C" PRIMARY KEY,
  holder text COLLATE "C" NOT NULL,
  epoch bigint NOT NULL,
  expires_at_us bigint NOT NULL
);
)sql"},
};

}  // namespace keyward::keystore::internal
