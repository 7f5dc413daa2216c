// Random bytes from libcrypto's CSPRNG (RAND_bytes), for values that are not
// secret (nonces, salts, identifiers). Secret random bytes come from
// SecretData::Random (secret_data.h), so they are wiped when they die.

#ifndef KEYSTORE_CRYPTO_RANDOM_H_
#define KEYSTORE_CRYPTO_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace keyward::crypto {

// RandomBytes returns |n| bytes from the CSPRNG. It never fails: if the CSPRNG
// cannot produce output the process aborts, since nothing can go on safely.
// Thread-safe.
//
// Requests of at most kBufferedRandomMax bytes (a nonce, an IV, a JWT id) are
// served from a per-thread buffer that is refilled from RAND_bytes a block at
// a time: each RAND_bytes call costs a lock, OpenSSL's fork check (a getpid
// system call) and a DRBG step, about as much as the HMAC of a JWT. Bytes
// are handed out once and never again; a child process discards what it
// inherited (pthread_atfork), so parent and child never hand out the same
// bytes. Output not yet handed out stays in that buffer: these values are
// not secret, and what they must be is unique and unpredictable to callers,
// which they remain.
inline constexpr size_t kBufferedRandomMax = 32;
std::string RandomBytes(size_t n);

// ForkGeneration returns a number that stays the same within a process and
// changes in every child it forks (pthread_atfork). Values that must be used
// once (RandomBytes' buffer, ECDSA nonces made ahead) record it when made,
// so that a child never uses what it inherited.
uint64_t ForkGeneration();

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_RANDOM_H_
