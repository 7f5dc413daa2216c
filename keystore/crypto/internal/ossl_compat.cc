#include "keystore/crypto/internal/ossl_compat.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/objects.h>

#include <cstring>

#include "keystore/crypto/internal/ossl_ptr.h"

#if defined(OPENSSL_IS_BORINGSSL)
#include <openssl/ec_key.h>
#include <openssl/hkdf.h>
#include <openssl/rsa.h>
#else
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#endif

namespace keyward::crypto::internal {
namespace {

const uint8_t* Bytes(absl::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// BignumToString writes |bn| big-endian; |width| 0 means minimal length.
bool BignumToString(const BIGNUM* bn, size_t width, std::string* out) {
  if (bn == nullptr) return false;
  const size_t minimal = BN_num_bytes(bn);
  if (width == 0) width = minimal;
  if (minimal > width) return false;
  out->assign(width, '\0');
  return width == 0 ||
         BN_bn2binpad(bn, reinterpret_cast<uint8_t*>(out->data()),
                      static_cast<int>(width)) == static_cast<int>(width);
}

using EcPointPtr = std::unique_ptr<EC_POINT, OsslDeleter<EC_POINT, EC_POINT_free>>;

// P256 is the curve's group, made once and only read after.
const EC_GROUP* P256() {
  static const EC_GROUP* const group =
      EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  return group;
}

// P256Scalar returns |scalar| as a number if it is a private key of P-256
// (32 bytes, in [1, n-1]) whose public point is |public_point|; else null.
SecretBignumPtr P256Scalar(absl::string_view scalar,
                           absl::string_view public_point) {
  constexpr size_t kPointBytes = 65;
  const EC_GROUP* group = P256();
  if (group == nullptr || scalar.size() != 32 ||
      public_point.size() != kPointBytes) {
    return nullptr;
  }
  SecretBignumPtr d(
      BN_bin2bn(Bytes(scalar), static_cast<int>(scalar.size()), nullptr));
#if !defined(OPENSSL_IS_BORINGSSL)
  // BoringSSL's scalar multiplication is always constant-time.
  if (d != nullptr) BN_set_flags(d.get(), BN_FLG_CONSTTIME);
#endif
  if (d == nullptr || BN_is_zero(d.get()) ||
      BN_cmp(d.get(), EC_GROUP_get0_order(group)) >= 0) {
    return nullptr;
  }
  EcPointPtr q(EC_POINT_new(group));
  uint8_t encoded[kPointBytes];
  if (q == nullptr ||
      EC_POINT_mul(group, q.get(), d.get(), nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group, q.get(), POINT_CONVERSION_UNCOMPRESSED, encoded,
                         sizeof(encoded), nullptr) != sizeof(encoded) ||
      std::memcmp(encoded, public_point.data(), sizeof(encoded)) != 0) {
    return nullptr;
  }
  return d;
}

}  // namespace

#if defined(OPENSSL_IS_BORINGSSL)

EvpPkeyPtr EcP256FromScalar(absl::string_view scalar,
                            absl::string_view public_point) {
  SecretBignumPtr d = P256Scalar(scalar, public_point);
  if (d == nullptr) return nullptr;
  EcKeyPtr key(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  EcPointPtr q(EC_POINT_new(P256()));
  EvpPkeyPtr pkey(EVP_PKEY_new());
  if (key == nullptr || q == nullptr || pkey == nullptr ||
      EC_POINT_oct2point(P256(), q.get(), Bytes(public_point),
                         public_point.size(), nullptr) != 1 ||
      EC_KEY_set_private_key(key.get(), d.get()) != 1 ||
      EC_KEY_set_public_key(key.get(), q.get()) != 1 ||
      EVP_PKEY_assign_EC_KEY(pkey.get(), key.get()) != 1) {
    return nullptr;
  }
  key.release();  // owned by pkey now
  return pkey;
}

int EcCurveNid(const EVP_PKEY* pkey) {
  const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(pkey);
  if (ec == nullptr) return NID_undef;
  return EC_GROUP_get_curve_name(EC_KEY_get0_group(ec));
}

bool EcPublicCoordinates(const EVP_PKEY* pkey, size_t width, std::string* x,
                         std::string* y) {
  const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(pkey);
  if (ec == nullptr || EC_KEY_get0_public_key(ec) == nullptr) return false;
  BignumPtr bx(BN_new()), by(BN_new());
  if (bx == nullptr || by == nullptr ||
      EC_POINT_get_affine_coordinates_GFp(EC_KEY_get0_group(ec),
                                          EC_KEY_get0_public_key(ec), bx.get(),
                                          by.get(), nullptr) != 1) {
    return false;
  }
  return BignumToString(bx.get(), width, x) &&
         BignumToString(by.get(), width, y);
}

bool RsaPublicComponents(const EVP_PKEY* pkey, std::string* n,
                         std::string* e) {
  const RSA* rsa = EVP_PKEY_get0_RSA(pkey);
  if (rsa == nullptr) return false;
  return BignumToString(RSA_get0_n(rsa), 0, n) &&
         BignumToString(RSA_get0_e(rsa), 0, e);
}

bool EcdsaSignSetupSupported() { return false; }

EcKeyPtr EcKeyForSignSetup(EVP_PKEY* pkey) { return nullptr; }

bool EcdsaSignSetup(EC_KEY* key, SecretBignumPtr* kinv, BignumPtr* r) {
  return false;
}

EcdsaSigPtr EcdsaSignWithSetup(absl::string_view digest, const BIGNUM* kinv,
                               const BIGNUM* r, EC_KEY* key) {
  return nullptr;
}

bool HkdfSha256(absl::string_view ikm, absl::string_view salt,
                absl::string_view info, uint8_t* out, size_t out_len) {
  return HKDF(out, out_len, EVP_sha256(), Bytes(ikm), ikm.size(), Bytes(salt),
              salt.size(), Bytes(info), info.size()) == 1;
}

#else  // OpenSSL 3

// FreeKeyParams wipes the private key's bytes, then frees |params|.
void FreeKeyParams(OSSL_PARAM* params) {
  if (OSSL_PARAM* priv = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PRIV_KEY)) {
    OPENSSL_cleanse(priv->data, priv->data_size);
  }
  OSSL_PARAM_free(params);
}

EvpPkeyPtr EcP256FromScalar(absl::string_view scalar,
                            absl::string_view public_point) {
  SecretBignumPtr d = P256Scalar(scalar, public_point);
  if (d == nullptr) return nullptr;
  std::unique_ptr<OSSL_PARAM_BLD, OsslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>
      build(OSSL_PARAM_BLD_new());
  if (build == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                       public_point.data(),
                                       public_point.size()) != 1) {
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, OsslDeleter<OSSL_PARAM, FreeKeyParams>> params(
      OSSL_PARAM_BLD_to_param(build.get()));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (params == nullptr || ctx == nullptr ||
      EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return nullptr;
  }
  return EvpPkeyPtr(pkey);
}

namespace {

// GetBignumParam returns the named BIGNUM parameter of |pkey|, or null.
BignumPtr GetBignumParam(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return nullptr;
  return BignumPtr(bn);
}

}  // namespace

int EcCurveNid(const EVP_PKEY* pkey) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return NID_undef;
  char name[80];
  size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1) {
    return NID_undef;
  }
  const int nid = OBJ_sn2nid(name);
  return nid != NID_undef ? nid : EC_curve_nist2nid(name);
}

