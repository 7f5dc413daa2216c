#include "keystore/crypto/signature.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/ecdsa_nonces.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_compat.h"
#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto {
namespace {

using internal::BignumPtr;
using internal::Bytes;
using internal::EcdsaSigPtr;
using internal::Error;
using internal::EvpMdCtxPtr;
using internal::EvpPkeyPtr;

constexpr absl::string_view kInvalidSignature = "signature is not valid";

enum class Family { kEd25519, kEcdsa, kRsaPss, kRsaPkcs1 };

// Params is everything the algorithm enum stands for.
struct Params {
  absl::string_view name;
  Family family;
  const EVP_MD* (*md)();  // Null for Ed25519, which hashes internally.
  int curve_nid;          // ECDSA only.
  size_t p1363_width;     // ECDSA P1363 only: bytes of r and of s; 0 = DER.
};

Params ParamsOf(SignatureAlgorithm algorithm) {
  switch (algorithm) {
    case SignatureAlgorithm::kEd25519:
      return {"ED25519", Family::kEd25519, nullptr, 0, 0};
    case SignatureAlgorithm::kEcdsaP256Sha256Der:
      return {"ECDSA-P256-SHA256-DER", Family::kEcdsa, EVP_sha256,
              NID_X9_62_prime256v1, 0};
    case SignatureAlgorithm::kEcdsaP256Sha256P1363:
      return {"ECDSA-P256-SHA256-P1363", Family::kEcdsa, EVP_sha256,
              NID_X9_62_prime256v1, 32};
    case SignatureAlgorithm::kEcdsaP384Sha384Der:
      return {"ECDSA-P384-SHA384-DER", Family::kEcdsa, EVP_sha384,
              NID_secp384r1, 0};
    case SignatureAlgorithm::kEcdsaP384Sha384P1363:
      return {"ECDSA-P384-SHA384-P1363", Family::kEcdsa, EVP_sha384,
              NID_secp384r1, 48};
    case SignatureAlgorithm::kEcdsaP521Sha512Der:
      return {"ECDSA-P521-SHA512-DER", Family::kEcdsa, EVP_sha512,
              NID_secp521r1, 0};
    case SignatureAlgorithm::kEcdsaP521Sha512P1363:
      return {"ECDSA-P521-SHA512-P1363", Family::kEcdsa, EVP_sha512,
              NID_secp521r1, 66};
    case SignatureAlgorithm::kRsaPssSha256:
      return {"RSA-PSS-SHA256", Family::kRsaPss, EVP_sha256, 0, 0};
    case SignatureAlgorithm::kRsaPssSha384:
      return {"RSA-PSS-SHA384", Family::kRsaPss, EVP_sha384, 0, 0};
    case SignatureAlgorithm::kRsaPssSha512:
      return {"RSA-PSS-SHA512", Family::kRsaPss, EVP_sha512, 0, 0};
    case SignatureAlgorithm::kRsaPkcs1Sha256:
      return {"RSA-PKCS1-SHA256", Family::kRsaPkcs1, EVP_sha256, 0, 0};
    case SignatureAlgorithm::kRsaPkcs1Sha384:
      return {"RSA-PKCS1-SHA384", Family::kRsaPkcs1, EVP_sha384, 0, 0};
    case SignatureAlgorithm::kRsaPkcs1Sha512:
      return {"RSA-PKCS1-SHA512", Family::kRsaPkcs1, EVP_sha512, 0, 0};
  }
  return {"UNKNOWN", Family::kEd25519, nullptr, -1, 0};
}

// CheckKey returns OK if |pkey| is the kind of key |params| needs.
absl::Status CheckKey(const Params& params, const EVP_PKEY* pkey) {
  bool ok = false;
  switch (params.family) {
    case Family::kEd25519:
      ok = EVP_PKEY_id(pkey) == EVP_PKEY_ED25519;
      break;
    case Family::kEcdsa:
      ok = EVP_PKEY_id(pkey) == EVP_PKEY_EC &&
           internal::EcCurveNid(pkey) == params.curve_nid;
      break;
    case Family::kRsaPss:
    case Family::kRsaPkcs1:
      ok = EVP_PKEY_id(pkey) == EVP_PKEY_RSA &&
           internal::IsOfferedRsaSize(EVP_PKEY_bits(pkey));
      break;
  }
  if (params.curve_nid < 0) ok = false;  // Unknown enum value.
  if (ok) return absl::OkStatus();
  return Error(absl::StatusCode::kInvalidArgument,
               absl::StrCat("key does not match algorithm ", params.name,
                            ": got an ", internal::DescribeKey(pkey),
                            " key (RSA keys must be 2048, 3072 or 4096 bits)"));
}

// SetPadding sets |params|' RSA padding on |pctx| (nothing for other keys):
// PSS uses MGF1 with the message hash and a salt as long as that hash.
bool SetPadding(const Params& params, EVP_PKEY_CTX* pctx) {
  switch (params.family) {
    case Family::kRsaPss:
      return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, params.md()) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                              EVP_MD_size(params.md())) == 1;
    case Family::kRsaPkcs1:
      return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    default:
      return true;
  }
}

