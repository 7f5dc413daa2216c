// DisableEcdsaNoncesAhead (daemon config no_ecdsa_nonces_ahead): once it
// returns, no nonce made ahead is handed out or kept, and ECDSA signers
// still sign. Its own binary: the switch is for the whole process, for good.
#include <openssl/obj_mac.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "keystore/crypto/internal/ecdsa_nonces.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/signature.h"

namespace keyward::crypto {
namespace {

TEST(EcdsaNoncesDisabledTest, NoneIsHandedOutAndSignersStillSign) {
  const int nid = NID_X9_62_prime256v1;
  absl::StatusOr<SecretData> key = GenerateKeyMaterial(KeyType::kEcdsaP256);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> spki =
      PublicKeyFromPrivate(KeyType::kEcdsaP256, *key);
  ASSERT_TRUE(spki.ok()) << spki.status();
  auto signer = NewSigner(SignatureAlgorithm::kEcdsaP256Sha256P1363, *key);
  auto verifier = NewVerifier(SignatureAlgorithm::kEcdsaP256Sha256P1363, *spki);
  ASSERT_TRUE(signer.ok()) << signer.status();
  ASSERT_TRUE(verifier.ok()) << verifier.status();

  // Nonces are being made (OpenSSL): wait for some.
  ASSERT_TRUE((*signer)->Sign("first").ok());
  if (internal::EcdsaNoncesSupported()) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (internal::EcdsaNoncesReady(nid) == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    ASSERT_GT(internal::EcdsaNoncesReady(nid), 0u);
  }

  EXPECT_EQ(internal::EcdsaNoncesEnabled(), internal::EcdsaNoncesSupported());
  DisableEcdsaNoncesAhead();
  EXPECT_FALSE(internal::EcdsaNoncesEnabled());
  EXPECT_EQ(internal::EcdsaNoncesReady(nid), 0u);  // wiped
  EXPECT_FALSE(internal::TakeEcdsaNonce(nid).has_value());
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::string> sig = (*signer)->Sign("message");
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_TRUE((*verifier)->Verify(*sig, "message").ok());
  }
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(internal::EcdsaNoncesReady(nid), 0u);  // and none made since
}

}  // namespace
}  // namespace keyward::crypto
