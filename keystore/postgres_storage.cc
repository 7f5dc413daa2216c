// PostgresStorage: opening, the schema, the key hierarchy and keys.
// Versions, policies and API keys are in postgres_storage_records.cc, token
// records in postgres_storage_tokens.cc, whole-store copies in
// postgres_storage_copy.cc; row codec in internal/postgres_rows.h, libpq
// plumbing in internal/pq.h.
#include "keystore/postgres_storage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "keystore/internal/pq.h"
#include "keystore/internal/postgres_rows.h"
#include "keystore/internal/storage_errors.h"

namespace keyward::keystore {

using internal::PqParams;
using internal::PqRows;
using internal::PqSession;

namespace {

// Schema migrations, applied in order at Open under the advisory lock; the
// keyward_schema row holds the version reached. Never edit one that has
// shipped: add the next. Versions follow SQLite's numbering (FORMAT.md):
// PostgreSQL starts at 5, the schema SQLite reached in five steps. Ids are
// COLLATE "C" so that order is byte order whatever the database's locale.
struct Migration {
  int from;
  int to;
  const char* sql;
};
constexpr Migration kMigrations[] = {
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
UPDATE keys SET signature_algorithms = CASE
  WHEN purpose = 2 AND type = 'ED25519' THEN 'ED25519'
  WHEN purpose = 2 AND type = 'ECDSA_P256'
    THEN 'ECDSA-P256-SHA256-DER,ECDSA-P256-SHA256-P1363'
  WHEN purpose = 2 AND type = 'ECDSA_P384'
    THEN 'ECDSA-P384-SHA384-DER,ECDSA-P384-SHA384-P1363'
  WHEN purpose = 2 AND type = 'ECDSA_P521'
    THEN 'ECDSA-P521-SHA512-DER,ECDSA-P521-SHA512-P1363'
  WHEN purpose = 2 AND type IN ('RSA2048', 'RSA3072', 'RSA4096')
    THEN 'RSA-PSS-SHA256,RSA-PKCS1-SHA256,RSA-PKCS1-SHA384,RSA-PKCS1-SHA512,RSA-PSS-SHA384,RSA-PSS-SHA512'
  WHEN purpose = 5 AND type = 'ED25519' THEN 'ED25519'
  WHEN purpose = 5 AND type = 'ECDSA_P256' THEN 'ECDSA-P256-SHA256-P1363'
  WHEN purpose = 5 AND type = 'ECDSA_P384' THEN 'ECDSA-P384-SHA384-P1363'
  WHEN purpose = 5 AND type = 'ECDSA_P521' THEN 'ECDSA-P521-SHA512-P1363'
  WHEN purpose = 5 AND type IN ('RSA2048', 'RSA3072', 'RSA4096')
    THEN 'RSA-PKCS1-SHA256'
  ELSE '' END;
)sql"},
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

// ReadPasswordFile reads the one-line password file; see PostgresOptions.
absl::StatusOr<crypto::SecretData> ReadPasswordFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open the PostgreSQL password file '", path,
        "': ", strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "the PostgreSQL password file '", path, "' is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrFormat(
        "the PostgreSQL password file '%s' is accessible to group or others "
        "(mode %04o); run `chmod 600 %s` and try again",
        path, st.st_mode & 07777, path));
  }
  constexpr size_t kMax = 4096;
  crypto::SecretData buf = crypto::SecretData::Zeroed(kMax);
  size_t n = 0;
  while (n < kMax) {
    ssize_t r = read(fd, buf.InsecureMutableData() + n, kMax - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      close(fd);
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read the PostgreSQL password file '", path,
          "': ", strerror(errno)));
    }
    if (r == 0) break;
    n += r;
  }
  close(fd);
  absl::string_view text = buf.InsecureView().substr(0, n);
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.empty() || n == kMax || text.find('\n') != absl::string_view::npos ||
      text.find('\0') != absl::string_view::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the PostgreSQL password file '", path,
        "' must hold one line: the password"));
  }
  return crypto::SecretData(text);
}

}  // namespace

bool PostgresStorage::Available() { return true; }

PostgresStorage::PostgresStorage(std::unique_ptr<internal::PqPool> pool)
    : pool_(std::move(pool)) {}

PostgresStorage::~PostgresStorage() = default;