// InitDigest starts a sign or verify operation on |ctx| with |params|' hash
// and padding.
bool InitDigest(const Params& params, EVP_MD_CTX* ctx, EVP_PKEY* pkey,
                bool sign) {
  EVP_PKEY_CTX* pctx = nullptr;  // Owned by |ctx|.
  const EVP_MD* md = params.md == nullptr ? nullptr : params.md();
  if ((sign ? EVP_DigestSignInit(ctx, &pctx, md, nullptr, pkey)
            : EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, pkey)) != 1) {
    return false;
  }
  return SetPadding(params, pctx);
}

// CheckDigest: OK if |params| signs digests and |digest| has its hash's size.
absl::Status CheckDigest(const Params& params, absl::string_view digest) {
  if (params.family == Family::kEd25519 || params.md == nullptr) {
    return Error(absl::StatusCode::kInvalidArgument,
                 "Ed25519 signs whole messages, not digests; send the data");
  }
  const size_t want = EVP_MD_size(params.md());
  if (digest.size() != want) {
    return Error(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("the digest is ", digest.size(), " bytes; ",
                              params.name, " takes a ", want, "-byte digest"));
  }
  return absl::OkStatus();
}

// InitPkey starts a sign or verify operation over a digest.
internal::EvpPkeyCtxPtr InitPkey(const Params& params, EVP_PKEY* pkey,
                                 bool sign) {
  internal::EvpPkeyCtxPtr pctx(EVP_PKEY_CTX_new(pkey, nullptr));
  if (pctx == nullptr ||
      (sign ? EVP_PKEY_sign_init(pctx.get()) : EVP_PKEY_verify_init(pctx.get())) != 1 ||
      !SetPadding(params, pctx.get()) ||
      EVP_PKEY_CTX_set_signature_md(pctx.get(), params.md()) != 1) {
    return nullptr;
  }
  return pctx;
}

