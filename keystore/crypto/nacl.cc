#include "keystore/crypto/nacl.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <climits>
#include <cstdint>
#include <cstdlib>

#include "absl/base/call_once.h"
#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto {
namespace {

using internal::Bytes;
using internal::EvpPkeyPtr;

static_assert(kNaclNonceSize == crypto_secretbox_NONCEBYTES);
static_assert(kNaclNonceSize == crypto_box_NONCEBYTES);
static_assert(kNaclNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kNaclTagSize == crypto_secretbox_MACBYTES);
static_assert(kNaclTagSize == crypto_box_MACBYTES);
static_assert(kNaclTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kSealedBoxOverhead == crypto_box_SEALBYTES);
static_assert(kX25519KeySize == crypto_box_PUBLICKEYBYTES);
static_assert(kX25519KeySize == crypto_box_SECRETKEYBYTES);
static_assert(SecretBox::kKeySize == crypto_secretbox_KEYBYTES);
static_assert(XChaCha20Poly1305::kKeySize ==
              crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

// kMaxInput keeps every length well inside what libsodium and callers'
// int-sized buffers take.
constexpr size_t kMaxInput = INT_MAX - 64;

// Sodium initialises libsodium once. sodium_init fails only if the system
// has no randomness source, which Keyward cannot run without.
void Sodium() {
  static absl::once_flag once;
  absl::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

uint8_t* Out(std::string& s, size_t offset = 0) {
  return reinterpret_cast<uint8_t*>(s.data()) + offset;
}

absl::Status TooLarge() {
  return absl::InvalidArgumentError(
      "plaintext or associated data is too large (limit 2^31 - 65 bytes)");
}

absl::Status NotAuthentic(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is not authentic or is truncated"));
}

// SecretBoxImpl: crypto_secretbox_easy with a fresh nonce per message.
class SecretBoxImpl final : public Aead {
 public:
  explicit SecretBoxImpl(SecretData key) : key_(std::move(key)) {}

  absl::StatusOr<std::string> Encrypt(
      absl::string_view plaintext,
      absl::string_view associated_data) const override {
    if (!associated_data.empty()) return NoAssociatedData();
    if (plaintext.size() > kMaxInput) return TooLarge();
    std::string out(kNaclNonceSize + kNaclTagSize + plaintext.size(), '\0');
    randombytes_buf(Out(out), kNaclNonceSize);
    if (crypto_secretbox_easy(Out(out, kNaclNonceSize), Bytes(plaintext),
                              plaintext.size(), Out(out),
                              Bytes(key_.InsecureView())) != 0) {
      return absl::InternalError("secretbox encryption failed");
    }
    return out;
  }

  absl::StatusOr<std::string> Decrypt(
      absl::string_view ciphertext,
      absl::string_view associated_data) const override {
    if (!associated_data.empty()) return NoAssociatedData();
    if (ciphertext.size() < kNaclNonceSize + kNaclTagSize ||
        ciphertext.size() > kMaxInput) {
      return NotAuthentic("secretbox");
    }
    const absl::string_view box = ciphertext.substr(kNaclNonceSize);
    std::string out(box.size() - kNaclTagSize, '\0');
    if (crypto_secretbox_open_easy(Out(out), Bytes(box), box.size(),
                                   Bytes(ciphertext),
                                   Bytes(key_.InsecureView())) != 0) {
      WipeString(&out);
      return NotAuthentic("secretbox");
    }
    return out;
  }

 private:
  static absl::Status NoAssociatedData() {
    return absl::InvalidArgumentError(
        "secretbox takes no associated data: send it empty (use an "
        "XCHACHA20_POLY1305 key to bind associated data)");
  }
  const SecretData key_;
};

// XChaChaImpl: crypto_aead_xchacha20poly1305_ietf with a fresh nonce.
class XChaChaImpl final : public Aead {
 public:
  explicit XChaChaImpl(SecretData key) : key_(std::move(key)) {}

  absl::StatusOr<std::string> Encrypt(
      absl::string_view plaintext,
      absl::string_view associated_data) const override {
    if (plaintext.size() > kMaxInput || associated_data.size() > kMaxInput) {
      return TooLarge();
    }
    std::string out(kNaclNonceSize + plaintext.size() + kNaclTagSize, '\0');
    randombytes_buf(Out(out), kNaclNonceSize);
    unsigned long long written = 0;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(
            Out(out, kNaclNonceSize), &written, Bytes(plaintext),
            plaintext.size(), Bytes(associated_data), associated_data.size(),
            nullptr, Out(out), Bytes(key_.InsecureView())) != 0 ||
        written != plaintext.size() + kNaclTagSize) {
      return absl::InternalError("XChaCha20-Poly1305 encryption failed");
    }
    return out;
  }

  absl::StatusOr<std::string> Decrypt(
      absl::string_view ciphertext,
      absl::string_view associated_data) const override {
    if (ciphertext.size() < kNaclNonceSize + kNaclTagSize ||
        ciphertext.size() > kMaxInput || associated_data.size() > kMaxInput) {
      return NotAuthentic("ciphertext");
    }
    const absl::string_view body = ciphertext.substr(kNaclNonceSize);
    std::string out(body.size() - kNaclTagSize, '\0');
    unsigned long long written = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            Out(out), &written, nullptr, Bytes(body), body.size(),
            Bytes(associated_data), associated_data.size(), Bytes(ciphertext),
            Bytes(key_.InsecureView())) != 0 ||
        written != out.size()) {
      WipeString(&out);
      return NotAuthentic("ciphertext");
    }
    return out;
  }

