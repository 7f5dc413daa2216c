// Message authentication codes.
//
// Mac is the interface; Hmac::Create makes HMAC-SHA-256/384/512. Tags are
// always the full hash length (32, 48 or 64 bytes); truncated tags are neither
// produced nor accepted.

#ifndef KEYSTORE_CRYPTO_MAC_H_
#define KEYSTORE_CRYPTO_MAC_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// HashType is the hash under an HMAC.
enum class HashType { kSha256, kSha384, kSha512 };

// Mac computes and checks tags. Implementations are immutable once made and
// thread-safe.
class Mac {
 public:
  virtual ~Mac() = default;

  // ComputeMac returns the full-length tag of |data|.
  virtual absl::StatusOr<std::string> ComputeMac(
      absl::string_view data) const = 0;

  // VerifyMac returns OK if |mac| is the tag of |data| under this key,
  // compared in constant time; else INVALID_ARGUMENT "MAC does not match"
  // (also for a tag of the wrong length).
  virtual absl::Status VerifyMac(absl::string_view mac,
                                 absl::string_view data) const = 0;
};

// Hmac makes HMAC Mac objects.
class Hmac {
 public:
  // kMinKeySize: keys shorter than 16 bytes (128 bits) are refused, as in Tink.
  // There is no upper bound; keys longer than the hash block are hashed first
  // (RFC 2104), so they add nothing beyond the hash's size, which is what
  // GenerateKeyMaterial (keys.h) makes.
  static constexpr size_t kMinKeySize = 16;

  // Create returns a Mac that holds its own copy of |key|. INVALID_ARGUMENT if
  // |key| is shorter than kMinKeySize. Thread-safe.
  static absl::StatusOr<std::unique_ptr<Mac>> Create(HashType hash,
                                                     const SecretData& key);

  Hmac() = delete;
};

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_MAC_H_
