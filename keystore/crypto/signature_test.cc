#include "keystore/crypto/signature.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_ptr.h"
#include "keystore/crypto/keys.h"

namespace keyward::crypto {
namespace {

// Key returns a private key of |type|, generated once per test binary.
const SecretData& Key(KeyType type) {
  static auto* keys = new std::map<KeyType, SecretData>();
  auto it = keys->find(type);
  if (it == keys->end()) {
    absl::StatusOr<SecretData> key = GenerateKeyMaterial(type);
    EXPECT_TRUE(key.ok()) << key.status();
    it = keys->emplace(type, *std::move(key)).first;
  }
  return it->second;
}

std::string PublicKey(KeyType type) {
  absl::StatusOr<std::string> spki = PublicKeyFromPrivate(type, Key(type));
  EXPECT_TRUE(spki.ok()) << spki.status();
  return *spki;
}

// Rsa1024 returns an RSA-1024 PKCS#8 key, which Keyward must refuse.
SecretData Rsa1024() {
  internal::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  EVP_PKEY* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 1024), 1);
  EXPECT_EQ(EVP_PKEY_keygen(ctx.get(), &raw), 1);
  internal::EvpPkeyPtr pkey(raw);
  return *internal::MarshalPkcs8Der(pkey.get());
}

struct Case {
  SignatureAlgorithm algorithm;
  KeyType key_type;
  size_t fixed_size;  // 0 if the size varies (DER).
};

const Case kCases[] = {
    {SignatureAlgorithm::kEd25519, KeyType::kEd25519, 64},
    {SignatureAlgorithm::kEcdsaP256Sha256Der, KeyType::kEcdsaP256, 0},
    {SignatureAlgorithm::kEcdsaP256Sha256P1363, KeyType::kEcdsaP256, 64},
    {SignatureAlgorithm::kEcdsaP384Sha384Der, KeyType::kEcdsaP384, 0},
    {SignatureAlgorithm::kEcdsaP384Sha384P1363, KeyType::kEcdsaP384, 96},
    {SignatureAlgorithm::kRsaPssSha256, KeyType::kRsa2048, 256},
    {SignatureAlgorithm::kRsaPkcs1Sha256, KeyType::kRsa2048, 256},
    {SignatureAlgorithm::kRsaPkcs1Sha384, KeyType::kRsa2048, 256},
    {SignatureAlgorithm::kRsaPkcs1Sha512, KeyType::kRsa2048, 256},
    {SignatureAlgorithm::kRsaPssSha384, KeyType::kRsa2048, 256},
    {SignatureAlgorithm::kRsaPssSha512, KeyType::kRsa2048, 256},
    {SignatureAlgorithm::kEcdsaP521Sha512Der, KeyType::kEcdsaP521, 0},
    {SignatureAlgorithm::kEcdsaP521Sha512P1363, KeyType::kEcdsaP521, 132},
};

class SignatureTest : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    auto signer = NewSigner(GetParam().algorithm, Key(GetParam().key_type));
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = *std::move(signer);
    auto verifier = NewVerifier(GetParam().algorithm, PublicKey(GetParam().key_type));
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    verifier_ = *std::move(verifier);
  }

  static void ExpectInvalid(const absl::Status& status) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_EQ(status.message(), "signature is not valid");
  }

  std::unique_ptr<Signer> signer_;
  std::unique_ptr<Verifier> verifier_;
};

TEST_P(SignatureTest, RoundTrip) {
  for (const std::string& data :
       {std::string(), std::string("message"), std::string(10000, 'm')}) {
    absl::StatusOr<std::string> sig = signer_->Sign(data);
    ASSERT_TRUE(sig.ok()) << sig.status();
    if (GetParam().fixed_size != 0) {
      EXPECT_EQ(sig->size(), GetParam().fixed_size);
    }
    EXPECT_TRUE(verifier_->Verify(*sig, data).ok());
  }
}

