// The NaCl family through libsodium: XSalsa20-Poly1305 secretbox,
// XChaCha20-Poly1305 (IETF) AEAD, X25519 crypto_box and sealed boxes.
//
// Every ciphertext here is in NaCl's own wire format, so that PyNaCl,
// libsodium and TweetNaCl open what Keyward makes and the other way round
// (the formats are in ciphertext_format.md):
//   secretbox          24-byte nonce || crypto_secretbox_easy output
//                      (16-byte Poly1305 tag || ciphertext); PyNaCl's
//                      SecretBox.encrypt output.
//   XChaCha20-Poly1305 24-byte nonce || crypto_aead_xchacha20poly1305_ietf
//                      output (ciphertext || 16-byte tag).
//   box                24-byte nonce || crypto_box_easy output; PyNaCl's
//                      Box.encrypt output.
//   sealed box         crypto_box_seal output (32-byte ephemeral public
//                      key || box); PyNaCl's SealedBox.encrypt output.
// Nonces are drawn inside (libsodium's randombytes); callers never choose
// them.
//
// X25519 private keys are stored, like every asymmetric key, as PKCS#8 DER
// (RFC 8410, OID 1.3.101.110), public keys as SPKI DER; the functions below
// take and give those forms and the raw 32-byte forms NaCl uses.
//
// Failures to open (altered, truncated, other key, other sender, other
// associated data) are INVALID_ARGUMENT with one message per construction
// and never any partial plaintext. All objects are immutable and
// thread-safe.
#ifndef KEYSTORE_CRYPTO_NACL_H_
#define KEYSTORE_CRYPTO_NACL_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/ecdh.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// kNaclNonceSize is the nonce of every construction here (24 bytes).
inline constexpr size_t kNaclNonceSize = 24;
// kNaclTagSize is the Poly1305 tag of every construction here (16 bytes).
inline constexpr size_t kNaclTagSize = 16;
// kX25519KeySize is the size of raw X25519 private and public keys.
inline constexpr size_t kX25519KeySize = 32;
// kSealedBoxOverhead is what a sealed box adds to its plaintext (48 bytes).
inline constexpr size_t kSealedBoxOverhead = kX25519KeySize + kNaclTagSize;

// SecretBox makes Aead objects for NaCl's crypto_secretbox
// (XSalsa20-Poly1305). Secretbox authenticates no associated data:
// Encrypt and Decrypt refuse a non-empty |associated_data| with
// INVALID_ARGUMENT "secretbox takes no associated data".
class SecretBox {
 public:
  static constexpr size_t kKeySize = 32;
  // Create returns an Aead holding its own copy of |key|. INVALID_ARGUMENT
  // unless |key| is 32 bytes.
  static absl::StatusOr<std::unique_ptr<Aead>> Create(const SecretData& key);
  SecretBox() = delete;
};

// XChaCha20Poly1305 makes Aead objects for libsodium's
// crypto_aead_xchacha20poly1305_ietf (associated data authenticated).
class XChaCha20Poly1305 {
 public:
  static constexpr size_t kKeySize = 32;
  // Create returns an Aead holding its own copy of |key|. INVALID_ARGUMENT
  // unless |key| is 32 bytes.
  static absl::StatusOr<std::unique_ptr<Aead>> Create(const SecretData& key);
  XChaCha20Poly1305() = delete;
};

// X25519PrivateKeyFromRaw returns the PKCS#8 DER of the raw 32-byte X25519
// private key |raw| (as NaCl and PyNaCl's bytes(PrivateKey) hold it).
// INVALID_ARGUMENT unless |raw| is 32 bytes.
absl::StatusOr<SecretData> X25519PrivateKeyFromRaw(const SecretData& raw);

// X25519PublicKeyFromRaw returns the SPKI DER of the raw 32-byte X25519
// public key |raw|. INVALID_ARGUMENT unless |raw| is 32 bytes.
absl::StatusOr<std::string> X25519PublicKeyFromRaw(absl::string_view raw);

// X25519RawPublicKey returns the raw 32 bytes of the X25519 SPKI DER
// |spki_der|. INVALID_ARGUMENT if it is not an X25519 public key.
absl::StatusOr<std::string> X25519RawPublicKey(absl::string_view spki_der);

