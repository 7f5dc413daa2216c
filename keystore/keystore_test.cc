// Keystore tests, run on every storage backend the build has
// (testing/keystore_fixture.h: a SQLite file, and a real PostgreSQL server in
// the default flavor). Tests of the SQLite file itself are in
// keystore_sqlite_test.cc.
#include "keystore/keystore.h"

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/crypto/digest.h"
#include "keystore/crypto/keys.h"
#include "keystore/format.h"
#include "keystore/testing/keystore_fixture.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using crypto::SignatureAlgorithm;
using ::testing::HasSubstr;

TEST_P(KeystoreTest, InitRefusesAnExistingKeystore) {
  auto again = Keystore::Init(spec_, Passphrase());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_P(KeystoreTest, WrongPassphraseIsUnauthenticated) {
  ks_.reset();
  auto ks = Keystore::Open(spec_, SecretData("not the passphrase"));
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(ks.status().message(), HasSubstr("wrong passphrase"));
}

TEST_P(KeystoreTest, KeyNamesAreChecked) {
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

TEST_P(KeystoreTest, SignAndVerifyEveryTypeAndAlgorithm) {
  const SignCase cases[] = {
      {KeyType::kEd25519, {SignatureAlgorithm::kEd25519}},
      {KeyType::kEcdsaP256,
       {SignatureAlgorithm::kEcdsaP256Sha256Der,
        SignatureAlgorithm::kEcdsaP256Sha256P1363}},
      {KeyType::kEcdsaP384,
       {SignatureAlgorithm::kEcdsaP384Sha384Der,
        SignatureAlgorithm::kEcdsaP384Sha384P1363}},
      {KeyType::kEcdsaP521,
       {SignatureAlgorithm::kEcdsaP521Sha512Der,
        SignatureAlgorithm::kEcdsaP521Sha512P1363}},
      {KeyType::kRsa2048,
       {SignatureAlgorithm::kRsaPssSha256, SignatureAlgorithm::kRsaPkcs1Sha256,
        SignatureAlgorithm::kRsaPkcs1Sha384, SignatureAlgorithm::kRsaPkcs1Sha512,
        SignatureAlgorithm::kRsaPssSha384, SignatureAlgorithm::kRsaPssSha512}},
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

TEST_P(KeystoreTest, SignatureTamperingIsRejected) {
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

TEST_P(KeystoreTest, EncryptDecryptAndTamper) {
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

TEST_P(KeystoreTest, RsaEncryptionKeys) {
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

TEST_P(KeystoreTest, MacEveryHash) {
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

TEST_P(KeystoreTest, RotationKeepsOldVersionsUsable) {
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

TEST_P(KeystoreTest, VersionStates) {
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
  // (That the stored material is emptied is the storage contract's, checked
  // on every backend by storage_conformance_keys_test.cc; on SQLite, see
  // keystore_sqlite_test.cc: DestroyedMaterialIsGoneFromTheFile.)
}

TEST_P(KeystoreTest, ChangePassphraseRewrapsOnlyTheRoot) {
  Create("aes", KeyType::kAes256Gcm);
  auto ct = ks_->Encrypt("aes", "kept", "");
  SecretData next("a new passphrase");
  EXPECT_EQ(ks_->ChangePassphrase(SecretData("wrong"), next).code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(ks_->ChangePassphrase(Passphrase(), next).ok());
  ks_.reset();
  EXPECT_EQ(Keystore::Open(spec_, Passphrase()).status().code(),
            absl::StatusCode::kUnauthenticated);
  auto ks = Keystore::Open(spec_, next);
  ASSERT_TRUE(ks.ok()) << ks.status();
  EXPECT_EQ((*ks)->Decrypt("aes", *ct, "")->InsecureView(), "kept");
}

TEST_P(KeystoreTest, SealForgetsKeysUntilUnsealed) {
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
  auto sealed = Keystore::OpenSealed(spec_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_TRUE((*sealed)->sealed());
  EXPECT_EQ((*sealed)->Encrypt("aes", "x", "").status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE((*sealed)->Unseal(Passphrase()).ok());
  EXPECT_EQ((*sealed)->Decrypt("aes", *ct, "")->InsecureView(), "kept");
}

TEST_P(KeystoreTest, PublicKeysForEveryAsymmetricType) {
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

TEST_P(KeystoreTest, ExportOnlyWhenExportable) {
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

TEST_P(KeystoreTest, RotationPeriodAndDueKeys) {
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

TEST_P(KeystoreTest, ListKeysPages) {
  for (int i = 0; i < 25; ++i) Create(absl::StrCat("k", 100 + i), KeyType::kHmacSha256);
  auto page1 = ks_->ListKeys("", 10);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 10u);
  auto page3 = ks_->ListKeys("k119", 10);
  ASSERT_EQ(page3->size(), 5u);
  EXPECT_EQ(page3->front().id, "k120");
  EXPECT_EQ(*ks_->CountKeys(), 25);
}

TEST_P(KeystoreTest, UnknownKeyIsNotFound) {
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

TEST_P(SmallCacheTest, EvictionKeepsResultsRight) {
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
TEST_P(KeystoreTest, ConcurrentSignWhileRotating) {
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

TEST_P(KeystoreTest, DigestsSignLikeTheirMessages) {
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

INSTANTIATE_TEST_SUITE_P(Backends, KeystoreTest,
                         ::testing::ValuesIn(AllBackends()), BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, SmallCacheTest,
                         ::testing::ValuesIn(AllBackends()), BackendName);

}  // namespace
}  // namespace keyward::keystore