// HashOf returns |data|'s digest with the algorithm's hash (empty for
// Ed25519, which has none).
std::string HashOf(SignatureAlgorithm algorithm, absl::string_view data) {
  const EVP_MD* md = nullptr;
  switch (algorithm) {
    case SignatureAlgorithm::kEd25519:
      return "";
    case SignatureAlgorithm::kEcdsaP384Sha384Der:
    case SignatureAlgorithm::kEcdsaP384Sha384P1363:
    case SignatureAlgorithm::kRsaPkcs1Sha384:
    case SignatureAlgorithm::kRsaPssSha384:
      md = EVP_sha384();
      break;
    case SignatureAlgorithm::kEcdsaP521Sha512Der:
    case SignatureAlgorithm::kEcdsaP521Sha512P1363:
    case SignatureAlgorithm::kRsaPkcs1Sha512:
    case SignatureAlgorithm::kRsaPssSha512:
      md = EVP_sha512();
      break;
    default:
      md = EVP_sha256();
  }
  std::string out(EVP_MD_size(md), '\0');
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(),
                       reinterpret_cast<uint8_t*>(out.data()), &len, md,
                       nullptr),
            1);
  return out;
}

TEST_P(SignatureTest, DigestsSignAndVerifyLikeTheirMessages) {
  const std::string message = "a large file, hashed by the caller";
  const std::string digest = HashOf(GetParam().algorithm, message);
  if (digest.empty()) {
    // Ed25519 signs whole messages.
    EXPECT_EQ(signer_->SignDigest(std::string(32, 'd')).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(verifier_->VerifyDigest(std::string(64, 's'), std::string(32, 'd'))
                  .code(),
              absl::StatusCode::kInvalidArgument);
    return;
  }
  // A digest's signature verifies over the message, and the other way.
  absl::StatusOr<std::string> by_digest = signer_->SignDigest(digest);
  ASSERT_TRUE(by_digest.ok()) << by_digest.status();
  if (GetParam().fixed_size != 0) {
    EXPECT_EQ(by_digest->size(), GetParam().fixed_size);
  }
  EXPECT_TRUE(verifier_->Verify(*by_digest, message).ok());
  absl::StatusOr<std::string> by_message = signer_->Sign(message);
  ASSERT_TRUE(by_message.ok());
  EXPECT_TRUE(verifier_->VerifyDigest(*by_message, digest).ok());
  // Another digest, a flipped bit, or the wrong length do not pass.
  std::string other = digest;
  other[0] ^= 1;
  ExpectInvalid(verifier_->VerifyDigest(*by_digest, other));
  std::string bad_sig = *by_digest;
  bad_sig[bad_sig.size() / 2] ^= 1;
  ExpectInvalid(verifier_->VerifyDigest(bad_sig, digest));
  absl::Status short_digest = signer_->SignDigest(digest.substr(1)).status();
  EXPECT_EQ(short_digest.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(short_digest.message().find("-byte digest"), std::string::npos)
      << short_digest;
  EXPECT_EQ(verifier_->VerifyDigest(*by_digest, digest + "x").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(SignatureTest, EveryBitFlipOfSignatureFails) {
  const std::string data = "message";
  const std::string sig = *signer_->Sign(data);
  for (size_t bit = 0; bit < sig.size() * 8; ++bit) {
    std::string bad = sig;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    ExpectInvalid(verifier_->Verify(bad, data));
  }
}

TEST_P(SignatureTest, EveryBitFlipOfDataFails) {
  const std::string data = "sixteen byte msg";
  const std::string sig = *signer_->Sign(data);
  for (size_t bit = 0; bit < data.size() * 8; ++bit) {
    std::string bad = data;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    ExpectInvalid(verifier_->Verify(sig, bad));
  }
  ExpectInvalid(verifier_->Verify(sig, data + "x"));
  ExpectInvalid(verifier_->Verify(sig, ""));
}

TEST_P(SignatureTest, EveryTruncationAndExtensionFails) {
  const std::string sig = *signer_->Sign("message");
  for (size_t len = 0; len < sig.size(); ++len) {
    ExpectInvalid(verifier_->Verify(sig.substr(0, len), "message"));
  }
  ExpectInvalid(verifier_->Verify(sig + '\0', "message"));
}

TEST_P(SignatureTest, SharedAcrossThreads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string data = std::to_string(t * 1000 + i);
        absl::StatusOr<std::string> sig = signer_->Sign(data);
        ASSERT_TRUE(sig.ok()) << sig.status();
        EXPECT_TRUE(verifier_->Verify(*sig, data).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

TEST_P(SignatureTest, WrongKeyTypesAreRefused) {
  for (KeyType other : {KeyType::kEd25519, KeyType::kEcdsaP256,
                        KeyType::kEcdsaP384, KeyType::kEcdsaP521,
                        KeyType::kRsa2048}) {
    const bool compatible =
        other == GetParam().key_type;  // All RSA cases use kRsa2048.
    auto signer = NewSigner(GetParam().algorithm, Key(other));
    auto verifier = NewVerifier(GetParam().algorithm, PublicKey(other));
    EXPECT_EQ(signer.ok(), compatible) << KeyTypeName(other);
    EXPECT_EQ(verifier.ok(), compatible) << KeyTypeName(other);
    if (!compatible) {
      EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  // Garbage keys, and private/public swapped.
  EXPECT_EQ(NewSigner(GetParam().algorithm, SecretData("junk")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewVerifier(GetParam().algorithm, "junk").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewVerifier(GetParam().algorithm,
                        Key(GetParam().key_type).InsecureView())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(
    AllAlgorithms, SignatureTest, testing::ValuesIn(kCases),
    [](const testing::TestParamInfo<Case>& info) {
      std::string name(SignatureAlgorithmName(info.param.algorithm));
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

TEST(SignatureAlgorithmTest, EveryValueHasItsOwnName) {
  std::set<std::string> names;
  for (SignatureAlgorithm alg : kAllSignatureAlgorithms) {
    const std::string name(SignatureAlgorithmName(alg));
    EXPECT_NE(name, "UNKNOWN");
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

TEST(SignatureKeyTest, SmallRsaKeyIsRefusedWithItsSize) {
  auto signer = NewSigner(SignatureAlgorithm::kRsaPssSha256, Rsa1024());
  ASSERT_FALSE(signer.ok());
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(signer.status().message().find("RSA-1024"), absl::string_view::npos)
      << signer.status();
}

TEST(SignatureKeyTest, BerEncodedEcdsaSignatureIsRefused) {
  auto signer = *NewSigner(SignatureAlgorithm::kEcdsaP256Sha256Der,
                           Key(KeyType::kEcdsaP256));
  auto verifier = *NewVerifier(SignatureAlgorithm::kEcdsaP256Sha256Der,
                               PublicKey(KeyType::kEcdsaP256));
  const std::string der = *signer->Sign("message");
  ASSERT_TRUE(verifier->Verify(der, "message").ok());
  ASSERT_LT(static_cast<unsigned char>(der[1]), 0x80);
  // The same value with a long-form SEQUENCE length: valid BER, not DER.
  std::string ber = der;
  ber.insert(1, "\x81");
  const absl::Status status = verifier->Verify(ber, "message");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

// A failure must not leave entries in the thread's libcrypto error queue: TLS
// code on the same thread would read them as its own.
TEST(SignatureKeyTest, FailuresLeaveNoLibcryptoErrors) {
  ERR_clear_error();
  EXPECT_FALSE(NewVerifier(SignatureAlgorithm::kEd25519, "junk").ok());
  EXPECT_FALSE(NewSigner(SignatureAlgorithm::kEd25519, SecretData("junk")).ok());
  auto verifier = *NewVerifier(SignatureAlgorithm::kEcdsaP256Sha256Der,
                               PublicKey(KeyType::kEcdsaP256));
  auto signer = *NewSigner(SignatureAlgorithm::kEcdsaP256Sha256Der,
                           Key(KeyType::kEcdsaP256));
  const std::string sig = *signer->Sign("message");
  EXPECT_FALSE(verifier->Verify(sig, "other message").ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace keyward::crypto
