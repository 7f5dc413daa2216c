#include "keystore/crypto/mac.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"

namespace keyward::crypto {
namespace {

using internal::Bytes;
using internal::Error;

class HmacImpl final : public Mac {
 public:
  HmacImpl(const EVP_MD* md, SecretData key)
      : md_(md), tag_size_(EVP_MD_size(md)), key_(std::move(key)) {}

  absl::StatusOr<std::string> ComputeMac(
      absl::string_view data) const override {
    std::string tag(EVP_MAX_MD_SIZE, '\0');
    unsigned int len = 0;
    if (HMAC(md_, key_.InsecureView().data(), key_.size(), Bytes(data),
             data.size(), reinterpret_cast<uint8_t*>(tag.data()),
             &len) == nullptr ||
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
  const EVP_MD* const md_;
  const size_t tag_size_;
  const SecretData key_;
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
  return std::unique_ptr<Mac>(
      new HmacImpl(md, SecretData(key.InsecureView())));
}

}  // namespace keyward::crypto
