#include "keystore/keystore.h"
#include "keystore/backup.h"
#include "keystore/crypto/digest.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/pkcs8_encrypt.h"
#include "keystore/format.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using crypto::SignatureAlgorithm;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  static int counter = 0;
  const char* dir = getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name, "-", getpid(), "-",
                      counter++, ".db");
}

const SecretData& Passphrase() {
  static const SecretData* p = new SecretData("correct horse battery staple");
  return *p;
}

// Runs one SQL statement against the keystore file behind Keyward's back.
void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

class KeystoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = TempPath("keystore");
    auto ks = Keystore::Init(path_, Passphrase(), Options());
    ASSERT_TRUE(ks.ok()) << ks.status();
    ks_ = std::move(*ks);
  }

  virtual KeystoreOptions Options() {
    KeystoreOptions options;
    options.now = [this] { return now_; };
    return options;
  }

  void Reopen() {
    ks_.reset();
    auto ks = Keystore::Open(path_, Passphrase(), Options());
    ASSERT_TRUE(ks.ok()) << ks.status();
    ks_ = std::move(*ks);
  }

  KeyRecord Create(const std::string& id, KeyType type,
                   std::optional<KeyPurpose> purpose = std::nullopt) {
    CreateKeyParams params;
    params.id = id;
    params.type = type;
    params.purpose = purpose;
    auto key = ks_->CreateKey(params);
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? *key : KeyRecord{};
  }

  absl::Time now_ = absl::FromUnixSeconds(1800000000);
  std::string path_;
  std::unique_ptr<Keystore> ks_;
};

TEST_F(KeystoreTest, InitRefusesAnExistingKeystore) {
  auto again = Keystore::Init(path_, Passphrase());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(KeystoreTest, OpenMissingIsNotFound) {
  auto ks = Keystore::Open(TempPath("missing"), Passphrase());
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ks.status().message(), HasSubstr("keywardd init"));
}

TEST_F(KeystoreTest, FileIsPrivateAndWiderModesAreRefused) {
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ks_.reset();
  ASSERT_EQ(chmod(path_.c_str(), 0640), 0);
  auto ks = Keystore::Open(path_, Passphrase());
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ks.status().message(), HasSubstr("chmod 600"));
}

TEST_F(KeystoreTest, WrongPassphraseIsUnauthenticated) {
  ks_.reset();
  auto ks = Keystore::Open(path_, SecretData("not the passphrase"));
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(ks.status().message(), HasSubstr("wrong passphrase"));
}

