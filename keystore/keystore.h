// Keystore: Keyward's keys and their lifecycle, over a Storage (SQLite by
// default, or PostgreSQL: StorageSpec), with no knowledge of gRPC.
//
// A Keystore is opened with the operator passphrase, which unlocks the root
// key (hierarchy.h). Key versions' material stays wrapped on disk and is
// unwrapped only on first use, into a bounded cache (key_cache.h) of ready
// primitives; nothing is decrypted at open time.
//
// Thread-safety: every method may be called from many threads at once. Data
// plane calls on a cached key take no keystore-wide lock and read no SQLite;
// admin calls are serialized with each other.
//
// Errors (the daemon maps these codes to gRPC one to one):
//   INVALID_ARGUMENT     bad input; in Verify/VerifyMac also "not valid"
//   NOT_FOUND            no such key or version
//   ALREADY_EXISTS       the key id is taken
//   FAILED_PRECONDITION  the key cannot do that (wrong purpose, version
//                        disabled/destroyed/below the minimum, not exportable)
//   UNAUTHENTICATED      wrong passphrase
//   DATA_LOSS            stored material fails its integrity check (names the
//                        key and version)
//   UNAVAILABLE          storage cannot be read or written
#ifndef KEYWARD_KEYSTORE_KEYSTORE_H_
#define KEYWARD_KEYSTORE_KEYSTORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/pbe_limits.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"
#include "keystore/hierarchy.h"
#include "keystore/key_types.h"
#include "keystore/postgres_storage.h"
#include "keystore/records.h"
#include "keystore/storage.h"

