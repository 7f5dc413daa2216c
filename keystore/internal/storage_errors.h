// Messages of the Storage contract's conditional-write refusals, the same in
// every backend (sqlite_storage*.cc, postgres_storage*.cc). Internal to
// //keystore.
#ifndef KEYWARD_KEYSTORE_INTERNAL_STORAGE_ERRORS_H_
#define KEYWARD_KEYSTORE_INTERNAL_STORAGE_ERRORS_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "keystore/key_types.h"
#include "keystore/records.h"
#include "keystore/storage.h"

namespace keyward::keystore::internal {

// VersionStateName: "enabled", "disabled", "destroyed" (or the number).
inline std::string VersionStateName(VersionState state) {
  switch (state) {
    case VersionState::kEnabled:
      return "enabled";
    case VersionState::kDisabled:
      return "disabled";
    case VersionState::kDestroyed:
      return "destroyed";
  }
  return absl::StrCat("state ", static_cast<int>(state));
}

// VersionStateChanged: SetVersionState's ABORTED when the stored state is
// not the one expected; it names the state found.
inline absl::Status VersionStateChanged(const std::string& key_id,
                                        int32_t version, VersionState current) {
  return absl::AbortedError(absl::StrCat(
      "key '", key_id, "' version ", version, " is ", VersionStateName(current),
      " (it changed since it was read); re-read it and try again"));
}

// StoredAlgorithms decodes a key's stored signature_algorithms column
// (SignatureAlgorithmsText); DATA_LOSS for a name this build does not know.
inline absl::StatusOr<std::vector<crypto::SignatureAlgorithm>> StoredAlgorithms(
    const std::string& key_id, const std::string& text) {
  auto parsed = ParseSignatureAlgorithms(text);
  if (!parsed) {
    return absl::DataLossError(absl::StrCat(
        "key '", key_id, "' has unknown signature algorithms '", text,
        "' in the keystore; run a newer keywardd or restore a backup"));
  }
  return *std::move(parsed);
}

// KeyRevisionChanged: UpdateKey's ABORTED for a stale revision.
inline absl::Status KeyRevisionChanged(const std::string& key_id,
                                       int64_t current, int64_t expected) {
  return absl::AbortedError(absl::StrCat(
      "key '", key_id, "' changed (revision ", current, ", not ", expected,
      ") since it was read; re-read it and try again"));
}

// CheckRecordSet: ReplaceAll's INVALID_ARGUMENT unless `records` hold
// exactly one KeystoreMeta and every version comes with its own key.
inline absl::Status CheckRecordSet(
    const std::vector<Storage::StoreRecord>& records) {
  int metas = 0;
  for (const Storage::StoreRecord& r : records) {
    if (std::holds_alternative<KeystoreMeta>(r)) ++metas;
    if (const auto* k = std::get_if<KeyWithVersions>(&r)) {
      for (const VersionRecord& v : k->versions) {
        if (v.key_id != k->key.id) {
          return absl::InvalidArgumentError(absl::StrCat(
              "a version of key '", v.key_id, "' comes with key '", k->key.id,
              "'; the records are not a keystore"));
        }
      }
    }
  }
  if (metas != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the records hold ", metas,
        " key hierarchies, not one; they are not a keystore"));
  }
  return absl::OkStatus();
}

}  // namespace keyward::keystore::internal

#endif  // KEYWARD_KEYSTORE_INTERNAL_STORAGE_ERRORS_H_
