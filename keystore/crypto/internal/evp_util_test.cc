// ParsePkcs8Der's fixed-form path (Ed25519, P-256) gives the key OpenSSL's
// (or BoringSSL's) generic PKCS#8 decoder gives, takes the keys both libraries
// make, and leaves every other form to the generic decoder.
#include "keystore/crypto/internal/evp_util.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <string>

#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"

namespace keyward::crypto::internal {
namespace {

std::string Spki(EVP_PKEY* pkey) {
  auto spki = MarshalSpkiDer(pkey);
  return spki.ok() ? *spki : "";
}

// The library's own decoding of `der`, bypassing ParsePkcs8Der.
EvpPkeyPtr GenericParse(const std::string& der) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(der.data());
  Pkcs8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (p8 == nullptr) return nullptr;
  return EvpPkeyPtr(EVP_PKCS82PKEY(p8.get()));
}

TEST(ParsePkcs8DerTest, FixedFormPathMatchesTheGenericDecoder) {
  struct Case {
    KeyType type;
    size_t der_bytes;  // the form the fixed-form path takes
    int pkey_id;
  };
  for (const Case& c : {Case{KeyType::kEd25519, 48, EVP_PKEY_ED25519},
                        Case{KeyType::kEcdsaP256, 138, EVP_PKEY_EC}}) {
    for (int i = 0; i < 8; ++i) {
      auto material = GenerateKeyMaterial(c.type);
      ASSERT_TRUE(material.ok()) << material.status();
      const std::string der(material->InsecureView());
      ASSERT_EQ(der.size(), c.der_bytes);
      EvpPkeyPtr fixed = ParseFixedFormPkcs8Der(der);
      ASSERT_NE(fixed, nullptr) << KeyTypeName(c.type);
      EvpPkeyPtr generic = GenericParse(der);
      ASSERT_NE(generic, nullptr);
      EXPECT_EQ(EVP_PKEY_id(fixed.get()), c.pkey_id);
      const std::string spki = Spki(fixed.get());
      EXPECT_FALSE(spki.empty());
      EXPECT_EQ(spki, Spki(generic.get()));
      // The private halves agree too: the re-encoded PKCS#8 is the input.
      auto reencoded = MarshalPkcs8Der(fixed.get());
      ASSERT_TRUE(reencoded.ok()) << reencoded.status();
      EXPECT_EQ(reencoded->InsecureView(), der) << KeyTypeName(c.type);
      // And ParsePkcs8Der gives it.
      auto parsed = ParsePkcs8Der(der);
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      EXPECT_EQ(Spki(parsed->get()), spki);
    }
  }
}

TEST(ParsePkcs8DerTest, P256PartsPathRefusesInconsistentKeys) {
  auto material = GenerateKeyMaterial(KeyType::kEcdsaP256);
  ASSERT_TRUE(material.ok());
  const std::string der(material->InsecureView());
  constexpr size_t kScalar = 36, kPoint = 36 + 32 + 5;
  // A public point that is not the scalar's.
  std::string wrong_point = der;
  wrong_point[kPoint + 10] ^= 0x01;
  EXPECT_EQ(ParseFixedFormPkcs8Der(wrong_point), nullptr);
  // Scalar 0, and a scalar of all ones (above the group order).
  std::string zero = der;
  std::fill(zero.begin() + kScalar, zero.begin() + kScalar + 32, '\0');
  EXPECT_EQ(ParseFixedFormPkcs8Der(zero), nullptr);
  std::string too_big = der;
  std::fill(too_big.begin() + kScalar, too_big.begin() + kScalar + 32, '\xff');
  EXPECT_EQ(ParseFixedFormPkcs8Der(too_big), nullptr);
  // A compressed-point marker instead of 04: not the fixed form.
  std::string compressed = der;
  compressed[kPoint] = 0x02;
  EXPECT_EQ(ParseFixedFormPkcs8Der(compressed), nullptr);
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
  // An RSA key is no fixed form, and parses (the generic path).
  auto rsa = GenerateKeyMaterial(KeyType::kRsa2048);
  ASSERT_TRUE(rsa.ok());
  EXPECT_EQ(ParseFixedFormPkcs8Der(std::string(rsa->InsecureView())), nullptr);
  auto parsed = ParsePkcs8Der(std::string(rsa->InsecureView()));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(EVP_PKEY_id(parsed->get()), EVP_PKEY_RSA);
}

}  // namespace
}  // namespace keyward::crypto::internal
