#include "keystore/crypto/digest.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace keyward::crypto {
namespace {

// OpenSSL 3 looks the implementation up (an implicit fetch, under locks)
// each time EVP_sha256() is used; the audit log hashes every call, so it is
// fetched once. BoringSSL's EVP_sha256() is a static table already.
const EVP_MD* Sha256Md() {
#if defined(OPENSSL_IS_BORINGSSL)
  return EVP_sha256();
#else
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return fetched != nullptr ? fetched : EVP_sha256();
#endif
}

}  // namespace

std::string Sha256(absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, Sha256Md(), nullptr) != 1) {
    abort();
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace keyward::crypto
