#include "keystore/crypto/aes_cbc_hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_ptr.h"
#include "keystore/crypto/random.h"

namespace keyward::crypto {
namespace {

using internal::Bytes;
using internal::Error;
using internal::EvpCipherCtxPtr;

constexpr size_t kIvSize = AesCbcHmacSha2::kIvSize;
constexpr size_t kBlockSize = 16;
// kMaxInput keeps every length below what EVP's int lengths take, with room
// for padding, IV and tag.
constexpr size_t kMaxInput = INT_MAX / 2;

struct Params {
  const EVP_CIPHER* cipher;
  const EVP_MD* md;
};

bool ParamsFor(size_t key_size, Params* params) {
  switch (key_size) {
    case 32:
      *params = {EVP_aes_128_cbc(), EVP_sha256()};
      return true;
    case 48:
      *params = {EVP_aes_192_cbc(), EVP_sha384()};
      return true;
    case 64:
      *params = {EVP_aes_256_cbc(), EVP_sha512()};
      return true;
  }
  return false;
}

class CbcHmacImpl final : public Aead {
 public:
  CbcHmacImpl(const Params& params, SecretData key)
      : params_(params),
        half_(key.size() / 2),
        key_(std::move(key)) {}

  absl::StatusOr<std::string> Encrypt(
      absl::string_view plaintext,
      absl::string_view associated_data) const override {
    if (plaintext.size() > kMaxInput || associated_data.size() > kMaxInput) {
      return absl::InvalidArgumentError(
          "plaintext or associated data is too large (limit 2^30 bytes)");
    }
    std::string out = RandomBytes(kIvSize);
    const size_t body_max = plaintext.size() + kBlockSize;
    out.resize(kIvSize + body_max);
    uint8_t* body = reinterpret_cast<uint8_t*>(out.data()) + kIvSize;
    EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    int len = 0, final_len = 0;
    if (ctx == nullptr ||
        EVP_EncryptInit_ex(ctx.get(), params_.cipher, nullptr, EncKey(),
                           Bytes(out)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), body, &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), body + len, &final_len) != 1) {
      return Error(absl::StatusCode::kInternal, "AES-CBC encryption failed");
    }
    out.resize(kIvSize + len + final_len);
    absl::StatusOr<std::string> tag = Tag(
        associated_data, absl::string_view(out).substr(0, kIvSize),
        absl::string_view(out).substr(kIvSize));
    if (!tag.ok()) return tag.status();
    out.append(*tag);
    return out;
  }

  absl::StatusOr<std::string> Decrypt(
      absl::string_view ciphertext,
      absl::string_view associated_data) const override {
    // The body is at least one block (PKCS#7 always pads) and whole blocks.
    if (ciphertext.size() < kIvSize + kBlockSize + half_ ||
        ciphertext.size() > kMaxInput || associated_data.size() > kMaxInput ||
        (ciphertext.size() - kIvSize - half_) % kBlockSize != 0) {
      return absl::InvalidArgumentError(internal::kNotAuthentic);
    }
    const absl::string_view iv = ciphertext.substr(0, kIvSize);
    const absl::string_view body =
        ciphertext.substr(kIvSize, ciphertext.size() - kIvSize - half_);
    const absl::string_view tag = ciphertext.substr(ciphertext.size() - half_);
    absl::StatusOr<std::string> expected = Tag(associated_data, iv, body);
    if (!expected.ok()) return expected.status();
    if (!ConstantTimeEquals(*expected, tag)) {
      return absl::InvalidArgumentError(internal::kNotAuthentic);
    }
    std::string plaintext(body.size(), '\0');
    uint8_t* out = reinterpret_cast<uint8_t*>(plaintext.data());
    EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    int len = 0, final_len = 0;
    if (ctx == nullptr ||
        EVP_DecryptInit_ex(ctx.get(), params_.cipher, nullptr, EncKey(),
                           Bytes(iv)) != 1) {
      return Error(absl::StatusCode::kInternal, "AES-CBC decryption failed");
    }
    if (EVP_DecryptUpdate(ctx.get(), out, &len, Bytes(body),
                          static_cast<int>(body.size())) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), out + len, &final_len) != 1) {
      // Only a sender holding the key can get here (the tag matched).
      OPENSSL_cleanse(plaintext.data(), plaintext.size());
      return Error(absl::StatusCode::kInvalidArgument, internal::kNotAuthentic);
    }
    OPENSSL_cleanse(plaintext.data() + len + final_len,
                    plaintext.size() - len - final_len);
    plaintext.resize(len + final_len);
    return plaintext;
  }

 private:
  const uint8_t* MacKey() const { return Bytes(key_.InsecureView()); }
  const uint8_t* EncKey() const { return MacKey() + half_; }

  // Tag returns T: HMAC(MAC_KEY, A || IV || E || AL) cut to half the key.
  absl::StatusOr<std::string> Tag(absl::string_view aad, absl::string_view iv,
                                  absl::string_view body) const {
    std::string input = absl::StrCat(aad, iv, body);
    const uint64_t aad_bits = static_cast<uint64_t>(aad.size()) * 8;
    for (int shift = 56; shift >= 0; shift -= 8) {
      input.push_back(static_cast<char>((aad_bits >> shift) & 0xff));
    }
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(params_.md, MacKey(), half_, Bytes(input), input.size(), mac,
             &mac_len) == nullptr ||
        mac_len != 2 * half_) {
      return Error(absl::StatusCode::kInternal, "HMAC failed");
    }
    std::string tag(reinterpret_cast<const char*>(mac), half_);
    OPENSSL_cleanse(mac, sizeof(mac));
    return tag;
  }

  const Params params_;
  const size_t half_;
  const SecretData key_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Aead>> AesCbcHmacSha2::Create(
    const SecretData& key) {
  Params params;
  if (!ParamsFor(key.size(), &params)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-CBC-HMAC key must be 32, 48 or 64 bytes, got ", key.size()));
  }
  return std::unique_ptr<Aead>(
      new CbcHmacImpl(params, SecretData(key.InsecureView())));
}

}  // namespace keyward::crypto
