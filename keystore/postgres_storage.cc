// PostgresStorage: opening, schema migration, transactions, the key
// hierarchy and keys. The schema's SQL is in internal/postgres_schema.cc;
// versions, policies and API keys in postgres_storage_records.cc, token
// records in postgres_storage_tokens.cc, the change feed and leases in
// postgres_storage_feed.cc and postgres_storage_lease.cc, whole-store copies
// in postgres_storage_copy.cc; row codec in internal/postgres_rows.h, libpq
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
    for (const internal::PostgresMigration& m : internal::kPostgresMigrations) {
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
  std::vector<KeystoreMeta> meta;
  absl::Status s = Read([&](PqSession& q) {
    meta.clear();
    return internal::SelectMeta(q, &meta);
  });
  if (!s.ok()) return s;
  return internal::FirstOrNotFound(
      std::move(meta),
      "the keystore has no key hierarchy; create it with `keywardd init`");
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
      auto exists =
          internal::SelectKeyRevision(q, version.key_id, "add a key version");
      if (!exists.ok()) return exists.status();
      return internal::VersionAddRaced(version.key_id, version.version);
    }
    info->version = version.version;
    absl::Status inserted = internal::InsertVersion(q, version);
    if (!inserted.ok()) return inserted;
    return internal::AppendChange(q, ChangeKind::kKey, version.key_id);
  });
}

absl::StatusOr<KeyRecord> PostgresStorage::GetKey(const std::string& id) {
  auto keys =
      ReadList<KeyRecord>([&](PqSession& q, std::vector<KeyRecord>* out) {
        return SelectKey(q, id, out);
      });
  if (!keys.ok()) return keys.status();
  return internal::FirstOrNotFound(std::move(*keys),
                                   absl::StrCat("no key named '", id, "'"));
}

absl::StatusOr<std::vector<KeyRecord>> PostgresStorage::ListKeys(
    const std::string& after, int limit) {
  return ReadList<KeyRecord>(
      [&](PqSession& q, std::vector<KeyRecord>* out) -> absl::Status {
        auto rows =
            q.Query(absl::StrCat("WITH k AS (SELECT * FROM keys WHERE id > $1 "
                                 "ORDER BY id LIMIT $2) ",
                                 internal::kSelectKeysWithLabels)
                        .c_str(),
                    PqParams().Text(after).Int(limit), "list keys");
        if (!rows.ok()) return rows.status();
        return internal::ReadKeysWithLabels(*rows, out);
      });
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
      auto now = internal::SelectKeyRevision(q, key.id, "update a key");
      if (!now.ok()) return now.status();
      return internal::KeyRevisionChanged(key.id, *now, expected_revision);
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
    auto seq = internal::SelectChangeHead(q);
    if (!seq.ok()) return seq.status();
    head = *seq;
    absl::Status read = SelectKey(q, id, &keys);
    if (!read.ok() || keys.empty()) return read;
    return internal::SelectVersions(q, "WHERE key_id = $1 ORDER BY version",
                                    PqParams().Text(id), "list key versions",
                                    &versions);
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