// EncodeEcdsaSig writes |sig| as DER to |out|.
bool EncodeEcdsaSig(const ECDSA_SIG* sig, std::string* out) {
  const int len = i2d_ECDSA_SIG(sig, nullptr);
  if (len <= 0) return false;
  out->assign(len, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(out->data());
  return i2d_ECDSA_SIG(sig, &p) == len;
}

// IsStrictDerEcdsaSig says whether |der| is an Ecdsa-Sig-Value in DER and
// nothing else: the parsed value is re-encoded and must give back |der| byte
// for byte. OpenSSL 3's d2i parser takes BER, but its ECDSA_verify makes the
// same re-encoding check inside (since CVE-2014-8275), and BoringSSL's parser
// is strict; this keeps Verify's contract from resting on either detail, for
// well under a microsecond.
bool IsStrictDerEcdsaSig(absl::string_view der) {
  const uint8_t* p = Bytes(der);
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  std::string reencoded;
  return sig != nullptr && p == Bytes(der) + der.size() &&
         EncodeEcdsaSig(sig.get(), &reencoded) && reencoded == der;
}

// EncodeEcdsaSigP1363 writes |sig| as r || s of |width| bytes each.
bool EncodeEcdsaSigP1363(const ECDSA_SIG* sig, size_t width, std::string* out) {
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  out->assign(2 * width, '\0');
  uint8_t* o = reinterpret_cast<uint8_t*>(out->data());
  return BN_bn2binpad(r, o, width) == static_cast<int>(width) &&
         BN_bn2binpad(s, o + width, width) == static_cast<int>(width);
}

// DerToP1363 converts a DER ECDSA signature to r || s of |width| bytes each.
bool DerToP1363(absl::string_view der, size_t width, std::string* out) {
  const uint8_t* p = Bytes(der);
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  return sig != nullptr && EncodeEcdsaSigP1363(sig.get(), width, out);
}

// P1363ToDer converts r || s (|width| bytes each) to DER.
bool P1363ToDer(absl::string_view p1363, size_t width, std::string* out) {
  if (p1363.size() != 2 * width) return false;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BignumPtr r(BN_bin2bn(Bytes(p1363), width, nullptr));
  BignumPtr s(BN_bin2bn(Bytes(p1363) + width, width, nullptr));
  if (sig == nullptr || r == nullptr || s == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return false;
  }
  r.release();  // Now owned by |sig|.
  s.release();
  return EncodeEcdsaSig(sig.get(), out);
}

// SignerImpl keeps the parsed key and a signing context started once on it
// (hash, padding); each Sign copies that context, which costs a fraction of
// starting one (libcrypto's algorithm lookup and key checks), or starts its
// own where libcrypto cannot copy it (BoringSSL's Ed25519). An ECDSA signer
// signs with a nonce made ahead when one is ready (internal/ecdsa_nonces.h)
// and the usual way when not. Nothing is changed after construction, so the
// object can be shared across threads.
class SignerImpl final : public Signer {
 public:
  SignerImpl(const Params& params, EvpPkeyPtr pkey)
      : params_(params),
        max_size_(EVP_PKEY_size(pkey.get())),
        pkey_(std::move(pkey)),
        started_(EVP_MD_CTX_new()) {
    EvpMdCtxPtr probe(EVP_MD_CTX_new());
    if (started_ == nullptr || probe == nullptr ||
        !InitDigest(params_, started_.get(), pkey_.get(), true) ||
        EVP_MD_CTX_copy_ex(probe.get(), started_.get()) != 1) {
      started_.reset();
      ERR_clear_error();
    }
    if (params_.family == Family::kEcdsa && internal::EcdsaNoncesEnabled()) {
      ec_key_ = internal::EcKeyForSignSetup(pkey_.get());
    }
  }

  absl::StatusOr<std::string> Sign(absl::string_view data) const override {
    if (std::optional<std::string> sig = SignWithReadyNonce(data, false)) {
      return *std::move(sig);
    }
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    std::string sig(max_size_, '\0');
    size_t len = sig.size();
    if (ctx == nullptr || !Start(ctx.get()) ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<uint8_t*>(sig.data()), &len,
                       Bytes(data), data.size()) != 1) {
      return Error(absl::StatusCode::kInternal, "signing failed");
    }
    return Encode(std::move(sig), len);
  }

  absl::StatusOr<std::string> SignDigest(
      absl::string_view digest) const override {
    absl::Status fits = CheckDigest(params_, digest);
    if (!fits.ok()) return fits;
    if (std::optional<std::string> sig = SignWithReadyNonce(digest, true)) {
      return *std::move(sig);
    }
    internal::EvpPkeyCtxPtr pctx = InitPkey(params_, pkey_.get(), true);
    std::string sig(max_size_, '\0');
    size_t len = sig.size();
    if (pctx == nullptr ||
        EVP_PKEY_sign(pctx.get(), reinterpret_cast<uint8_t*>(sig.data()), &len,
                      Bytes(digest), digest.size()) != 1) {
      return Error(absl::StatusCode::kInternal, "signing failed");
    }
    return Encode(std::move(sig), len);
  }

 private:
  // SignWithReadyNonce signs |input| (the message, or its digest if
  // |is_digest|) with a nonce made ahead, if this is an ECDSA signer and one
  // is ready; else nullopt, and the caller signs the usual way. The nonce
  // is freed (wiped) here, used or not.
  std::optional<std::string> SignWithReadyNonce(absl::string_view input,
                                                bool is_digest) const {
    if (ec_key_ == nullptr) return std::nullopt;
    std::optional<internal::EcdsaNonce> nonce =
        internal::TakeEcdsaNonce(params_.curve_nid);
    if (!nonce) return std::nullopt;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (!is_digest) {
      if (EVP_Digest(input.data(), input.size(), digest, &digest_len,
                     params_.md(), nullptr) != 1) {
        ERR_clear_error();
        return std::nullopt;
      }
      input = absl::string_view(reinterpret_cast<const char*>(digest),
                                digest_len);
    }
    EcdsaSigPtr sig = internal::EcdsaSignWithSetup(
        input, nonce->kinv.get(), nonce->r.get(), ec_key_.get());
    std::string out;
    if (sig == nullptr ||
        !(params_.p1363_width == 0
              ? EncodeEcdsaSig(sig.get(), &out)
              : EncodeEcdsaSigP1363(sig.get(), params_.p1363_width, &out))) {
      return std::nullopt;
    }
    return out;
  }

  // Encode trims |sig| to |len| and converts ECDSA DER to P1363 if asked.
  absl::StatusOr<std::string> Encode(std::string sig, size_t len) const {
    sig.resize(len);
    if (params_.p1363_width == 0) return sig;
    std::string p1363;
    if (!DerToP1363(sig, params_.p1363_width, &p1363)) {
      return Error(absl::StatusCode::kInternal, "signing failed");
    }
    return p1363;
  }

  // Start readies `ctx` to sign: a copy of `started_`, or a new start.
  bool Start(EVP_MD_CTX* ctx) const {
    if (started_ != nullptr) {
      return EVP_MD_CTX_copy_ex(ctx, started_.get()) == 1;
    }
    return InitDigest(params_, ctx, pkey_.get(), true);
  }

  const Params params_;
  const size_t max_size_;
  const EvpPkeyPtr pkey_;
  EvpMdCtxPtr started_;  // null if it could not be started
  // ECDSA with nonces made ahead only: the key in the form libcrypto signs
  // with them (ossl_compat.h, EcKeyForSignSetup); else null.
  internal::EcKeyPtr ec_key_;
};

