// Key types: everything Keyward knows about each KeyType, in one table.
//
// Every question of the form "can a key of type T do X" (its purposes, the
// signature algorithms it signs with, its JWS and JWE algorithms, the secret
// sizes it takes, whether it has a public key) is answered here, from one row
// per type, instead of by switches spread over the keystore, the storage
// backends and the daemon. Adding a key type is adding its enumerator in
// keystore/crypto/keys.h and its row in key_types.cc (the compiler refuses a
// missing row: the rows come from a switch without a default);
// key_types_test.cc checks every row against the crypto layer.
//
// All functions are thread-safe; the table is immutable.
#ifndef KEYWARD_KEYSTORE_KEY_TYPES_H_
#define KEYWARD_KEYSTORE_KEY_TYPES_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/signature.h"
#include "keystore/jose/jwe.h"
#include "keystore/jose/jws.h"
#include "keystore/records.h"

namespace keyward::keystore {

struct KeyTypeInfo {
  KeyType type;
  // The stable name stored with each key and shown to people (crypto's
  // KeyTypeName, e.g. "ECDSA_P256").
  absl::string_view name;
  // Asymmetric types keep PKCS#8 private keys and have a public key.
  bool asymmetric = false;
  bool rsa = false;
  // Symmetric types: the bytes of a generated secret, and the sizes a raw
  // secret given to ImportKey may have (AES exactly 32; HMAC from its
  // hash's length, RFC 7518 s3.2, to 1024). HMAC keys also take a shorter
  // secret, down to min_legacy_secret, when the import explicitly accepts a
  // legacy short secret (the key is then marked: legacy_short_secret).
  size_t secret_size = 0;
  size_t min_import_secret = 0;
  size_t max_import_secret = 0;
  size_t min_legacy_secret = 0;
  // The purpose a key gets when the caller names none, and the others it
  // may be given instead.
  KeyPurpose default_purpose = KeyPurpose::kSignVerify;
  std::vector<KeyPurpose> other_purposes;
  // Sign/verify keys: the algorithms they sign with, the default first.
  std::vector<crypto::SignatureAlgorithm> signature_algorithms;
  // JWT keys: the JWS algorithm they sign with (HMAC types: HS*), and for
  // asymmetric types the crypto algorithm behind it (JWS encoding: r||s).
  std::optional<jose::JwsAlgorithm> jws_algorithm;
  std::optional<crypto::SignatureAlgorithm> jws_signature;
  // HMAC types: the hash.
  std::optional<crypto::HashType> hmac_hash;
  // JWE keys: the "alg" values they may be given, the default first.
  std::vector<jose::JweAlgorithm> jwe_algorithms;
};

// KeyTypeInfoOf returns the row of `type`. Every KeyType has one.
const KeyTypeInfo& KeyTypeInfoOf(KeyType type);

// AllKeyTypes returns every row, in enumerator order.
const std::vector<KeyTypeInfo>& AllKeyTypes();

// KeyTypeFromName returns the type whose name is `name` ("ECDSA_P256"), or
// nullopt. Storage backends decode stored types with it.
std::optional<KeyType> KeyTypeFromName(absl::string_view name);

// KeyPurposeName names a purpose for messages ("sign/verify", "JWT", ...).
absl::string_view KeyPurposeName(KeyPurpose purpose);

// AllowsPurpose: whether a key of `type` may have `purpose`.
bool AllowsPurpose(KeyType type, KeyPurpose purpose);

// ValidatePurpose: OK if AllowsPurpose, else INVALID_ARGUMENT naming the
// purposes the type may have.
absl::Status ValidatePurpose(KeyType type, KeyPurpose purpose);

// SignatureAlgorithmsFor lists the algorithms a key of `type` signs with,
// the default first; empty for keys that do not sign.
const std::vector<crypto::SignatureAlgorithm>& SignatureAlgorithmsFor(
    KeyType type);

// JwsSignatureAlgorithm: the algorithm a JWT key of `type` signs with when
// its creator names none (nullopt for HMAC types, which MAC).
std::optional<crypto::SignatureAlgorithm> JwsSignatureAlgorithm(KeyType type);

// JwtSignatureAlgorithms lists the algorithms a JWT key of `type` may be
// given, the default first: those of its type with a JWS name (RSA:
// RS256/384/512 and PS256/384/512; ECDSA: its curve's r||s form, ES256/
// 384/512; Ed25519: EdDSA). Empty for HMAC types (HS* by their hash).
std::vector<crypto::SignatureAlgorithm> JwtSignatureAlgorithms(KeyType type);

// DefaultSignatureAlgorithms: the algorithms a key of `type` and `purpose`
// has when its creator names none, the default first: a sign/verify key
// every algorithm of its type, a JWT key of an asymmetric type its type's
// JWS algorithm (ES256/384/512 by curve, EdDSA, RS256); empty for every
// other key. Keys stored before schema 7 have these.
std::vector<crypto::SignatureAlgorithm> DefaultSignatureAlgorithms(
    KeyType type, KeyPurpose purpose);

// ChooseSignatureAlgorithms checks the algorithms asked for a new key of
// `type` and `purpose` and returns those it gets: empty `asked` is the
// default; a sign/verify key takes a non-empty subset, without repeats, of
// its type's algorithms (the first is its default); a JWT key of an
// asymmetric type exactly one of JwtSignatureAlgorithms; every other key
// none. INVALID_ARGUMENT naming what was asked and what the key may have.
absl::StatusOr<std::vector<crypto::SignatureAlgorithm>>
ChooseSignatureAlgorithms(KeyType type, KeyPurpose purpose,
                          const std::vector<crypto::SignatureAlgorithm>& asked);

// SignatureAlgorithmFromName is the inverse of crypto's
// SignatureAlgorithmName ("RSA-PKCS1-SHA512"); nullopt for another name.
std::optional<crypto::SignatureAlgorithm> SignatureAlgorithmFromName(
    absl::string_view name);

// SignatureAlgorithmsText is the stored form of a key's algorithms: their
// names joined by ',' ("" for none). ParseSignatureAlgorithms reads it
// back; nullopt if a name is unknown.
std::string SignatureAlgorithmsText(
    const std::vector<crypto::SignatureAlgorithm>& algorithms);
std::optional<std::vector<crypto::SignatureAlgorithm>> ParseSignatureAlgorithms(
    absl::string_view text);

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_KEY_TYPES_H_
