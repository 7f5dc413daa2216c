#include "keystore/crypto/random.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace keyward::crypto {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<uint8_t*>(out.data()), n) != 1) {
    std::fputs("keyward: RAND_bytes failed; cannot continue safely\n", stderr);
    std::abort();
  }
  return out;
}

}  // namespace keyward::crypto
