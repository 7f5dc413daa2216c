#include "keystore/crypto/aead.h"
#include "keystore/crypto/aes_gcm_any.h"

#include <openssl/evp.h>
#include <openssl/crypto.h>

#include <climits>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_ptr.h"
#include "keystore/crypto/random.h"

namespace keyward::crypto {
namespace {

using internal::Bytes;
using internal::Error;
using internal::EvpCipherCtxPtr;

constexpr size_t kNonceSize = AesGcm::kNonceSize;
constexpr size_t kTagSize = AesGcm::kTagSize;
// kMaxInput is the largest input EVP's int lengths take.
constexpr size_t kMaxInput = INT_MAX - kNonceSize - kTagSize;

const EVP_CIPHER* CipherFor(size_t key_size) {
  switch (key_size) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    case 32:
      return EVP_aes_256_gcm();
  }
  return nullptr;
}

// GcmImpl holds the key; a cipher context is made per call (a few hundred
// nanoseconds), which keeps the object immutable and so thread-safe. The
// cipher (AES-128/192/256-GCM) follows the key's size.
class GcmImpl final : public Aead {
 public:
  explicit GcmImpl(SecretData key)
      : cipher_(CipherFor(key.size())), key_(std::move(key)) {}

  absl::StatusOr<std::string> Encrypt(
      absl::string_view plaintext,
      absl::string_view associated_data) const override {
    if (plaintext.size() > kMaxInput || associated_data.size() > kMaxInput) {
      return absl::InvalidArgumentError(
          "plaintext or associated data is too large (limit 2^31 - 29 bytes)");
    }
    std::string out = RandomBytes(kNonceSize);
    out.resize(kNonceSize + plaintext.size() + kTagSize);
    uint8_t* nonce = reinterpret_cast<uint8_t*>(out.data());
    uint8_t* body = nonce + kNonceSize;
    uint8_t* tag = body + plaintext.size();
    EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (ctx == nullptr ||
        EVP_EncryptInit_ex(ctx.get(), cipher_, nullptr,
                           Bytes(key_.InsecureView()), nonce) != 1 ||
        (!associated_data.empty() &&
         EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                           static_cast<int>(associated_data.size())) != 1) ||
        (!plaintext.empty() &&
         (EVP_EncryptUpdate(ctx.get(), body, &len, Bytes(plaintext),
                            static_cast<int>(plaintext.size())) != 1 ||
          static_cast<size_t>(len) != plaintext.size())) ||
        EVP_EncryptFinal_ex(ctx.get(), tag, &len) != 1 || len != 0 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) !=
            1) {
      return Error(absl::StatusCode::kInternal, "AES-GCM encryption failed");
    }
    return out;
  }

  absl::StatusOr<std::string> Decrypt(
      absl::string_view ciphertext,
      absl::string_view associated_data) const override {
    if (ciphertext.size() < kNonceSize + kTagSize ||
        ciphertext.size() > INT_MAX || associated_data.size() > kMaxInput) {
      return absl::InvalidArgumentError(internal::kNotAuthentic);
    }
    const size_t body_size = ciphertext.size() - kNonceSize - kTagSize;
    const uint8_t* nonce = Bytes(ciphertext);
    const uint8_t* body = nonce + kNonceSize;
    uint8_t tag[kTagSize];  // EVP wants a mutable tag buffer.
    std::memcpy(tag, body + body_size, sizeof(tag));
    std::string plaintext(body_size, '\0');
    EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (ctx == nullptr ||
        EVP_DecryptInit_ex(ctx.get(), cipher_, nullptr,
                           Bytes(key_.InsecureView()), nonce) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, sizeof(tag),
                            tag) != 1) {
      return Error(absl::StatusCode::kInternal, "AES-GCM decryption failed");
    }
    uint8_t* out = reinterpret_cast<uint8_t*>(plaintext.data());
    const bool authentic =
        (associated_data.empty() ||
         EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                           static_cast<int>(associated_data.size())) == 1) &&
        (body_size == 0 ||
         (EVP_DecryptUpdate(ctx.get(), out, &len, body,
                            static_cast<int>(body_size)) == 1 &&
          static_cast<size_t>(len) == body_size)) &&
        EVP_DecryptFinal_ex(ctx.get(), out + body_size, &len) == 1;
    if (!authentic) {
      OPENSSL_cleanse(plaintext.data(), plaintext.size());
      return Error(absl::StatusCode::kInvalidArgument, internal::kNotAuthentic);
    }
    return plaintext;
  }

 private:
  const EVP_CIPHER* const cipher_;
  const SecretData key_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Aead>> AesGcm::Create(const SecretData& key) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-GCM key must be 32 bytes (AES-256), got ", key.size()));
  }
  return std::unique_ptr<Aead>(
      new GcmImpl(SecretData(key.InsecureView())));
}

absl::StatusOr<std::unique_ptr<Aead>> AesGcmAnyKeySize::Create(
    const SecretData& key) {
  if (CipherFor(key.size()) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-GCM key must be 16, 24 or 32 bytes, got ", key.size()));
  }
  return std::unique_ptr<Aead>(new GcmImpl(SecretData(key.InsecureView())));
}

}  // namespace keyward::crypto
