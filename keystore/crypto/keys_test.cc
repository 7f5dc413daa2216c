#include "keystore/crypto/keys.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/signature.h"

namespace keyward::crypto {
namespace {

using google::protobuf::Struct;

std::string ReadRunfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::ifstream in(std::string(srcdir ? srcdir : ".") + "/" + path,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TestKey(const std::string& name) {
  return ReadRunfile("keyward/keystore/crypto/testdata/" + name);
}

Struct ParseJson(const std::string& json) {
  Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &out).ok())
      << json;
  return out;
}

std::string Field(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? "<absent>" : it->second.string_value();
}

// SignsAndVerifies checks that |pkcs8| and its public key work together.
void ExpectSignsAndVerifies(SignatureAlgorithm algorithm,
                            const SecretData& pkcs8, const std::string& spki) {
  auto signer = NewSigner(algorithm, pkcs8);
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto verifier = NewVerifier(algorithm, spki);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_TRUE((*verifier)->Verify(*(*signer)->Sign("data"), "data").ok());
}

TEST(GenerateKeyMaterialTest, SymmetricSizes) {
  EXPECT_EQ(GenerateKeyMaterial(KeyType::kAes256Gcm)->size(), 32u);
  EXPECT_EQ(GenerateKeyMaterial(KeyType::kHmacSha256)->size(), 32u);
  EXPECT_EQ(GenerateKeyMaterial(KeyType::kHmacSha384)->size(), 48u);
  EXPECT_EQ(GenerateKeyMaterial(KeyType::kHmacSha512)->size(), 64u);
  EXPECT_EQ(PublicKeyFromPrivate(KeyType::kAes256Gcm, SecretData::Random(32))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

struct AsymmetricCase {
  KeyType type;
  KeyType parsed_as;
  SignatureAlgorithm algorithm;
};

class GenerateAsymmetricTest : public testing::TestWithParam<AsymmetricCase> {};

TEST_P(GenerateAsymmetricTest, GeneratesUsableKeysOfTheType) {
  const AsymmetricCase& c = GetParam();
  absl::StatusOr<SecretData> key = GenerateKeyMaterial(c.type);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> spki = PublicKeyFromPrivate(c.type, *key);
  ASSERT_TRUE(spki.ok()) << spki.status();
  absl::StatusOr<ParsedPublicKey> parsed = ParsePublicKey(*spki);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, c.parsed_as);
  EXPECT_EQ(parsed->spki_der, *spki);
  ExpectSignsAndVerifies(c.algorithm, *key, *spki);
  // The key is not of any other asymmetric type.
  for (KeyType other : {KeyType::kEd25519, KeyType::kEcdsaP384,
                        KeyType::kRsa2048, KeyType::kRsa4096}) {
    if (other == c.type) continue;
    EXPECT_EQ(PublicKeyFromPrivate(other, *key).status().code(),
              absl::StatusCode::kInvalidArgument)
        << KeyTypeName(other);
  }
  if (c.parsed_as == KeyType::kRsa2048 || c.parsed_as == KeyType::kRsa3072 ||
      c.parsed_as == KeyType::kRsa4096) {
    auto encrypter = NewAsymmetricEncrypter(*spki);
    auto decrypter = NewAsymmetricDecrypter(*key);
    ASSERT_TRUE(encrypter.ok() && decrypter.ok());
    EXPECT_EQ(*(*decrypter)->Decrypt(*(*encrypter)->Encrypt("k", "l"), "l"),
              "k");
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, GenerateAsymmetricTest,
    testing::Values(
        AsymmetricCase{KeyType::kEd25519, KeyType::kEd25519,
                       SignatureAlgorithm::kEd25519},
        AsymmetricCase{KeyType::kEcdsaP256, KeyType::kEcdsaP256,
                       SignatureAlgorithm::kEcdsaP256Sha256Der},
        AsymmetricCase{KeyType::kEcdsaP384, KeyType::kEcdsaP384,
                       SignatureAlgorithm::kEcdsaP384Sha384P1363},
        AsymmetricCase{KeyType::kEcdhP256, KeyType::kEcdsaP256,
                       SignatureAlgorithm::kEcdsaP256Sha256P1363},
        AsymmetricCase{KeyType::kRsa2048, KeyType::kRsa2048,
                       SignatureAlgorithm::kRsaPkcs1Sha256},
        AsymmetricCase{KeyType::kRsa3072, KeyType::kRsa3072,
                       SignatureAlgorithm::kRsaPssSha256},
        AsymmetricCase{KeyType::kRsa4096, KeyType::kRsa4096,
                       SignatureAlgorithm::kRsaPkcs1Sha512}),
    [](const testing::TestParamInfo<AsymmetricCase>& info) {
      return std::string(KeyTypeName(info.param.type));
    });

struct PemCase {
  const char* file;
  const char* public_file;
  KeyType type;
  bool encrypted;
  SignatureAlgorithm algorithm;
};

class ParsePrivateKeyPemTest : public testing::TestWithParam<PemCase> {};

TEST_P(ParsePrivateKeyPemTest, ImportsTheKey) {
  const PemCase& c = GetParam();
  const SecretData passphrase("correct-horse");
  absl::StatusOr<ParsedPrivateKey> parsed =
      ParsePrivateKeyPem(TestKey(c.file), &passphrase);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, c.type);
  absl::StatusOr<ParsedPublicKey> expected = ParsePublicKey(TestKey(c.public_file));
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(expected->type, c.type);
  EXPECT_EQ(*PublicKeyFromPrivate(c.type, parsed->pkcs8_der), expected->spki_der);
  ExpectSignsAndVerifies(c.algorithm, parsed->pkcs8_der, expected->spki_der);
}

TEST_P(ParsePrivateKeyPemTest, PassphraseErrors) {
  const PemCase& c = GetParam();
  const SecretData wrong("wrong-horse");
  absl::StatusOr<ParsedPrivateKey> with_wrong =
      ParsePrivateKeyPem(TestKey(c.file), &wrong);
  absl::StatusOr<ParsedPrivateKey> with_none =
      ParsePrivateKeyPem(TestKey(c.file), nullptr);
  if (!c.encrypted) {
    EXPECT_TRUE(with_wrong.ok()) << with_wrong.status();  // Ignored.
    EXPECT_TRUE(with_none.ok()) << with_none.status();
    return;
  }
  ASSERT_FALSE(with_wrong.ok());
  EXPECT_EQ(with_wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with_wrong.status().message(),
            "could not decrypt the private key: wrong passphrase or damaged "
            "file");
  ASSERT_FALSE(with_none.ok());
  EXPECT_EQ(with_none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with_none.status().message(),
            "the private key is encrypted: a passphrase is needed");
}

INSTANTIATE_TEST_SUITE_P(
    AllLabels, ParsePrivateKeyPemTest,
    testing::Values(
        PemCase{"ed25519_pkcs8.pem", "ed25519.pub.pem", KeyType::kEd25519,
                false, SignatureAlgorithm::kEd25519},
        PemCase{"p256_pkcs8_encrypted.pem", "p256.pub.pem",
                KeyType::kEcdsaP256, true,
                SignatureAlgorithm::kEcdsaP256Sha256Der},
        PemCase{"p384_legacy.pem", "p384.pub.pem", KeyType::kEcdsaP384, false,
                SignatureAlgorithm::kEcdsaP384Sha384Der},
        PemCase{"rsa2048_legacy.pem", "rsa2048.pub.pem", KeyType::kRsa2048,
                false, SignatureAlgorithm::kRsaPssSha256},
        PemCase{"rsa2048_legacy_encrypted.pem", "rsa2048.pub.pem",
                KeyType::kRsa2048, true, SignatureAlgorithm::kRsaPssSha256}),
    [](const testing::TestParamInfo<PemCase>& info) {
      std::string name = info.param.file;
      for (char& ch : name) {
        if (ch == '.') ch = '_';
      }
      return name;
    });

TEST(ParsePrivateKeyPemTest, RefusesUnofferedKeysAndGarbage) {
  for (const std::string& pem :
       {TestKey("rsa1024_pkcs8.pem"), TestKey("secp256k1_pkcs8.pem"),
        TestKey("p256.pub.pem"), std::string("not a key"), std::string()}) {
    absl::StatusOr<ParsedPrivateKey> parsed = ParsePrivateKeyPem(pem, nullptr);
    ASSERT_FALSE(parsed.ok()) << pem;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_NE(ParsePrivateKeyPem(TestKey("rsa1024_pkcs8.pem"), nullptr)
                .status()
                .message()
                .find("RSA-1024"),
            absl::string_view::npos);
}

TEST(ParsePublicKeyTest, PemAndDerAgree) {
  absl::StatusOr<ParsedPublicKey> from_pem =
      ParsePublicKey(TestKey("p384.pub.pem"));
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  absl::StatusOr<ParsedPublicKey> from_der = ParsePublicKey(from_pem->spki_der);
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  EXPECT_EQ(from_der->spki_der, from_pem->spki_der);
  EXPECT_EQ(from_der->type, KeyType::kEcdsaP384);
  EXPECT_EQ(ParsePublicKey(from_pem->spki_der + "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParsePublicKey("-----BEGIN PUBLIC KEY-----\nAAAA\n").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SpkiToPemTest, MatchesOpenSslOutput) {
  const std::string pem = TestKey("rsa2048.pub.pem");
  absl::StatusOr<std::string> again = SpkiToPem(ParsePublicKey(pem)->spki_der);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, pem);
  EXPECT_EQ(SpkiToPem("junk").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SpkiToJwkTest, ShapesAndEscaping) {
  const std::string spki = ParsePublicKey(TestKey("ed25519.pub.pem"))->spki_der;
  absl::StatusOr<std::string> jwk =
      SpkiToJwk(KeyType::kEd25519, spki, "key \"1\"\n", "EdDSA");
  ASSERT_TRUE(jwk.ok()) << jwk.status();
  const Struct parsed = ParseJson(*jwk);
  EXPECT_EQ(Field(parsed, "kty"), "OKP");
  EXPECT_EQ(Field(parsed, "crv"), "Ed25519");
  EXPECT_EQ(Field(parsed, "kid"), "key \"1\"\n");
  EXPECT_EQ(Field(parsed, "alg"), "EdDSA");
  EXPECT_EQ(Field(parsed, "x").size(), 43u);  // 32 bytes, no padding.
  EXPECT_EQ(jwk->find('='), std::string::npos);

  const std::string no_extras = *SpkiToJwk(KeyType::kEd25519, spki, "", "");
  EXPECT_EQ(Field(ParseJson(no_extras), "kid"), "<absent>");
  EXPECT_EQ(Field(ParseJson(no_extras), "alg"), "<absent>");

  EXPECT_EQ(SpkiToJwk(KeyType::kEd25519, spki, "", "ES256").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SpkiToJwk(KeyType::kEcdsaP256, spki, "", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SpkiToJwk(KeyType::kHmacSha256, spki, "", "").status().code(),
            absl::StatusCode::kInvalidArgument);

  const std::string p256 = ParsePublicKey(TestKey("p256.pub.pem"))->spki_der;
  EXPECT_TRUE(SpkiToJwk(KeyType::kEcdhP256, p256, "", "ECDH-ES").ok());
  EXPECT_EQ(SpkiToJwk(KeyType::kEcdsaP256, p256, "", "ECDH-ES").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Wycheproof ships each test key as DER and as JWK: SpkiToJwk of the DER must
// give the same members.
TEST(SpkiToJwkTest, AgreesWithWycheproofJwks) {
  struct File {
    const char* name;
    KeyType type;
    const char* jwk_field;
  };
  int checked = 0;
  for (const File& file :
       {File{"ed25519_test.json", KeyType::kEd25519, "publicKeyJwk"},
        File{"ecdsa_secp256r1_sha256_p1363_test.json", KeyType::kEcdsaP256,
             "publicKeyJwk"},
        File{"ecdsa_secp384r1_sha384_p1363_test.json", KeyType::kEcdsaP384,
             "publicKeyJwk"},
        File{"rsa_pss_2048_sha256_mgf1_32_test.json", KeyType::kRsa2048,
             "publicKeyJwk"},
        File{"rsa_signature_4096_sha256_test.json", KeyType::kRsa4096,
             "keyJwk"}}) {
    const Struct root = ParseJson(ReadRunfile(std::string("wycheproof/") + file.name));
    for (const auto& group : root.fields().at("testGroups").list_value().values()) {
      const auto& fields = group.struct_value().fields();
      const Struct& want = fields.at(file.jwk_field).struct_value();
      absl::StatusOr<std::string> jwk = SpkiToJwk(
          file.type,
          absl::HexStringToBytes(fields.at("publicKeyDer").string_value()), "",
          "");
      ASSERT_TRUE(jwk.ok()) << file.name << ": " << jwk.status();
      const Struct got = ParseJson(*jwk);
      for (const char* member : {"kty", "crv", "x", "y", "n", "e"}) {
        if (want.fields().count(member) == 0) continue;
        EXPECT_EQ(Field(got, member), Field(want, member))
            << file.name << " member " << member;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace keyward::crypto
