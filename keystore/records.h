// The keystore's records: what is stored about keys and their versions.
// These are plain values shared by the Storage interface (storage.h) and the
// Keystore (keystore.h); neither gRPC nor SQLite appears here.
#ifndef KEYWARD_KEYSTORE_RECORDS_H_
#define KEYWARD_KEYSTORE_RECORDS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/signature.h"

namespace keyward::keystore {

using crypto::KeyType;

// What a key is for. AES keys encrypt, HMAC keys MAC, Ed25519/ECDSA keys sign;
// RSA keys either sign or encrypt, chosen when the key is made (never both,
// as in AWS KMS); ECDH P-256 keys agree keys (JWE ECDH-ES). kKeyAgreement is
// the JWE purpose: RSA, AES and ECDH keys made for it only wrap JWEs.
enum class KeyPurpose : int {
  kEncryptDecrypt = 1,
  kSignVerify = 2,
  kMac = 3,
  kKeyAgreement = 4,
  // Signs and verifies JWTs only (JwtService): a caller allowed raw Sign on
  // other keys cannot forge tokens with this one.
  kJwt = 5,
};

// The states of a key version. Values are stored: never renumber.
enum class VersionState : int {
  kEnabled = 1,
  kDisabled = 2,
  kDestroyed = 3,  // material wiped; metadata kept
};

// KeyRecord is one row of `keys`.
struct KeyRecord {
  std::string id;  // [a-z0-9][a-z0-9._-]{0,62}
  KeyType type = KeyType::kAes256Gcm;
  KeyPurpose purpose = KeyPurpose::kEncryptDecrypt;
  std::string description;
  std::map<std::string, std::string> labels;
  bool exportable = false;
  bool public_only = false;  // imported public key: verify/encrypt only
  int32_t primary_version = 0;
  int32_t latest_version = 0;
  int32_t min_decrypt_version = 1;  // verify/decrypt refuse older versions
  int32_t min_encrypt_version = 0;  // 0: the primary (the only choice today)
  absl::Duration rotation_period = absl::ZeroDuration();  // 0: never
  absl::Duration jwt_max_ttl = absl::ZeroDuration();      // 0: the default
  // A JWT key's token lifetime when SignJwt is given none (0: the default,
  // keystore/jwt.h), and the "iss" SignJwt fills in and holds claims to
  // (empty: none). Both v7.
  absl::Duration jwt_default_ttl = absl::ZeroDuration();
  std::string jwt_issuer;
  // The signature algorithms the key allows, its default first (v7;
  // immutable): a sign/verify key's chosen subset of its type's, a JWT key
  // of an asymmetric type its one JWS algorithm (key_types.h,
  // ChooseSignatureAlgorithms). Empty for every other key.
  std::vector<crypto::SignatureAlgorithm> signature_algorithms;
  // An HMAC key imported with a secret shorter than RFC 7518's minimum
  // (its hash's length), which the import explicitly accepted (v7).
  bool legacy_short_secret = false;
  // A JWE key's (purpose kKeyAgreement) one JWE "alg", e.g. "RSA-OAEP-256";
  // empty: the type's default. Immutable.
  std::string jwe_algorithm;
  absl::Time created_at = absl::UnixEpoch();
  absl::Time rotated_at = absl::UnixEpoch();  // when the primary was made
  // Bumped by every change of the key's row (UpdateKey, AddVersion); a new
  // key has revision 1. UpdateKey is conditional on it (storage.h).
  int64_t revision = 1;
};

// VersionRecord is one row of `key_versions`.
struct VersionRecord {
  std::string key_id;
  int32_t version = 0;
  VersionState state = VersionState::kEnabled;
  absl::Time created_at = absl::UnixEpoch();
  absl::Time destroyed_at = absl::UnixEpoch();  // epoch if not destroyed
  // AES-256-GCM under the root key, AAD binding key id, version and type
  // (FORMAT.md). Empty for public-only and destroyed versions.
  std::string wrapped_material;
  // SPKI DER of an asymmetric version (not secret); empty for symmetric keys.
  std::string public_key;
  bool imported = false;  // made from caller material (ImportKey)
  // The version's own JOSE kid (imported keys keep the one their tokens
  // carry); empty: the default "{key_id}:v{version}". Unique.
  std::string kid;
};

// KeyWithVersions: a key (with its labels) and all of its versions in
// ascending version order, read in one snapshot.
struct KeyWithVersions {
  KeyRecord key;
  std::vector<VersionRecord> versions;
  // Storage::GetKeyWithVersions only: the change feed's head read in the
  // same snapshot (every change up to it is in `key` and `versions`). 0
  // elsewhere; no part of the store's records.
  int64_t feed_head = 0;
};

// PolicyRecord is one row of `policies`: a grant of operations to a
// principal on keys. The keystore stores it; the daemon interprets it.
struct PolicyRecord {
  std::string id;         // [a-z0-9][a-z0-9._-]{0,62}
  std::string principal;  // e.g. "unix:uid:1000", "spiffe://example/ci"
  std::string resource;   // "keys/{id}", "keys/{prefix}*" or "*"
  std::vector<std::string> operations;  // e.g. {"SIGN", "VERIFY"}
  std::string description;
  std::string created_by;
  absl::Time created_at = absl::UnixEpoch();
};

// ApiKeyRecord is one row of `api_keys`. Only a hash of the secret is kept.
struct ApiKeyRecord {
  std::string id;  // [a-z0-9][a-z0-9._-]{0,62}; never reused
  std::string description;
  std::string secret_sha256;  // SHA-256 of the whole secret string
  std::string created_by;
  absl::Time created_at = absl::UnixEpoch();
  absl::Time expire_at = absl::InfiniteFuture();  // InfiniteFuture: never
  absl::Time revoked_at = absl::InfiniteFuture();  // InfiniteFuture: active
  absl::Time last_login_at = absl::UnixEpoch();
};

// TokenRecord is one row of `token_records` (and its `token_metadata`): what
// is kept about a JWT issued with a record, for look-up and revocation.
struct TokenRecord {
  std::string jti;     // the token's "jti"; unique
  std::string key_id;  // the signing key
  int32_t version = 0;
  std::string external_id;  // the caller's id (e.g. a transaction); may repeat
  std::map<std::string, std::string> metadata;  // not secret
  std::string subject;      // "sub", if any
  std::string claims_json;  // as signed
  // The compact token under the root key (Keystore::OpenToken); empty when
  // the token was not kept.
  std::string sealed_token;
  std::string issued_by;
  absl::Time issued_at = absl::UnixEpoch();
  absl::Time expire_at = absl::UnixEpoch();
  absl::Time purge_at = absl::UnixEpoch();  // the row is deleted after this
  absl::Time revoked_at = absl::InfiniteFuture();  // InfiniteFuture: not
  std::string revoke_reason;
  std::string revoked_by;

  bool revoked() const { return revoked_at != absl::InfiniteFuture(); }
};

// TokenFilter selects token records; empty fields match anything.
struct TokenFilter {
  enum class State { kAny, kActive, kExpired, kRevoked };
  std::string key_id;
  std::string external_id;
  State state = State::kAny;
  absl::Time now = absl::UnixEpoch();  // what "expired" is relative to
};

// TokenCursor is a position in the newest-first order of token records
// (issued_at descending, then jti descending): a listing returns records
// strictly after it. The default is the start.
struct TokenCursor {
  absl::Time issued_at = absl::InfiniteFuture();
  std::string jti;
};

// KeystoreMeta is the keystore-wide row: the key hierarchy's parameters.
struct KeystoreMeta {
  std::string kdf_salt;  // 16 random bytes
  uint64_t scrypt_n = 0;
  uint32_t scrypt_r = 0;
  uint32_t scrypt_p = 0;
  // HMAC-SHA256(KEK, "keyward passphrase check v1"): tells a wrong passphrase
  // apart from a damaged wrapped root key.
  std::string kek_check;
  // The root key, AES-256-GCM under the KEK.
  std::string wrapped_root_key;
};

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_RECORDS_H_
