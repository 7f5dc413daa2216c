// ECDSA nonces made ahead of use, off the signing path.
//
// Most of an ECDSA signature's cost is its nonce: a random k, r = x(k*G) mod
// n and k^-1 mod n (about 18 of 19 us for a P-256 signature on this
// project's machines). None of them depends on the key or the message
// (ossl_compat.h, EcdsaSignSetup). So one background thread makes nonces for
// each curve that signers have asked for, at the lowest CPU priority
// (SCHED_IDLE: it gets a core almost only when the core would otherwise be
// idle; the kernel weighs it 3 against a normal thread's 1024) and keeps
// up to kEcdsaNoncesPerCurve of them ready. A signer takes one and signs
// with a hash and two multiplications mod n. When none is ready (right
// after the first ask, or while every core is busy), the signer makes its
// own nonce as before: nothing ever waits for this thread. If the thread
// may not lower its priority (a seccomp filter refusing sched_setscheduler
// and setpriority), it makes none.
//
// A nonce must sign once only (two signatures with one k give away the
// key). TakeEcdsaNonce removes the nonce it hands out, and the signer frees
// it whether or not it signed; k^-1 is wiped when freed. A process forked
// from one that made nonces never takes them (ForkGeneration). A copy of
// the process made without fork (a VM snapshot or a CRIU checkpoint of a
// running daemon, resumed twice) would sign with the same ready nonces in
// both copies: DisableEcdsaNonces is for deployments that do that. k comes from libcrypto's CSPRNG alone, as in OpenSSL's
// ECDSA_sign_setup; OpenSSL's one-call signing also hashes the key and the
// digest into k.
//
// Only libcrypto (OpenSSL 3) can sign with a nonce made apart. Under
// BoringSSL, EcdsaNoncesSupported() is false, TakeEcdsaNonce returns nullopt
// and no thread starts.

#ifndef KEYSTORE_CRYPTO_INTERNAL_ECDSA_NONCES_H_
#define KEYSTORE_CRYPTO_INTERNAL_ECDSA_NONCES_H_

#include <cstddef>
#include <optional>

#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto::internal {

struct EcdsaNonce {
  SecretBignumPtr kinv;  // k^-1 mod n
  BignumPtr r;           // x(k*G) mod n
};

// Ready nonces kept per curve: about 300 bytes each.
inline constexpr size_t kEcdsaNoncesPerCurve = 512;

// EcdsaNoncesSupported says whether this build's libcrypto can sign with a
// nonce made ahead.
bool EcdsaNoncesSupported();

// DisableEcdsaNonces stops making nonces and handing them out, for good:
// from its return, TakeEcdsaNonce returns nullopt. Ready nonces are wiped.
void DisableEcdsaNonces();

// EcdsaNoncesEnabled: supported and not disabled. A signer made while it is
// false keeps no second copy of its key for signing with nonces.
bool EcdsaNoncesEnabled();

// TakeEcdsaNonce returns a nonce for curve |nid| (NID_X9_62_prime256v1,
// NID_secp384r1 or NID_secp521r1), or nullopt if none is ready, the curve
// is another, or nonces are not supported. The first call for a curve
// starts making its nonces. Never blocks (it is on the signing path): if
// the pool is busy, it returns nullopt. Thread-safe.
std::optional<EcdsaNonce> TakeEcdsaNonce(int nid);

// EcdsaNoncesReady returns how many nonces for |nid| are ready; for tests
// and benchmarks.
size_t EcdsaNoncesReady(int nid);

// EcdsaNoncesSettled says whether the maker sleeps: every curve asked for
// is full (or failed), and a Take wakes it again only once a curve is down
// to 3/4. For tests.
bool EcdsaNoncesSettled();

}  // namespace keyward::crypto::internal

#endif  // KEYSTORE_CRYPTO_INTERNAL_ECDSA_NONCES_H_