// CheckPeerPublicKey returns OK if |peer| can be a crypto_box peer: 32 bytes
// and not a point of small order (whose shared secret is known to all).
// Otherwise INVALID_ARGUMENT naming the problem.
absl::Status CheckPeerPublicKey(absl::string_view peer);

// NaclBox is crypto_box (X25519, XSalsa20-Poly1305) with one private key and
// any peer's public key.
class NaclBox {
 public:
  // Create takes the X25519 PKCS#8 DER |pkcs8_der|. INVALID_ARGUMENT if it
  // is not an X25519 private key.
  static absl::StatusOr<std::unique_ptr<NaclBox>> Create(
      const SecretData& pkcs8_der);

  // Seal returns 24-byte random nonce || crypto_box_easy(|plaintext|) to
  // the raw 32-byte |peer_public_key|. INVALID_ARGUMENT if the peer key is
  // refused by CheckPeerPublicKey.
  absl::StatusOr<std::string> Seal(absl::string_view peer_public_key,
                                   absl::string_view plaintext) const;

  // Open returns the plaintext of a box from |peer_public_key|. With an
  // empty |nonce|, |ciphertext| is nonce || box (Seal's output); otherwise
  // |nonce| must be 24 bytes and |ciphertext| the bare box. INVALID_ARGUMENT
  // for a nonce that is not 24 bytes, a refused peer key, and (one message)
  // a box that is truncated, altered or from another sender.
  absl::StatusOr<std::string> Open(absl::string_view peer_public_key,
                                   absl::string_view nonce,
                                   absl::string_view ciphertext) const;

  // PublicKey returns the raw 32-byte public key of this box's private key.
  const std::string& PublicKey() const { return public_key_; }

 private:
  NaclBox(SecretData private_key, std::string public_key)
      : private_key_(std::move(private_key)),
        public_key_(std::move(public_key)) {}
  const SecretData private_key_;
  const std::string public_key_;
};

// NewSealedBoxEncrypter returns an AsymmetricEncrypter making sealed boxes
// (crypto_box_seal) to the X25519 SPKI DER |spki_der|. Its |label| must be
// empty: INVALID_ARGUMENT "a sealed box takes no associated data".
// MaxPlaintextSize is 2^31 - 1 - kSealedBoxOverhead.
absl::StatusOr<std::unique_ptr<AsymmetricEncrypter>> NewSealedBoxEncrypter(
    absl::string_view spki_der);

// NewSealedBoxDecrypter returns an AsymmetricDecrypter opening sealed boxes
// (crypto_box_seal_open) with the X25519 PKCS#8 DER |pkcs8_der|. A box
// shorter than 48 bytes, altered, or sealed to another key is
// INVALID_ARGUMENT "sealed box is not authentic or is truncated"; a
// non-empty label is INVALID_ARGUMENT.
absl::StatusOr<std::unique_ptr<AsymmetricDecrypter>> NewSealedBoxDecrypter(
    const SecretData& pkcs8_der);

// X25519SharedSecret returns crypto_scalarmult(|pkcs8_der|'s private key,
// |peer_public_key| raw 32 bytes): the raw X25519 shared secret RFC 7748
// defines (for JWE ECDH-ES, RFC 8037). INVALID_ARGUMENT if the private key
// is not X25519 or the peer key is refused (the result would be all zero).
absl::StatusOr<SecretData> X25519SharedSecret(const SecretData& pkcs8_der,
                                              absl::string_view peer_public_key);

// NewX25519EcdhPrivateKey returns an EcdhPrivateKey (ecdh.h) over X25519,
// for JWE ECDH-ES (RFC 8037): ComputeSharedSecret takes X25519 SPKI DER and
// returns the 32-byte shared secret. INVALID_ARGUMENT if |pkcs8_der| is not
// an X25519 private key; ComputeSharedSecret refuses a peer key that is not
// X25519 or of small order with INVALID_ARGUMENT.
absl::StatusOr<std::unique_ptr<EcdhPrivateKey>> NewX25519EcdhPrivateKey(
    const SecretData& pkcs8_der);

// X25519Ephemeral makes a fresh X25519 key pair, agrees a shared secret with
// the X25519 SPKI DER |recipient_spki_der| and forgets the ephemeral private
// key. INVALID_ARGUMENT for a recipient key that is not X25519 or of small
// order.
absl::StatusOr<EcdhEphemeralResult> X25519Ephemeral(
    absl::string_view recipient_spki_der);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_NACL_H_
