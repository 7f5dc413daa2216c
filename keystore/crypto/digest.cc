#include "keystore/crypto/digest.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace keyward::crypto {

std::string Sha256(absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) != 1) {
    abort();
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace keyward::crypto