 private:
  const SecretData key_;
};

absl::StatusOr<SecretData> CheckedKey(const SecretData& key,
                                      absl::string_view what) {
  if (key.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", what, " key is 32 bytes, not ", key.size()));
  }
  Sodium();
  return SecretData(key.InsecureView());
}

// RawPrivateKey returns the 32 raw bytes of the X25519 PKCS#8 |pkcs8_der|.
absl::StatusOr<SecretData> RawPrivateKey(const SecretData& pkcs8_der) {
  absl::StatusOr<EvpPkeyPtr> pkey =
      internal::ParsePkcs8Der(pkcs8_der.InsecureView());
  if (!pkey.ok()) return pkey.status();
  SecretData raw = SecretData::Zeroed(kX25519KeySize);
  size_t len = kX25519KeySize;
  if (EVP_PKEY_id(pkey->get()) != EVP_PKEY_X25519 ||
      EVP_PKEY_get_raw_private_key(pkey->get(), raw.InsecureMutableData(), &len) !=
          1 ||
      len != kX25519KeySize) {
    return internal::Error(absl::StatusCode::kInvalidArgument,
                           "the private key is not an X25519 key");
  }
  return raw;
}

// PublicFromPrivate is crypto_scalarmult_base.
std::string PublicFromPrivate(const SecretData& raw) {
  std::string pub(kX25519KeySize, '\0');
  crypto_scalarmult_base(Out(pub), Bytes(raw.InsecureView()));
  return pub;
}

class SealedBoxEncrypter final : public AsymmetricEncrypter {
 public:
  explicit SealedBoxEncrypter(std::string public_key)
      : public_key_(std::move(public_key)) {}

  absl::StatusOr<std::string> Encrypt(absl::string_view plaintext,
                                      absl::string_view label) const override {
    if (!label.empty()) return NoLabel();
    if (plaintext.size() > MaxPlaintextSize()) return TooLarge();
    std::string out(plaintext.size() + kSealedBoxOverhead, '\0');
    if (crypto_box_seal(Out(out), Bytes(plaintext), plaintext.size(),
                        Bytes(public_key_)) != 0) {
      return absl::InternalError("crypto_box_seal failed");
    }
    return out;
  }

  size_t MaxPlaintextSize() const override {
    return kMaxInput - kSealedBoxOverhead;
  }

  static absl::Status NoLabel() {
    return absl::InvalidArgumentError(
        "a sealed box takes no associated data: send it empty");
  }

 private:
  const std::string public_key_;
};

class SealedBoxDecrypter final : public AsymmetricDecrypter {
 public:
  SealedBoxDecrypter(SecretData private_key, std::string public_key)
      : private_key_(std::move(private_key)),
        public_key_(std::move(public_key)) {}

  absl::StatusOr<std::string> Decrypt(absl::string_view ciphertext,
                                      absl::string_view label) const override {
    if (!label.empty()) return SealedBoxEncrypter::NoLabel();
    if (ciphertext.size() < kSealedBoxOverhead || ciphertext.size() > kMaxInput) {
      return NotAuthentic("sealed box");
    }
    std::string out(ciphertext.size() - kSealedBoxOverhead, '\0');
    if (crypto_box_seal_open(Out(out), Bytes(ciphertext), ciphertext.size(),
                             Bytes(public_key_),
                             Bytes(private_key_.InsecureView())) != 0) {
      WipeString(&out);
      return NotAuthentic("sealed box");
    }
    return out;
  }

