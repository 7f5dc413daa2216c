// SHA-256, for values that are not keys (the audit log's hash chain).

#ifndef KEYSTORE_CRYPTO_DIGEST_H_
#define KEYSTORE_CRYPTO_DIGEST_H_

#include <string>

#include "absl/strings/string_view.h"

namespace keyward::crypto {

// Sha256 returns the 32-byte SHA-256 digest of |data|. Aborts if libcrypto
// fails (an impossible state). Thread-safe.
std::string Sha256(absl::string_view data);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_DIGEST_H_