namespace keyward::keystore {

struct KeystoreOptions {
  // Most keys whose decrypted versions are held in memory at once.
  size_t cache_size = 1024;
  // scrypt cost for a new keystore or a passphrase change.
  KdfParams kdf;
  // The most key-derivation work an encrypted private key given to
  // ImportKey may ask for (PBKDF2 rounds, scrypt N/r/p), checked before any
  // derivation: more is INVALID_ARGUMENT naming the limit.
  crypto::KdfLimits import_kdf_limits;
  // The clock; tests replace it.
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

// A JWT key's token lifetimes when it sets none (JwtKeySettings), and the
// longest either may be set to.
inline constexpr absl::Duration kDefaultJwtTtl = absl::Minutes(15);
inline constexpr absl::Duration kDefaultJwtMaxTtl = absl::Hours(24);
inline constexpr absl::Duration kLongestJwtTtl = absl::Hours(24 * 366);
// The longest JWT issuer a key keeps, in bytes.
inline constexpr size_t kMaxJwtIssuerBytes = 256;

struct CreateKeyParams {
  std::string id;  // [a-z0-9][a-z0-9._-]{0,62}
  KeyType type = KeyType::kAes256Gcm;
  // Defaults from the type; RSA keys may pick kEncryptDecrypt.
  std::optional<KeyPurpose> purpose;
  std::string description;
  std::map<std::string, std::string> labels;
  bool exportable = false;
  absl::Duration rotation_period = absl::ZeroDuration();
  absl::Duration jwt_max_ttl = absl::ZeroDuration();
  // JWT keys: the lifetime SignJwt gives a token when asked for none (0:
  // kDefaultJwtTtl, or the maximum if shorter), at most the maximum; and
  // the "iss" it fills in and holds claims to (empty: none; at most
  // kMaxJwtIssuerBytes). INVALID_ARGUMENT otherwise, as for a maximum over
  // kLongestJwtTtl or a negative lifetime.
  absl::Duration jwt_default_ttl = absl::ZeroDuration();
  std::string jwt_issuer;
  // The key's signature algorithms, its default first; empty: its type's
  // default (key_types.h, ChooseSignatureAlgorithms, which checks them).
  std::vector<crypto::SignatureAlgorithm> signature_algorithms;
  // JWE keys: the one JWE "alg" (the daemon checks it suits the type).
  std::string jwe_algorithm;
};

enum class ImportFormat {
  kPrivateKeyPem,  // PKCS#8 (plain or encrypted), RSA or EC PEM
  kPrivateKeyDer,  // PKCS#8 DER
  kRawSecret,      // HMAC or AES secret bytes
  kPublicKey,      // SPKI PEM or DER: a verify/encrypt-only key
};

struct ImportKeyParams {
  // With `new_version`, `create.id` names an existing key whose type must
  // match, and the import becomes its new primary version.
  CreateKeyParams create;
  bool new_version = false;
  ImportFormat format = ImportFormat::kPrivateKeyPem;
  crypto::SecretData material;
  // For an encrypted PEM private key.
  std::optional<crypto::SecretData> passphrase;
  // Called, if set, after an encrypted key's KDF cost has passed
  // `import_kdf_limits` and just before the derivation (which cannot be
  // interrupted once started); a non-OK status (say DEADLINE_EXCEEDED when
  // the caller gave up) is returned as the import's answer, with nothing
  // derived or written.
  std::function<absl::Status()> before_costly_work;
  // Take the type from asymmetric material instead of create.type.
  bool type_from_material = false;
  // The new version's own JOSE kid: 1 to 256 printable ASCII characters,
  // unique, not of the default form "...:vN". Empty: the default.
  std::string kid;
  // Accept an HMAC secret shorter than RFC 7518's minimum (the hash's
  // length: HS256 32 bytes, HS384 48, HS512 64), for a legacy token issuer.
  // A new key made so is marked legacy_short_secret; a new version with a
  // short secret goes only to a key so marked. Without it a short secret
  // is INVALID_ARGUMENT.
  bool allow_short_secret = false;
  // With `new_version`: if not empty, the algorithms the material is for
  // (a JWK's "alg"); INVALID_ARGUMENT unless they are the key's.
  std::vector<crypto::SignatureAlgorithm> expect_algorithms;
};

// PrivateKeyPem wraps PKCS#8 DER as a "PRIVATE KEY" PEM block. The result
// holds the key: treat it as a secret.
std::string PrivateKeyPem(const crypto::SecretData& pkcs8_der);

// KeyUpdate: the mutable fields; unset members are left as they are.
// The checks of CreateKeyParams hold for the key as updated
// (min_encrypt_version: 1 to the primary version, as min_decrypt_version).
struct KeyUpdate {
  std::optional<std::string> description;
  std::optional<std::map<std::string, std::string>> labels;
  std::optional<int32_t> min_decrypt_version;
  std::optional<int32_t> min_encrypt_version;
  std::optional<absl::Duration> rotation_period;
  std::optional<absl::Duration> jwt_max_ttl;
  std::optional<absl::Duration> jwt_default_ttl;
  std::optional<std::string> jwt_issuer;
};

struct SignResult {
  int32_t version = 0;
  // The algorithm that signed (unused for MACs).
  crypto::SignatureAlgorithm algorithm = crypto::SignatureAlgorithm::kEd25519;
  std::string signature;  // the raw signature (no envelope)
  // The signature in Keyward's envelope (format.h), naming the version.
  std::string Enveloped() const;
};

// BoxResult is a NaCl box made by Keystore::Box.
struct BoxResult {
  int32_t version = 0;
  std::string ciphertext;         // 24-byte nonce || crypto_box_easy output
  std::string sender_public_key;  // the version's raw X25519 public key
};

struct DataKey {
  crypto::SecretData plaintext;
  std::string ciphertext;  // enveloped, as Encrypt returns
};

struct PublicKeyInfo {
  int32_t version = 0;
  KeyType type = KeyType::kEd25519;
  std::string spki_der;
};

// ValidateKeyId: OK for [a-z0-9][a-z0-9._-]{0,62} (at most kMaxKeyIdLength
// bytes, all ASCII), else INVALID_ARGUMENT.
inline constexpr size_t kMaxKeyIdLength = 63;
absl::Status ValidateKeyId(absl::string_view id);
// ValidateKid: OK for a custom JOSE kid (ImportKeyParams::kid), else
// INVALID_ARGUMENT.
absl::Status ValidateKid(absl::string_view kid);

// StorageSpec: which database holds the keystore, chosen by the caller (the
// daemon's `storage` config). With `postgres` unset, the SQLite file at
// `sqlite_path`; with it set, that PostgreSQL database (PostgresStorage;
// `sqlite_path` is ignored).
//
// Everything behaves the same on either backend, backups included (a backup
// made on one restores into the other).
struct StorageSpec {
  std::string sqlite_path;
  std::optional<PostgresOptions> postgres;
};

class Keystore {
 public:
  // The StorageSpec forms below choose the backend; the path forms are
  // StorageSpec{path} (SQLite).
  //
  // Init on PostgreSQL connects (PostgresStorage::Open's errors: UNAVAILABLE
  // if the server cannot be reached or refuses the login, INVALID_ARGUMENT
  // for a bad dsn, FAILED_PRECONDITION for a loose password file or a build
  // without PostgreSQL) and writes the hierarchy row: ALREADY_EXISTS if the
  // database already holds a keystore (it is left as it was).
  static absl::StatusOr<std::unique_ptr<Keystore>> Init(
      const StorageSpec& spec, const crypto::SecretData& passphrase,
      KeystoreOptions options = {});
  // Open on PostgreSQL: the connection errors as Init; NOT_FOUND if the
  // database holds no keystore ("run `keywardd init` with the same storage
  // config"); UNAUTHENTICATED for a wrong passphrase (or a database holding
  // another keystore).
  static absl::StatusOr<std::unique_ptr<Keystore>> Open(
      const StorageSpec& spec, const crypto::SecretData& passphrase,
      KeystoreOptions options = {});
  // OpenSealed: Open without the passphrase (errors as Open, less
  // UNAUTHENTICATED).
  static absl::StatusOr<std::unique_ptr<Keystore>> OpenSealed(
      const StorageSpec& spec, KeystoreOptions options = {});

