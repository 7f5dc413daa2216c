#include "keystore/crypto/internal/evp_util.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/ossl_compat.h"

namespace keyward::crypto::internal {

absl::Status Error(absl::StatusCode code, absl::string_view message) {
  ERR_clear_error();
  return absl::Status(code, message);
}

namespace {

// The PKCS#8 (RFC 8410) encoding of an Ed25519 private key without the
// optional attributes and public key, as both libraries write it: this
// prefix, then the 32-byte seed.
constexpr unsigned char kEd25519Pkcs8Prefix[] = {
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
    0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
constexpr size_t kEd25519SeedBytes = 32;

}  // namespace

absl::StatusOr<EvpPkeyPtr> ParsePkcs8Der(absl::string_view der) {
  // The keystore decodes a key on its first use. OpenSSL 3's generic PKCS#8
  // path builds a decoder chain per call (about 0.35 ms here); an Ed25519
  // key in the form above needs only its seed (about 0.03 ms).
  const absl::string_view prefix(reinterpret_cast<const char*>(kEd25519Pkcs8Prefix),
                                 sizeof(kEd25519Pkcs8Prefix));
  if (der.size() == prefix.size() + kEd25519SeedBytes &&
      absl::StartsWith(der, prefix)) {
    EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(
        EVP_PKEY_ED25519, nullptr, Bytes(der) + prefix.size(), kEd25519SeedBytes));
    if (pkey == nullptr) {
      return Error(absl::StatusCode::kInvalidArgument,
                   "the PKCS#8 Ed25519 private key is damaged");
    }
    return pkey;
  }
  const uint8_t* p = Bytes(der);
  Pkcs8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (p8 == nullptr || p != Bytes(der) + der.size()) {
    return Error(absl::StatusCode::kInvalidArgument,
                 "the private key is not PKCS#8 DER");
  }
  EvpPkeyPtr pkey(EVP_PKCS82PKEY(p8.get()));
  if (pkey == nullptr) {
    return Error(absl::StatusCode::kInvalidArgument,
                 "the PKCS#8 private key is damaged or of an unknown type");
  }
  return pkey;
}

absl::StatusOr<EvpPkeyPtr> ParseSpkiDer(absl::string_view der) {
  const uint8_t* p = Bytes(der);
  EvpPkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (pkey == nullptr || p != Bytes(der) + der.size()) {
    return Error(absl::StatusCode::kInvalidArgument,
                 "the public key is not SubjectPublicKeyInfo DER");
  }
  return pkey;
}

absl::StatusOr<SecretData> MarshalPkcs8Der(EVP_PKEY* pkey) {
  Pkcs8Ptr p8(EVP_PKEY2PKCS8(pkey));
  const int len = p8 == nullptr ? -1 : i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
  if (len <= 0) {
    return Error(absl::StatusCode::kInternal, "could not encode PKCS#8");
  }
  SecretData der = SecretData::Zeroed(len);
  uint8_t* p = der.InsecureMutableData();
  if (i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &p) != len) {
    return Error(absl::StatusCode::kInternal, "could not encode PKCS#8");
  }
  return der;
}

absl::StatusOr<std::string> MarshalSpkiDer(const EVP_PKEY* pkey) {
  const int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) {
    return Error(absl::StatusCode::kInternal,
                 "could not encode SubjectPublicKeyInfo");
  }
  std::string der(len, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(der.data());
  if (i2d_PUBKEY(pkey, &p) != len) {
    return Error(absl::StatusCode::kInternal,
                 "could not encode SubjectPublicKeyInfo");
  }
  return der;
}

std::string DescribeKey(const EVP_PKEY* pkey) {
  switch (EVP_PKEY_id(pkey)) {
    case EVP_PKEY_ED25519:
      return "Ed25519";
    case EVP_PKEY_X25519:
      return "X25519";
    case EVP_PKEY_RSA:
      return absl::StrCat("RSA-", EVP_PKEY_bits(pkey));
    case EVP_PKEY_RSA_PSS:
      return absl::StrCat("RSA-PSS-restricted RSA-", EVP_PKEY_bits(pkey));
    case EVP_PKEY_EC: {
      const int nid = EcCurveNid(pkey);
      if (nid == NID_X9_62_prime256v1) return "EC P-256";
      if (nid == NID_secp384r1) return "EC P-384";
      if (nid == NID_undef) return "EC on an unnamed curve";
      return absl::StrCat("EC ", OBJ_nid2sn(nid));
    }
    default:
      return absl::StrCat("key type ", EVP_PKEY_id(pkey));
  }
}

}  // namespace keyward::crypto::internal
