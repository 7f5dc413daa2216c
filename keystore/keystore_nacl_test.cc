// The NaCl key types in the keystore (X25519, XSALSA20_POLY1305,
// XCHACHA20_POLY1305), on every storage backend the build has
// (testing/keystore_fixture.h): generation, raw and PKCS#8 import, export,
// Encrypt/Decrypt in NaCl's formats, Box/BoxOpen, bad input, and a backup
// and restore round trip.
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/nacl.h"
#include "keystore/format.h"
#include "keystore/keystore.h"
#include "keystore/testing/keystore_fixture.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;

// RawPublic: the raw 32-byte X25519 public key of key `id`.
std::string RawPublic(Keystore& ks, const std::string& id) {
  auto pub = ks.GetPublicKey(id);
  EXPECT_TRUE(pub.ok()) << pub.status();
  auto raw = crypto::X25519RawPublicKey(pub->spki_der);
  EXPECT_TRUE(raw.ok()) << raw.status();
  return raw.ok() ? *raw : "";
}

TEST_P(KeystoreTest, NaclSymmetricTypesEncryptInTheirFormats) {
  Create("sbox", KeyType::kXSalsa20Poly1305);
  Create("xchacha", KeyType::kXChaCha20Poly1305);
  EXPECT_EQ(ks_->GetKey("sbox")->purpose, KeyPurpose::kEncryptDecrypt);

  auto ct = ks_->Encrypt("sbox", "hello", "");
  ASSERT_TRUE(ct.ok()) << ct.status();
  auto envelope = ParseEnvelope(*ct, "ciphertext");
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope->payload.size(), 24 + 16 + 5u);
  EXPECT_EQ(ks_->Decrypt("sbox", *ct, "")->InsecureView(), "hello");
  // Secretbox binds no associated data: refused, not ignored.
  auto with_aad = ks_->Encrypt("sbox", "hello", "ctx");
  EXPECT_EQ(with_aad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(with_aad.status().message(),
                                "no associated data"));
  EXPECT_EQ(ks_->Decrypt("sbox", *ct, "ctx").status().code(),
            absl::StatusCode::kInvalidArgument);

  auto xct = ks_->Encrypt("xchacha", "hello", "ctx");
  ASSERT_TRUE(xct.ok()) << xct.status();
  EXPECT_EQ(ks_->Decrypt("xchacha", *xct, "ctx")->InsecureView(), "hello");
  EXPECT_EQ(ks_->Decrypt("xchacha", *xct, "other").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Every truncation fails authentication.
  for (size_t n = 0; n < xct->size(); ++n) {
    EXPECT_EQ(ks_->Decrypt("xchacha", xct->substr(0, n), "ctx").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  // One key type's ciphertext does not open under the other.
  EXPECT_EQ(ks_->Decrypt("sbox", *xct, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ImportRaw imports `bytes` as a RAW_SECRET key `id` of `type`.
absl::Status ImportRaw(Keystore& ks, const std::string& id, KeyType type,
                       const std::string& bytes) {
  ImportKeyParams params;
  params.create.id = id;
  params.create.type = type;
  params.create.exportable = true;
  params.format = ImportFormat::kRawSecret;
  params.material = SecretData(bytes);
  return ks.ImportKey(std::move(params)).status();
}

TEST_P(KeystoreTest, NaclRawImportAndExport) {
  const std::string secret(32, '\x07');
  ASSERT_TRUE(ImportRaw(*ks_, "imported-sbox", KeyType::kXSalsa20Poly1305,
                        secret).ok());
  auto exported = ks_->ExportKeyMaterial("imported-sbox", 1);
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(exported->InsecureView(), secret);
  EXPECT_EQ(ImportRaw(*ks_, "short", KeyType::kXChaCha20Poly1305,
                      std::string(31, 'x')).code(),
            absl::StatusCode::kInvalidArgument);

  // A raw X25519 private key (NaCl's form) becomes PKCS#8 with its public
  // key; exported as PKCS#8.
  ASSERT_TRUE(ImportRaw(*ks_, "imported-x25519", KeyType::kX25519,
                        std::string(32, '\x01')).ok());
  auto pkcs8 = ks_->ExportKeyMaterial("imported-x25519", 1);
  ASSERT_TRUE(pkcs8.ok()) << pkcs8.status();
  auto expected =
      crypto::X25519PrivateKeyFromRaw(SecretData(std::string(32, '\x01')));
  EXPECT_EQ(pkcs8->InsecureView(), expected->InsecureView());
  auto parsed = crypto::ParsePrivateKeyPem(PrivateKeyPem(*pkcs8), nullptr);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, KeyType::kX25519);
  EXPECT_EQ(ImportRaw(*ks_, "short-x", KeyType::kX25519, std::string(33, 'x'))
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Ed25519 keys take no raw secret.
  EXPECT_EQ(ImportRaw(*ks_, "raw-ed", KeyType::kEd25519, std::string(32, 'x'))
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(KeystoreTest, X25519SealedBoxesAndBoxes) {
  Create("alice", KeyType::kX25519);
  Create("bob", KeyType::kX25519);
  // Encrypt/Decrypt: sealed boxes to the key's own public key.
  auto sealed = ks_->Encrypt("alice", "to alice", "");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(ParseEnvelope(*sealed, "ciphertext")->payload.size(), 48 + 8u);
  EXPECT_EQ(ks_->Decrypt("alice", *sealed, "")->InsecureView(), "to alice");
  EXPECT_EQ(ks_->Decrypt("bob", *sealed, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ks_->Encrypt("alice", "x", "aad").status().code(),
            absl::StatusCode::kInvalidArgument);
  for (size_t n = 0; n < sealed->size(); ++n) {
    EXPECT_EQ(ks_->Decrypt("alice", sealed->substr(0, n), "").status().code(),
              absl::StatusCode::kInvalidArgument);
  }

  // Box from alice to bob; bob opens with alice's public key.
  const std::string alice_pub = RawPublic(*ks_, "alice");
  const std::string bob_pub = RawPublic(*ks_, "bob");
  auto boxed = ks_->Box("alice", bob_pub, "hi bob");
  ASSERT_TRUE(boxed.ok()) << boxed.status();
  EXPECT_EQ(boxed->version, 1);
  EXPECT_EQ(boxed->sender_public_key, alice_pub);
  int32_t used = 0;
  auto opened = ks_->BoxOpen("bob", 0, alice_pub, "", boxed->ciphertext, &used);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->InsecureView(), "hi bob");
  EXPECT_EQ(used, 1);
  // Bad input: unknown sender, nonce length, altered, truncated.
  EXPECT_EQ(ks_->BoxOpen("bob", 0, bob_pub, "", boxed->ciphertext)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ks_->BoxOpen("bob", 0, alice_pub, std::string(23, 'n'),
                         boxed->ciphertext.substr(24))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  std::string altered = boxed->ciphertext;
  altered.back() ^= 1;
  EXPECT_EQ(ks_->BoxOpen("bob", 0, alice_pub, "", altered).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ks_->BoxOpen("bob", 0, alice_pub, "", boxed->ciphertext.substr(0, 39))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ks_->Box("alice", std::string(32, '\0'), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Only X25519 keys box; a missing version is named.
  Create("aes", KeyType::kAes256Gcm);
  EXPECT_EQ(ks_->Box("aes", bob_pub, "x").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ks_->BoxOpen("bob", 7, alice_pub, "", boxed->ciphertext)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  // After rotation, Box uses version 2 and version 1 still opens old boxes.
  ASSERT_TRUE(ks_->RotateKey("bob").ok());
  EXPECT_EQ(ks_->BoxOpen("bob", 1, alice_pub, "", boxed->ciphertext)
                ->InsecureView(),
            "hi bob");
  EXPECT_EQ(ks_->BoxOpen("bob", 0, alice_pub, "", boxed->ciphertext)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(KeystoreTest, NaclKeysSurviveBackupAndRestore) {
  Create("x", KeyType::kX25519);
  Create("s", KeyType::kXSalsa20Poly1305);
  Create("c", KeyType::kXChaCha20Poly1305);
  auto sx = ks_->Encrypt("x", "sealed", "");
  auto ss = ks_->Encrypt("s", "secretbox", "");
  auto sc = ks_->Encrypt("c", "xchacha", "ad");
  ASSERT_TRUE(sx.ok() && ss.ok() && sc.ok());
  const std::string x_pub = RawPublic(*ks_, "x");
  auto backup = ks_->CreateBackup(TempPath("nacl-backup"));
  ASSERT_TRUE(backup.ok()) << backup.status();
  Reopen();
  ASSERT_TRUE(ks_->Restore(*backup, Passphrase(), TempPath("nacl-restore")).ok());
  ASSERT_TRUE(ks_->Unseal(Passphrase()).ok());
  EXPECT_EQ(ks_->GetKey("x")->type, KeyType::kX25519);
  EXPECT_EQ(ks_->GetKey("s")->type, KeyType::kXSalsa20Poly1305);
  EXPECT_EQ(ks_->GetKey("c")->type, KeyType::kXChaCha20Poly1305);
  EXPECT_EQ(RawPublic(*ks_, "x"), x_pub);
  EXPECT_EQ(ks_->Decrypt("x", *sx, "")->InsecureView(), "sealed");
  EXPECT_EQ(ks_->Decrypt("s", *ss, "")->InsecureView(), "secretbox");
  EXPECT_EQ(ks_->Decrypt("c", *sc, "ad")->InsecureView(), "xchacha");
}

INSTANTIATE_TEST_SUITE_P(Backends, KeystoreTest,
                         ::testing::ValuesIn(AllBackends()), BackendName);

}  // namespace
}  // namespace keyward::keystore
