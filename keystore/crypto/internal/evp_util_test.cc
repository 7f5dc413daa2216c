// ParsePkcs8Der's Ed25519 seed path gives the key OpenSSL's (or BoringSSL's)
// generic PKCS#8 decoder gives, and other forms still take the generic path.
#include "keystore/crypto/internal/evp_util.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>

#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"

namespace keyward::crypto::internal {
namespace {

std::string RawPublicKey(EVP_PKEY* pkey) {
  size_t n = 0;
  if (EVP_PKEY_get_raw_public_key(pkey, nullptr, &n) != 1) return "";
  std::string out(n, '\0');
  if (EVP_PKEY_get_raw_public_key(
          pkey, reinterpret_cast<uint8_t*>(&out[0]), &n) != 1) {
    return "";
  }
  return out;
}

// The library's own decoding of `der`, bypassing ParsePkcs8Der.
EvpPkeyPtr GenericParse(const std::string& der) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(der.data());
  Pkcs8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (p8 == nullptr) return nullptr;
  return EvpPkeyPtr(EVP_PKCS82PKEY(p8.get()));
}

TEST(ParsePkcs8DerTest, Ed25519SeedPathMatchesTheGenericDecoder) {
  for (int i = 0; i < 8; ++i) {
    auto material = GenerateKeyMaterial(KeyType::kEd25519);
    ASSERT_TRUE(material.ok()) << material.status();
    const std::string der(material->InsecureView());
    ASSERT_EQ(der.size(), 48u);  // the form the seed path takes
    auto fast = ParsePkcs8Der(der);
    ASSERT_TRUE(fast.ok()) << fast.status();
    EvpPkeyPtr generic = GenericParse(der);
    ASSERT_NE(generic, nullptr);
    EXPECT_EQ(EVP_PKEY_id(fast->get()), EVP_PKEY_ED25519);
    const std::string public_key = RawPublicKey(fast->get());
    EXPECT_EQ(public_key.size(), 32u);
    EXPECT_EQ(public_key, RawPublicKey(generic.get()));
  }
}

TEST(ParsePkcs8DerTest, OtherFormsAndDamageTakeTheGenericPath) {
  auto material = GenerateKeyMaterial(KeyType::kEd25519);
  ASSERT_TRUE(material.ok());
  std::string der(material->InsecureView());
  // One byte short of the seed: not the seed form, and not valid DER.
  EXPECT_EQ(ParsePkcs8Der(der.substr(0, der.size() - 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The seed form with a byte more: the exact length is checked, and the
  // generic decoder refuses trailing bytes.
  EXPECT_EQ(ParsePkcs8Der(der + '\0').status().code(),
            absl::StatusCode::kInvalidArgument);
  // A wrong algorithm OID (Ed448's 1.3.101.113) with a 32-byte key: the
  // generic decoder refuses it.
  std::string wrong_oid = der;
  wrong_oid[11] = 0x71;
  EXPECT_EQ(ParsePkcs8Der(wrong_oid).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A P-256 key still parses (the generic path).
  auto ec = GenerateKeyMaterial(KeyType::kEcdsaP256);
  ASSERT_TRUE(ec.ok());
  auto parsed = ParsePkcs8Der(std::string(ec->InsecureView()));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(EVP_PKEY_id(parsed->get()), EVP_PKEY_EC);
}

}  // namespace
}  // namespace keyward::crypto::internal
