// Keystore: token records (JwtService) and their revocation index.
#include "keystore/keystore.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/key_types.h"
#include "keystore/keystore_impl.h"

namespace keyward::keystore {

using crypto::SecretData;
using crypto::SignatureAlgorithm;

namespace {
std::string TokenAad(absl::string_view jti) {
  return absl::StrCat("keyward token v1:", jti);
}
}  // namespace

absl::StatusOr<int> Keystore::PurgeExpiredTokens(int limit) {
  int purged = 0;
  while (purged < limit) {
    auto n = impl_->storage_->PurgeTokenRecords(impl_->options_.now(),
                                         std::min(1000, limit - purged));
    if (!n.ok()) return n.status();
    purged += *n;
    if (*n == 0) break;
  }
  return purged;
}

absl::Status Keystore::RecordToken(TokenRecord record, absl::string_view token) {
  record.sealed_token.clear();
  if (!token.empty()) {
    auto root = impl_->Root();
    if (!root.ok()) return root.status();
    auto sealed = (*root)->Encrypt(token, TokenAad(record.jti));
    if (!sealed.ok()) return sealed.status();
    record.sealed_token = std::move(*sealed);
  }
  absl::Status s = impl_->storage_->CreateTokenRecord(record);
  if (!s.ok()) return s;
  // Records past their retention go a few at a time, so that no call pays
  // for a large purge. After the record, which is the call's change (and
  // takes its audit record, commit_hook.h); a failed purge is left to the
  // next call or to maintenance.
  impl_->storage_->PurgeTokenRecords(impl_->options_.now(), 64).IgnoreError();
  return absl::OkStatus();
}

absl::StatusOr<TokenRecord> Keystore::GetTokenRecord(const std::string& jti) {
  return impl_->storage_->GetTokenRecord(jti);
}

absl::StatusOr<std::vector<TokenRecord>> Keystore::ListTokenRecords(
    const TokenFilter& filter, const TokenCursor& cursor, int limit) {
  return impl_->storage_->ListTokenRecords(filter, cursor, limit);
}

absl::StatusOr<TokenRecord> Keystore::RevokeToken(const std::string& jti,
                                                  const std::string& reason,
                                                  const std::string& revoked_by) {
  auto record =
      impl_->storage_->RevokeTokenRecord(jti, impl_->options_.now(), reason, revoked_by);
  if (!record.ok()) return record.status();
  absl::MutexLock lock(&impl_->revoked_mu_);
  impl_->revoked_.insert(jti);
  impl_->any_revoked_.store(true, std::memory_order_release);
  return record;
}

absl::StatusOr<std::string> Keystore::OpenToken(const TokenRecord& record) {
  if (record.sealed_token.empty()) return std::string();
  auto root = impl_->Root();
  if (!root.ok()) return root.status();
  auto token = (*root)->Decrypt(record.sealed_token, TokenAad(record.jti));
  if (!token.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the stored token of record '", record.jti,
        "' failed its integrity check; restore the keystore from a backup"));
  }
  return token;
}

bool Keystore::IsTokenRevoked(const std::string& jti) const {
  if (!impl_->any_revoked_.load(std::memory_order_acquire)) return false;
  absl::MutexLock lock(&impl_->revoked_mu_);
  return impl_->revoked_.contains(jti);
}

}  // namespace keyward::keystore
