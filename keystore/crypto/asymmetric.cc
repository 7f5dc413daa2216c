#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/rsa_oaep_sha1.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <climits>
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

// The two OAEP hashes: SHA-256 (Keyward's own RSA encryption, with labels)
// and SHA-1 (JWE "RSA-OAEP" only, which uses no label).
struct Oaep {
  const EVP_MD* (*md)();
  // 2 * hash size + 2 (RFC 8017, 7.1.1).
  size_t overhead;
  bool labels;
};
constexpr Oaep kOaepSha256 = {EVP_sha256, 2 * 32 + 2, true};
constexpr Oaep kOaepSha1 = {EVP_sha1, 2 * 20 + 2, false};

// NewOaepContext returns a context on |pkey| set up for RSA-OAEP with
// |oaep|'s hash and |label|, for encryption or decryption; null on failure.
EvpPkeyCtxPtr NewOaepContext(EVP_PKEY* pkey, const Oaep& oaep,
                             absl::string_view label, bool encrypt) {
  if (label.size() > INT_MAX) return nullptr;
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(pkey, nullptr));
  if (ctx == nullptr ||
      (encrypt ? EVP_PKEY_encrypt_init(ctx.get())
               : EVP_PKEY_decrypt_init(ctx.get())) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), oaep.md()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), oaep.md()) != 1) {
    return nullptr;
  }
  if (!label.empty()) {
    // set0 takes ownership of a buffer from OPENSSL_malloc.
    uint8_t* copy =
        static_cast<uint8_t*>(OPENSSL_memdup(label.data(), label.size()));
    if (copy == nullptr) return nullptr;
    if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), copy,
                                         static_cast<int>(label.size())) != 1) {
      OPENSSL_free(copy);
      return nullptr;
    }
  }
  return ctx;
}

// CheckRsaKey returns OK if |pkey| is an RSA key of an offered size.
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

// OaepKey: an RSA key with its OAEP parameters and modulus size, as an
// encrypter or decrypter holds it.
struct OaepKey {
  OaepKey(EvpPkeyPtr key, const Oaep& params)
      : oaep(params),
        modulus_size(EVP_PKEY_size(key.get())),
        pkey(std::move(key)) {}
  const Oaep oaep;
  const size_t modulus_size;
  const EvpPkeyPtr pkey;
};

class EncrypterImpl final : public AsymmetricEncrypter {
 public:
  EncrypterImpl(EvpPkeyPtr pkey, const Oaep& oaep) : key_(std::move(pkey), oaep) {}

  absl::StatusOr<std::string> Encrypt(absl::string_view plaintext,
                                      absl::string_view label) const override {
    if (!key_.oaep.labels && !label.empty()) {
      return absl::InvalidArgumentError(
          "RSA-OAEP-SHA-1 is offered for JWE only, which uses no label");
    }
    if (plaintext.size() > MaxPlaintextSize()) {
      return absl::InvalidArgumentError(
          absl::StrCat("plaintext is too long for RSA-OAEP with this key: at "
                       "most ", MaxPlaintextSize(), " bytes"));
    }
    EvpPkeyCtxPtr ctx = NewOaepContext(key_.pkey.get(), key_.oaep, label, true);
    std::string out(key_.modulus_size, '\0');
    size_t len = out.size();
    if (ctx == nullptr ||
        EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<uint8_t*>(out.data()),
                         &len, Bytes(plaintext), plaintext.size()) != 1 ||
        len != key_.modulus_size) {
      return Error(absl::StatusCode::kInternal, "RSA-OAEP encryption failed");
    }
    return out;
  }

  size_t MaxPlaintextSize() const override {
    return key_.modulus_size - key_.oaep.overhead;
  }

 private:
  const OaepKey key_;
};

class DecrypterImpl final : public AsymmetricDecrypter {
 public:
  DecrypterImpl(EvpPkeyPtr pkey, const Oaep& oaep) : key_(std::move(pkey), oaep) {}

  absl::StatusOr<std::string> Decrypt(absl::string_view ciphertext,
                                      absl::string_view label) const override {
    if (ciphertext.size() != key_.modulus_size || (!key_.oaep.labels && !label.empty())) {
      return absl::InvalidArgumentError(kInvalidCiphertext);
    }
    EvpPkeyCtxPtr ctx = NewOaepContext(key_.pkey.get(), key_.oaep, label, false);
    if (ctx == nullptr) {
      return Error(absl::StatusCode::kInternal, "RSA-OAEP decryption failed");
    }
    std::string out(key_.modulus_size, '\0');
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
  const OaepKey key_;
};

absl::StatusOr<std::unique_ptr<AsymmetricEncrypter>> NewEncrypter(
    absl::string_view spki_der, const Oaep& oaep) {
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(spki_der);
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckRsaKey(pkey->get());
  if (!status.ok()) return status;
  return std::unique_ptr<AsymmetricEncrypter>(
      new EncrypterImpl(*std::move(pkey), oaep));
}

absl::StatusOr<std::unique_ptr<AsymmetricDecrypter>> NewDecrypter(
    const SecretData& pkcs8_der, const Oaep& oaep) {
  absl::StatusOr<EvpPkeyPtr> pkey =
      internal::ParsePkcs8Der(pkcs8_der.InsecureView());
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckRsaKey(pkey->get());
  if (!status.ok()) return status;
  return std::unique_ptr<AsymmetricDecrypter>(
      new DecrypterImpl(*std::move(pkey), oaep));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AsymmetricEncrypter>> NewAsymmetricEncrypter(
    absl::string_view spki_der) {
  return NewEncrypter(spki_der, kOaepSha256);
}

absl::StatusOr<std::unique_ptr<AsymmetricDecrypter>> NewAsymmetricDecrypter(
    const SecretData& pkcs8_der) {
  return NewDecrypter(pkcs8_der, kOaepSha256);
}

absl::StatusOr<std::unique_ptr<AsymmetricEncrypter>> NewRsaOaepSha1Encrypter(
    absl::string_view spki_der) {
  return NewEncrypter(spki_der, kOaepSha1);
}

absl::StatusOr<std::unique_ptr<AsymmetricDecrypter>> NewRsaOaepSha1Decrypter(
    const SecretData& pkcs8_der) {
  return NewDecrypter(pkcs8_der, kOaepSha1);
}

}  // namespace keyward::crypto