// VerifierImpl keeps the parsed key, like SignerImpl.
class VerifierImpl final : public Verifier {
 public:
  VerifierImpl(const Params& params, EvpPkeyPtr pkey)
      : params_(params),
        max_size_(EVP_PKEY_size(pkey.get())),
        pkey_(std::move(pkey)) {}

  absl::Status Verify(absl::string_view signature,
                      absl::string_view data) const override {
    return Check(signature, data, /*is_digest=*/false);
  }

  absl::Status VerifyDigest(absl::string_view signature,
                            absl::string_view digest) const override {
    absl::Status fits = CheckDigest(params_, digest);
    if (!fits.ok()) return fits;
    return Check(signature, digest, /*is_digest=*/true);
  }

 private:
  absl::Status Check(absl::string_view signature, absl::string_view input,
                     bool is_digest) const {
    // Encoding checks first: libcrypto is lenient about some of them.
    std::string der;
    switch (params_.family) {
      case Family::kEd25519:
        if (signature.size() != 64) return Invalid();
        break;
      case Family::kEcdsa:
        if (params_.p1363_width != 0) {
          if (!P1363ToDer(signature, params_.p1363_width, &der)) {
            return Invalid();
          }
          signature = der;
        } else if (!IsStrictDerEcdsaSig(signature)) {
          return Invalid();
        }
        break;
      case Family::kRsaPss:
      case Family::kRsaPkcs1:
        if (signature.size() != max_size_) return Invalid();
        break;
    }
    if (is_digest) {
      internal::EvpPkeyCtxPtr pctx = InitPkey(params_, pkey_.get(), false);
      if (pctx == nullptr) {
        return Error(absl::StatusCode::kInternal, "verification failed");
      }
      if (EVP_PKEY_verify(pctx.get(), Bytes(signature), signature.size(),
                          Bytes(input), input.size()) != 1) {
        return Invalid();
      }
      return absl::OkStatus();
    }
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx == nullptr ||
        !InitDigest(params_, ctx.get(), pkey_.get(), false)) {
      return Error(absl::StatusCode::kInternal, "verification failed");
    }
    if (EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(),
                         Bytes(input), input.size()) != 1) {
      return Invalid();
    }
    return absl::OkStatus();
  }

  static absl::Status Invalid() {
    return Error(absl::StatusCode::kInvalidArgument, kInvalidSignature);
  }

  const Params params_;
  const size_t max_size_;
  const EvpPkeyPtr pkey_;
};

}  // namespace

absl::string_view SignatureAlgorithmName(SignatureAlgorithm algorithm) {
  return ParamsOf(algorithm).name;
}

void DisableEcdsaNoncesAhead() { internal::DisableEcdsaNonces(); }

absl::StatusOr<std::unique_ptr<Signer>> NewSigner(
    SignatureAlgorithm algorithm, const SecretData& pkcs8_der) {
  const Params params = ParamsOf(algorithm);
  absl::StatusOr<EvpPkeyPtr> pkey =
      internal::ParsePkcs8Der(pkcs8_der.InsecureView());
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckKey(params, pkey->get());
  if (!status.ok()) return status;
  return std::unique_ptr<Signer>(new SignerImpl(params, *std::move(pkey)));
}

absl::StatusOr<std::unique_ptr<Verifier>> NewVerifier(
    SignatureAlgorithm algorithm, absl::string_view spki_der) {
  const Params params = ParamsOf(algorithm);
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(spki_der);
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckKey(params, pkey->get());
  if (!status.ok()) return status;
  return std::unique_ptr<Verifier>(new VerifierImpl(params, *std::move(pkey)));
}

}  // namespace keyward::crypto