 private:
  const SecretData private_key_;
  const std::string public_key_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Aead>> SecretBox::Create(const SecretData& key) {
  absl::StatusOr<SecretData> copy = CheckedKey(key, "secretbox");
  if (!copy.ok()) return copy.status();
  return std::unique_ptr<Aead>(new SecretBoxImpl(*std::move(copy)));
}

absl::StatusOr<std::unique_ptr<Aead>> XChaCha20Poly1305::Create(
    const SecretData& key) {
  absl::StatusOr<SecretData> copy = CheckedKey(key, "XChaCha20-Poly1305");
  if (!copy.ok()) return copy.status();
  return std::unique_ptr<Aead>(new XChaChaImpl(*std::move(copy)));
}

absl::StatusOr<SecretData> X25519PrivateKeyFromRaw(const SecretData& raw) {
  if (raw.size() != kX25519KeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an X25519 private key is 32 bytes, not ", raw.size()));
  }
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_X25519, nullptr, Bytes(raw.InsecureView()), raw.size()));
  if (pkey == nullptr) {
    return internal::Error(absl::StatusCode::kInternal,
                           "could not make an X25519 private key");
  }
  return internal::MarshalPkcs8Der(pkey.get());
}

absl::StatusOr<std::string> X25519PublicKeyFromRaw(absl::string_view raw) {
  if (raw.size() != kX25519KeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an X25519 public key is 32 bytes, not ", raw.size()));
  }
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr,
                                              Bytes(raw), raw.size()));
  if (pkey == nullptr) {
    return internal::Error(absl::StatusCode::kInternal,
                           "could not make an X25519 public key");
  }
  return internal::MarshalSpkiDer(pkey.get());
}

absl::StatusOr<std::string> X25519RawPublicKey(absl::string_view spki_der) {
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(spki_der);
  if (!pkey.ok()) return pkey.status();
  std::string raw(kX25519KeySize, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_id(pkey->get()) != EVP_PKEY_X25519 ||
      EVP_PKEY_get_raw_public_key(pkey->get(), Out(raw), &len) != 1 ||
      len != kX25519KeySize) {
    return internal::Error(absl::StatusCode::kInvalidArgument,
                           "the public key is not an X25519 key");
  }
  return raw;
}

