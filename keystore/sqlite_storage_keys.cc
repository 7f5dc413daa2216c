// SqliteStorage: keys and versions (sqlite_storage.h).
#include <sqlite3.h>

#include <cstdint>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keystore/internal/sqlite.h"
#include "keystore/internal/storage_errors.h"
#include "keystore/key_types.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {

using internal::FromMicros;
using internal::SqliteStatement;
using internal::SqliteTransaction;
using internal::ToMicros;

absl::Status SqliteStorage::WriteLabels(const KeyRecord& key) {
  absl::Status s =
      SqliteStatement(db_, "DELETE FROM key_labels WHERE key_id = ?")
          .Bind(1, key.id)
          .Run("write labels");
  if (!s.ok()) return s;
  for (const auto& [name, value] : key.labels) {
    s = SqliteStatement(
            db_,
            "INSERT INTO key_labels (key_id, name, value) VALUES (?, ?, ?)")
            .Bind(1, key.id)
            .Bind(2, name)
            .Bind(3, value)
            .Run("write labels");
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStorage::InsertVersion(const VersionRecord& v) {
  return SqliteStatement(db_,
                         "INSERT INTO key_versions (key_id, version, state, "
                         "created_at_us, destroyed_at_us, wrapped_material, "
                         "public_key, imported, kid) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(1, v.key_id)
      .Bind(2, v.version)
      .Bind(3, static_cast<int64_t>(v.state))
      .Bind(4, ToMicros(v.created_at))
      .Bind(5, ToMicros(v.destroyed_at))
      .BindBlob(6, v.wrapped_material)
      .BindBlob(7, v.public_key)
      .Bind(8, v.imported ? 1 : 0)
      .Bind(9, v.kid)
      .Run("write a key version");
}

absl::Status SqliteStorage::CreateKey(
    const KeyRecord& key, const std::vector<VersionRecord>& versions) {
  return Change([&](CommitInfo* info) {
    absl::Status s = InsertKey(key, /*revision=*/1, versions);
    if (!s.ok()) return s;
    info->version = versions.empty() ? 0 : versions.back().version;
    return AppendChange(ChangeKind::kKey, key.id);
  });
}

absl::Status SqliteStorage::InsertKey(
    const KeyRecord& key, int64_t revision,
    const std::vector<VersionRecord>& versions) {
  SqliteStatement q(
      db_,
      "INSERT INTO keys (id, type, purpose, description, exportable, "
      "public_only, primary_version, latest_version, min_decrypt_version, "
      "min_encrypt_version, rotation_period_s, jwt_max_ttl_s, created_at_us, "
      "rotated_at_us, jwe_algorithm, revision, signature_algorithms, "
      "jwt_default_ttl_s, jwt_issuer, legacy_short_secret) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.Bind(1, key.id)
      .Bind(2, crypto::KeyTypeName(key.type))
      .Bind(3, static_cast<int64_t>(key.purpose))
      .Bind(4, key.description)
      .Bind(5, key.exportable ? 1 : 0)
      .Bind(6, key.public_only ? 1 : 0)
      .Bind(7, key.primary_version)
      .Bind(8, key.latest_version)
      .Bind(9, key.min_decrypt_version)
      .Bind(10, key.min_encrypt_version)
      .Bind(11, absl::ToInt64Seconds(key.rotation_period))
      .Bind(12, absl::ToInt64Seconds(key.jwt_max_ttl))
      .Bind(13, ToMicros(key.created_at))
      .Bind(14, ToMicros(key.rotated_at))
      .Bind(15, key.jwe_algorithm)
      .Bind(16, revision)
      .Bind(17, SignatureAlgorithmsText(key.signature_algorithms))
      .Bind(18, absl::ToInt64Seconds(key.jwt_default_ttl))
      .Bind(19, key.jwt_issuer)
      .Bind(20, key.legacy_short_secret ? 1 : 0);
  absl::Status s = q.Run("create a key");
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a key named '", key.id, "' already exists; choose another name"));
  }
  if (!s.ok()) return s;
  s = WriteLabels(key);
  if (!s.ok()) return s;
  for (const VersionRecord& v : versions) {
    s = InsertVersion(v);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStorage::AddVersion(const VersionRecord& version,
                                       bool make_primary) {
  return Change([&](CommitInfo* info) -> absl::Status {
    SqliteStatement q(
        db_,
        "UPDATE keys SET latest_version = ?1, "
        "primary_version = CASE WHEN ?2 THEN ?1 ELSE primary_version END, "
        "rotated_at_us = CASE WHEN ?2 THEN ?3 ELSE rotated_at_us END, "
        "revision = revision + 1 "
        "WHERE id = ?4 AND latest_version = ?1 - 1");
    q.Bind(1, version.version)
        .Bind(2, make_primary ? 1 : 0)
        .Bind(3, ToMicros(version.created_at))
        .Bind(4, version.key_id);
    absl::Status s = q.Run("add a key version");
    if (!s.ok()) return s;
    if (sqlite3_changes(db_) != 1) {
      auto exists = ReadKeyRevision(version.key_id, "add a key version");
      if (!exists.ok()) return exists.status();
      return internal::VersionAddRaced(version.key_id, version.version);
    }
    info->version = version.version;
    s = InsertVersion(version);
    if (!s.ok()) return s;
    return AppendChange(ChangeKind::kKey, version.key_id);
  });
}

absl::StatusOr<int64_t> SqliteStorage::ReadKeyRevision(const std::string& id,
                                                       absl::string_view what) {
  SqliteStatement q(db_, "SELECT revision FROM keys WHERE id = ?");
  q.Bind(1, id);
  if (!q.Step()) {
    absl::Status s = q.status(what);
    if (!s.ok()) return s;
    return absl::NotFoundError(absl::StrCat("no key named '", id, "'"));
  }
  return q.Int(0);
}

absl::Status SqliteStorage::ReadLabels(KeyRecord* key) {
  SqliteStatement q(db_, "SELECT name, value FROM key_labels WHERE key_id = ?");
  q.Bind(1, key->id);
  while (q.Step()) key->labels[q.Text(0)] = q.Text(1);
  return q.status("read labels");
}

namespace {
constexpr const char* kKeyColumns =
    "id, type, purpose, description, exportable, public_only, "
    "primary_version, latest_version, min_decrypt_version, "
    "min_encrypt_version, rotation_period_s, jwt_max_ttl_s, created_at_us, "
    "rotated_at_us, jwe_algorithm, revision, signature_algorithms, "
    "jwt_default_ttl_s, jwt_issuer, legacy_short_secret";
}  // namespace

absl::StatusOr<KeyRecord> SqliteStorage::ReadKeyRow(const SqliteStatement& q) {
  KeyRecord key;
  key.id = q.Text(0);
  if (std::optional<KeyType> parsed = KeyTypeFromName(q.Text(1))) {
    key.type = *parsed;
  } else {
    return absl::DataLossError(absl::StrCat(
        "key '", key.id, "' has an unknown type '", q.Text(1),
        "' in the keystore; run a newer keywardd or restore a backup"));
  }
  key.purpose = static_cast<KeyPurpose>(q.Int(2));
  key.description = q.Text(3);
  key.exportable = q.Int(4) != 0;
  key.public_only = q.Int(5) != 0;
  key.primary_version = q.Int(6);
  key.latest_version = q.Int(7);
  key.min_decrypt_version = q.Int(8);
  key.min_encrypt_version = q.Int(9);
  key.rotation_period = absl::Seconds(q.Int(10));
  key.jwt_max_ttl = absl::Seconds(q.Int(11));
  key.created_at = FromMicros(q.Int(12));
  key.rotated_at = FromMicros(q.Int(13));
  key.jwe_algorithm = q.Text(14);
  key.revision = q.Int(15);
  auto algorithms = internal::StoredAlgorithms(key.id, q.Text(16));
  if (!algorithms.ok()) return algorithms.status();
  key.signature_algorithms = std::move(*algorithms);
  key.jwt_default_ttl = absl::Seconds(q.Int(17));
  key.jwt_issuer = q.Text(18);
  key.legacy_short_secret = q.Int(19) != 0;
  return key;
}

absl::StatusOr<KeyRecord> SqliteStorage::GetKey(const std::string& id) {
  absl::MutexLock lock(&mu_);
  KeyRecord key;
  absl::Status s = ReadKey(id, &key);
  if (!s.ok()) return s;
  return key;
}

absl::Status SqliteStorage::ReadKey(const std::string& id, KeyRecord* out) {
  SqliteStatement q(
      db_,
      absl::StrCat("SELECT ", kKeyColumns, " FROM keys WHERE id = ?").c_str());
  q.Bind(1, id);
  if (!q.Step()) {
    absl::Status s = q.status("read a key");
    if (!s.ok()) return s;
    return absl::NotFoundError(absl::StrCat("no key named '", id, "'"));
  }
  auto key = ReadKeyRow(q);
  if (!key.ok()) return key.status();
  *out = std::move(*key);
  return ReadLabels(out);
}

absl::StatusOr<std::vector<KeyRecord>> SqliteStorage::ListKeys(
    const std::string& after, int limit) {
  absl::MutexLock lock(&mu_);
  SqliteStatement q(db_,
                    absl::StrCat("SELECT ", kKeyColumns,
                                 " FROM keys WHERE id > ? ORDER BY id LIMIT ?")
                        .c_str());
  q.Bind(1, after).Bind(2, limit);
  std::vector<KeyRecord> keys;
  while (q.Step()) {
    auto key = ReadKeyRow(q);
    if (!key.ok()) return key.status();
    keys.push_back(std::move(*key));
  }
  absl::Status s = q.status("list keys");
  if (!s.ok()) return s;
  for (KeyRecord& key : keys) {
    s = ReadLabels(&key);
    if (!s.ok()) return s;
  }
  return keys;
}

absl::Status SqliteStorage::UpdateKey(const KeyRecord& key,
                                      int64_t expected_revision) {
  return Change([&](CommitInfo*) -> absl::Status {
    SqliteStatement q(db_,
                      "UPDATE keys SET description = ?, "
                      "min_decrypt_version = ?, min_encrypt_version = ?, "
                      "rotation_period_s = ?, jwt_max_ttl_s = ?, "
                      "jwt_default_ttl_s = ?, jwt_issuer = ?, "
                      "revision = revision + 1 WHERE id = ? AND revision = ?");
    q.Bind(1, key.description)
        .Bind(2, key.min_decrypt_version)
        .Bind(3, key.min_encrypt_version)
        .Bind(4, absl::ToInt64Seconds(key.rotation_period))
        .Bind(5, absl::ToInt64Seconds(key.jwt_max_ttl))
        .Bind(6, absl::ToInt64Seconds(key.jwt_default_ttl))
        .Bind(7, key.jwt_issuer)
        .Bind(8, key.id)
        .Bind(9, expected_revision);
    absl::Status s = q.Run("update a key");
    if (!s.ok()) return s;
    if (sqlite3_changes(db_) != 1) {
      auto now = ReadKeyRevision(key.id, "update a key");
      if (!now.ok()) return now.status();
      return internal::KeyRevisionChanged(key.id, *now, expected_revision);
    }
    s = WriteLabels(key);
    if (!s.ok()) return s;
    return AppendChange(ChangeKind::kKey, key.id);
  });
}

absl::StatusOr<KeyWithVersions> SqliteStorage::GetKeyWithVersions(
    const std::string& id) {
  absl::MutexLock lock(&mu_);
  // One read transaction: one snapshot for the key and its versions.
  SqliteTransaction txn(db_, SqliteTransaction::Kind::kRead);
  if (!txn.status().ok()) return txn.status();
  KeyWithVersions out;
  absl::Status s = ReadKeyWithVersions(id, &out);
  if (!s.ok()) return s;
  auto head = ReadChangeHead();
  if (!head.ok()) return head.status();
  out.feed_head = *head;
  s = txn.CommitWithoutHook();
  if (!s.ok()) return s;
  return out;
}

absl::Status SqliteStorage::ReadAllKeys(std::vector<KeyWithVersions>* out) {
  std::vector<std::string> ids;
  SqliteStatement q(db_, "SELECT id FROM keys ORDER BY id");
  while (q.Step()) ids.push_back(q.Text(0));
  absl::Status s = q.status("list keys");
  for (const std::string& id : ids) {
    if (!s.ok()) break;
    s = ReadKeyWithVersions(id, &out->emplace_back());
  }
  return s;
}

absl::Status SqliteStorage::ReadKeyWithVersions(const std::string& id,
                                                KeyWithVersions* out) {
  absl::Status s = ReadKey(id, &out->key);
  if (!s.ok()) return s;
  return ReadVersions(id, &out->versions);
}

namespace {
constexpr const char* kVersionColumns =
    "key_id, version, state, created_at_us, destroyed_at_us, "
    "wrapped_material, public_key, imported, kid";
}  // namespace

VersionRecord SqliteStorage::ReadVersionRow(const SqliteStatement& q) {
  VersionRecord v;
  v.key_id = q.Text(0);
  v.version = static_cast<int32_t>(q.Int(1));
  v.state = static_cast<VersionState>(q.Int(2));
  v.created_at = FromMicros(q.Int(3));
  v.destroyed_at = FromMicros(q.Int(4));
  v.wrapped_material = q.Text(5);
  v.public_key = q.Text(6);
  v.imported = q.Int(7) != 0;
  v.kid = q.Text(8);
  return v;
}

absl::StatusOr<VersionRecord> SqliteStorage::GetVersion(
    const std::string& key_id, int32_t version) {
  absl::MutexLock lock(&mu_);
  SqliteStatement q(db_, absl::StrCat("SELECT ", kVersionColumns,
                                      " FROM key_versions WHERE key_id = ? AND "
                                      "version = ?")
                             .c_str());
  q.Bind(1, key_id).Bind(2, version);
  if (!q.Step()) {
    absl::Status s = q.status("read a key version");
    if (!s.ok()) return s;
    return absl::NotFoundError(
        absl::StrCat("key '", key_id, "' has no version ", version));
  }
  return ReadVersionRow(q);
}

absl::StatusOr<VersionRecord> SqliteStorage::FindVersionByKid(
    const std::string& kid) {
  absl::MutexLock lock(&mu_);
  SqliteStatement q(
      db_, absl::StrCat("SELECT ", kVersionColumns,
                        " FROM key_versions WHERE kid = ? AND kid != ''")
               .c_str());
  q.Bind(1, kid);
  if (!q.Step()) {
    absl::Status s = q.status("find a kid");
    if (!s.ok()) return s;
    return absl::NotFoundError(
        absl::StrCat("no key version has kid '", absl::CHexEscape(kid), "'"));
  }
  return ReadVersionRow(q);
}

absl::StatusOr<std::vector<VersionRecord>> SqliteStorage::ListVersionKids() {
  absl::MutexLock lock(&mu_);
  SqliteStatement q(db_,
                    "SELECT key_id, version, kid FROM key_versions "
                    "WHERE kid != '' ORDER BY key_id, version");
  std::vector<VersionRecord> out;
  absl::Status s = internal::ReadRows(
      q, "list the versions' kids", &out, [](const SqliteStatement& row) {
        VersionRecord v;
        v.key_id = row.Text(0);
        v.version = static_cast<int32_t>(row.Int(1));
        v.kid = row.Text(2);
        return v;
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<VersionRecord>> SqliteStorage::ListVersions(
    const std::string& key_id) {
  absl::MutexLock lock(&mu_);
  std::vector<VersionRecord> versions;
  absl::Status s = ReadVersions(key_id, &versions);
  if (!s.ok()) return s;
  return versions;
}

absl::Status SqliteStorage::ReadVersions(const std::string& key_id,
                                         std::vector<VersionRecord>* out) {
  SqliteStatement q(db_, absl::StrCat("SELECT ", kVersionColumns,
                                      " FROM key_versions WHERE key_id = ? "
                                      "ORDER BY version")
                             .c_str());
  q.Bind(1, key_id);
  while (q.Step()) out->push_back(ReadVersionRow(q));
  return q.status("list key versions");
}

absl::Status SqliteStorage::SetVersionState(const std::string& key_id,
                                            int32_t version,
                                            VersionState expected,
                                            VersionState state,
                                            absl::Time now) {
  return Change([&](CommitInfo* info) -> absl::Status {
    const bool destroy = state == VersionState::kDestroyed;
    SqliteStatement q(
        db_,
        "UPDATE key_versions SET state = ?1, "
        "wrapped_material = CASE WHEN ?2 THEN x'' ELSE wrapped_material END, "
        "destroyed_at_us = CASE WHEN ?2 THEN ?3 ELSE destroyed_at_us END "
        "WHERE key_id = ?4 AND version = ?5 AND state = ?6");
    q.Bind(1, static_cast<int64_t>(state))
        .Bind(2, destroy ? 1 : 0)
        .Bind(3, ToMicros(now))
        .Bind(4, key_id)
        .Bind(5, version)
        .Bind(6, static_cast<int64_t>(expected));
    absl::Status s = q.Run("change a version's state");
    if (!s.ok()) return s;
    if (sqlite3_changes(db_) != 1) {
      SqliteStatement current(
          db_,
          "SELECT state FROM key_versions WHERE key_id = ? AND version = ?");
      current.Bind(1, key_id).Bind(2, version);
      if (!current.Step()) {
        s = current.status("change a version's state");
        if (!s.ok()) return s;
        return absl::NotFoundError(
            absl::StrCat("key '", key_id, "' has no version ", version));
      }
      return internal::VersionStateChanged(
          key_id, version, static_cast<VersionState>(current.Int(0)));
    }
    info->version = version;
    return AppendChange(ChangeKind::kKey, key_id);
  });
}

absl::StatusOr<std::vector<std::string>> SqliteStorage::ListKeysDueForRotation(
    absl::Time now) {
  absl::MutexLock lock(&mu_);
  // Only the few keys with a period are read, not every key.
  SqliteStatement q(
      db_,
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

absl::StatusOr<int64_t> SqliteStorage::CountKeys() {
  absl::MutexLock lock(&mu_);
  return internal::QueryInt(db_, "SELECT count(*) FROM keys", "count keys");
}

}  // namespace keyward::keystore
