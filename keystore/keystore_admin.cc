// Keystore: the passphrase, access policies and API keys.
#include "keystore/keystore.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keystore/key_types.h"
#include "keystore/keystore_impl.h"

namespace keyward::keystore {

using crypto::SecretData;
using crypto::SignatureAlgorithm;

absl::Status Keystore::ChangePassphrase(const SecretData& old_passphrase,
                                        const SecretData& new_passphrase) {
  absl::MutexLock lock(&impl_->admin_mu_);
  auto meta = impl_->storage_->ReadMeta();
  if (!meta.ok()) return meta.status();
  auto root = UnlockRoot(*meta, old_passphrase);
  if (!root.ok()) return root.status();
  auto next = RewrapRoot(*root, new_passphrase, impl_->options_.kdf);
  if (!next.ok()) return next.status();
  return impl_->storage_->ReplaceMeta(meta->wrapped_root_key, *next);
}

absl::StatusOr<int64_t> Keystore::CountKeys() { return impl_->storage_->CountKeys(); }

absl::Status Keystore::CreatePolicy(const PolicyRecord& policy) {
  absl::Status s = ValidateKeyId(policy.id);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy name '", absl::CHexEscape(policy.id),
        "' is not valid: use 1 to 63 of a-z 0-9 . _ -"));
  }
  absl::MutexLock lock(&impl_->admin_mu_);
  return impl_->storage_->CreatePolicy(policy);
}

absl::Status Keystore::DeletePolicy(const std::string& id) {
  absl::MutexLock lock(&impl_->admin_mu_);
  return impl_->storage_->DeletePolicy(id);
}

absl::StatusOr<std::vector<PolicyRecord>> Keystore::ListPolicies() {
  return impl_->storage_->ListPolicies();
}

absl::Status Keystore::CreateApiKey(const ApiKeyRecord& key) {
  if (!ValidateKeyId(key.id).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "API key name '", absl::CHexEscape(key.id),
        "' is not valid: use 1 to 63 of a-z 0-9 . _ -"));
  }
  absl::MutexLock lock(&impl_->admin_mu_);
  return impl_->storage_->CreateApiKey(key);
}

absl::StatusOr<ApiKeyRecord> Keystore::GetApiKey(const std::string& id) {
  return impl_->storage_->GetApiKey(id);
}

absl::StatusOr<std::vector<ApiKeyRecord>> Keystore::ListApiKeys() {
  return impl_->storage_->ListApiKeys();
}

absl::Status Keystore::RevokeApiKey(const std::string& id) {
  absl::MutexLock lock(&impl_->admin_mu_);
  return impl_->storage_->RevokeApiKey(id, impl_->options_.now());
}

absl::Status Keystore::TouchApiKey(const std::string& id) {
  return impl_->storage_->TouchApiKey(id, impl_->options_.now());
}

}  // namespace keyward::keystore
