// Keystore: importing keys (PEM, DER, raw secrets, public keys, kids), on
// every storage backend (testing/keystore_fixture.h).
#include "keystore/keystore.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/pkcs8_encrypt.h"
#include "keystore/format.h"
#include "keystore/testing/keystore_fixture.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using ::testing::HasSubstr;

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
TEST_P(KeystoreTest, ImportedKidsAreIndexed) {
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

TEST_P(KeystoreTest, ImportPrivatePublicAndRawKeys) {
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
TEST_P(KeystoreTest, EncryptedImportIsBoundedAndCanBeCalledOff) {
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
  auto reopened = Keystore::Open(spec_, Passphrase(), strict);
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

TEST_P(KeystoreTest, RsaPublicKeyWithExponentOneIsRefused) {
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

INSTANTIATE_TEST_SUITE_P(Backends, KeystoreTest,
                         ::testing::ValuesIn(AllBackends()), BackendName);

}  // namespace
}  // namespace keyward::keystore