  // Init creates a keystore in a new SQLite file at `path` (mode 0600) with a
  // fresh hierarchy under `passphrase`. ALREADY_EXISTS if `path` holds one.
  static absl::StatusOr<std::unique_ptr<Keystore>> Init(
      const std::string& path, const crypto::SecretData& passphrase,
      KeystoreOptions options = {});

  // Open opens the keystore at `path`. NOT_FOUND if there is none (run
  // `keywardd init`), FAILED_PRECONDITION if the file is readable by group or
  // others, UNAUTHENTICATED for a wrong passphrase.
  static absl::StatusOr<std::unique_ptr<Keystore>> Open(
      const std::string& path, const crypto::SecretData& passphrase,
      KeystoreOptions options = {});

  // OpenStorage is Open over any Storage (tests inject faults with it); with
  // `init` it creates the hierarchy first.
  static absl::StatusOr<std::unique_ptr<Keystore>> OpenStorage(
      std::unique_ptr<Storage> storage, const crypto::SecretData& passphrase,
      KeystoreOptions options, bool init);

  // OpenSealed opens the keystore at `path` without its passphrase: every
  // call that needs key material is UNAVAILABLE until Unseal.
  static absl::StatusOr<std::unique_ptr<Keystore>> OpenSealed(
      const std::string& path, KeystoreOptions options = {});

  // Seal forgets the root key and wipes every decrypted key (calls already
  // running finish with what they hold). Unseal unlocks again:
  // UNAUTHENTICATED for a wrong passphrase; OK if already unsealed with it.
  void Seal();
  absl::Status Unseal(const crypto::SecretData& passphrase);
  bool sealed() const;

  // Now is the keystore's clock (KeystoreOptions::now): what the keystore's
  // rules (rotation, token records, the JWT rules of keystore/jwt.h) take
  // as the current time.
  absl::Time Now() const;

  ~Keystore();

