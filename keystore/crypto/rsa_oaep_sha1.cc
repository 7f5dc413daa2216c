#include "keystore/crypto/rsa_oaep_sha1.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto {
namespace {

using internal::Bytes;
using internal::Error;
using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;

constexpr absl::string_view kInvalidCiphertext = "ciphertext is not valid";
// kOaepOverhead is 2 * SHA-1 size + 2 (RFC 8017, 7.1.1).
constexpr size_t kOaepOverhead = 2 * 20 + 2;

// NewOaepContext returns a context on |pkey| set up for RSA-OAEP-SHA-1 with
// an empty label, for encryption or decryption; null on failure. Labels are
// not offered: JWE never uses one.
EvpPkeyCtxPtr NewOaepContext(EVP_PKEY* pkey, bool encrypt) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(pkey, nullptr));
  if (ctx == nullptr ||
      (encrypt ? EVP_PKEY_encrypt_init(ctx.get())
               : EVP_PKEY_decrypt_init(ctx.get())) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) != 1) {
    return nullptr;
  }
  return ctx;
}

absl::Status CheckRsaKey(const EVP_PKEY* pkey) {
  if (EVP_PKEY_id(pkey) == EVP_PKEY_RSA &&
      internal::IsOfferedRsaSize(EVP_PKEY_bits(pkey))) {
    return absl::OkStatus();
  }
  return Error(absl::StatusCode::kInvalidArgument,
               absl::StrCat("RSA-OAEP needs an RSA key of 2048, 3072 or 4096 "
                            "bits, got an ",
                            internal::DescribeKey(pkey), " key"));
}

class EncrypterImpl final : public AsymmetricEncrypter {
 public:
  explicit EncrypterImpl(EvpPkeyPtr pkey)
      : modulus_size_(EVP_PKEY_size(pkey.get())), pkey_(std::move(pkey)) {}

  absl::StatusOr<std::string> Encrypt(absl::string_view plaintext,
                                      absl::string_view label) const override {
    if (!label.empty()) {
      return absl::InvalidArgumentError(
          "RSA-OAEP-SHA-1 is offered for JWE only, which uses no label");
    }
    if (plaintext.size() > MaxPlaintextSize()) {
      return absl::InvalidArgumentError(
          absl::StrCat("plaintext is too long for RSA-OAEP with this key: at "
                       "most ", MaxPlaintextSize(), " bytes"));
    }
    EvpPkeyCtxPtr ctx = NewOaepContext(pkey_.get(), true);
    std::string out(modulus_size_, '\0');
    size_t len = out.size();
    if (ctx == nullptr ||
        EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<uint8_t*>(out.data()),
                         &len, Bytes(plaintext), plaintext.size()) != 1 ||
        len != modulus_size_) {
      return Error(absl::StatusCode::kInternal, "RSA-OAEP encryption failed");
    }
    return out;
  }

  size_t MaxPlaintextSize() const override {
    return modulus_size_ - kOaepOverhead;
  }

 private:
  const size_t modulus_size_;
  const EvpPkeyPtr pkey_;
};

class DecrypterImpl final : public AsymmetricDecrypter {
 public:
  explicit DecrypterImpl(EvpPkeyPtr pkey)
      : modulus_size_(EVP_PKEY_size(pkey.get())), pkey_(std::move(pkey)) {}

  absl::StatusOr<std::string> Decrypt(absl::string_view ciphertext,
                                      absl::string_view label) const override {
    if (ciphertext.size() != modulus_size_ || !label.empty()) {
      return absl::InvalidArgumentError(kInvalidCiphertext);
    }
    EvpPkeyCtxPtr ctx = NewOaepContext(pkey_.get(), false);
    if (ctx == nullptr) {
      return Error(absl::StatusCode::kInternal, "RSA-OAEP decryption failed");
    }
    std::string out(modulus_size_, '\0');
    size_t len = out.size();
    if (EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<uint8_t*>(out.data()),
                         &len, Bytes(ciphertext), ciphertext.size()) != 1) {
      OPENSSL_cleanse(out.data(), out.size());
      return Error(absl::StatusCode::kInvalidArgument, kInvalidCiphertext);
    }
    OPENSSL_cleanse(out.data() + len, out.size() - len);
    out.resize(len);
    return out;
  }

 private:
  const size_t modulus_size_;
  const EvpPkeyPtr pkey_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AsymmetricEncrypter>> NewRsaOaepSha1Encrypter(
    absl::string_view spki_der) {
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(spki_der);
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckRsaKey(pkey->get());
  if (!status.ok()) return status;
  return std::unique_ptr<AsymmetricEncrypter>(
      new EncrypterImpl(*std::move(pkey)));
}

absl::StatusOr<std::unique_ptr<AsymmetricDecrypter>> NewRsaOaepSha1Decrypter(
    const SecretData& pkcs8_der) {
  absl::StatusOr<EvpPkeyPtr> pkey =
      internal::ParsePkcs8Der(pkcs8_der.InsecureView());
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckRsaKey(pkey->get());
  if (!status.ok()) return status;
  return std::unique_ptr<AsymmetricDecrypter>(
      new DecrypterImpl(*std::move(pkey)));
}

}  // namespace keyward::crypto
