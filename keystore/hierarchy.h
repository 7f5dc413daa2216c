// The key hierarchy (PRODUCT.md): operator passphrase -> scrypt -> KEK ->
// wraps one random 256-bit root key -> the root key wraps every key version's
// material with AES-256-GCM, the associated data binding key id, version and
// type so that stored rows cannot be swapped.
#ifndef KEYWARD_KEYSTORE_HIERARCHY_H_
#define KEYWARD_KEYSTORE_HIERARCHY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/records.h"

namespace keyward::keystore {

// The scrypt cost. N must be a power of two >= 2^15; r, p >= 1.
struct KdfParams {
  uint64_t n = uint64_t{1} << 15;
  uint32_t r = 8;
  uint32_t p = 1;
};

// ValidateKdfParams: INVALID_ARGUMENT naming the bad parameter.
absl::Status ValidateKdfParams(const KdfParams& params);

// NewHierarchy makes a fresh random root key, wraps it under the KEK derived
// from `passphrase` with a fresh salt, and returns the row to store; the root
// key itself goes to `*root_key`. INVALID_ARGUMENT for an empty passphrase or
// bad parameters.
absl::StatusOr<KeystoreMeta> NewHierarchy(const crypto::SecretData& passphrase,
                                          const KdfParams& params,
                                          crypto::SecretData* root_key);

// UnlockRoot derives the KEK from `passphrase` and unwraps the root key.
// UNAUTHENTICATED "wrong passphrase" if the passphrase does not match;
// DATA_LOSS if it matches but the wrapped root key is damaged.
absl::StatusOr<crypto::SecretData> UnlockRoot(
    const KeystoreMeta& meta, const crypto::SecretData& passphrase);

// RewrapRoot returns `meta` with the root key wrapped under a new passphrase
// (fresh salt, `params`); key versions are untouched.
absl::StatusOr<KeystoreMeta> RewrapRoot(const crypto::SecretData& root_key,
                                        const crypto::SecretData& new_passphrase,
                                        const KdfParams& params);

// MaterialAad is the associated data that binds a version's wrapped material
// to its key id, version number and key type.
std::string MaterialAad(absl::string_view key_id, int32_t version,
                        KeyType type);

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_HIERARCHY_H_
