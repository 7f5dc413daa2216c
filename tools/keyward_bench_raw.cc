// keyward-bench's raw crypto baseline (keyward_bench_raw.h).
#include "tools/keyward_bench_raw.h"

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jws.h"
#include "keystore/jose/jwt.h"

namespace keyward::bench {

std::string Payload(size_t n) {
  std::string p(n, '\0');
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>('a' + i % 26);
  return p;
}

std::string JwtClaims(size_t size) {
  return absl::StrCat("{\"sub\":\"keyward-bench\",\"data\":\"",
                      Payload(size > 40 ? size - 40 : 1), "\"}");
}

namespace {

// The raw jwt-sign / jwt-verify of (a): keystore/jose issuing (parse the
// claims, add iat/nbf/exp/jti, sign, encode) or verifying (parse, check
// the signature and the claims) the same token, with the algorithm the
// daemon gives a JWT key of `type`.
absl::StatusOr<std::function<void()>> RawJwt(Op op, const KeyTypeInfo& type,
                                             size_t payload) {
  std::optional<jose::JwsSigningKey> signing;
  std::optional<jose::JwsVerificationKey> verification;
  if (type.type == crypto::KeyType::kHmacSha256) {
    std::shared_ptr<const crypto::Mac> mac;
    auto made = crypto::Hmac::Create(crypto::HashType::kSha256,
                                     crypto::SecretData::Random(32));
    if (!made.ok()) return made.status();
    mac = std::move(*made);
    const jose::JwsAlgorithm alg = jose::JwsAlgorithm::kHs256;
    auto s = jose::JwsSigningKey::ForMac(alg, mac);
    if (!s.ok()) return s.status();
    auto v = jose::JwsVerificationKey::ForMac(alg, mac);
    if (!v.ok()) return v.status();
    signing = *s;
    verification = *v;
  } else {
    crypto::SignatureAlgorithm alg =
        type.type == crypto::KeyType::kEd25519     ? crypto::SignatureAlgorithm::kEd25519
        : type.type == crypto::KeyType::kEcdsaP256 ? crypto::SignatureAlgorithm::kEcdsaP256Sha256P1363
                                                   : crypto::SignatureAlgorithm::kRsaPkcs1Sha256;
    auto jws_alg = jose::JwsAlgorithmForSignature(alg);
    if (!jws_alg) return absl::InternalError("no JWS algorithm");
    auto material = crypto::GenerateKeyMaterial(type.type);
    if (!material.ok()) return material.status();
    auto signer = crypto::NewSigner(alg, *material);
    if (!signer.ok()) return signer.status();
    auto spki = crypto::PublicKeyFromPrivate(type.type, *material);
    if (!spki.ok()) return spki.status();
    auto verifier = crypto::NewVerifier(alg, *spki);
    if (!verifier.ok()) return verifier.status();
    auto s = jose::JwsSigningKey::ForSigner(
        *jws_alg, std::shared_ptr<const crypto::Signer>(std::move(*signer)),
        "bench:v1");
    if (!s.ok()) return s.status();
    auto v = jose::JwsVerificationKey::ForVerifier(
        *jws_alg, std::shared_ptr<const crypto::Verifier>(std::move(*verifier)));
    if (!v.ok()) return v.status();
    signing = *s;
    verification = *v;
  }
  const std::string claims = JwtClaims(payload);
  auto sign = [signing = *signing, claims]() -> absl::StatusOr<std::string> {
    auto parsed = jose::ParseJsonObject(claims);
    if (!parsed.ok()) return parsed.status();
    jose::JwtSignOptions options;
    options.now = absl::Now();
    options.ttl = absl::Hours(1);
    auto jwt = jose::SignJwt(*parsed, signing, options);
    if (!jwt.ok()) return jwt.status();
    return jwt->token;
  };
  if (op == Op::kJwtSign) {
    return std::function<void()>([sign]() {
      if (!sign().ok()) Die("raw SignJwt failed");
    });
  }
  auto token = sign();
  if (!token.ok()) return token.status();
  return std::function<void()>([verification = *verification, token = *token]() {
    jose::JwtVerifyOptions options;
    options.now = absl::Now();
    if (!jose::VerifyJwt(token, verification, options).ok()) {
      Die("raw VerifyJwt failed");
    }
  });
}

}  // namespace

absl::StatusOr<std::function<void()>> RawOp(Op op, const KeyTypeInfo& type,
                                            const std::string& payload) {
  const std::string data = payload;
  switch (op) {
    case Op::kJwtSign:
    case Op::kJwtVerify:
      return RawJwt(op, type, payload.size());
    case Op::kSign:
    case Op::kSignBatch:
    case Op::kVerify: {
      if (!IsSigning(type)) {
        return absl::UnimplementedError(absl::StrCat(
            "no raw baseline for ", NameOf(op), " with ", type.name()));
      }
      auto material = crypto::GenerateKeyMaterial(type.type);
      if (!material.ok()) return material.status();
      const crypto::SignatureAlgorithm alg = type.algorithm;
      const std::string message = data;
      auto signer = crypto::NewSigner(alg, *material);
      if (!signer.ok()) return signer.status();
      std::shared_ptr<crypto::Signer> s(std::move(*signer));
      if (op == Op::kVerify) {
        auto spki = crypto::PublicKeyFromPrivate(type.type, *material);
        if (!spki.ok()) return spki.status();
        auto verifier = crypto::NewVerifier(alg, *spki);
        if (!verifier.ok()) return verifier.status();
        auto sig = s->Sign(message);
        if (!sig.ok()) return sig.status();
        std::shared_ptr<crypto::Verifier> v(std::move(*verifier));
        return std::function<void()>([v, message, sig = *sig]() {
          if (!v->Verify(sig, message).ok()) Die("raw verify failed");
        });
      }
      return std::function<void()>([s, message]() {
        if (!s->Sign(message).ok()) Die("raw sign failed");
      });
    }
    case Op::kEncrypt:
    case Op::kDecrypt: {
      if (type.type == crypto::KeyType::kRsa2048) {
        auto material = crypto::GenerateKeyMaterial(type.type);
        if (!material.ok()) return material.status();
        auto spki = crypto::PublicKeyFromPrivate(type.type, *material);
        if (!spki.ok()) return spki.status();
        auto enc = crypto::NewAsymmetricEncrypter(*spki);
        if (!enc.ok()) return enc.status();
        std::shared_ptr<crypto::AsymmetricEncrypter> e(std::move(*enc));
        if (op == Op::kEncrypt) {
          return std::function<void()>([e, data]() {
            if (!e->Encrypt(data, "").ok()) Die("raw RSA encrypt failed");
          });
        }
        auto dec = crypto::NewAsymmetricDecrypter(*material);
        if (!dec.ok()) return dec.status();
        auto ct = e->Encrypt(data, "");
        if (!ct.ok()) return ct.status();
        std::shared_ptr<crypto::AsymmetricDecrypter> d(std::move(*dec));
        return std::function<void()>([d, ct = *ct]() {
          if (!d->Decrypt(ct, "").ok()) Die("raw RSA decrypt failed");
        });
      }
      auto aead = crypto::AesGcm::Create(crypto::SecretData::Random(32));
      if (!aead.ok()) return aead.status();
      std::shared_ptr<crypto::Aead> a(std::move(*aead));
      if (op == Op::kEncrypt) {
        return std::function<void()>([a, data]() {
          if (!a->Encrypt(data, "").ok()) Die("raw encrypt failed");
        });
      }
      auto ct = a->Encrypt(data, "");
      if (!ct.ok()) return ct.status();
      return std::function<void()>([a, ct = *ct]() {
        if (!a->Decrypt(ct, "").ok()) Die("raw decrypt failed");
      });
    }
    case Op::kMac: {
      auto mac = crypto::Hmac::Create(crypto::HashType::kSha256,
                                      crypto::SecretData::Random(32));
      if (!mac.ok()) return mac.status();
      std::shared_ptr<crypto::Mac> m(std::move(*mac));
      return std::function<void()>([m, data]() {
        if (!m->ComputeMac(data).ok()) Die("raw MAC failed");
      });
    }
    case Op::kNoop:
      break;
  }
  return absl::UnimplementedError("noop has no raw baseline");
}

}  // namespace keyward::bench