  // --- Admin ---------------------------------------------------------------
  // CreateKey makes a key with one version (1, primary) of fresh material.
  absl::StatusOr<KeyRecord> CreateKey(const CreateKeyParams& params);
  // ImportKey makes a key (or a new version) from existing material.
  absl::StatusOr<KeyRecord> ImportKey(ImportKeyParams params);
  absl::StatusOr<KeyRecord> GetKey(const std::string& id);
  // PrimaryVersion is GetKey(id)->primary_version without copying the
  // record (the data plane asks it on every Decrypt).
  absl::StatusOr<int32_t> PrimaryVersion(const std::string& id);
  // ListKeys returns up to `limit` keys with ids after `after`, in id order.
  absl::StatusOr<std::vector<KeyRecord>> ListKeys(const std::string& after,
                                                  int limit);
  absl::StatusOr<KeyRecord> UpdateKey(const std::string& id,
                                      const KeyUpdate& update);
  // RotateKey adds a version of fresh material and makes it the primary,
  // atomically. FAILED_PRECONDITION for an imported public-only key.
  absl::StatusOr<VersionRecord> RotateKey(const std::string& id);
  // RotateKeyIfDue is RotateKey only while the key is due (its rotation
  // period has passed since its last rotation; KeysDueForRotation): the
  // check is re-made whenever AddVersion's compare-and-swap, decided under
  // the key row's lock, finds a rotation made elsewhere since the read, so
  // two replicas rotating a due key make one version. FAILED_PRECONDITION
  // ("no longer due") with nothing written otherwise.
  absl::StatusOr<VersionRecord> RotateKeyIfDue(const std::string& id);
  // ListVersions returns the versions' metadata (never material).
  absl::StatusOr<std::vector<VersionRecord>> ListVersions(
      const std::string& id);
  absl::StatusOr<VersionRecord> GetVersion(const std::string& id,
                                           int32_t version);
  // FindVersionByKid returns the version with its own kid `kid` (imported
  // with one); NOT_FOUND if none. The kid is found in memory (an index made
  // at open and restore and kept by ImportKey), so an unknown kid reads no
  // row; the version comes from the key cache.
  absl::StatusOr<VersionRecord> FindVersionByKid(const std::string& kid);
  // Version state changes. The primary cannot be disabled (rotate first);
  // only a disabled version can be destroyed; a destroyed version stays
  // destroyed. Changing to the current state is OK (idempotent).
  absl::Status DisableVersion(const std::string& id, int32_t version);
  absl::Status EnableVersion(const std::string& id, int32_t version);
  absl::Status DestroyVersion(const std::string& id, int32_t version);
  // KeysDueForRotation lists the keys whose rotation period has passed (the
  // daemon's maintenance rotates them with RotateKey). Reads only the keys
  // that have a rotation period.
  absl::StatusOr<std::vector<std::string>> KeysDueForRotation();
  // PurgeExpiredTokens deletes token records past their purge time, up to
  // `limit`, and returns how many.
  absl::StatusOr<int> PurgeExpiredTokens(int limit);
  // ChangePassphrase re-wraps the root key under `new_passphrase`, atomically;
  // UNAUTHENTICATED if `old_passphrase` is wrong.
  absl::Status ChangePassphrase(const crypto::SecretData& old_passphrase,
                                const crypto::SecretData& new_passphrase);
  absl::StatusOr<int64_t> CountKeys();
  // CreateBackup returns an encrypted backup of the whole keystore, read in
  // one snapshot (backup.h, format 2: the records under the root key), on
  // either backend. UNAVAILABLE while sealed. `scratch_path` is not used
  // (format 2 needs no staging file); it stays for callers.
  absl::StatusOr<std::string> CreateBackup(const std::string& scratch_path);
  // Restore replaces the whole keystore, in place and atomically (one
  // storage transaction, under the commit hook), with the one `backup`
  // holds: format 2, or format 1 (a SQLite file, staged at `scratch_path`
  // and removed after). Errors as DecodeBackup (backup.h); nothing changes
  // unless every check passed. Works on either backend, whichever backend
  // the backup came from. Afterwards the keystore is sealed: unseal it with
  // the backup's passphrase.
  absl::Status Restore(absl::string_view backup,
                       const crypto::SecretData& passphrase,
                       const std::string& scratch_path);
  // Access policies, stored with the keys (interpreted by the daemon).
  absl::Status CreatePolicy(const PolicyRecord& policy);
  absl::Status DeletePolicy(const std::string& id);
  absl::StatusOr<std::vector<PolicyRecord>> ListPolicies();
  // API keys, stored with the keys (the daemon makes and checks secrets).
  absl::Status CreateApiKey(const ApiKeyRecord& key);
  absl::StatusOr<ApiKeyRecord> GetApiKey(const std::string& id);
  absl::StatusOr<std::vector<ApiKeyRecord>> ListApiKeys();
  absl::Status RevokeApiKey(const std::string& id);
  absl::Status TouchApiKey(const std::string& id);
  // ExportPrivateKey returns a version's PKCS#8 DER (asymmetric) or raw
  // secret; FAILED_PRECONDITION unless the key was made exportable.
  absl::StatusOr<crypto::SecretData> ExportKeyMaterial(const std::string& id,
                                                       int32_t version);

