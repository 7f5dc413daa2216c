#include "keystore/crypto/mac.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto {
namespace {

using internal::Bytes;
using internal::Error;

// HmacImpl keys one HMAC_CTX once (the hash of the padded key, both
// halves) and copies it for each MAC, so that a call pays neither the key
// schedule nor libcrypto's algorithm lookup. The keyed context is only read
// after construction, so the object can be shared across threads.
class HmacImpl final : public Mac {
 public:
  HmacImpl(const EVP_MD* md, const SecretData& key)
      : tag_size_(EVP_MD_size(md)), keyed_(HMAC_CTX_new()) {
    if (keyed_ != nullptr &&
        HMAC_Init_ex(keyed_.get(), key.InsecureView().data(), key.size(), md,
                     nullptr) != 1) {
      keyed_.reset();
    }
  }

  absl::StatusOr<std::string> ComputeMac(
      absl::string_view data) const override {
    std::string tag(EVP_MAX_MD_SIZE, '\0');
    unsigned int len = 0;
    internal::HmacCtxPtr ctx(HMAC_CTX_new());
    // OpenSSL's HMAC_CTX_copy takes a non-const source it only reads.
    if (keyed_ == nullptr || ctx == nullptr ||
        HMAC_CTX_copy(ctx.get(), const_cast<HMAC_CTX*>(keyed_.get())) != 1 ||
        HMAC_Update(ctx.get(), Bytes(data), data.size()) != 1 ||
        HMAC_Final(ctx.get(), reinterpret_cast<uint8_t*>(tag.data()), &len) !=
            1 ||
        len != tag_size_) {
      return Error(absl::StatusCode::kInternal, "HMAC failed");
    }
    tag.resize(len);
    return tag;
  }

  absl::Status VerifyMac(absl::string_view mac,
                         absl::string_view data) const override {
    if (mac.size() != tag_size_) {
      return absl::InvalidArgumentError("MAC does not match");
    }
    absl::StatusOr<std::string> expected = ComputeMac(data);
    if (!expected.ok()) return expected.status();
    if (!ConstantTimeEquals(*expected, mac)) {
      return absl::InvalidArgumentError("MAC does not match");
    }
    return absl::OkStatus();
  }

 private:
  const size_t tag_size_;
  internal::HmacCtxPtr keyed_;  // null if keying failed: every MAC fails
};

const EVP_MD* HashMd(HashType hash) {
  switch (hash) {
    case HashType::kSha256:
      return EVP_sha256();
    case HashType::kSha384:
      return EVP_sha384();
    case HashType::kSha512:
      return EVP_sha512();
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Mac>> Hmac::Create(HashType hash,
                                                  const SecretData& key) {
  const EVP_MD* md = HashMd(hash);
  if (md == nullptr) return absl::InvalidArgumentError("unknown hash type");
  if (key.size() < kMinKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HMAC key must be at least 16 bytes, got ", key.size()));
  }
  return std::unique_ptr<Mac>(new HmacImpl(md, key));
}

}  // namespace keyward::crypto
