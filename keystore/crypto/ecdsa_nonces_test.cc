// ECDSA nonces made ahead (internal/ecdsa_nonces.h): each is handed out
// once, a Signer uses them when they are ready and its signatures verify,
// and a forked child takes none of its parent's.
#include "keystore/crypto/internal/ecdsa_nonces.h"

#include <openssl/bn.h>
#include <openssl/obj_mac.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/signature.h"

namespace keyward::crypto {
namespace {

using internal::EcdsaNoncesReady;
using internal::EcdsaNoncesSupported;
using internal::kEcdsaNoncesPerCurve;
using internal::TakeEcdsaNonce;

// WaitFull asks for |nid|'s nonces and waits until the pool is full. The
// maker wakes when a Take leaves 3/4 of the pool or less, so take down to
// that first. It runs at the lowest priority: allow for a busy machine.
bool WaitFull(int nid) {
  do {
    TakeEcdsaNonce(nid);
  } while (EcdsaNoncesReady(nid) > kEcdsaNoncesPerCurve * 3 / 4);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (EcdsaNoncesReady(nid) < kEcdsaNoncesPerCurve) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

std::string Hex(const BIGNUM* bn) {
  char* hex = BN_bn2hex(bn);
  std::string out = hex == nullptr ? "" : hex;
  OPENSSL_free(hex);
  return out;
}

#if defined(OPENSSL_IS_BORINGSSL)
TEST(EcdsaNoncesTest, BoringSslMakesNone) {
  EXPECT_FALSE(EcdsaNoncesSupported());
  EXPECT_FALSE(TakeEcdsaNonce(NID_X9_62_prime256v1).has_value());
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(EcdsaNoncesReady(NID_X9_62_prime256v1), 0u);
}
#else
TEST(EcdsaNoncesTest, OpenSslMakesThem) { EXPECT_TRUE(EcdsaNoncesSupported()); }
#endif

TEST(EcdsaNoncesTest, OtherCurvesGetNone) {
  EXPECT_FALSE(TakeEcdsaNonce(NID_secp256k1).has_value());
  EXPECT_FALSE(TakeEcdsaNonce(NID_undef).has_value());
  EXPECT_EQ(EcdsaNoncesReady(NID_secp256k1), 0u);
}

#if !defined(OPENSSL_IS_BORINGSSL)
TEST(EcdsaNoncesTest, EachNonceIsHandedOutOnce) {
  const int nid = NID_X9_62_prime256v1;
  ASSERT_TRUE(WaitFull(nid));
  // Taken from several threads at once, as signers do; none twice.
  constexpr int kThreads = 4;
  constexpr int kEach = 64;
  std::vector<std::vector<std::string>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (auto nonce = TakeEcdsaNonce(nid)) {
          seen[t].push_back(Hex(nonce->r.get()) + "/" + Hex(nonce->kinv.get()));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> r_values;
  std::set<std::string> distinct;
  size_t taken = 0;
  for (const auto& list : seen) {
    taken += list.size();
    for (const std::string& nonce : list) {
      distinct.insert(nonce);
      r_values.insert(nonce.substr(0, nonce.find('/')));
    }
  }
  EXPECT_GT(taken, 0u);
  EXPECT_EQ(distinct.size(), taken);
  EXPECT_EQ(r_values.size(), taken);
}
#endif  // !OPENSSL_IS_BORINGSSL

class SignerWithNoncesTest : public ::testing::TestWithParam<SignatureAlgorithm> {};

// A Signer on a full pool signs with its nonces (the pool shrinks by one
// per signature: the maker sleeps until it is down to 3/4), and the
// signatures verify; each signature is new. Under BoringSSL there is no
// pool and the signer signs the usual way.
TEST_P(SignerWithNoncesTest, SignsWithReadyNoncesAndVerifies) {
  const SignatureAlgorithm algorithm = GetParam();
  KeyType type = KeyType::kEcdsaP256;
  int nid = NID_X9_62_prime256v1;
  switch (algorithm) {
    case SignatureAlgorithm::kEcdsaP384Sha384Der:
    case SignatureAlgorithm::kEcdsaP384Sha384P1363:
      type = KeyType::kEcdsaP384;
      nid = NID_secp384r1;
      break;
    case SignatureAlgorithm::kEcdsaP521Sha512Der:
    case SignatureAlgorithm::kEcdsaP521Sha512P1363:
      type = KeyType::kEcdsaP521;
      nid = NID_secp521r1;
      break;
    default:
      break;
  }
  absl::StatusOr<SecretData> key = GenerateKeyMaterial(type);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> spki = PublicKeyFromPrivate(type, *key);
  ASSERT_TRUE(spki.ok()) << spki.status();
  auto signer = NewSigner(algorithm, *key);
  auto verifier = NewVerifier(algorithm, *spki);
  ASSERT_TRUE(signer.ok()) << signer.status();
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  if (EcdsaNoncesSupported()) ASSERT_TRUE(WaitFull(nid));

  constexpr size_t kSignatures = 100;  // fewer than a quarter of the pool
  std::set<std::string> signatures;
  for (size_t i = 0; i < kSignatures; ++i) {
    const std::string message = "message " + std::to_string(i % 3);
    absl::StatusOr<std::string> sig = (*signer)->Sign(message);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_TRUE((*verifier)->Verify(*sig, message).ok()) << i;
    EXPECT_FALSE((*verifier)->Verify(*sig, message + "x").ok()) << i;
    signatures.insert(*sig);
  }
  EXPECT_EQ(signatures.size(), kSignatures);
  EXPECT_EQ(EcdsaNoncesReady(nid),
            EcdsaNoncesSupported() ? kEcdsaNoncesPerCurve - kSignatures : 0);
}

INSTANTIATE_TEST_SUITE_P(
    Ecdsa, SignerWithNoncesTest,
    ::testing::Values(SignatureAlgorithm::kEcdsaP256Sha256Der,
                      SignatureAlgorithm::kEcdsaP256Sha256P1363,
                      SignatureAlgorithm::kEcdsaP384Sha384P1363,
                      SignatureAlgorithm::kEcdsaP521Sha512Der));

// A child process must not sign with its parent's nonces: both would use
// each k, and two signatures with one k give away the key.
#if !defined(OPENSSL_IS_BORINGSSL)
TEST(EcdsaNoncesTest, AForkedChildTakesNoneOfItsParents) {
  const int nid = NID_X9_62_prime256v1;
  ASSERT_TRUE(WaitFull(nid));
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    _exit(TakeEcdsaNonce(nid).has_value() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child took a nonce of its parent";
  EXPECT_TRUE(TakeEcdsaNonce(nid).has_value());  // the parent still does
}
#endif  // !OPENSSL_IS_BORINGSSL

}  // namespace
}  // namespace keyward::crypto
