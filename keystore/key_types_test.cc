#include "keystore/key_types.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/signature.h"

namespace keyward::keystore {
namespace {

constexpr KeyPurpose kAllPurposes[] = {
    KeyPurpose::kEncryptDecrypt, KeyPurpose::kSignVerify, KeyPurpose::kMac,
    KeyPurpose::kKeyAgreement, KeyPurpose::kJwt};

// The table covers every enumerator, in order, and nothing past the last
// (crypto's KeyTypeName knows no name there).
TEST(KeyTypesTest, OneRowPerEnumerator) {
  const auto& table = AllKeyTypes();
  ASSERT_FALSE(table.empty());
  for (size_t i = 0; i < table.size(); ++i) {
    const KeyType type = static_cast<KeyType>(i);
    EXPECT_EQ(table[i].type, type);
    EXPECT_NE(crypto::KeyTypeName(type), "UNKNOWN") << i;
    EXPECT_EQ(&KeyTypeInfoOf(type), &table[i]);
  }
  EXPECT_EQ(crypto::KeyTypeName(static_cast<KeyType>(table.size())), "UNKNOWN")
      << "a KeyType enumerator has no row in key_types.cc";
}

TEST(KeyTypesTest, NamesAreUniqueAndRoundTrip) {
  std::set<std::string> names;
  for (const KeyTypeInfo& info : AllKeyTypes()) {
    EXPECT_EQ(info.name, crypto::KeyTypeName(info.type));
    EXPECT_TRUE(names.insert(std::string(info.name)).second) << info.name;
    EXPECT_EQ(KeyTypeFromName(info.name), info.type);
  }
  EXPECT_FALSE(KeyTypeFromName("ecdsa_p256").has_value());  // case matters
  EXPECT_FALSE(KeyTypeFromName("").has_value());
}

// Each row agrees with the crypto layer: symmetric types generate secrets of
// their size, asymmetric ones private keys with a public key.
TEST(KeyTypesTest, RowsAgreeWithCrypto) {
  for (const KeyTypeInfo& info : AllKeyTypes()) {
    if (info.type == KeyType::kRsa3072 || info.type == KeyType::kRsa4096) {
      continue;  // slow to generate; the same row as RSA2048 but for bits
    }
    SCOPED_TRACE(std::string(info.name));
    auto material = crypto::GenerateKeyMaterial(info.type);
    ASSERT_TRUE(material.ok()) << material.status();
    auto spki = crypto::PublicKeyFromPrivate(info.type, *material);
    EXPECT_EQ(spki.ok(), info.asymmetric) << spki.status();
    if (!info.asymmetric) {
      EXPECT_EQ(material->size(), info.secret_size);
      EXPECT_GE(info.secret_size, info.min_import_secret);
      EXPECT_LE(info.secret_size, info.max_import_secret);
    } else {
      EXPECT_EQ(info.secret_size, 0u);
      // Only X25519 also takes a raw 32-byte private key (NaCl's form).
      EXPECT_EQ(info.max_import_secret, info.type == KeyType::kX25519 ? 32u : 0u);
    }
  }
}

TEST(KeyTypesTest, PurposesAndAlgorithmsAreConsistent) {
  for (const KeyTypeInfo& info : AllKeyTypes()) {
    SCOPED_TRACE(std::string(info.name));
    EXPECT_TRUE(AllowsPurpose(info.type, info.default_purpose));
    for (KeyPurpose p : kAllPurposes) {
      EXPECT_EQ(ValidatePurpose(info.type, p).ok(), AllowsPurpose(info.type, p));
    }
    // Sign/verify keys sign; nothing else does.
    EXPECT_EQ(AllowsPurpose(info.type, KeyPurpose::kSignVerify),
              !info.signature_algorithms.empty());
    // A JWT-capable type has a JWS algorithm: asymmetric ones a signature
    // algorithm among those they sign with, HMAC ones a hash.
    EXPECT_EQ(AllowsPurpose(info.type, KeyPurpose::kJwt),
              info.jws_algorithm.has_value());
    if (info.jws_signature) {
      EXPECT_TRUE(info.asymmetric);
    }
    if (info.jws_algorithm && !info.asymmetric) {
      EXPECT_TRUE(info.hmac_hash.has_value());
    }
    EXPECT_EQ(AllowsPurpose(info.type, KeyPurpose::kKeyAgreement),
              !info.jwe_algorithms.empty());
    EXPECT_EQ(AllowsPurpose(info.type, KeyPurpose::kMac),
              info.hmac_hash.has_value());
  }
}

TEST(KeyTypesTest, RefusedPurposeNamesWhatIsAllowed) {
  absl::Status s = ValidatePurpose(KeyType::kEd25519, KeyPurpose::kMac);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("ED25519"), std::string::npos) << s;
  EXPECT_NE(s.message().find("sign/verify, JWT"), std::string::npos) << s;
}

TEST(KeyTypesTest, RsaRowsDifferOnlyInType) {
  for (KeyType t : {KeyType::kRsa2048, KeyType::kRsa3072, KeyType::kRsa4096}) {
    const KeyTypeInfo& info = KeyTypeInfoOf(t);
    EXPECT_TRUE(info.rsa && info.asymmetric);
    EXPECT_EQ(info.signature_algorithms,
              KeyTypeInfoOf(KeyType::kRsa2048).signature_algorithms);
    EXPECT_EQ(info.jwe_algorithms.size(), 2u);
  }
}

}  // namespace
}  // namespace keyward::keystore
