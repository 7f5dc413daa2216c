// SqliteStorage: whole-store copies (sqlite_storage.h): the logical records
// (ExportRecords, ReplaceAll), and the integrity check.
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
  s = internal::SinkEach(keys, sink);
  if (!s.ok()) return s;
  auto policies = ListPoliciesLocked();
  if (!policies.ok()) return policies.status();
  s = internal::SinkEach(*policies, sink);
  if (!s.ok()) return s;
  auto api_keys = ListApiKeysLocked();
  if (!api_keys.ok()) return api_keys.status();
  s = internal::SinkEach(*api_keys, sink);
  if (!s.ok()) return s;
  std::vector<TokenRecord> tokens;
  s = ReadAllTokens(&tokens);
  if (!s.ok()) return s;
  s = internal::SinkEach(tokens, sink);
  if (!s.ok()) return s;
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
  s = AppendChange(ChangeKind::kStore, "");
  if (!s.ok()) return s;
  return txn.Commit();
}

}  // namespace keyward::keystore