bool EcPublicCoordinates(const EVP_PKEY* pkey, size_t width, std::string* x,
                         std::string* y) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return false;
  return BignumToString(
             GetBignumParam(pkey, OSSL_PKEY_PARAM_EC_PUB_X).get(), width, x) &&
         BignumToString(
             GetBignumParam(pkey, OSSL_PKEY_PARAM_EC_PUB_Y).get(), width, y);
}

bool RsaPublicComponents(const EVP_PKEY* pkey, std::string* n,
                         std::string* e) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) return false;
  return BignumToString(GetBignumParam(pkey, OSSL_PKEY_PARAM_RSA_N).get(), 0,
                        n) &&
         BignumToString(GetBignumParam(pkey, OSSL_PKEY_PARAM_RSA_E).get(), 0,
                        e);
}

bool EcdsaSignSetupSupported() { return true; }

EcKeyPtr EcKeyForSignSetup(EVP_PKEY* pkey) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return nullptr;
  EcKeyPtr key(EVP_PKEY_get1_EC_KEY(pkey));
  if (key == nullptr || EC_KEY_get0_private_key(key.get()) == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  return key;
}

bool EcdsaSignSetup(EC_KEY* key, SecretBignumPtr* kinv, BignumPtr* r) {
  BIGNUM* k_inverse = nullptr;
  BIGNUM* x = nullptr;
  if (ECDSA_sign_setup(key, nullptr, &k_inverse, &x) != 1) {
    ERR_clear_error();
    return false;
  }
  kinv->reset(k_inverse);
  r->reset(x);
  return true;
}

EcdsaSigPtr EcdsaSignWithSetup(absl::string_view digest, const BIGNUM* kinv,
                               const BIGNUM* r, EC_KEY* key) {
  EcdsaSigPtr sig(ECDSA_do_sign_ex(Bytes(digest), static_cast<int>(digest.size()),
                                   kinv, r, key));
  if (sig == nullptr) ERR_clear_error();
  return sig;
}

bool HkdfSha256(absl::string_view ikm, absl::string_view salt,
                absl::string_view info, uint8_t* out, size_t out_len) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), Bytes(ikm),
                                 static_cast<int>(ikm.size())) != 1) {
    return false;
  }
  // An absent salt is HKDF's default: HashLen zero bytes, as RFC 5869 says.
  if (!salt.empty() &&
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), Bytes(salt),
                                  static_cast<int>(salt.size())) != 1) {
    return false;
  }
  if (!info.empty() &&
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), Bytes(info),
                                  static_cast<int>(info.size())) != 1) {
    return false;
  }
  size_t len = out_len;
  return EVP_PKEY_derive(ctx.get(), out, &len) == 1 && len == out_len;
}

#endif  // OPENSSL_IS_BORINGSSL

}  // namespace keyward::crypto::internal
