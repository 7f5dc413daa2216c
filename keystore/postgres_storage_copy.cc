// PostgresStorage: whole-store copies (postgres_storage.h): the logical
// records (ExportRecords, ReplaceAll).
#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/internal/postgres_rows.h"
#include "keystore/internal/pq.h"
#include "keystore/internal/storage_errors.h"
#include "keystore/postgres_storage.h"

namespace keyward::keystore {

using internal::PqSession;

absl::Status PostgresStorage::ExportRecords(
    const std::function<absl::Status(const StoreRecord&)>& sink) {
  // Read in one REPEATABLE READ snapshot, then handed to `sink` (which must
  // not wait on this connection).
  std::vector<KeystoreMeta> meta;
  std::vector<KeyRecord> keys;
  std::map<std::string, std::vector<VersionRecord>> versions;
  std::vector<PolicyRecord> policies;
  std::vector<ApiKeyRecord> api_keys;
  std::vector<TokenRecord> tokens;
  absl::Status s = Snapshot([&](PqSession& q) -> absl::Status {
    meta.clear();
    keys.clear();
    versions.clear();
    policies.clear();
    api_keys.clear();
    tokens.clear();
    absl::Status st = internal::SelectMeta(q, &meta);
    if (!st.ok()) return st;
    auto rows = q.Query(absl::StrCat("WITH k AS (SELECT * FROM keys) ",
                                     internal::kSelectKeysWithLabels)
                            .c_str(),
                        "export keys");
    if (!rows.ok()) return rows.status();
    st = internal::ReadKeysWithLabels(*rows, &keys);
    if (!st.ok()) return st;
    rows = q.Query(absl::StrCat("SELECT ", internal::kVersionColumns,
                                " FROM key_versions ORDER BY key_id, version")
                       .c_str(),
                   "export key versions");
    if (!rows.ok()) return rows.status();
    for (int i = 0; i < rows->size(); ++i) {
      VersionRecord v = internal::ReadVersion(*rows, i);
      versions[v.key_id].push_back(std::move(v));
    }
    st = internal::SelectPolicies(q, &policies);
    if (!st.ok()) return st;
    st = internal::SelectApiKeys(q, &api_keys);
    if (!st.ok()) return st;
    rows = q.Query(absl::StrCat("WITH t AS (SELECT * FROM token_records) ",
                                internal::kSelectTokensWithMetadata)
                       .c_str(),
                   "export token records");
    if (!rows.ok()) return rows.status();
    internal::ReadTokensWithMetadata(*rows, &tokens);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  // Token records in jti (byte) order, as every backend gives them.
  std::sort(tokens.begin(), tokens.end(),
            [](const TokenRecord& a, const TokenRecord& b) {
              return a.jti < b.jti;
            });
  s = internal::SinkEach(meta, sink);
  if (!s.ok()) return s;
  for (KeyRecord& key : keys) {
    KeyWithVersions k;
    k.versions = std::move(versions[key.id]);
    k.key = std::move(key);
    s = sink(k);
    if (!s.ok()) return s;
  }
  s = internal::SinkEach(policies, sink);
  if (!s.ok()) return s;
  s = internal::SinkEach(api_keys, sink);
  if (!s.ok()) return s;
  return internal::SinkEach(tokens, sink);
}

absl::Status PostgresStorage::ReplaceAll(
    const std::vector<StoreRecord>& records) {
  absl::Status s = internal::CheckRecordSet(records);
  if (!s.ok()) return s;
  return Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    // Children first. DELETE, not TRUNCATE: TRUNCATE is not MVCC-safe
    // (a concurrent REPEATABLE READ reader would see the tables empty).
    for (const char* table :
         {"token_metadata", "token_records", "api_keys", "policies",
          "key_versions", "key_labels", "keys", "meta"}) {
      absl::Status st = q.Exec(absl::StrCat("DELETE FROM ", table).c_str(),
                               "clear the keystore");
      if (!st.ok()) return st;
    }
    for (const StoreRecord& record : records) {
      absl::Status st;
      if (const auto* meta = std::get_if<KeystoreMeta>(&record)) {
        st = internal::InsertMeta(q, *meta);
      } else if (const auto* k = std::get_if<KeyWithVersions>(&record)) {
        st = internal::InsertKey(q, k->key, k->key.revision, k->versions);
      } else if (const auto* p = std::get_if<PolicyRecord>(&record)) {
        st = internal::InsertPolicy(q, *p);
      } else if (const auto* a = std::get_if<ApiKeyRecord>(&record)) {
        st = internal::InsertApiKey(q, *a);
      } else {
        st = internal::InsertToken(q, std::get<TokenRecord>(record));
      }
      if (!st.ok()) return st;
    }
    return internal::AppendChange(q, ChangeKind::kStore, "");
  });
}

}  // namespace keyward::keystore