absl::StatusOr<std::unique_ptr<PostgresStorage>> PostgresStorage::Open(
    const PostgresOptions& options) {
  internal::PqPoolOptions pool_options;
  pool_options.dsn = options.dsn;
  pool_options.size = options.pool_size;
  pool_options.connect_timeout = options.connect_timeout;
  pool_options.statement_timeout = options.statement_timeout;
  pool_options.lock_timeout = options.lock_timeout;
  pool_options.idle_in_transaction_session_timeout =
      options.idle_in_transaction_session_timeout;
  if (!options.password_file.empty()) {
    auto password = ReadPasswordFile(options.password_file);
    if (!password.ok()) return password.status();
    pool_options.password = std::move(*password);
  }
  auto pool = internal::PqPool::Create(std::move(pool_options));
  if (!pool.ok()) return pool.status();
  std::unique_ptr<PostgresStorage> storage(
      new PostgresStorage(std::move(*pool)));
  absl::Status s = storage->Migrate();
  if (!s.ok()) return s;
  return storage;
}

absl::Status PostgresStorage::Migrate() {
  return pool_->Run([](PqSession& s) -> absl::Status {
    absl::Status st = s.Exec("BEGIN", "begin the schema set-up");
    if (!st.ok()) return st;
    // Held to COMMIT: daemons starting together set the schema up one at a
    // time, and the later ones find it done.
    auto locked = s.Query("SELECT pg_advisory_xact_lock($1)",
                          PqParams().Int(kSchemaLock), "lock the schema");
    if (!locked.ok()) return locked.status();
    st = s.Exec(
        "CREATE TABLE IF NOT EXISTS keyward_schema ("
        "id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)",
        "create the schema version table");
    if (!st.ok()) return st;
    auto row = s.Query("SELECT version FROM keyward_schema WHERE id = 1",
                       "read the schema version");
    if (!row.ok()) return row.status();
    int64_t version = row->size() == 0 ? 0 : row->Int(0, 0);
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the PostgreSQL keystore's schema (version ", version,
          ") is newer than this keywardd understands (", kSchemaVersion,
          "); run a newer keywardd"));
    }
    for (const Migration& m : kMigrations) {
      if (version >= m.to) continue;
      if (version != m.from) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the PostgreSQL keystore has schema version ", version,
            ", which no migration of this keywardd starts from"));
      }
      st = s.Exec(m.sql, absl::StrCat("migrate the schema to version ", m.to));
      if (!st.ok()) return st;
      version = m.to;
    }
    auto written = s.Query(
        "INSERT INTO keyward_schema (id, version) VALUES (1, $1) "
        "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
        PqParams().Int(version), "write the schema version");
    if (!written.ok()) return written.status();
    return s.Exec("COMMIT", "commit the schema set-up");
  });
}

absl::Status PostgresStorage::Change(
    const std::function<absl::Status(PqSession&, CommitInfo*)>& body) {
  return pool_->Run([&](PqSession& s) -> absl::Status {
    absl::Status st = s.Exec("BEGIN", "begin a transaction");
    if (!st.ok()) return st;
    st = internal::CheckLeaseFence(s);
    if (!st.ok()) return st;  // Run rolls back
    CommitInfo info;
    st = body(s, &info);
    if (!st.ok()) return st;  // Run rolls back
    st = RunCommitHook(info);
    if (!st.ok()) return st;
    st = s.Exec("COMMIT", "commit");
    NoteCommitOutcome(st.ok());
    return st;
  });
}

absl::Status PostgresStorage::Read(
    const std::function<absl::Status(PqSession&)>& body) {
  return pool_->Run(body);
}

absl::Status PostgresStorage::Snapshot(
    const std::function<absl::Status(PqSession&)>& body) {
  return pool_->Run([&](PqSession& s) -> absl::Status {
    // REPEATABLE READ: every statement sees the snapshot of the first.
    absl::Status st = s.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                             "begin a read transaction");
    if (!st.ok()) return st;
    st = body(s);
    if (!st.ok()) return st;  // Run rolls back
    return s.Exec("COMMIT", "end a read transaction");
  });
}

// --- The key hierarchy --------------------------------------------------

