#include "keystore/crypto/ecdh.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_compat.h"
#include "keystore/crypto/internal/ossl_ptr.h"
#include "keystore/crypto/keys.h"

namespace keyward::crypto {
namespace {

using internal::Bytes;
using internal::Error;
using internal::EvpMdCtxPtr;
using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;

constexpr size_t kSharedSize = 32;
constexpr absl::string_view kBadPeer =
    "the peer public key is not a valid P-256 point";

bool IsP256(const EVP_PKEY* pkey) {
  return EVP_PKEY_id(pkey) == EVP_PKEY_EC &&
         internal::EcCurveNid(pkey) == NID_X9_62_prime256v1;
}

// ParsePeer parses and checks a peer's public key. The point decoding in
// d2i_PUBKEY already refuses points off the curve, in both libraries;
// EC_KEY_check_key checks again (on the curve, not infinity, order n) so
// that the contract does not rest on that detail.
//
// Only the named-curve encoding is taken: explicit curve parameters (which
// OpenSSL 3 may match to P-256 while they carry, say, another cofactor)
// are refused by looking at the AlgorithmIdentifier's bytes.
absl::StatusOr<EvpPkeyPtr> ParsePeer(absl::string_view spki_der) {
  // SEQUENCE (short length) { SEQUENCE { ecPublicKey, prime256v1 }, ... }.
  constexpr absl::string_view kNamedP256(
      "\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48"
      "\xce\x3d\x03\x01\x07",
      21);
  if (spki_der.size() < 2 + kNamedP256.size() || spki_der[0] != 0x30 ||
      (static_cast<uint8_t>(spki_der[1]) & 0x80) != 0 ||
      spki_der.substr(2, kNamedP256.size()) != kNamedP256) {
    return absl::InvalidArgumentError(kBadPeer);
  }
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(spki_der);
  if (!pkey.ok() || !IsP256(pkey->get())) {
    return Error(absl::StatusCode::kInvalidArgument, kBadPeer);
  }
  const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(pkey->get());
  if (ec == nullptr || EC_KEY_check_key(ec) != 1) {
    return Error(absl::StatusCode::kInvalidArgument, kBadPeer);
  }
  return pkey;
}

// Derive returns Z for |own| and the checked |peer|.
absl::StatusOr<SecretData> Derive(EVP_PKEY* own, EVP_PKEY* peer) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(own, nullptr));
  SecretData z = SecretData::Zeroed(kSharedSize);
  size_t len = z.size();
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), z.InsecureMutableData(), &len) != 1 ||
      len != kSharedSize) {
    return Error(absl::StatusCode::kInvalidArgument, kBadPeer);
  }
  return z;
}

class EcdhP256Impl final : public EcdhPrivateKey {
 public:
  explicit EcdhP256Impl(EvpPkeyPtr pkey) : pkey_(std::move(pkey)) {}

  absl::StatusOr<SecretData> ComputeSharedSecret(
      absl::string_view peer_spki_der) const override {
    absl::StatusOr<EvpPkeyPtr> peer = ParsePeer(peer_spki_der);
    if (!peer.ok()) return peer.status();
    return Derive(pkey_.get(), peer->get());
  }

 private:
  const EvpPkeyPtr pkey_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EcdhPrivateKey>> NewEcdhP256PrivateKey(
    const SecretData& pkcs8_der) {
  absl::StatusOr<EvpPkeyPtr> pkey =
      internal::ParsePkcs8Der(pkcs8_der.InsecureView());
  if (!pkey.ok()) return pkey.status();
  if (!IsP256(pkey->get())) {
    return Error(absl::StatusCode::kInvalidArgument,
                 "ECDH needs an EC P-256 private key, got an " +
                     internal::DescribeKey(pkey->get()) + " key");
  }
  return std::unique_ptr<EcdhPrivateKey>(new EcdhP256Impl(*std::move(pkey)));
}

absl::StatusOr<EcdhEphemeralResult> EcdhP256Ephemeral(
    absl::string_view recipient_spki_der) {
  absl::StatusOr<EvpPkeyPtr> peer = ParsePeer(recipient_spki_der);
  if (!peer.ok()) return peer.status();
  absl::StatusOr<SecretData> pkcs8 = GenerateKeyMaterial(KeyType::kEcdhP256);
  if (!pkcs8.ok()) return pkcs8.status();
  absl::StatusOr<EvpPkeyPtr> own = internal::ParsePkcs8Der(pkcs8->InsecureView());
  if (!own.ok()) return own.status();
  absl::StatusOr<SecretData> z = Derive(own->get(), peer->get());
  if (!z.ok()) return z.status();
  absl::StatusOr<std::string> spki = internal::MarshalSpkiDer(own->get());
  if (!spki.ok()) return spki.status();
  return EcdhEphemeralResult{*std::move(z), *std::move(spki)};
}

absl::StatusOr<SecretData> ConcatKdfSha256(const SecretData& z,
                                           absl::string_view other_info,
                                           size_t out_len) {
  if (z.empty() || out_len == 0 || out_len > 1024) {
    return absl::InvalidArgumentError(
        "Concat KDF needs a non-empty secret and 1 to 1024 output bytes");
  }
  SecretData out = SecretData::Zeroed(out_len);
  uint8_t block[EVP_MAX_MD_SIZE];
  size_t done = 0;
  for (uint32_t counter = 1; done < out_len; ++counter) {
    const uint8_t be[4] = {static_cast<uint8_t>(counter >> 24),
                           static_cast<uint8_t>(counter >> 16),
                           static_cast<uint8_t>(counter >> 8),
                           static_cast<uint8_t>(counter)};
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    unsigned int len = 0;
    if (ctx == nullptr ||
        EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), be, sizeof(be)) != 1 ||
        EVP_DigestUpdate(ctx.get(), z.InsecureView().data(), z.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), other_info.data(), other_info.size()) !=
            1 ||
        EVP_DigestFinal_ex(ctx.get(), block, &len) != 1 || len != 32) {
      OPENSSL_cleanse(block, sizeof(block));
      return Error(absl::StatusCode::kInternal, "SHA-256 failed");
    }
    const size_t take = std::min<size_t>(len, out_len - done);
    std::copy(block, block + take, out.InsecureMutableData() + done);
    done += take;
  }
  OPENSSL_cleanse(block, sizeof(block));
  return out;
}

}  // namespace keyward::crypto