TEST_F(KeystoreTest, DamagedRootKeyIsDataLossNotWrongPassphrase) {
  ks_.reset();
  Sql(path_, "UPDATE meta SET wrapped_root_key = "
             "substr(wrapped_root_key, 1, 20) || x'00' || "
             "substr(wrapped_root_key, 22)");
  auto ks = Keystore::Open(path_, Passphrase());
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(KeystoreTest, ScryptParametersAreStoredAndAtLeast2To15) {
  ks_.reset();
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT scrypt_n, scrypt_r, scrypt_p, "
                               "length(kdf_salt) FROM meta", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_GE(sqlite3_column_int64(stmt, 0), 1 << 15);
  EXPECT_EQ(sqlite3_column_int64(stmt, 1), 8);
  EXPECT_EQ(sqlite3_column_int64(stmt, 2), 1);
  EXPECT_EQ(sqlite3_column_int64(stmt, 3), 16);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  KeystoreOptions weak;
  weak.kdf.n = 1 << 10;
  auto ks = Keystore::Init(TempPath("weak"), Passphrase(), weak);
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(KeystoreTest, KeyNamesAreChecked) {
  for (const char* bad : {"", "Upper", "-lead", "has space", "a/b",
                          "waytoolong-waytoolong-waytoolong-waytoolong-waytoolong-waytoolong"}) {
    CreateKeyParams params;
    params.id = bad;
    EXPECT_EQ(ks_->CreateKey(params).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  Create("ok.name_1-2", KeyType::kAes256Gcm);
  CreateKeyParams dup;
  dup.id = "ok.name_1-2";
  EXPECT_EQ(ks_->CreateKey(dup).status().code(),
            absl::StatusCode::kAlreadyExists);
}

struct SignCase {
  KeyType type;
  std::vector<SignatureAlgorithm> algorithms;
};

TEST_F(KeystoreTest, SignAndVerifyEveryTypeAndAlgorithm) {
  const SignCase cases[] = {
      {KeyType::kEd25519, {SignatureAlgorithm::kEd25519}},
      {KeyType::kEcdsaP256,
       {SignatureAlgorithm::kEcdsaP256Sha256Der,
        SignatureAlgorithm::kEcdsaP256Sha256P1363}},
      {KeyType::kEcdsaP384,
       {SignatureAlgorithm::kEcdsaP384Sha384Der,
        SignatureAlgorithm::kEcdsaP384Sha384P1363}},
      {KeyType::kRsa2048,
       {SignatureAlgorithm::kRsaPssSha256, SignatureAlgorithm::kRsaPkcs1Sha256,
        SignatureAlgorithm::kRsaPkcs1Sha384,
        SignatureAlgorithm::kRsaPkcs1Sha512}},
  };
  for (const SignCase& c : cases) {
    std::string id = absl::AsciiStrToLower(crypto::KeyTypeName(c.type));
    Create(id, c.type);
    for (SignatureAlgorithm alg : c.algorithms) {
      SCOPED_TRACE(absl::StrCat(id, " ", crypto::SignatureAlgorithmName(alg)));
      auto sig = ks_->Sign(id, "message", alg);
      ASSERT_TRUE(sig.ok()) << sig.status();
      EXPECT_EQ(sig->version, 1);
      std::string enveloped = sig->Enveloped();
      EXPECT_TRUE(absl::StartsWith(enveloped, "kw:v1:"));
      int32_t used = 0;
      EXPECT_TRUE(ks_->Verify(id, "message", enveloped, alg, std::nullopt, &used).ok());
      EXPECT_EQ(used, 1);
      // The raw form, with the version given.
      EXPECT_TRUE(ks_->Verify(id, "message", sig->signature, alg, 1).ok());
      EXPECT_EQ(ks_->Verify(id, "other message", enveloped, alg).code(),
                absl::StatusCode::kInvalidArgument);
    }
  }
  // An algorithm that does not fit the key.
  EXPECT_EQ(ks_->Sign("ed25519", "m", SignatureAlgorithm::kRsaPssSha256)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(KeystoreTest, SignatureTamperingIsRejected) {
  Create("signer", KeyType::kEcdsaP256);
  auto sig = ks_->Sign("signer", "message");
  ASSERT_TRUE(sig.ok());
  const std::string good = sig->Enveloped();
  for (size_t i = 0; i < good.size() * 8; ++i) {
    std::string bad = good;
    bad[i / 8] ^= static_cast<char>(1 << (i % 8));
    absl::Status s = ks_->Verify("signer", "message", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "bit " << i << " " << s;
  }
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(ks_->Verify("signer", "message", good.substr(0, n)).code(),
              absl::StatusCode::kInvalidArgument)
        << "length " << n;
  }
}

TEST_F(KeystoreTest, EncryptDecryptAndTamper) {
  Create("aes", KeyType::kAes256Gcm);
  auto ct = ks_->Encrypt("aes", "card 4111", "order-17");
  ASSERT_TRUE(ct.ok()) << ct.status();
  EXPECT_TRUE(absl::StartsWith(*ct, "kw:v1:"));
  auto pt = ks_->Decrypt("aes", *ct, "order-17");
  ASSERT_TRUE(pt.ok()) << pt.status();
  EXPECT_EQ(pt->InsecureView(), "card 4111");
  for (size_t i = 0; i < ct->size() * 8; ++i) {
    std::string bad = *ct;
    bad[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_EQ(ks_->Decrypt("aes", bad, "order-17").status().code(),
              absl::StatusCode::kInvalidArgument)
        << "bit " << i;
  }
  for (size_t n = 0; n < ct->size(); ++n) {
    EXPECT_EQ(ks_->Decrypt("aes", ct->substr(0, n), "order-17").status().code(),
              absl::StatusCode::kInvalidArgument)
        << "length " << n;
  }
  std::string aad = "order-17";
  for (size_t i = 0; i < aad.size() * 8; ++i) {
    std::string bad = aad;
    bad[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_EQ(ks_->Decrypt("aes", *ct, bad).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(KeystoreTest, RsaEncryptionKeys) {
  Create("rsa-enc", KeyType::kRsa2048, KeyPurpose::kEncryptDecrypt);
  auto ct = ks_->Encrypt("rsa-enc", "secret", "label");
  ASSERT_TRUE(ct.ok()) << ct.status();
  auto pt = ks_->Decrypt("rsa-enc", *ct, "label");
  ASSERT_TRUE(pt.ok()) << pt.status();
  EXPECT_EQ(pt->InsecureView(), "secret");
  EXPECT_EQ(ks_->Decrypt("rsa-enc", *ct, "other").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ks_->Encrypt("rsa-enc", std::string(300, 'x'), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  // An encryption key does not sign, and a signing key does not encrypt.
  EXPECT_EQ(ks_->Sign("rsa-enc", "m").status().code(),
            absl::StatusCode::kFailedPrecondition);
  Create("ed", KeyType::kEd25519);
  EXPECT_EQ(ks_->Encrypt("ed", "m", "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  CreateKeyParams bad;
  bad.id = "ed-enc";
  bad.type = KeyType::kEd25519;
  bad.purpose = KeyPurpose::kEncryptDecrypt;
  EXPECT_EQ(ks_->CreateKey(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(KeystoreTest, MacEveryHash) {
  for (KeyType type : {KeyType::kHmacSha256, KeyType::kHmacSha384,
                       KeyType::kHmacSha512}) {
    std::string id = absl::AsciiStrToLower(crypto::KeyTypeName(type));
    Create(id, type);
    auto tag = ks_->Mac(id, "data");
    ASSERT_TRUE(tag.ok()) << tag.status();
    EXPECT_TRUE(ks_->VerifyMac(id, "data", tag->Enveloped()).ok());
    EXPECT_EQ(ks_->VerifyMac(id, "datA", tag->Enveloped()).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(KeystoreTest, RotationKeepsOldVersionsUsable) {
  Create("aes", KeyType::kAes256Gcm);
  Create("sig", KeyType::kEd25519);
  auto ct1 = ks_->Encrypt("aes", "one", "");
  auto sig1 = ks_->Sign("sig", "one");
  ASSERT_TRUE(ct1.ok() && sig1.ok());
  auto v2 = ks_->RotateKey("aes");
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version, 2);
  ASSERT_TRUE(ks_->RotateKey("sig").ok());
  auto ct2 = ks_->Encrypt("aes", "two", "");
  ASSERT_TRUE(ct2.ok());
  EXPECT_TRUE(absl::StartsWith(*ct2, "kw:v2:"));
  int32_t used = 0;
  auto pt1 = ks_->Decrypt("aes", *ct1, "", &used);
  ASSERT_TRUE(pt1.ok()) << pt1.status();
  EXPECT_EQ(used, 1);
  EXPECT_TRUE(ks_->Verify("sig", "one", sig1->Enveloped()).ok());
  EXPECT_EQ(ks_->Sign("sig", "two")->version, 2);

  // ReEncrypt moves the old ciphertext to v2.
  auto moved = ks_->ReEncrypt("aes", *ct1, "");
  ASSERT_TRUE(moved.ok());
  EXPECT_TRUE(absl::StartsWith(*moved, "kw:v2:"));
  EXPECT_EQ(ks_->Decrypt("aes", *moved, "")->InsecureView(), "one");

  // Raising the minimum decryption version retires v1.
  KeyUpdate update;
  update.min_decrypt_version = 2;
  ASSERT_TRUE(ks_->UpdateKey("aes", update).ok());
  EXPECT_EQ(ks_->Decrypt("aes", *ct1, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  update.min_decrypt_version = 3;
  EXPECT_EQ(ks_->UpdateKey("aes", update).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Everything survives a reopen.
  Reopen();
  EXPECT_EQ(ks_->Decrypt("aes", *ct2, "")->InsecureView(), "two");
  EXPECT_EQ(ks_->GetKey("aes")->primary_version, 2);
  EXPECT_EQ(ks_->GetKey("aes")->min_decrypt_version, 2);
}

TEST_F(KeystoreTest, VersionStates) {
  Create("aes", KeyType::kAes256Gcm);
  auto ct1 = ks_->Encrypt("aes", "one", "");
  ASSERT_TRUE(ks_->RotateKey("aes").ok());
  EXPECT_EQ(ks_->DisableVersion("aes", 2).code(),
            absl::StatusCode::kFailedPrecondition);  // the primary
  ASSERT_TRUE(ks_->DisableVersion("aes", 1).ok());
  auto refused = ks_->Decrypt("aes", *ct1, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("disabled"));
  ASSERT_TRUE(ks_->EnableVersion("aes", 1).ok());
  EXPECT_TRUE(ks_->Decrypt("aes", *ct1, "").ok());
  EXPECT_EQ(ks_->DestroyVersion("aes", 1).code(),
            absl::StatusCode::kFailedPrecondition);  // enabled: disable first
  ASSERT_TRUE(ks_->DisableVersion("aes", 1).ok());
  ASSERT_TRUE(ks_->DestroyVersion("aes", 1).ok());
  refused = ks_->Decrypt("aes", *ct1, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("destroyed"));
  EXPECT_EQ(ks_->EnableVersion("aes", 1).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ks_->DisableVersion("aes", 9).code(), absl::StatusCode::kNotFound);
  // The metadata stays; the material is gone from disk.
  auto v1 = ks_->GetVersion("aes", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->state, VersionState::kDestroyed);
  EXPECT_EQ(v1->destroyed_at, now_);
  ks_.reset();
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt;
  sqlite3_prepare_v2(db, "SELECT length(wrapped_material) FROM key_versions "
                     "WHERE key_id = 'aes' AND version = 1", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(KeystoreTest, TamperedWrappedMaterialIsDataLossNamingKeyAndVersion) {
  Create("victim", KeyType::kEd25519);
  ks_.reset();
  // Flip one bit in each byte position in turn (a sample of every 7th, to keep
  // the test quick, plus the first and last).
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt;
  sqlite3_prepare_v2(db, "SELECT wrapped_material FROM key_versions", -1, &stmt,
                     nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  std::string original(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                       sqlite3_column_bytes(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  for (size_t bit = 0; bit < original.size() * 8; bit += 13) {
    std::string bad = original;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    Sql(path_, absl::StrCat("UPDATE key_versions SET wrapped_material = x'",
                            absl::BytesToHexString(bad), "'"));
    Reopen();
    auto sig = ks_->Sign("victim", "m");
    EXPECT_EQ(sig.status().code(), absl::StatusCode::kDataLoss) << bit;
    EXPECT_THAT(sig.status().message(), HasSubstr("version 1 of key 'victim'"));
    ks_.reset();
  }
}

TEST_F(KeystoreTest, SwappedVersionRowsAreDataLoss) {
  Create("a", KeyType::kAes256Gcm);
  Create("b", KeyType::kAes256Gcm);
  ks_.reset();
  Sql(path_,
      "UPDATE key_versions SET wrapped_material = CASE key_id "
      "WHEN 'a' THEN (SELECT wrapped_material FROM key_versions WHERE key_id='b') "
      "ELSE (SELECT wrapped_material FROM key_versions WHERE key_id='a') END");
  Reopen();
  auto ct = ks_->Encrypt("a", "x", "");
  EXPECT_EQ(ct.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(ct.status().message(), HasSubstr("version 1 of key 'a'"));
}

TEST_F(KeystoreTest, ChangePassphraseRewrapsOnlyTheRoot) {
  Create("aes", KeyType::kAes256Gcm);
  auto ct = ks_->Encrypt("aes", "kept", "");
  SecretData next("a new passphrase");
  EXPECT_EQ(ks_->ChangePassphrase(SecretData("wrong"), next).code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(ks_->ChangePassphrase(Passphrase(), next).ok());
  ks_.reset();
  EXPECT_EQ(Keystore::Open(path_, Passphrase()).status().code(),
            absl::StatusCode::kUnauthenticated);
  auto ks = Keystore::Open(path_, next);
  ASSERT_TRUE(ks.ok()) << ks.status();
  EXPECT_EQ((*ks)->Decrypt("aes", *ct, "")->InsecureView(), "kept");
}

TEST_F(KeystoreTest, SealForgetsKeysUntilUnsealed) {
  Create("aes", KeyType::kAes256Gcm);
  auto ct = ks_->Encrypt("aes", "kept", "");
  ASSERT_TRUE(ct.ok());
  ks_->Seal();
  EXPECT_TRUE(ks_->sealed());
  EXPECT_EQ(ks_->Decrypt("aes", *ct, "").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ks_->RotateKey("aes").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ks_->Unseal(SecretData("wrong")).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(ks_->sealed());
  ASSERT_TRUE(ks_->Unseal(Passphrase()).ok());
  EXPECT_EQ(ks_->Decrypt("aes", *ct, "")->InsecureView(), "kept");

  ks_.reset();
  auto sealed = Keystore::OpenSealed(path_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_TRUE((*sealed)->sealed());
  EXPECT_EQ((*sealed)->Encrypt("aes", "x", "").status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE((*sealed)->Unseal(Passphrase()).ok());
  EXPECT_EQ((*sealed)->Decrypt("aes", *ct, "")->InsecureView(), "kept");
}

TEST_F(KeystoreTest, PublicKeysForEveryAsymmetricType) {
  for (KeyType type : {KeyType::kEd25519, KeyType::kEcdsaP256,
                       KeyType::kEcdsaP384, KeyType::kRsa2048}) {
    std::string id = absl::AsciiStrToLower(crypto::KeyTypeName(type));
    Create(id, type);
    auto pub = ks_->GetPublicKey(id);
    ASSERT_TRUE(pub.ok()) << pub.status();
    EXPECT_EQ(pub->version, 1);
    auto parsed = crypto::ParsePublicKey(pub->spki_der);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->type, type);
  }
  Create("aes", KeyType::kAes256Gcm);
  EXPECT_EQ(ks_->GetPublicKey("aes").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

std::string Pem(absl::string_view label, absl::string_view der) {
  std::string b64 = absl::Base64Escape(der);
  std::string out = absl::StrCat("-----BEGIN ", label, "-----\n");
  for (size_t i = 0; i < b64.size(); i += 64) {
    absl::StrAppend(&out, b64.substr(i, 64), "\n");
  }
  absl::StrAppend(&out, "-----END ", label, "-----\n");
  return out;
}

// Imported kids are found from memory: after the import, after a reopen
// (the index is loaded at open), and for a new version; an unknown kid is
// NOT_FOUND.
TEST_F(KeystoreTest, ImportedKidsAreIndexed) {
  // Imports a fresh Ed25519 key as key "legacy" (a new version of it with
  // `new_version`) with `kid`.
  auto import = [&](const std::string& kid, bool new_version) {
    auto material = crypto::GenerateKeyMaterial(KeyType::kEd25519);
    if (!material.ok()) return material.status();
    ImportKeyParams params;
    params.create.id = "legacy";
    params.create.type = KeyType::kEd25519;
    params.format = ImportFormat::kPrivateKeyPem;
    params.material = SecretData(Pem("PRIVATE KEY", material->InsecureView()));
    params.kid = kid;
    params.new_version = new_version;
    return ks_->ImportKey(std::move(params)).status();
  };
  ASSERT_TRUE(import("legacy-2024", false).ok());
  auto found = ks_->FindVersionByKid("legacy-2024");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->key_id, "legacy");
  EXPECT_EQ(found->version, 1);
  EXPECT_TRUE(found->wrapped_material.empty());
  EXPECT_EQ(ks_->FindVersionByKid("no-such-kid").status().code(),
            absl::StatusCode::kNotFound);

  Reopen();
  found = ks_->FindVersionByKid("legacy-2024");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->key_id, "legacy");

  ASSERT_TRUE(import("legacy-2025", true).ok());
  found = ks_->FindVersionByKid("legacy-2025");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->version, 2);
  EXPECT_EQ(ks_->FindVersionByKid("legacy-2024")->version, 1);
}

TEST_F(KeystoreTest, ImportPrivatePublicAndRawKeys) {
  auto material = crypto::GenerateKeyMaterial(KeyType::kEcdsaP256);
  ASSERT_TRUE(material.ok());
  ImportKeyParams priv;
  priv.create.id = "imported";
  priv.create.type = KeyType::kEcdsaP256;
  priv.format = ImportFormat::kPrivateKeyPem;
  priv.material = SecretData(Pem("PRIVATE KEY", material->InsecureView()));
  ASSERT_TRUE(ks_->ImportKey(std::move(priv)).ok());
  auto sig = ks_->Sign("imported", "m");
  ASSERT_TRUE(sig.ok()) << sig.status();

  // Its public key alone, imported as a verify-only key, verifies it.
  auto spki = crypto::PublicKeyFromPrivate(KeyType::kEcdsaP256, *material);
  ImportKeyParams pub;
  pub.create.id = "imported-pub";
  pub.create.type = KeyType::kEcdsaP256;
  pub.format = ImportFormat::kPublicKey;
  pub.material = SecretData(Pem("PUBLIC KEY", *spki));
  auto pub_key = ks_->ImportKey(std::move(pub));
  ASSERT_TRUE(pub_key.ok()) << pub_key.status();
  EXPECT_TRUE(pub_key->public_only);
  EXPECT_TRUE(ks_->Verify("imported-pub", "m", sig->Enveloped()).ok());
  EXPECT_EQ(ks_->Sign("imported-pub", "m").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ks_->RotateKey("imported-pub").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // A raw HMAC secret: a service moving its JWT secret in.
  ImportKeyParams raw;
  raw.create.id = "legacy-hmac";
  raw.create.type = KeyType::kHmacSha256;
  raw.format = ImportFormat::kRawSecret;
  raw.material = SecretData("0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(ks_->ImportKey(std::move(raw)).ok());
  EXPECT_TRUE(ks_->Mac("legacy-hmac", "x").ok());
  ImportKeyParams short_raw;
  short_raw.create.id = "short";
  short_raw.create.type = KeyType::kHmacSha256;
  short_raw.format = ImportFormat::kRawSecret;
  short_raw.material = SecretData("short");
  EXPECT_EQ(ks_->ImportKey(std::move(short_raw)).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A type mismatch is refused.
  ImportKeyParams mismatch;
  mismatch.create.id = "mismatch";
  mismatch.create.type = KeyType::kEd25519;
  mismatch.format = ImportFormat::kPrivateKeyPem;
  mismatch.material = SecretData(Pem("PRIVATE KEY", material->InsecureView()));
  EXPECT_EQ(ks_->ImportKey(std::move(mismatch)).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A new version of an existing key from imported material.
  auto next = crypto::GenerateKeyMaterial(KeyType::kEcdsaP256);
  ImportKeyParams version;
  version.create.id = "imported";
  version.create.type = KeyType::kEcdsaP256;
  version.new_version = true;
  version.format = ImportFormat::kPrivateKeyPem;
  version.material = SecretData(Pem("PRIVATE KEY", next->InsecureView()));
  auto updated = ks_->ImportKey(std::move(version));
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->primary_version, 2);
  EXPECT_EQ(ks_->Sign("imported", "m")->version, 2);
}

// DER TLV with a definite length.
std::string Der(uint8_t tag, const std::string& body) {
  std::string out(1, static_cast<char>(tag));
  if (body.size() < 128) {
    out += static_cast<char>(body.size());
  } else {
    out += '\x82';
    out += static_cast<char>(body.size() >> 8);
    out += static_cast<char>(body.size() & 0xff);
  }
  return out + body;
}

// An encrypted key's KDF cost is checked against the import limits before
// any derivation, and the caller's hook runs just before the derivation: a
// refusal from either leaves nothing imported.
TEST_F(KeystoreTest, EncryptedImportIsBoundedAndCanBeCalledOff) {
  const SecretData key = *crypto::GenerateKeyMaterial(KeyType::kEd25519);
  const SecretData pass("import passphrase");
  const std::string pem = crypto::EncryptedPkcs8Pem(
      *crypto::EncryptPkcs8(key, pass, 20000));
  auto params = [&](const std::string& id) {
    ImportKeyParams p;
    p.create.id = id;
    p.create.type = KeyType::kEd25519;
    p.format = ImportFormat::kPrivateKeyPem;
    p.material = SecretData(pem);
    p.passphrase = SecretData(pass.InsecureView());
    return p;
  };
  // Called off by the hook: its status is the answer, nothing is imported.
  int asked = 0;
  ImportKeyParams late = params("late");
  late.before_costly_work = [&] {
    ++asked;
    return absl::DeadlineExceededError("gave up");
  };
  EXPECT_EQ(ks_->ImportKey(std::move(late)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(ks_->GetKey("late").status().code(), absl::StatusCode::kNotFound);
  // Within the default limits, with a hook that lets it run: imported.
  ImportKeyParams fine = params("fine");
  fine.before_costly_work = [&] {
    ++asked;
    return absl::OkStatus();
  };
  ASSERT_TRUE(ks_->ImportKey(std::move(fine)).ok());
  EXPECT_EQ(asked, 2);
  // Over a stricter limit: refused before the hook, naming the limit.
  KeystoreOptions strict = Options();
  strict.import_kdf_limits.pbkdf2_max_iterations = 10000;
  ks_.reset();
  auto reopened = Keystore::Open(path_, Passphrase(), strict);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ks_ = std::move(*reopened);
  ImportKeyParams over = params("over");
  over.before_costly_work = [&] {
    ++asked;
    return absl::OkStatus();
  };
  auto refused = ks_->ImportKey(std::move(over));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("pbkdf2_max_iterations"));
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(ks_->GetKey("over").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KeystoreTest, RsaPublicKeyWithExponentOneIsRefused) {
  // e = 1 makes every "signature" verify: OpenSSL 3 parses such a key, so
  // the keystore must refuse it itself.
  std::string modulus = std::string(1, '\0') + std::string(1, '\xc1') +
                        std::string(255, '\x35');
  std::string rsa_key = Der(0x30, Der(0x02, modulus) + Der(0x02, "\x01"));
  std::string algorithm = Der(0x30, Der(0x06, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01") +
                                        Der(0x05, ""));
  std::string spki = Der(0x30, algorithm + Der(0x03, std::string(1, '\0') + rsa_key));
  ImportKeyParams pub;
  pub.create.id = "e-one";
  pub.create.type = KeyType::kRsa2048;
  pub.format = ImportFormat::kPublicKey;
  pub.material = SecretData(spki);
  absl::Status s = ks_->ImportKey(std::move(pub)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(ks_->GetKey("e-one").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KeystoreTest, ExportOnlyWhenExportable) {
  Create("locked", KeyType::kEd25519);
  EXPECT_EQ(ks_->ExportKeyMaterial("locked", 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  CreateKeyParams params;
  params.id = "open";
  params.type = KeyType::kHmacSha256;
  params.exportable = true;
  ASSERT_TRUE(ks_->CreateKey(params).ok());
  auto secret = ks_->ExportKeyMaterial("open", 1);
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(secret->size(), 32u);
}

TEST_F(KeystoreTest, RotationPeriodAndDueKeys) {
  CreateKeyParams params;
  params.id = "daily";
  params.type = KeyType::kAes256Gcm;
  params.rotation_period = absl::Hours(24);
  ASSERT_TRUE(ks_->CreateKey(params).ok());
  Create("never", KeyType::kAes256Gcm);
  params.id = "too-often";
  params.rotation_period = absl::Minutes(5);
  EXPECT_EQ(ks_->CreateKey(params).status().code(),
            absl::StatusCode::kInvalidArgument);
  now_ += absl::Hours(23);
  EXPECT_TRUE(ks_->KeysDueForRotation()->empty());
  now_ += absl::Hours(2);
  auto due = ks_->KeysDueForRotation();
  ASSERT_TRUE(due.ok());
  EXPECT_THAT(*due, ::testing::ElementsAre("daily"));
  ASSERT_TRUE(ks_->RotateKey("daily").ok());
  EXPECT_EQ(ks_->GetKey("daily")->primary_version, 2);
  EXPECT_EQ(ks_->GetKey("daily")->rotated_at, now_);
  EXPECT_TRUE(ks_->KeysDueForRotation()->empty());
}

TEST_F(KeystoreTest, ListKeysPages) {
  for (int i = 0; i < 25; ++i) Create(absl::StrCat("k", 100 + i), KeyType::kHmacSha256);
  auto page1 = ks_->ListKeys("", 10);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 10u);
  auto page3 = ks_->ListKeys("k119", 10);
  ASSERT_EQ(page3->size(), 5u);
  EXPECT_EQ(page3->front().id, "k120");
  EXPECT_EQ(*ks_->CountKeys(), 25);
}

TEST_F(KeystoreTest, UnknownKeyIsNotFound) {
  EXPECT_EQ(ks_->Sign("nope", "m").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ks_->Encrypt("nope", "m", "").status().code(),
            absl::StatusCode::kNotFound);
}

class SmallCacheTest : public KeystoreTest {
  KeystoreOptions Options() override {
    KeystoreOptions options = KeystoreTest::Options();
    options.cache_size = 2;
    return options;
  }
};

TEST_F(SmallCacheTest, EvictionKeepsResultsRight) {
  std::vector<std::string> cts;
  for (int i = 0; i < 6; ++i) {
    Create(absl::StrCat("k", i), KeyType::kAes256Gcm);
    cts.push_back(*ks_->Encrypt(absl::StrCat("k", i), absl::StrCat("p", i), ""));
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 6; ++i) {
      auto pt = ks_->Decrypt(absl::StrCat("k", i), cts[i], "");
      ASSERT_TRUE(pt.ok()) << pt.status();
      EXPECT_EQ(pt->InsecureView(), absl::StrCat("p", i));
    }
  }
}

// Threads sign and verify while another thread rotates: every signature must
// verify, and name a version that existed when it was made.
TEST_F(KeystoreTest, ConcurrentSignWhileRotating) {
  Create("hot", KeyType::kEd25519);
  Create("hot-aes", KeyType::kAes256Gcm);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, operations{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < 300 && !stop; ++i) {
        std::string msg = absl::StrCat("m", t, "-", i);
        auto sig = ks_->Sign("hot", msg);
        if (!sig.ok() || !ks_->Verify("hot", msg, sig->Enveloped()).ok()) {
          failures++;
        }
        auto ct = ks_->Encrypt("hot-aes", msg, "");
        auto pt = ct.ok() ? ks_->Decrypt("hot-aes", *ct, "")
                          : absl::StatusOr<SecretData>(ct.status());
        if (!pt.ok() || pt->InsecureView() != msg) failures++;
        operations++;
      }
    });
  }
  for (int r = 0; r < 20; ++r) {
    ASSERT_TRUE(ks_->RotateKey("hot").ok());
    ASSERT_TRUE(ks_->RotateKey("hot-aes").ok());
  }
  stop = true;
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(operations.load(), 0);
  EXPECT_EQ(ks_->GetKey("hot")->primary_version, 21);
}

TokenRecord Token(const std::string& jti, absl::Time issued,
                  const std::string& external_id = "") {
  TokenRecord r;
  r.jti = jti;
  r.key_id = "issuer";
  r.version = 1;
  r.external_id = external_id;
  r.metadata = {{"txn", "t-" + jti}, {"channel", "sms"}};
  r.subject = "u1";
  r.claims_json = R"({"sub":"u1"})";
  r.issued_by = "unix:uid:1000";
  r.issued_at = issued;
  r.expire_at = issued + absl::Seconds(90);
  r.purge_at = r.expire_at + absl::Hours(1);
  return r;
}

TEST_F(KeystoreTest, TokenRecordsRoundTripAndTheTokenIsSealedAtRest) {
  ASSERT_TRUE(ks_->RecordToken(Token("a", now_, "txn-1"), "aaa.bbb.ccc").ok());
  auto got = ks_->GetTokenRecord("a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->external_id, "txn-1");
  EXPECT_EQ(got->metadata.at("txn"), "t-a");
  EXPECT_EQ(got->metadata.size(), 2u);
  EXPECT_EQ(got->expire_at, now_ + absl::Seconds(90));
  EXPECT_FALSE(got->revoked());
  EXPECT_EQ(got->sealed_token.find("aaa.bbb.ccc"), std::string::npos);
  EXPECT_EQ(*ks_->OpenToken(*got), "aaa.bbb.ccc");
  // A sealed token moved to another record does not open.
  TokenRecord swapped = *got;
  swapped.jti = "b";
  EXPECT_EQ(ks_->OpenToken(swapped).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ks_->RecordToken(Token("a", now_), "").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ks_->GetTokenRecord("nope").status().code(),
            absl::StatusCode::kNotFound);
  // Sealed: records can be read, tokens cannot be opened or kept.
  ks_->Seal();
  EXPECT_TRUE(ks_->GetTokenRecord("a").ok());
  EXPECT_EQ(ks_->OpenToken(*got).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ks_->RecordToken(Token("c", now_), "x.y.z").code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(KeystoreTest, TokenRecordsListNewestFirstWithFiltersAndCursor) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(ks_->RecordToken(Token(absl::StrCat("t", i),
                                       now_ + absl::Seconds(i * 60),
                                       i % 2 ? "odd" : "even"),
                                 "")
                    .ok());
  }
  TokenFilter all;
  all.now = now_ + absl::Seconds(200);  // t0..t1 expired by then
  auto page = ks_->ListTokenRecords(all, {}, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].jti, "t4");
  EXPECT_EQ((*page)[1].jti, "t3");
  auto next = ks_->ListTokenRecords(
      all, {page->back().issued_at, page->back().jti}, 10);
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[0].jti, "t2");
  EXPECT_EQ((*next)[2].jti, "t0");

  TokenFilter odd = all;
  odd.external_id = "odd";
  EXPECT_EQ(ks_->ListTokenRecords(odd, {}, 10)->size(), 2u);
  TokenFilter expired = all;
  expired.state = TokenFilter::State::kExpired;
  auto e = ks_->ListTokenRecords(expired, {}, 10);
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].jti, "t1");
  TokenFilter active = all;
  active.state = TokenFilter::State::kActive;
  EXPECT_EQ(ks_->ListTokenRecords(active, {}, 10)->size(), 3u);
  TokenFilter other_key = all;
  other_key.key_id = "other";
  EXPECT_TRUE(ks_->ListTokenRecords(other_key, {}, 10)->empty());
}

TEST_F(KeystoreTest, RevocationIsKeptIdempotentAndSurvivesReopen) {
  ASSERT_TRUE(ks_->RecordToken(Token("r", now_), "").ok());
  ASSERT_TRUE(ks_->RecordToken(Token("s", now_), "").ok());
  EXPECT_FALSE(ks_->IsTokenRevoked("r"));
  auto first = ks_->RevokeToken("r", "phone stolen", "unix:uid:0");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->revoked());
  EXPECT_EQ(first->revoked_at, now_);
  now_ += absl::Seconds(5);
  auto second = ks_->RevokeToken("r", "again", "unix:uid:1");
  EXPECT_EQ(second->revoked_at, first->revoked_at);
  EXPECT_EQ(second->revoke_reason, "phone stolen");
  EXPECT_EQ(second->revoked_by, "unix:uid:0");
  EXPECT_EQ(ks_->RevokeToken("nope", "", "x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(ks_->IsTokenRevoked("r"));
  EXPECT_FALSE(ks_->IsTokenRevoked("s"));
  Reopen();
  EXPECT_TRUE(ks_->IsTokenRevoked("r"));
  EXPECT_FALSE(ks_->IsTokenRevoked("s"));
  TokenFilter revoked;
  revoked.state = TokenFilter::State::kRevoked;
  EXPECT_EQ(ks_->ListTokenRecords(revoked, {}, 10)->size(), 1u);
}

TEST_F(KeystoreTest, RecordsArePurgedAfterTheirRetention) {
  ASSERT_TRUE(ks_->RecordToken(Token("old", now_), "").ok());
  now_ += absl::Seconds(90) + absl::Hours(1) + absl::Seconds(1);
  ASSERT_TRUE(ks_->RecordToken(Token("new", now_), "").ok());
  EXPECT_EQ(ks_->GetTokenRecord("old").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(ks_->GetTokenRecord("new").ok());
  // Metadata went with it (ON DELETE CASCADE).
  Sql(path_, "SELECT 1");  // the file is still a sound database
}

TEST_F(KeystoreTest, RestoreReplacesEverythingInPlaceAndSeals) {
  Create("kept", KeyType::kAes256Gcm);
  auto ct = ks_->Encrypt("kept", "made before the backup", "");
  ASSERT_TRUE(ct.ok());
  ASSERT_TRUE(ks_->RecordToken(Token("before", now_), "").ok());
  auto backup = ks_->CreateBackup(TempPath("snapshot"));
  ASSERT_TRUE(backup.ok()) << backup.status();

  // After the backup: a new key, a rotation, a revocation, a new passphrase.
  Create("later", KeyType::kEd25519);
  ASSERT_TRUE(ks_->RotateKey("kept").ok());
  ASSERT_TRUE(ks_->RevokeToken("before", "r", "x").ok());
  const SecretData new_pass("a passphrase set after the backup");
  ASSERT_TRUE(ks_->ChangePassphrase(Passphrase(), new_pass).ok());

  // Refused restores change nothing and leave the keystore unsealed.
  const std::string scratch = TempPath("restore");
  EXPECT_EQ(ks_->Restore(*backup, new_pass, scratch).code(),
            absl::StatusCode::kUnauthenticated);
  std::string tampered = *backup;
  tampered[tampered.size() - 5] ^= 1;
  EXPECT_EQ(ks_->Restore(tampered, Passphrase(), scratch).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ks_->Restore("not a backup", Passphrase(), scratch).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ks_->sealed());
  EXPECT_TRUE(ks_->GetKey("later").ok());
  EXPECT_EQ(access(scratch.c_str(), F_OK), -1);

  absl::Status restored = ks_->Restore(*backup, Passphrase(), scratch);
  ASSERT_TRUE(restored.ok()) << restored;
  EXPECT_TRUE(ks_->sealed());
  EXPECT_EQ(access(scratch.c_str(), F_OK), -1) << "the staged copy is gone";
  EXPECT_EQ(ks_->Unseal(new_pass).code(), absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(ks_->Unseal(Passphrase()).ok());
  EXPECT_EQ(ks_->GetKey("later").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ks_->GetKey("kept")->primary_version, 1);
  EXPECT_EQ(ks_->Decrypt("kept", *ct, "")->InsecureView(),
            "made before the backup");
  EXPECT_FALSE(ks_->IsTokenRevoked("before"));
  EXPECT_TRUE(ks_->GetTokenRecord("before").ok());
  // The file on disk is the restored one: it reopens with the old passphrase.
  Reopen();
  EXPECT_EQ(ks_->GetKey("later").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KeystoreTest, BackupHeaderParsesWithoutThePassphrase) {
  auto backup = ks_->CreateBackup(TempPath("header"));
  ASSERT_TRUE(backup.ok()) << backup.status();
  auto header = ParseBackupHeader(*backup);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_GE(header->meta.scrypt_n, uint64_t{1} << 15);
  EXPECT_EQ(header->meta.kdf_salt.size(), 16u);
  EXPECT_LT(header->size, backup->size());
  // Every cut inside the header is DATA_LOSS; a wrong magic is not a backup.
  for (size_t n = 10; n < header->size; ++n) {
    EXPECT_EQ(ParseBackupHeader(backup->substr(0, n)).status().code(),
              absl::StatusCode::kDataLoss) << n;
  }
  EXPECT_EQ(ParseBackupHeader("KWBACKUP2\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Out-of-range scrypt parameters are refused before any scrypt runs.
  ASSERT_EQ(header->meta.scrypt_n, uint64_t{1} << 15);
  std::string bad = *backup;
  const size_t at = bad.find("32768");
  ASSERT_NE(at, std::string::npos);
  bad.replace(at, 5, "65537");  // same length, not a power of two
  EXPECT_EQ(ParseBackupHeader(bad).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(KeystoreTest, DigestsSignLikeTheirMessages) {
  Create("ec", KeyType::kEcdsaP256);
  Create("ed", KeyType::kEd25519);
  const std::string message = "a file too large to send";
  const std::string digest = crypto::Sha256(message);
  auto sig = ks_->Sign("ec", digest, std::nullopt, /*is_digest=*/true);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(ks_->Verify("ec", message, sig->Enveloped()).ok());
  auto by_message = ks_->Sign("ec", message);
  ASSERT_TRUE(by_message.ok());
  EXPECT_TRUE(ks_->Verify("ec", digest, by_message->Enveloped(), std::nullopt,
                          std::nullopt, nullptr, /*is_digest=*/true)
                  .ok());
  EXPECT_EQ(ks_->Sign("ec", digest.substr(1), std::nullopt, true).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ks_->Sign("ed", digest, std::nullopt, true).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keyward::keystore