absl::StatusOr<KeystoreMeta> PostgresStorage::ReadMeta() {
  KeystoreMeta meta;
  absl::Status s = Read([&](PqSession& q) -> absl::Status {
    auto rows = q.Query(
        "SELECT kdf_salt, scrypt_n, scrypt_r, scrypt_p, kek_check, "
        "wrapped_root_key FROM meta WHERE id = 1",
        "read the key hierarchy");
    if (!rows.ok()) return rows.status();
    if (rows->size() == 0) {
      return absl::NotFoundError(
          "the keystore has no key hierarchy; create it with `keywardd init`");
    }
    meta.kdf_salt = rows->Bytes(0, 0);
    meta.scrypt_n = rows->Int(0, 1);
    meta.scrypt_r = rows->Int(0, 2);
    meta.scrypt_p = rows->Int(0, 3);
    meta.kek_check = rows->Bytes(0, 4);
    meta.wrapped_root_key = rows->Bytes(0, 5);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return meta;
}

absl::Status PostgresStorage::InitMeta(const KeystoreMeta& meta) {
  return Change([&](PqSession& q, CommitInfo*) {
    return internal::InsertMeta(q, meta);
  });
}

absl::Status PostgresStorage::ReplaceMeta(
    const std::string& expected_wrapped_root, const KeystoreMeta& next) {
  return Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    // One conditional UPDATE: a concurrent one waits for the row lock, then
    // finds the root changed and touches nothing.
    auto r = q.Query(
        "UPDATE meta SET kdf_salt = $1, scrypt_n = $2, scrypt_r = $3, "
        "scrypt_p = $4, kek_check = $5, wrapped_root_key = $6 "
        "WHERE id = 1 AND wrapped_root_key = $7",
        PqParams()
            .Bytes(next.kdf_salt)
            .Int(static_cast<int64_t>(next.scrypt_n))
            .Int(next.scrypt_r)
            .Int(next.scrypt_p)
            .Bytes(next.kek_check)
            .Bytes(next.wrapped_root_key)
            .Bytes(expected_wrapped_root),
        "re-wrap the root key");
    if (!r.ok()) return r.status();
    if (r->affected() != 1) {
      return absl::AbortedError(
          "the passphrase was changed concurrently; try again");
    }
    return absl::OkStatus();
  });
}

// --- Keys ---------------------------------------------------------------

namespace {

// SelectKey appends key `id` with its labels to `keys`, if it exists.
absl::Status SelectKey(PqSession& q, const std::string& id,
                       std::vector<KeyRecord>* keys) {
  auto rows = q.Query(
      absl::StrCat("WITH k AS (SELECT * FROM keys WHERE id = $1) ",
                   internal::kSelectKeysWithLabels)
          .c_str(),
      PqParams().Text(id), "read a key");
  if (!rows.ok()) return rows.status();
  return internal::ReadKeysWithLabels(*rows, keys);
}

}  // namespace

absl::Status PostgresStorage::CreateKey(
    const KeyRecord& key, const std::vector<VersionRecord>& versions) {
  return Change([&](PqSession& q, CommitInfo* info) -> absl::Status {
    absl::Status s = internal::InsertKey(q, key, /*revision=*/1, versions);
    if (!s.ok()) return s;
    info->version = versions.empty() ? 0 : versions.back().version;
    return internal::AppendChange(q, ChangeKind::kKey, key.id);
  });
}

absl::Status PostgresStorage::AddVersion(const VersionRecord& version,
                                         bool make_primary) {
  return Change([&](PqSession& q, CommitInfo* info) -> absl::Status {
    // The compare-and-swap on latest_version: a concurrent AddVersion waits
    // for this row's lock, then re-checks the condition and matches nothing.
    auto r = q.Query(
        "UPDATE keys SET latest_version = $1, "
        "primary_version = CASE WHEN $2 = 1 THEN $1 ELSE primary_version END, "
        "rotated_at_us = CASE WHEN $2 = 1 THEN $3 ELSE rotated_at_us END, "
        "revision = revision + 1 "
        "WHERE id = $4 AND latest_version = $1 - 1",
        PqParams()
            .Int(version.version)
            .Int(make_primary ? 1 : 0)
            .Time(version.created_at)
            .Text(version.key_id),
        "add a key version");
    if (!r.ok()) return r.status();
    if (r->affected() != 1) {
      auto exists = q.Query("SELECT 1 FROM keys WHERE id = $1",
                            PqParams().Text(version.key_id),
                            "add a key version");
      if (!exists.ok()) return exists.status();
      if (exists->size() == 0) {
        return absl::NotFoundError(
            absl::StrCat("no key named '", version.key_id, "'"));
      }
      return absl::AbortedError(absl::StrCat(
          "key '", version.key_id, "' changed while version ",
          version.version, " was being added; try again"));
    }
    info->version = version.version;
    absl::Status inserted = internal::InsertVersion(q, version);
    if (!inserted.ok()) return inserted;
    return internal::AppendChange(q, ChangeKind::kKey, version.key_id);
  });
}

absl::StatusOr<KeyRecord> PostgresStorage::GetKey(const std::string& id) {
  std::vector<KeyRecord> keys;
  absl::Status s = Read([&](PqSession& q) {
    keys.clear();
    return SelectKey(q, id, &keys);
  });
  if (!s.ok()) return s;
  if (keys.empty()) {
    return absl::NotFoundError(absl::StrCat("no key named '", id, "'"));
  }
  return std::move(keys.front());
}