  // --- Data plane ----------------------------------------------------------
  // Sign signs `data` with the primary version. `algorithm` defaults to the
  // key's default (KeyRecord::signature_algorithms[0]); one the key does not
  // allow is INVALID_ARGUMENT naming it and the key's (Verify too).
  // With `is_digest`, `data` is a digest made with the algorithm's hash
  // (ECDSA and RSA keys; INVALID_ARGUMENT for Ed25519 or a wrong length).
  absl::StatusOr<SignResult> Sign(
      const std::string& id, absl::string_view data,
      std::optional<crypto::SignatureAlgorithm> algorithm = std::nullopt,
      bool is_digest = false);
  // Verify checks an enveloped signature (or, with `version`, a raw one).
  // OK if valid; INVALID_ARGUMENT if the signature is not valid, however
  // malformed; other codes for a key that cannot verify.
  absl::Status Verify(
      const std::string& id, absl::string_view data,
      absl::string_view signature,
      std::optional<crypto::SignatureAlgorithm> algorithm = std::nullopt,
      std::optional<int32_t> version = std::nullopt,
      int32_t* used_version = nullptr, bool is_digest = false);
  // Encrypt seals `plaintext` with the primary version (AES-256-GCM, or
  // RSA-OAEP-SHA256 with `associated_data` as the OAEP label, or NaCl's
  // secretbox, XChaCha20-Poly1305 or, for X25519 keys, a sealed box to the
  // key's own public key; secretbox and sealed boxes take no associated
  // data).
  absl::StatusOr<std::string> Encrypt(const std::string& id,
                                      absl::string_view plaintext,
                                      absl::string_view associated_data);
  // Decrypt opens what Encrypt made. INVALID_ARGUMENT if the ciphertext is
  // malformed, names a version the key lacks, or is not authentic.
  absl::StatusOr<crypto::SecretData> Decrypt(const std::string& id,
                                             absl::string_view ciphertext,
                                             absl::string_view associated_data,
                                             int32_t* used_version = nullptr);
  // Box and BoxOpen are NaCl's crypto_box (X25519 + XSalsa20-Poly1305)
  // between an X25519 key of purpose kEncryptDecrypt and a peer's raw
  // 32-byte public key (keystore_nacl.cc; formats in crypto/nacl.h). Box
  // uses the primary version. BoxOpen uses `version` (0: the primary):
  // a box names no version. With an empty `nonce`, `ciphertext` is
  // nonce || box; otherwise the nonce must be 24 bytes. INVALID_ARGUMENT
  // for a peer key that is not 32 bytes or of small order, a nonce of
  // another length, and a box that is truncated, altered or not from
  // `peer_public_key` (one message, no plaintext); FAILED_PRECONDITION for
  // a key that is not X25519 or not for encrypt/decrypt.
  absl::StatusOr<BoxResult> Box(const std::string& id,
                                absl::string_view peer_public_key,
                                absl::string_view plaintext);
  absl::StatusOr<crypto::SecretData> BoxOpen(const std::string& id,
                                             int32_t version,
                                             absl::string_view peer_public_key,
                                             absl::string_view nonce,
                                             absl::string_view ciphertext,
                                             int32_t* used_version = nullptr);
  // ReEncrypt moves a ciphertext to the primary version; the plaintext never
  // leaves the keystore.
  absl::StatusOr<std::string> ReEncrypt(const std::string& id,
                                        absl::string_view ciphertext,
                                        absl::string_view associated_data);
  // GenerateDataKey makes `size` random bytes and their encryption under the
  // primary version (envelope encryption).
  absl::StatusOr<DataKey> GenerateDataKey(const std::string& id, size_t size,
                                          absl::string_view associated_data);
  absl::StatusOr<SignResult> Mac(const std::string& id, absl::string_view data);
  // VerifyMac: OK if valid, INVALID_ARGUMENT if not.
  absl::Status VerifyMac(const std::string& id, absl::string_view data,
                         absl::string_view mac,
                         int32_t* used_version = nullptr);
  // JWT keys (purpose kJwt). SignJws signs a JWS signing input with
  // `version` (0: the primary) in the key's one JWS algorithm (its
  // signature_algorithms[0]: Ed25519, ECDSA r||s, RSA PKCS#1 v1.5 or PSS;
  // HMAC keys: HMAC), returning the raw signature.
  // VerifyJws: OK if valid, INVALID_ARGUMENT if not.
  absl::StatusOr<SignResult> SignJws(const std::string& id, int32_t version,
                                     absl::string_view signing_input);
  absl::Status VerifyJws(const std::string& id, int32_t version,
                         absl::string_view signing_input,
                         absl::string_view signature);

