// ECDSA nonces made ahead (internal/ecdsa_nonces.h): each is handed out
// once, a Signer uses them when they are ready and its signatures verify,
// and a forked child takes none of its parent's.
#include "keystore/crypto/internal/ecdsa_nonces.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_compat.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/signature.h"

namespace keyward::crypto {
namespace {

using internal::EcdsaNoncesReady;
using internal::EcdsaNoncesSettled;
using internal::EcdsaNoncesSupported;
using internal::kEcdsaNoncesPerCurve;
using internal::TakeEcdsaNonce;

// WaitFull asks for |nid|'s nonces and waits until its pool is full and
// the maker sleeps (so that nothing is added until a Take leaves 3/4 of
// the pool). The maker wakes when a Take leaves 3/4 or less, so take down
// to that first. Only for P-256: its nonces cost ~20 us each, and the maker
// runs at the lowest priority, so on a busy machine a full P-384 pool
// (~0.5 ms each) could take minutes.
bool WaitFull(int nid) {
  do {
    TakeEcdsaNonce(nid);
  } while (EcdsaNoncesReady(nid) > kEcdsaNoncesPerCurve * 3 / 4);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (EcdsaNoncesReady(nid) < kEcdsaNoncesPerCurve || !EcdsaNoncesSettled()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// TakeOne waits until a nonce for |nid| is ready and takes it.
std::optional<internal::EcdsaNonce> TakeOne(int nid) {
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (absl::Now() < deadline) {
    if (auto nonce = TakeEcdsaNonce(nid)) return nonce;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return std::nullopt;
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
  const KeyType type = KeyType::kEcdsaP256;
  const int nid = NID_X9_62_prime256v1;
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
                      SignatureAlgorithm::kEcdsaP256Sha256P1363));

#if !defined(OPENSSL_IS_BORINGSSL)
// P-384 and P-521 (SHA-512 over a 521-bit order): a nonce of the curve's
// own pool signs a digest, and the signature verifies.
TEST(EcdsaNoncesTest, NoncesOfEachCurveSign) {
  const struct {
    SignatureAlgorithm algorithm;
    KeyType type;
    int nid;
    const EVP_MD* (*md)();
  } cases[] = {
      {SignatureAlgorithm::kEcdsaP384Sha384Der, KeyType::kEcdsaP384,
       NID_secp384r1, EVP_sha384},
      {SignatureAlgorithm::kEcdsaP521Sha512Der, KeyType::kEcdsaP521,
       NID_secp521r1, EVP_sha512},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.nid);
    absl::StatusOr<SecretData> key = GenerateKeyMaterial(c.type);
    ASSERT_TRUE(key.ok()) << key.status();
    absl::StatusOr<std::string> spki = PublicKeyFromPrivate(c.type, *key);
    ASSERT_TRUE(spki.ok()) << spki.status();
    auto pkey = internal::ParsePkcs8Der(key->InsecureView());
    ASSERT_TRUE(pkey.ok()) << pkey.status();
    internal::EcKeyPtr ec = internal::EcKeyForSignSetup(pkey->get());
    ASSERT_NE(ec, nullptr);
    auto verifier = NewVerifier(c.algorithm, *spki);
    ASSERT_TRUE(verifier.ok()) << verifier.status();

    std::optional<internal::EcdsaNonce> nonce = TakeOne(c.nid);
    ASSERT_TRUE(nonce.has_value()) << "no nonce made in 120 s";
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASSERT_EQ(EVP_Digest("message", 7, digest, &len, c.md(), nullptr), 1);
    const std::string d(reinterpret_cast<char*>(digest), len);
    internal::EcdsaSigPtr sig = internal::EcdsaSignWithSetup(
        d, nonce->kinv.get(), nonce->r.get(), ec.get());
    ASSERT_NE(sig, nullptr);
    const int der_len = i2d_ECDSA_SIG(sig.get(), nullptr);
    ASSERT_GT(der_len, 0);
    std::string der(der_len, '\0');
    uint8_t* p = reinterpret_cast<uint8_t*>(der.data());
    ASSERT_EQ(i2d_ECDSA_SIG(sig.get(), &p), der_len);
    EXPECT_TRUE((*verifier)->VerifyDigest(der, d).ok());
    EXPECT_TRUE((*verifier)->Verify(der, "message").ok());
    EXPECT_FALSE((*verifier)->Verify(der, "massage").ok());
  }
}
#endif  // !OPENSSL_IS_BORINGSSL

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
