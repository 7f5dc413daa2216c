#include "keystore/crypto/pkcs8_encrypt.h"

#include <openssl/evp.h>

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/der_writer.h"
#include "keystore/crypto/internal/ossl_ptr.h"
#include "keystore/crypto/random.h"

namespace keyward::crypto {
namespace {

using internal::Octets;
using internal::Seq;
using internal::Tlv;

// An OID's encoded body (after tag and length), given as bytes.
std::string Oid(std::initializer_list<uint8_t> body) {
  return internal::Oid(std::string(body.begin(), body.end()));
}
std::string Integer(uint32_t v) { return internal::Uint(v); }

// 1.2.840.113549.1.5.13, .12; 1.2.840.113549.2.9; 2.16.840.1.101.3.4.1.42.
const std::initializer_list<uint8_t> kPbes2 = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d};
const std::initializer_list<uint8_t> kPbkdf2 = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c};
const std::initializer_list<uint8_t> kHmacSha256 = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09};
const std::initializer_list<uint8_t> kAes256Cbc = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};

}  // namespace

absl::StatusOr<std::string> EncryptPkcs8(const SecretData& pkcs8_der,
                                         const SecretData& passphrase,
                                         int iterations) {
  if (pkcs8_der.empty() || passphrase.empty() || iterations < 1000) {
    return absl::InvalidArgumentError(
        "encrypting a private key needs the key, a passphrase and at least "
        "1000 PBKDF2 iterations");
  }
  const std::string salt = RandomBytes(16);
  const std::string iv = RandomBytes(16);
  SecretData key = SecretData::Zeroed(32);
  const absl::string_view pass = passphrase.InsecureView();
  if (PKCS5_PBKDF2_HMAC(pass.data(), static_cast<int>(pass.size()),
                        reinterpret_cast<const uint8_t*>(salt.data()),
                        salt.size(), iterations, EVP_sha256(), 32,
                        key.InsecureMutableData()) != 1) {
    return absl::InternalError("PBKDF2 failed");
  }
  internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  const absl::string_view plain = pkcs8_der.InsecureView();
  std::string encrypted(plain.size() + 16, '\0');
  int len = 0, tail = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr,
                         reinterpret_cast<const uint8_t*>(key.InsecureView().data()),
                         reinterpret_cast<const uint8_t*>(iv.data())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(encrypted.data()),
                        &len, reinterpret_cast<const uint8_t*>(plain.data()),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(),
                          reinterpret_cast<uint8_t*>(encrypted.data()) + len,
                          &tail) != 1) {
    return absl::InternalError("AES-256-CBC failed");
  }
  encrypted.resize(len + tail);
  const std::string pbkdf2_params =
      Seq(Octets(salt) + Integer(static_cast<uint32_t>(iterations)) +
          Seq(Oid(kHmacSha256) + Tlv(0x05, "")));
  const std::string pbes2_params =
      Seq(Seq(Oid(kPbkdf2) + pbkdf2_params) + Seq(Oid(kAes256Cbc) + Octets(iv)));
  return Seq(Seq(Oid(kPbes2) + pbes2_params) + Octets(encrypted));
}

std::string EncryptedPkcs8Pem(const std::string& der) {
  const std::string b64 = absl::Base64Escape(der);
  std::string pem = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    absl::StrAppend(&pem, absl::string_view(b64).substr(i, 64), "\n");
  }
  return pem + "-----END ENCRYPTED PRIVATE KEY-----\n";
}

}  // namespace keyward::crypto
