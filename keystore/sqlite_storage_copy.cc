// SqliteStorage: whole-store copies (sqlite_storage.h): the logical records
// (ExportRecords, ReplaceAll), the integrity check, and the transitional
// file copies (SnapshotTo, ReplaceWith).
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/internal/sqlite.h"
#include "keystore/internal/storage_errors.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {

using internal::SqliteStatement;
using internal::SqliteTransaction;

absl::Status SqliteStorage::IntegrityCheck() {
  absl::MutexLock lock(&mu_);
  SqliteStatement q(db_, "PRAGMA integrity_check");
  std::string result;
  while (q.Step()) absl::StrAppend(&result, result.empty() ? "" : "; ", q.Text(0));
  absl::Status s = q.status("integrity check");
  if (!s.ok()) return s;
  if (result != "ok") {
    return absl::DataLossError(
        absl::StrCat("keystore integrity check failed: ", result));
  }
  return absl::OkStatus();
}

absl::Status SqliteStorage::ExportRecords(
    const std::function<absl::Status(const StoreRecord&)>& sink) {
  absl::MutexLock lock(&mu_);
  // One read transaction: every table from one snapshot.
  SqliteTransaction txn(db_, SqliteTransaction::Kind::kRead);
  if (!txn.status().ok()) return txn.status();
  auto meta = ReadMetaLocked();
  if (meta.ok()) {
    absl::Status s = sink(*meta);
    if (!s.ok()) return s;
  } else if (!absl::IsNotFound(meta.status())) {
    return meta.status();
  }
  std::vector<KeyWithVersions> keys;
  absl::Status s = ReadAllKeys(&keys);
  if (!s.ok()) return s;
  for (const KeyWithVersions& k : keys) {
    s = sink(k);
    if (!s.ok()) return s;
  }
  auto policies = ListPoliciesLocked();
  if (!policies.ok()) return policies.status();
  for (const PolicyRecord& p : *policies) {
    s = sink(p);
    if (!s.ok()) return s;
  }
  auto api_keys = ListApiKeysLocked();
  if (!api_keys.ok()) return api_keys.status();
  for (const ApiKeyRecord& k : *api_keys) {
    s = sink(k);
    if (!s.ok()) return s;
  }
  std::vector<TokenRecord> tokens;
  s = ReadAllTokens(&tokens);
  if (!s.ok()) return s;
  for (const TokenRecord& t : tokens) {
    s = sink(t);
    if (!s.ok()) return s;
  }
  return txn.CommitWithoutHook();
}

absl::Status SqliteStorage::ReplaceAll(const std::vector<StoreRecord>& records) {
  absl::Status s = internal::CheckRecordSet(records);
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  // Children first.
  for (const char* table :
       {"token_metadata", "token_records", "api_keys", "policies",
        "key_versions", "key_labels", "keys", "meta"}) {
    s = Exec(absl::StrCat("DELETE FROM ", table).c_str());
    if (!s.ok()) return s;
  }
  for (const StoreRecord& record : records) {
    if (const auto* meta = std::get_if<KeystoreMeta>(&record)) {
      s = InsertMeta(*meta);
    } else if (const auto* k = std::get_if<KeyWithVersions>(&record)) {
      s = InsertKey(k->key, k->key.revision, k->versions);
    } else if (const auto* p = std::get_if<PolicyRecord>(&record)) {
      s = InsertPolicy(*p);
    } else if (const auto* a = std::get_if<ApiKeyRecord>(&record)) {
      s = InsertApiKey(*a);
    } else {
      s = InsertToken(std::get<TokenRecord>(record));
    }
    if (!s.ok()) return s;
  }
  return txn.Commit();
}

absl::Status SqliteStorage::ReplaceWith(const std::string& path) {
  absl::MutexLock lock(&mu_);
  absl::Status s = SqliteStatement(db_, "ATTACH DATABASE ? AS restored")
                       .Bind(1, path)
                       .Run("open the restored keystore");
  if (!s.ok()) return s;
  s = [&]() -> absl::Status {
    SqliteStatement version(db_, "PRAGMA restored.user_version");
    int64_t v = version.Step() ? version.Int(0) : -1;
    if (v != internal::kSqliteSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the restored keystore has schema version ", v, ", not ",
          internal::kSqliteSchemaVersion, "; open it once with this keywardd to migrate it"));
    }
    // In creation order, which puts every parent table before its children.
    std::vector<std::string> tables;
    SqliteStatement list(db_,
                   "SELECT name FROM main.sqlite_master WHERE type = 'table' "
                   "AND name NOT LIKE 'sqlite_%' ORDER BY rowid");
    while (list.Step()) tables.push_back(list.Text(0));
    absl::Status listed = list.status("list tables");
    if (!listed.ok()) return listed;
    SqliteTransaction txn(db_);
    if (!txn.status().ok()) return txn.status();
    // Children go first and come back last.
    absl::Status r = absl::OkStatus();
    for (auto t = tables.rbegin(); t != tables.rend(); ++t) {
      if (r.ok()) r = Exec(absl::StrCat("DELETE FROM main.", *t).c_str());
    }
    for (const std::string& t : tables) {
      if (r.ok()) {
        r = Exec(absl::StrCat("INSERT INTO main.", t, " SELECT * FROM restored.",
                              t).c_str());
      }
    }
    if (!r.ok()) return r;
    return txn.Commit();
  }();
  SqliteStatement(db_, "DETACH DATABASE restored").Run("close the restored keystore")
      .IgnoreError();
  return s;
}

absl::Status SqliteStorage::SnapshotTo(const std::string& path) {
  // Create the file first so that its mode is 0600 from the start.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat("'", path, "' exists"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot create '", path, "': ", strerror(errno)));
  }
  close(fd);
  unlink(path.c_str());  // VACUUM INTO wants to create it; the name is ours
  mode_t old_umask = umask(0077);
  absl::MutexLock lock(&mu_);
  absl::Status s = SqliteStatement(db_, "VACUUM INTO ?").Bind(1, path).Run("snapshot");
  umask(old_umask);
  if (!s.ok()) unlink(path.c_str());
  return s;
}

}  // namespace keyward::keystore
