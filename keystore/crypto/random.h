// Random bytes from libcrypto's CSPRNG (RAND_bytes), for values that are not
// secret (nonces, salts, identifiers). Secret random bytes come from
// SecretData::Random (secret_data.h), so they are wiped when they die.

#ifndef KEYSTORE_CRYPTO_RANDOM_H_
#define KEYSTORE_CRYPTO_RANDOM_H_

#include <cstddef>
#include <string>

namespace keyward::crypto {

// RandomBytes returns |n| bytes from the CSPRNG. It never fails: if the CSPRNG
// cannot produce output the process aborts, since nothing can go on safely.
// Thread-safe.
std::string RandomBytes(size_t n);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_RANDOM_H_
