#include "keystore/crypto/rsa_pss.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto {
namespace {

using internal::Bytes;
using internal::Error;
using internal::EvpMdCtxPtr;
using internal::EvpPkeyPtr;

const EVP_MD* HashMd(RsaPssHash hash) {
  return hash == RsaPssHash::kSha384 ? EVP_sha384() : EVP_sha512();
}

absl::Status CheckRsaKey(const EVP_PKEY* pkey) {
  if (EVP_PKEY_id(pkey) == EVP_PKEY_RSA &&
      internal::IsOfferedRsaSize(EVP_PKEY_bits(pkey))) {
    return absl::OkStatus();
  }
  return Error(absl::StatusCode::kInvalidArgument,
               absl::StrCat("RSA-PSS needs an RSA key of 2048, 3072 or 4096 "
                            "bits, got an ",
                            internal::DescribeKey(pkey), " key"));
}

// Init starts a PSS sign or verify operation with |hash| on |ctx|.
bool Init(RsaPssHash hash, EVP_MD_CTX* ctx, EVP_PKEY* pkey, bool sign) {
  EVP_PKEY_CTX* pctx = nullptr;  // Owned by |ctx|.
  const EVP_MD* md = HashMd(hash);
  if ((sign ? EVP_DigestSignInit(ctx, &pctx, md, nullptr, pkey)
            : EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, pkey)) != 1) {
    return false;
  }
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EVP_MD_size(md)) == 1;
}

class SignerImpl final : public Signer {
 public:
  SignerImpl(RsaPssHash hash, EvpPkeyPtr pkey)
      : hash_(hash),
        size_(EVP_PKEY_size(pkey.get())),
        pkey_(std::move(pkey)) {}

  absl::StatusOr<std::string> Sign(absl::string_view data) const override {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    std::string sig(size_, '\0');
    size_t len = sig.size();
    if (ctx == nullptr || !Init(hash_, ctx.get(), pkey_.get(), true) ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<uint8_t*>(sig.data()), &len,
                       Bytes(data), data.size()) != 1 ||
        len != size_) {
      return Error(absl::StatusCode::kInternal, "signing failed");
    }
    return sig;
  }

 private:
  const RsaPssHash hash_;
  const size_t size_;
  const EvpPkeyPtr pkey_;
};

class VerifierImpl final : public Verifier {
 public:
  VerifierImpl(RsaPssHash hash, EvpPkeyPtr pkey)
      : hash_(hash),
        size_(EVP_PKEY_size(pkey.get())),
        pkey_(std::move(pkey)) {}

  absl::Status Verify(absl::string_view signature,
                      absl::string_view data) const override {
    if (signature.size() != size_) return Invalid();
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx == nullptr || !Init(hash_, ctx.get(), pkey_.get(), false)) {
      return Error(absl::StatusCode::kInternal, "verification failed");
    }
    if (EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(),
                         Bytes(data), data.size()) != 1) {
      return Invalid();
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status Invalid() {
    return Error(absl::StatusCode::kInvalidArgument, "signature is not valid");
  }

  const RsaPssHash hash_;
  const size_t size_;
  const EvpPkeyPtr pkey_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Signer>> NewRsaPssSigner(
    RsaPssHash hash, const SecretData& pkcs8_der) {
  absl::StatusOr<EvpPkeyPtr> pkey =
      internal::ParsePkcs8Der(pkcs8_der.InsecureView());
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckRsaKey(pkey->get());
  if (!status.ok()) return status;
  return std::unique_ptr<Signer>(new SignerImpl(hash, *std::move(pkey)));
}

absl::StatusOr<std::unique_ptr<Verifier>> NewRsaPssVerifier(
    RsaPssHash hash, absl::string_view spki_der) {
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(spki_der);
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckRsaKey(pkey->get());
  if (!status.ok()) return status;
  return std::unique_ptr<Verifier>(new VerifierImpl(hash, *std::move(pkey)));
}

}  // namespace keyward::crypto
