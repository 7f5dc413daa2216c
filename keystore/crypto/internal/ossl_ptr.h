// Owning pointers for libcrypto objects.
//
// Every object that keystore/crypto gets from libcrypto is held by one of these
// std::unique_ptr aliases, so it is freed on every path. They compile against
// both flavors (OpenSSL 3 and BoringSSL); BoringSSL's bssl::UniquePtr is not
// used so that the code reads the same in both.

#ifndef KEYSTORE_CRYPTO_INTERNAL_OSSL_PTR_H_
#define KEYSTORE_CRYPTO_INTERNAL_OSSL_PTR_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include <memory>

namespace keyward::crypto::internal {

// OsslDeleter<T, Free> frees a T with libcrypto's Free function.
template <typename T, void (*Free)(T*)>
struct OsslDeleter {
  void operator()(T* p) const { Free(p); }
};

// BIO_free returns int, so it needs its own deleter.
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};

// OPENSSL_free is a macro in OpenSSL 3, so it needs its own deleter too.
struct OsslBytesDeleter {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};

using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslDeleter<BIGNUM, BN_free>>;
// A secret number (a private scalar, an ECDSA k^-1): wiped when freed.
using SecretBignumPtr =
    std::unique_ptr<BIGNUM, OsslDeleter<BIGNUM, BN_clear_free>>;
using EcKeyPtr = std::unique_ptr<EC_KEY, OsslDeleter<EC_KEY, EC_KEY_free>>;
using EcdsaSigPtr =
    std::unique_ptr<ECDSA_SIG, OsslDeleter<ECDSA_SIG, ECDSA_SIG_free>>;
using EvpCipherCtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX,
                    OsslDeleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using EvpMdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, OsslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EvpPkeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, OsslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EvpPkeyPtr =
    std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using HmacCtxPtr =
    std::unique_ptr<HMAC_CTX, OsslDeleter<HMAC_CTX, HMAC_CTX_free>>;
using OsslBytesPtr = std::unique_ptr<unsigned char, OsslBytesDeleter>;
using Pkcs8Ptr =
    std::unique_ptr<PKCS8_PRIV_KEY_INFO,
                    OsslDeleter<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>>;

}  // namespace keyward::crypto::internal

#endif  // KEYSTORE_CRYPTO_INTERNAL_OSSL_PTR_H_