absl::Status CheckPeerPublicKey(absl::string_view peer) {
  if (peer.size() != kX25519KeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the peer's X25519 public key is 32 raw bytes, not ", peer.size()));
  }
  Sodium();
  // A scalar multiplication by a throwaway key: libsodium refuses (-1) a
  // point of small order, whose shared secret is all zeros.
  uint8_t scalar[crypto_scalarmult_SCALARBYTES];
  uint8_t shared[crypto_scalarmult_BYTES];
  randombytes_buf(scalar, sizeof(scalar));
  const int rc = crypto_scalarmult(shared, scalar, Bytes(peer));
  sodium_memzero(scalar, sizeof(scalar));
  sodium_memzero(shared, sizeof(shared));
  if (rc != 0) {
    return absl::InvalidArgumentError(
        "the peer's X25519 public key is a point of small order: every "
        "shared secret with it is public");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NaclBox>> NaclBox::Create(
    const SecretData& pkcs8_der) {
  Sodium();
  absl::StatusOr<SecretData> raw = RawPrivateKey(pkcs8_der);
  if (!raw.ok()) return raw.status();
  std::string pub = PublicFromPrivate(*raw);
  return std::unique_ptr<NaclBox>(new NaclBox(*std::move(raw), std::move(pub)));
}

absl::StatusOr<std::string> NaclBox::Seal(absl::string_view peer_public_key,
                                          absl::string_view plaintext) const {
  absl::Status peer = CheckPeerPublicKey(peer_public_key);
  if (!peer.ok()) return peer;
  if (plaintext.size() > kMaxInput) return TooLarge();
  std::string out(kNaclNonceSize + kNaclTagSize + plaintext.size(), '\0');
  randombytes_buf(Out(out), kNaclNonceSize);
  if (crypto_box_easy(Out(out, kNaclNonceSize), Bytes(plaintext),
                      plaintext.size(), Out(out), Bytes(peer_public_key),
                      Bytes(private_key_.InsecureView())) != 0) {
    return absl::InternalError("crypto_box_easy failed");
  }
  return out;
}

absl::StatusOr<std::string> NaclBox::Open(absl::string_view peer_public_key,
                                          absl::string_view nonce,
                                          absl::string_view ciphertext) const {
  if (!nonce.empty() && nonce.size() != kNaclNonceSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a box nonce is 24 bytes, not ", nonce.size()));
  }
  absl::Status peer = CheckPeerPublicKey(peer_public_key);
  if (!peer.ok()) return peer;
  absl::string_view box = ciphertext;
  if (nonce.empty()) {
    if (ciphertext.size() < kNaclNonceSize) return NotAuthentic("box");
    nonce = ciphertext.substr(0, kNaclNonceSize);
    box = ciphertext.substr(kNaclNonceSize);
  }
  if (box.size() < kNaclTagSize || box.size() > kMaxInput) {
    return NotAuthentic("box");
  }
  std::string out(box.size() - kNaclTagSize, '\0');
  if (crypto_box_open_easy(Out(out), Bytes(box), box.size(), Bytes(nonce),
                           Bytes(peer_public_key),
                           Bytes(private_key_.InsecureView())) != 0) {
    WipeString(&out);
    return NotAuthentic("box");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<AsymmetricEncrypter>> NewSealedBoxEncrypter(
    absl::string_view spki_der) {
  Sodium();
  absl::StatusOr<std::string> raw = X25519RawPublicKey(spki_der);
  if (!raw.ok()) return raw.status();
  return std::unique_ptr<AsymmetricEncrypter>(
      new SealedBoxEncrypter(*std::move(raw)));
}

absl::StatusOr<std::unique_ptr<AsymmetricDecrypter>> NewSealedBoxDecrypter(
    const SecretData& pkcs8_der) {
  Sodium();
  absl::StatusOr<SecretData> raw = RawPrivateKey(pkcs8_der);
  if (!raw.ok()) return raw.status();
  std::string pub = PublicFromPrivate(*raw);
  return std::unique_ptr<AsymmetricDecrypter>(
      new SealedBoxDecrypter(*std::move(raw), std::move(pub)));
}

absl::StatusOr<SecretData> X25519SharedSecret(
    const SecretData& pkcs8_der, absl::string_view peer_public_key) {
  Sodium();
  if (peer_public_key.size() != kX25519KeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an X25519 public key is 32 bytes, not ", peer_public_key.size()));
  }
  absl::StatusOr<SecretData> raw = RawPrivateKey(pkcs8_der);
  if (!raw.ok()) return raw.status();
  SecretData shared = SecretData::Zeroed(crypto_scalarmult_BYTES);
  if (crypto_scalarmult(shared.InsecureMutableData(), Bytes(raw->InsecureView()),
                        Bytes(peer_public_key)) != 0) {
    return absl::InvalidArgumentError(
        "the X25519 public key is a point of small order: the shared secret "
        "would be all zeros");
  }
  return shared;
}

namespace {

class X25519Ecdh final : public EcdhPrivateKey {
 public:
  explicit X25519Ecdh(SecretData pkcs8_der) : pkcs8_der_(std::move(pkcs8_der)) {}

  absl::StatusOr<SecretData> ComputeSharedSecret(
      absl::string_view peer_spki_der) const override {
    absl::StatusOr<std::string> peer = X25519RawPublicKey(peer_spki_der);
    if (!peer.ok()) return peer.status();
    return X25519SharedSecret(pkcs8_der_, *peer);
  }

 private:
  const SecretData pkcs8_der_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EcdhPrivateKey>> NewX25519EcdhPrivateKey(
    const SecretData& pkcs8_der) {
  absl::StatusOr<SecretData> raw = RawPrivateKey(pkcs8_der);  // checks type
  if (!raw.ok()) return raw.status();
  return std::unique_ptr<EcdhPrivateKey>(
      new X25519Ecdh(SecretData(pkcs8_der.InsecureView())));
}

absl::StatusOr<EcdhEphemeralResult> X25519Ephemeral(
    absl::string_view recipient_spki_der) {
  Sodium();
  absl::StatusOr<std::string> recipient = X25519RawPublicKey(recipient_spki_der);
  if (!recipient.ok()) return recipient.status();
  SecretData ephemeral = SecretData::Random(kX25519KeySize);
  absl::StatusOr<SecretData> pkcs8 = X25519PrivateKeyFromRaw(ephemeral);
  if (!pkcs8.ok()) return pkcs8.status();
  absl::StatusOr<SecretData> shared = X25519SharedSecret(*pkcs8, *recipient);
  if (!shared.ok()) return shared.status();
  absl::StatusOr<std::string> spki =
      X25519PublicKeyFromRaw(PublicFromPrivate(ephemeral));
  if (!spki.ok()) return spki.status();
  return EcdhEphemeralResult{*std::move(shared), *std::move(spki)};
}

}  // namespace keyward::crypto
