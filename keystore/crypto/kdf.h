// Key derivation: scrypt for passphrases (RFC 7914) and HKDF-SHA-256 for keys
// (RFC 5869). Both return their output as SecretData. Thread-safe.

#ifndef KEYSTORE_CRYPTO_KDF_H_
#define KEYSTORE_CRYPTO_KDF_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// Scrypt derives |out_len| bytes from |passphrase| and |salt| with cost |n|
// (a power of two, 2..2^20), block size |r| (1..32) and parallelism |p|
// (1..16), so that memory, 128 * r * (n + p + 2) bytes, stays at most about
// 1 GiB (n = 2^20, r = 8 is the largest such setting). |out_len| must be
// 1..1024. INVALID_ARGUMENT for parameters out of range; RESOURCE_EXHAUSTED
// if the memory cannot be had. A call takes ~0.1 s at n = 2^15, r = 8 and
// ~4 s at n = 2^20: run it off latency-sensitive threads.
absl::StatusOr<SecretData> Scrypt(const SecretData& passphrase,
                                  absl::string_view salt, uint64_t n,
                                  uint32_t r, uint32_t p, size_t out_len);

// HkdfSha256 derives |out_len| bytes (1..8160, i.e. 255 * 32) from input key
// material |ikm| (non-empty), |salt| (empty means HKDF's default all-zero
// salt) and |info| (at most 1024 bytes). INVALID_ARGUMENT otherwise.
absl::StatusOr<SecretData> HkdfSha256(const SecretData& ikm,
                                      absl::string_view salt,
                                      absl::string_view info, size_t out_len);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_KDF_H_
