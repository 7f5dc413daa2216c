#include "keystore/crypto/pkcs8_encrypt.h"

#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"

namespace keyward::crypto {
namespace {

TEST(Pkcs8EncryptTest, ReadsBackWithThePassphraseOnly) {
  for (KeyType type : {KeyType::kEd25519, KeyType::kEcdsaP256,
                       KeyType::kEcdsaP384, KeyType::kRsa2048}) {
    SCOPED_TRACE(KeyTypeName(type));
    auto pkcs8 = GenerateKeyMaterial(type);
    ASSERT_TRUE(pkcs8.ok());
    const SecretData pass("an export passphrase");
    auto der = EncryptPkcs8(*pkcs8, pass, 1000);  // cheap for the test
    ASSERT_TRUE(der.ok()) << der.status();
    EXPECT_EQ(der->find(std::string(pkcs8->InsecureView())), std::string::npos);
    const std::string pem = EncryptedPkcs8Pem(*der);
    EXPECT_EQ(pem.rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----\n", 0), 0u);

    // libcrypto's own PKCS#8 reader (the import path) opens it.
    auto parsed = ParsePrivateKeyPem(pem, &pass);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->type, type);
    EXPECT_EQ(parsed->pkcs8_der.InsecureView(), pkcs8->InsecureView());
    const SecretData wrong("not the passphrase");
    EXPECT_EQ(ParsePrivateKeyPem(pem, &wrong).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ParsePrivateKeyPem(pem, nullptr).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(Pkcs8EncryptTest, EachExportHasItsOwnSaltAndIv) {
  auto pkcs8 = GenerateKeyMaterial(KeyType::kEd25519);
  const SecretData pass("an export passphrase");
  EXPECT_NE(*EncryptPkcs8(*pkcs8, pass, 1000), *EncryptPkcs8(*pkcs8, pass, 1000));
}

TEST(Pkcs8EncryptTest, RefusesEmptyInputsAndCheapKdfs) {
  auto pkcs8 = GenerateKeyMaterial(KeyType::kEd25519);
  EXPECT_EQ(EncryptPkcs8(*pkcs8, SecretData(), 1000).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncryptPkcs8(SecretData(), SecretData("p"), 1000).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncryptPkcs8(*pkcs8, SecretData("p"), 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keyward::crypto
