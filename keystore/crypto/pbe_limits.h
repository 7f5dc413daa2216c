// Cost limits for passphrase-encrypted private keys.
//
// An encrypted PKCS#8 key (RFC 5958 EncryptedPrivateKeyInfo) names its own
// key-derivation cost: a PBKDF2 iteration count (up to 2^31 - 1, about 18
// CPU-minutes here) or scrypt's N, r and p (up to gigabytes and minutes).
// libcrypto derives the key in one call that cannot be interrupted, so the
// only way to bound the work of an import is to read those parameters from
// the DER first, with no key derivation, and refuse what is over a limit.
// This file does that, with its own small DER reader, so that both build
// flavors (OpenSSL 3 and BoringSSL, whose PBE2PARAM/PBKDF2PARAM decoders
// differ or are missing) read the same way. All functions are thread-safe.
#ifndef KEYSTORE_CRYPTO_PBE_LIMITS_H_
#define KEYSTORE_CRYPTO_PBE_LIMITS_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keyward::crypto {

// KdfLimits: the most key-derivation work one encrypted private key may ask
// for. The defaults keep one derivation to about a second on a 2-core
// machine of 2023 while accepting what common tools write: OpenSSL's
// default (PBKDF2, 2048 rounds; `-scrypt`: N = 2^14, r = 8, p = 1),
// pycryptodome's (PBKDF2 1000 rounds; scrypt N = 2^14, r = 8, p = 1),
// Python cryptography's, and Keyward's own export (PBKDF2-HMAC-SHA256,
// 600,000 rounds). Measured here: 600,000 PBKDF2-HMAC-SHA256 rounds take
// ~0.3 s, scrypt N = 2^14 r = 8 ~0.15 s and N = 2^18 r = 8 ~2.6 s.
struct KdfLimits {
  // PBKDF2 (PBES2) iteration count; also the iteration count of the older
  // PBES1 and PKCS#12 schemes. 2,000,000 is ~1 s of PBKDF2-HMAC-SHA256.
  uint64_t pbkdf2_max_iterations = 2000000;
  // scrypt cost N (a power of two), block size r and parallelism p.
  uint64_t scrypt_max_n = uint64_t{1} << 20;
  uint64_t scrypt_max_r = 32;
  uint64_t scrypt_max_p = 16;
  // scrypt memory, 128 * N * r bytes: 128 MiB (N = 2^17 with r = 8).
  uint64_t scrypt_max_memory_bytes = uint64_t{128} << 20;
  // scrypt time, N * r * p (block mixes): 2^20 is N = 2^17, r = 8, p = 1,
  // about 1 s here.
  uint64_t scrypt_max_work = uint64_t{1} << 20;
};

// PbeCost is the key-derivation cost an encrypted private key names.
struct PbeCost {
  enum class Kdf { kPbkdf2, kScrypt, kLegacyPbe };
  Kdf kdf = Kdf::kPbkdf2;
  uint64_t iterations = 0;  // kPbkdf2, kLegacyPbe (saturates at 2^64 - 1)
  uint64_t n = 0, r = 0, p = 0;  // kScrypt (each saturates)
};

// ReadPbeCost reads the KDF parameters of the EncryptedPrivateKeyInfo DER
// |der| without deriving anything. nullopt if |der| does not have the shape
// of an EncryptedPrivateKeyInfo (a plain PKCS#8 key, say); INVALID_ARGUMENT
// if it does but its scheme is one whose cost Keyward cannot bound (an
// unknown KDF or encryption scheme) or its parameters are malformed or not
// DER.
absl::StatusOr<std::optional<PbeCost>> ReadPbeCost(absl::string_view der);

// CheckPbeCost: OK if |cost| is within |limits|; else INVALID_ARGUMENT
// naming the parameter, its value and the limit (by its KdfLimits name,
// which is also the daemon config's `limits` field).
absl::Status CheckPbeCost(const PbeCost& cost, const KdfLimits& limits);

// CheckEncryptedKeyCost checks, before any key derivation, every block of
// the PEM text |pem| whose label ends in "PRIVATE KEY": an "ENCRYPTED
// PRIVATE KEY" block must be an EncryptedPrivateKeyInfo within |limits|
// (INVALID_ARGUMENT otherwise, as ReadPbeCost and CheckPbeCost say); a block
// of another label that has an EncryptedPrivateKeyInfo's shape is held to
// the same limits. Legacy "Proc-Type: 4,ENCRYPTED" blocks derive with
// EVP_BytesToKey, one MD5 round, and are not limited. Text with no PEM
// block passes (the parser will refuse it).
absl::Status CheckEncryptedKeyCost(absl::string_view pem,
                                   const KdfLimits& limits);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_PBE_LIMITS_H_
