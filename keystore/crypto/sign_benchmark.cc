// Signer::Sign against the bare libcrypto call it wraps (EVP_DigestSignInit +
// EVP_DigestSign on a reused, already parsed EVP_PKEY), for Ed25519, ECDSA
// P-256 and RSA-2048 PSS. The two should be within a few percent: the wrapper
// adds a std::string and, for nothing here, a format conversion.
//
// And a key's decode on its first use: ParsePkcs8Der (which takes the
// Ed25519 and P-256 forms from their parts) against the library's generic
// PKCS#8 decoder (d2i_PKCS8_PRIV_KEY_INFO + EVP_PKCS82PKEY).
//
//   bazel run -c opt //keystore/crypto:sign_benchmark
//   bazel run -c opt --config=boringssl //keystore/crypto:sign_benchmark

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "benchmark/benchmark.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_ptr.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/signature.h"

namespace keyward::crypto {
namespace {

constexpr char kMessage[] = "a 64-byte message, about the size of a token to sign........";

struct Case {
  KeyType key_type;
  SignatureAlgorithm algorithm;
};

constexpr Case kEd25519 = {KeyType::kEd25519, SignatureAlgorithm::kEd25519};
constexpr Case kP256 = {KeyType::kEcdsaP256,
                        SignatureAlgorithm::kEcdsaP256Sha256Der};
constexpr Case kRsa2048 = {KeyType::kRsa2048, SignatureAlgorithm::kRsaPssSha256};

SecretData KeyOrDie(KeyType type) {
  absl::StatusOr<SecretData> key = GenerateKeyMaterial(type);
  if (!key.ok()) std::abort();
  return *std::move(key);
}

void BM_SignerSign(benchmark::State& state, Case c) {
  const SecretData key = KeyOrDie(c.key_type);
  auto signer = NewSigner(c.algorithm, key);
  if (!signer.ok()) std::abort();
  for (auto _ : state) {
    absl::StatusOr<std::string> sig = (*signer)->Sign(kMessage);
    benchmark::DoNotOptimize(sig);
  }
}

void BM_RawEvpDigestSign(benchmark::State& state, Case c) {
  const SecretData key = KeyOrDie(c.key_type);
  auto pkey = internal::ParsePkcs8Der(key.InsecureView());
  if (!pkey.ok()) std::abort();
  const EVP_MD* md = c.key_type == KeyType::kEd25519 ? nullptr : EVP_sha256();
  uint8_t sig[512];
  for (auto _ : state) {
    internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    size_t len = sizeof(sig);
    if (EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, pkey->get()) != 1 ||
        (c.key_type == KeyType::kRsa2048 &&
         (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
          EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
          EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1)) ||
        EVP_DigestSign(ctx.get(), sig, &len,
                       reinterpret_cast<const uint8_t*>(kMessage),
                       sizeof(kMessage) - 1) != 1) {
      std::abort();
    }
    benchmark::DoNotOptimize(sig);
  }
}

void BM_ParsePkcs8Der(benchmark::State& state, Case c) {
  const SecretData key = KeyOrDie(c.key_type);
  for (auto _ : state) {
    auto pkey = internal::ParsePkcs8Der(key.InsecureView());
    if (!pkey.ok()) std::abort();
    benchmark::DoNotOptimize(pkey);
  }
}

void BM_GenericPkcs8Decode(benchmark::State& state, Case c) {
  const SecretData key = KeyOrDie(c.key_type);
  const absl::string_view der = key.InsecureView();
  for (auto _ : state) {
    const uint8_t* p = internal::Bytes(der);
    internal::Pkcs8Ptr p8(
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
    internal::EvpPkeyPtr pkey(p8 == nullptr ? nullptr : EVP_PKCS82PKEY(p8.get()));
    if (pkey == nullptr) std::abort();
    benchmark::DoNotOptimize(pkey);
  }
}

BENCHMARK_CAPTURE(BM_SignerSign, Ed25519, kEd25519);
BENCHMARK_CAPTURE(BM_RawEvpDigestSign, Ed25519, kEd25519);
BENCHMARK_CAPTURE(BM_SignerSign, EcdsaP256, kP256);
BENCHMARK_CAPTURE(BM_RawEvpDigestSign, EcdsaP256, kP256);
BENCHMARK_CAPTURE(BM_SignerSign, RsaPss2048, kRsa2048);
BENCHMARK_CAPTURE(BM_RawEvpDigestSign, RsaPss2048, kRsa2048);
BENCHMARK_CAPTURE(BM_ParsePkcs8Der, Ed25519, kEd25519);
BENCHMARK_CAPTURE(BM_GenericPkcs8Decode, Ed25519, kEd25519);
BENCHMARK_CAPTURE(BM_ParsePkcs8Der, EcdsaP256, kP256);
BENCHMARK_CAPTURE(BM_GenericPkcs8Decode, EcdsaP256, kP256);
BENCHMARK_CAPTURE(BM_ParsePkcs8Der, Rsa2048, kRsa2048);
BENCHMARK_CAPTURE(BM_GenericPkcs8Decode, Rsa2048, kRsa2048);

}  // namespace
}  // namespace keyward::crypto

BENCHMARK_MAIN();