  // JweKeyMaterial returns a copy of a JWE key's (purpose kKeyAgreement)
  // material: version 0 is the primary (for encryption), otherwise the
  // version must be usable for decryption. The JWE codec needs the key
  // itself (content keys are derived or unwrapped with it).
  absl::StatusOr<crypto::SecretData> JweKeyMaterial(const std::string& id,
                                                    int32_t version,
                                                    int32_t* used_version);

  // --- Token records (JwtService) -----------------------------------------
  // RecordToken stores `record`, with `token` (if not empty) sealed under
  // the root key (AAD binds the jti), and purges up to 64 records whose
  // purge time has passed. ALREADY_EXISTS for a jti in use.
  absl::Status RecordToken(TokenRecord record, absl::string_view token);
  absl::StatusOr<TokenRecord> GetTokenRecord(const std::string& jti);
  absl::StatusOr<std::vector<TokenRecord>> ListTokenRecords(
      const TokenFilter& filter, const TokenCursor& cursor, int limit);
  // RevokeToken marks a record revoked (the first revocation's time and
  // reason are kept); NOT_FOUND if there is no record.
  absl::StatusOr<TokenRecord> RevokeToken(const std::string& jti,
                                          const std::string& reason,
                                          const std::string& revoked_by);
  // OpenToken returns the compact token kept in `record` ("" if none);
  // UNAVAILABLE while sealed, DATA_LOSS if the sealed token is damaged.
  absl::StatusOr<std::string> OpenToken(const TokenRecord& record);
  // IsTokenRevoked: whether `jti` has a revoked record. Memory only: no
  // SQLite read on the verification path.
  bool IsTokenRevoked(const std::string& jti) const;

  // GetPublicKey returns a version's (0: the primary's) public key.
  absl::StatusOr<PublicKeyInfo> GetPublicKey(const std::string& id,
                                             int32_t version = 0);

  // --- Replicas: following the change feed (storage.h) --------------------
  // Several keystores (replicas, processes) on one PostgreSQL database see
  // each other's changes through the feed. CatchUp reads up to `limit`
  // changes after FeedPosition() and applies them to this keystore's memory:
  // a key's cached entry is dropped (the next use reads it again), a revoked
  // token's jti joins the revoked set. A restore by another keystore
  // (kStore) seals this one (its root key may no longer be the store's;
  // unseal it with the backup's passphrase) and reloads the indexes; so does
  // a gap in the feed (pruned changes) without sealing. It returns the
  // changes applied (a reload: one kStore change), so that the caller
  // updates its own memory (policies, API-key sessions). UNAVAILABLE if the
  // storage cannot be read: nothing is applied; call again. One caller at a
  // time (calls are serialized). Changes this keystore made itself come back
  // too, and applying them again is harmless.
  absl::StatusOr<std::vector<ChangeRecord>> CatchUp(int limit = 1000);
  // FeedPosition: the seq of the last change applied (the head read at open,
  // restore or reload for those before).
  int64_t FeedPosition() const;
  // FeedHead reads the feed's head from the storage (Storage::ChangeHead):
  // for status and lag (FeedHead() - FeedPosition()). UNAVAILABLE if the
  // storage cannot be read.
  absl::StatusOr<int64_t> FeedHead();
  // CaughtUpAt: the start of the last CatchUp that reached the head (every
  // change committed before it is applied), or of the last (re)load.
  absl::Time CaughtUpAt() const;
  // WaitForChange: the storage's wake-up hint (Storage::WaitForChange).
  void WaitForChange(absl::Duration timeout);
  // PruneChanges deletes up to `limit` feed changes older than `keep`
  // (Storage::PruneChanges) and returns how many.
  absl::StatusOr<int> PruneChanges(absl::Duration keep, int limit);
  // AcquireLease: Storage::AcquireLease (storage.h, "Leases").
  absl::StatusOr<LeaseRecord> AcquireLease(const std::string& name,
                                           const std::string& holder,
                                           absl::Duration ttl);

 private:
  // Rotate: RotateKey, or RotateKeyIfDue when `only_if_due`.
  absl::StatusOr<VersionRecord> Rotate(const std::string& id, bool only_if_due);
  // Impl (keystore_impl.h): the private state, shared by the files that
  // implement this class by concern.
  class Impl;
  Keystore(std::unique_ptr<Storage> storage, KeystoreOptions options,
           std::shared_ptr<const crypto::Aead> root);

  const std::unique_ptr<Impl> impl_;
};

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_KEYSTORE_H_