absl::StatusOr<std::vector<KeyRecord>> PostgresStorage::ListKeys(
    const std::string& after, int limit) {
  std::vector<KeyRecord> keys;
  absl::Status s = Read([&](PqSession& q) -> absl::Status {
    keys.clear();
    auto rows = q.Query(
        absl::StrCat("WITH k AS (SELECT * FROM keys WHERE id > $1 "
                     "ORDER BY id LIMIT $2) ",
                     internal::kSelectKeysWithLabels)
            .c_str(),
        PqParams().Text(after).Int(limit), "list keys");
    if (!rows.ok()) return rows.status();
    return internal::ReadKeysWithLabels(*rows, &keys);
  });
  if (!s.ok()) return s;
  return keys;
}

absl::Status PostgresStorage::UpdateKey(const KeyRecord& key,
                                        int64_t expected_revision) {
  return Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    // One conditional UPDATE: a concurrent one waits for the row lock, then
    // re-checks the revision against the row as committed and matches
    // nothing. primary_version is not written (only AddVersion moves it).
    auto r = q.Query(
        "UPDATE keys SET description = $1, min_decrypt_version = $2, "
        "min_encrypt_version = $3, rotation_period_s = $4, "
        "jwt_max_ttl_s = $5, jwt_default_ttl_s = $6, jwt_issuer = $7, "
        "revision = revision + 1 WHERE id = $8 AND revision = $9",
        PqParams()
            .Text(key.description)
            .Int(key.min_decrypt_version)
            .Int(key.min_encrypt_version)
            .Int(absl::ToInt64Seconds(key.rotation_period))
            .Int(absl::ToInt64Seconds(key.jwt_max_ttl))
            .Int(absl::ToInt64Seconds(key.jwt_default_ttl))
            .Text(key.jwt_issuer)
            .Text(key.id)
            .Int(expected_revision),
        "update a key");
    if (!r.ok()) return r.status();
    if (r->affected() != 1) {
      auto now = q.Query("SELECT revision FROM keys WHERE id = $1",
                         PqParams().Text(key.id), "update a key");
      if (!now.ok()) return now.status();
      if (now->size() == 0) {
        return absl::NotFoundError(absl::StrCat("no key named '", key.id, "'"));
      }
      return internal::KeyRevisionChanged(key.id, now->Int(0, 0),
                                          expected_revision);
    }
    absl::Status labels = internal::WriteLabels(q, key);
    if (!labels.ok()) return labels;
    return internal::AppendChange(q, ChangeKind::kKey, key.id);
  });
}

absl::StatusOr<KeyWithVersions> PostgresStorage::GetKeyWithVersions(
    const std::string& id) {
  std::vector<KeyRecord> keys;
  std::vector<VersionRecord> versions;
  int64_t head = 0;
  absl::Status s = Snapshot([&](PqSession& q) -> absl::Status {
    keys.clear();
    versions.clear();
    auto seq = q.Query("SELECT seq FROM change_head WHERE id = 1",
                       "read the change feed's head");
    if (!seq.ok()) return seq.status();
    head = seq->size() == 0 ? 0 : seq->Int(0, 0);
    absl::Status read = SelectKey(q, id, &keys);
    if (!read.ok() || keys.empty()) return read;
    auto rows = q.Query(
        absl::StrCat("SELECT ", internal::kVersionColumns,
                     " FROM key_versions WHERE key_id = $1 ORDER BY version")
            .c_str(),
        PqParams().Text(id), "list key versions");
    if (!rows.ok()) return rows.status();
    for (int i = 0; i < rows->size(); ++i) {
      versions.push_back(internal::ReadVersion(*rows, i));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (keys.empty()) {
    return absl::NotFoundError(absl::StrCat("no key named '", id, "'"));
  }
  return KeyWithVersions{std::move(keys.front()), std::move(versions), head};
}

absl::StatusOr<int64_t> PostgresStorage::CountKeys() {
  int64_t n = 0;
  absl::Status s = Read([&](PqSession& q) -> absl::Status {
    auto rows = q.Query("SELECT count(*) FROM keys", "count keys");
    if (!rows.ok()) return rows.status();
    n = rows->Int(0, 0);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return n;
}

absl::StatusOr<std::vector<std::string>>
PostgresStorage::ListKeysDueForRotation(absl::Time now) {
  std::vector<std::string> ids;
  absl::Status s = Read([&](PqSession& q) -> absl::Status {
    ids.clear();
    auto rows = q.Query(
        "SELECT id FROM keys WHERE rotation_period_s > 0 AND public_only = 0 "
        "AND rotated_at_us + rotation_period_s * 1000000 <= $1 ORDER BY id",
        PqParams().Time(now), "list keys due for rotation");
    if (!rows.ok()) return rows.status();
    for (int i = 0; i < rows->size(); ++i) ids.push_back(rows->Bytes(i, 0));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return ids;
}

}  // namespace keyward::keystore
