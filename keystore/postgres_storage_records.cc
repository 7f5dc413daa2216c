// PostgresStorage: key versions, policies and API keys (postgres_storage.h).
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "keystore/internal/postgres_rows.h"
#include "keystore/internal/pq.h"
#include "keystore/internal/storage_errors.h"
#include "keystore/postgres_storage.h"

namespace keyward::keystore {

using internal::PqParams;
using internal::PqSession;

// --- Versions -------------------------------------------------------------

absl::StatusOr<VersionRecord> PostgresStorage::GetVersion(
    const std::string& key_id, int32_t version) {
  std::vector<VersionRecord> found;
  absl::Status s = Read([&](PqSession& q) {
    found.clear();
    return internal::SelectVersions(q, "WHERE key_id = $1 AND version = $2",
                                    PqParams().Text(key_id).Int(version),
                                    "read a key version", &found);
  });
  if (!s.ok()) return s;
  return internal::FirstOrNotFound(
      std::move(found),
      absl::StrCat("key '", key_id, "' has no version ", version));
}

absl::StatusOr<std::vector<VersionRecord>> PostgresStorage::ListVersions(
    const std::string& key_id) {
  return ReadList<VersionRecord>(
      [&](PqSession& q, std::vector<VersionRecord>* out) {
        return internal::SelectVersions(q, "WHERE key_id = $1 ORDER BY version",
                                        PqParams().Text(key_id),
                                        "list key versions", out);
      });
}

absl::StatusOr<VersionRecord> PostgresStorage::FindVersionByKid(
    const std::string& kid) {
  std::vector<VersionRecord> found;
  absl::Status s = Read([&](PqSession& q) {
    found.clear();
    return internal::SelectVersions(q, "WHERE kid = $1 AND kid <> ''",
                                    PqParams().Text(kid), "find a kid", &found);
  });
  if (!s.ok()) return s;
  return internal::FirstOrNotFound(
      std::move(found),
      absl::StrCat("no key version has kid '", absl::CHexEscape(kid), "'"));
}

absl::StatusOr<std::vector<VersionRecord>> PostgresStorage::ListVersionKids() {
  return ReadList<VersionRecord>(
      [&](PqSession& q, std::vector<VersionRecord>* out) -> absl::Status {
        auto rows = q.Query(
            "SELECT key_id, version, kid FROM key_versions WHERE kid <> '' "
            "ORDER BY key_id, version",
            "list the versions' kids");
        if (!rows.ok()) return rows.status();
        internal::ReadRows(*rows, out, [](const internal::PqRows& r, int i) {
          VersionRecord v;
          v.key_id = r.Bytes(i, 0);
          v.version = static_cast<int32_t>(r.Int(i, 1));
          v.kid = r.Bytes(i, 2);
          return v;
        });
        return absl::OkStatus();
      });
}

absl::Status PostgresStorage::SetVersionState(const std::string& key_id,
                                              int32_t version,
                                              VersionState expected,
                                              VersionState state,
                                              absl::Time now) {
  return Change([&](PqSession& q, CommitInfo* info) -> absl::Status {
    // One conditional UPDATE (destroying empties the material in it): a
    // concurrent change waits for the row lock, then finds the state moved
    // and matches nothing.
    auto r = q.Query(
        "UPDATE key_versions SET state = $1, "
        "wrapped_material = CASE WHEN $2 = 1 THEN ''::bytea "
        "ELSE wrapped_material END, "
        "destroyed_at_us = CASE WHEN $2 = 1 THEN $3 ELSE destroyed_at_us END "
        "WHERE key_id = $4 AND version = $5 AND state = $6",
        PqParams()
            .Int(static_cast<int64_t>(state))
            .Int(state == VersionState::kDestroyed ? 1 : 0)
            .Time(now)
            .Text(key_id)
            .Int(version)
            .Int(static_cast<int64_t>(expected)),
        "change a version's state");
    if (!r.ok()) return r.status();
    if (r->affected() != 1) {
      auto current = q.Query(
          "SELECT state FROM key_versions WHERE key_id = $1 AND version = $2",
          PqParams().Text(key_id).Int(version), "change a version's state");
      if (!current.ok()) return current.status();
      if (current->size() == 0) {
        return absl::NotFoundError(
            absl::StrCat("key '", key_id, "' has no version ", version));
      }
      return internal::VersionStateChanged(
          key_id, version, static_cast<VersionState>(current->Int(0, 0)));
    }
    info->version = version;
    return internal::AppendChange(q, ChangeKind::kKey, key_id);
  });
}

// --- Policies -------------------------------------------------------------

absl::Status PostgresStorage::CreatePolicy(const PolicyRecord& p) {
  return Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    absl::Status s = internal::InsertPolicy(q, p);
    if (!s.ok()) return s;
    return internal::AppendChange(q, ChangeKind::kPolicy, p.id);
  });
}

absl::Status PostgresStorage::DeletePolicy(const std::string& id) {
  return Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    auto r = q.Query("DELETE FROM policies WHERE id = $1", PqParams().Text(id),
                     "delete a policy");
    if (!r.ok()) return r.status();
    if (r->affected() != 1) {
      return absl::NotFoundError(absl::StrCat("no policy named '", id, "'"));
    }
    return internal::AppendChange(q, ChangeKind::kPolicy, id);
  });
}

absl::StatusOr<std::vector<PolicyRecord>> PostgresStorage::ListPolicies() {
  return ReadList<PolicyRecord>(internal::SelectPolicies);
}

// --- API keys -------------------------------------------------------------

absl::Status PostgresStorage::CreateApiKey(const ApiKeyRecord& k) {
  return Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    absl::Status s = internal::InsertApiKey(q, k);
    if (!s.ok()) return s;
    return internal::AppendChange(q, ChangeKind::kApiKey, k.id);
  });
}

absl::StatusOr<std::vector<ApiKeyRecord>> PostgresStorage::ListApiKeys() {
  return ReadList<ApiKeyRecord>(internal::SelectApiKeys);
}

absl::StatusOr<ApiKeyRecord> PostgresStorage::GetApiKey(const std::string& id) {
  return internal::ApiKeyNamed(ListApiKeys(), id);
}

absl::Status PostgresStorage::RevokeApiKey(const std::string& id,
                                           absl::Time now) {
  return Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    auto r = q.Query(
        "UPDATE api_keys SET revoked_at_us = least(revoked_at_us, $1) "
        "WHERE id = $2",
        PqParams().Time(now).Text(id), "revoke an API key");
    if (!r.ok()) return r.status();
    if (r->affected() != 1) {
      return absl::NotFoundError(absl::StrCat("no API key named '", id, "'"));
    }
    return internal::AppendChange(q, ChangeKind::kApiKey, id);
  });
}

absl::Status PostgresStorage::TouchApiKey(const std::string& id,
                                          absl::Time now) {
  return Change([&](PqSession& q, CommitInfo*) -> absl::Status {
    auto r = q.Query("UPDATE api_keys SET last_login_at_us = $1 WHERE id = $2",
                     PqParams().Time(now).Text(id), "record a login");
    if (!r.ok()) return r.status();
    if (r->affected() != 1) {
      return absl::NotFoundError(absl::StrCat("no API key named '", id, "'"));
    }
    return absl::OkStatus();
  });
}

}  // namespace keyward::keystore
