#include "keystore/hierarchy.h"

#include "absl/strings/str_cat.h"
#include "keystore/crypto/kdf.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/random.h"

namespace keyward::keystore {
namespace {

constexpr size_t kSaltSize = 16;
constexpr size_t kKeySize = 32;
constexpr absl::string_view kCheckLabel = "keyward passphrase check v1";
constexpr absl::string_view kRootAad = "keyward root key v1";

struct Kek {
  std::unique_ptr<crypto::Aead> aead;
  std::string check;  // HMAC-SHA256(KEK, kCheckLabel)
};

absl::StatusOr<Kek> DeriveKek(const crypto::SecretData& passphrase,
                              absl::string_view salt, const KdfParams& params) {
  auto kek = crypto::Scrypt(passphrase, salt, params.n, params.r, params.p,
                            kKeySize);
  if (!kek.ok()) return kek.status();
  auto aead = crypto::AesGcm::Create(*kek);
  if (!aead.ok()) return aead.status();
  auto mac = crypto::Hmac::Create(crypto::HashType::kSha256, *kek);
  if (!mac.ok()) return mac.status();
  auto check = (*mac)->ComputeMac(kCheckLabel);
  if (!check.ok()) return check.status();
  return Kek{std::move(*aead), std::move(*check)};
}

}  // namespace

absl::Status ValidateKdfParams(const KdfParams& params) {
  if (params.n < (uint64_t{1} << 15) || (params.n & (params.n - 1)) != 0 ||
      params.n > (uint64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scrypt N = ", params.n, " must be a power of two from 2^15 to 2^20"));
  }
  if (params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scrypt r = ", params.r, ", p = ", params.p,
        " must be within r 1..32 and p 1..16"));
  }
  return absl::OkStatus();
}

absl::StatusOr<KeystoreMeta> RewrapRoot(const crypto::SecretData& root_key,
                                        const crypto::SecretData& new_passphrase,
                                        const KdfParams& params) {
  if (new_passphrase.empty()) {
    return absl::InvalidArgumentError("the passphrase must not be empty");
  }
  absl::Status valid = ValidateKdfParams(params);
  if (!valid.ok()) return valid;
  KeystoreMeta meta;
  meta.kdf_salt = crypto::RandomBytes(kSaltSize);
  meta.scrypt_n = params.n;
  meta.scrypt_r = params.r;
  meta.scrypt_p = params.p;
  auto kek = DeriveKek(new_passphrase, meta.kdf_salt, params);
  if (!kek.ok()) return kek.status();
  meta.kek_check = kek->check;
  auto wrapped = kek->aead->Encrypt(root_key.InsecureView(), kRootAad);
  if (!wrapped.ok()) return wrapped.status();
  meta.wrapped_root_key = std::move(*wrapped);
  return meta;
}

absl::StatusOr<KeystoreMeta> NewHierarchy(const crypto::SecretData& passphrase,
                                          const KdfParams& params,
                                          crypto::SecretData* root_key) {
  crypto::SecretData root = crypto::SecretData::Random(kKeySize);
  auto meta = RewrapRoot(root, passphrase, params);
  if (!meta.ok()) return meta.status();
  *root_key = std::move(root);
  return meta;
}

absl::StatusOr<crypto::SecretData> UnlockRoot(
    const KeystoreMeta& meta, const crypto::SecretData& passphrase) {
  KdfParams params{meta.scrypt_n, meta.scrypt_r, meta.scrypt_p};
  absl::Status valid = ValidateKdfParams(params);
  if (!valid.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the keystore's stored scrypt parameters are damaged: ",
        valid.message()));
  }
  auto kek = DeriveKek(passphrase, meta.kdf_salt, params);
  if (!kek.ok()) return kek.status();
  if (!crypto::ConstantTimeEquals(kek->check, meta.kek_check)) {
    return absl::UnauthenticatedError(
        "wrong passphrase for this keystore; check the passphrase file");
  }
  auto root = kek->aead->Decrypt(meta.wrapped_root_key, kRootAad);
  if (!root.ok() || root->size() != kKeySize) {
    return absl::DataLossError(
        "the passphrase is right but the keystore's wrapped root key is "
        "damaged; restore the keystore from a backup");
  }
  crypto::SecretData out(*root);
  std::fill(root->begin(), root->end(), '\0');
  return out;
}

std::string MaterialAad(absl::string_view key_id, int32_t version,
                        KeyType type) {
  return absl::StrCat("keyward material v1", absl::string_view("\0", 1), key_id,
                      absl::string_view("\0", 1), version,
                      absl::string_view("\0", 1), crypto::KeyTypeName(type));
}

}  // namespace keyward::keystore
