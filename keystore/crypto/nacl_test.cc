// NaCl constructions (nacl.h): round trips, NaCl's wire formats checked
// against libsodium called directly, every tamper and truncation refused
// with INVALID_ARGUMENT, and Wycheproof's X25519 and XChaCha20-Poly1305
// vectors.
#include "keystore/crypto/nacl.h"

#include <sodium.h>

#include <iostream>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/testing/wycheproof.h"

namespace keyward::crypto {
namespace {

using wycheproof::Get;
using wycheproof::Hex;
using wycheproof::Int;
using wycheproof::Str;

const uint8_t* U(absl::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// FlipEachBit calls `check` with every one-bit change of `bytes`.
template <typename Check>
void FlipEachBit(const std::string& bytes, Check check) {
  for (size_t i = 0; i < bytes.size() * 8; ++i) {
    std::string changed = bytes;
    changed[i / 8] = static_cast<char>(changed[i / 8] ^ (1 << (i % 8)));
    check(changed);
  }
}

TEST(SecretBoxTest, RoundTripAndNaclFormat) {
  SecretData key = SecretData::Random(32);
  auto box = SecretBox::Create(key);
  ASSERT_TRUE(box.ok()) << box.status();
  auto sealed = (*box)->Encrypt("attack at dawn", "");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  ASSERT_EQ(sealed->size(), 24 + 16 + 14u);
  // libsodium itself opens nonce || crypto_secretbox_easy output.
  std::string opened(14, '\0');
  ASSERT_EQ(crypto_secretbox_open_easy(
                reinterpret_cast<uint8_t*>(opened.data()), U(*sealed) + 24,
                sealed->size() - 24, U(*sealed), U(key.InsecureView())),
            0);
  EXPECT_EQ(opened, "attack at dawn");
  auto back = (*box)->Decrypt(*sealed, "");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "attack at dawn");
}

TEST(SecretBoxTest, RefusesAssociatedDataAndBadKeys) {
  auto box = SecretBox::Create(SecretData::Random(32));
  ASSERT_TRUE(box.ok());
  EXPECT_EQ((*box)->Encrypt("x", "aad").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SecretBox::Create(SecretData::Random(16)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(XChaCha20Poly1305::Create(SecretData::Random(31)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SecretBoxTest, EveryTamperAndTruncationIsInvalidArgument) {
  auto box = SecretBox::Create(SecretData::Random(32));
  ASSERT_TRUE(box.ok());
  auto sealed = (*box)->Encrypt("hello", "");
  ASSERT_TRUE(sealed.ok());
  FlipEachBit(*sealed, [&](const std::string& changed) {
    auto opened = (*box)->Decrypt(changed, "");
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument);
  });
  for (size_t n = 0; n < sealed->size(); ++n) {
    EXPECT_EQ((*box)->Decrypt(sealed->substr(0, n), "").status().code(),
              absl::StatusCode::kInvalidArgument)
        << n;
  }
  auto other = SecretBox::Create(SecretData::Random(32));
  EXPECT_EQ((*other)->Decrypt(*sealed, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(XChaCha20Poly1305Test, RoundTripTamperAndAssociatedData) {
  SecretData key = SecretData::Random(32);
  auto aead = XChaCha20Poly1305::Create(key);
  ASSERT_TRUE(aead.ok());
  auto sealed = (*aead)->Encrypt("payload", "ctx");
  ASSERT_TRUE(sealed.ok());
  ASSERT_EQ(sealed->size(), 24 + 7 + 16u);
  std::string opened(7, '\0');
  unsigned long long n = 0;
  ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(
                reinterpret_cast<uint8_t*>(opened.data()), &n, nullptr,
                U(*sealed) + 24, sealed->size() - 24, U("ctx"), 3, U(*sealed),
                U(key.InsecureView())),
            0);
  EXPECT_EQ(opened, "payload");
  EXPECT_EQ(*(*aead)->Decrypt(*sealed, "ctx"), "payload");
  EXPECT_EQ((*aead)->Decrypt(*sealed, "other").status().code(),
            absl::StatusCode::kInvalidArgument);
  FlipEachBit(*sealed, [&](const std::string& changed) {
    EXPECT_EQ((*aead)->Decrypt(changed, "ctx").status().code(),
              absl::StatusCode::kInvalidArgument);
  });
  for (size_t i = 0; i < sealed->size(); ++i) {
    EXPECT_EQ((*aead)->Decrypt(sealed->substr(0, i), "ctx").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

struct Pair {
  SecretData pkcs8;
  std::string raw_public;
};

Pair NewPair() {
  auto pkcs8 = GenerateKeyMaterial(KeyType::kX25519);
  EXPECT_TRUE(pkcs8.ok()) << pkcs8.status();
  auto spki = PublicKeyFromPrivate(KeyType::kX25519, *pkcs8);
  EXPECT_TRUE(spki.ok()) << spki.status();
  auto raw = X25519RawPublicKey(*spki);
  EXPECT_TRUE(raw.ok()) << raw.status();
  return {*std::move(pkcs8), *raw};
}

TEST(X25519KeysTest, RawFormsRoundTrip) {
  SecretData raw = SecretData::Random(32);
  auto pkcs8 = X25519PrivateKeyFromRaw(raw);
  ASSERT_TRUE(pkcs8.ok()) << pkcs8.status();
  EXPECT_EQ(pkcs8->size(), 48u);  // RFC 8410's PKCS#8, no public key
  auto spki = PublicKeyFromPrivate(KeyType::kX25519, *pkcs8);
  ASSERT_TRUE(spki.ok()) << spki.status();
  EXPECT_EQ(spki->size(), 44u);
  auto pub = X25519RawPublicKey(*spki);
  ASSERT_TRUE(pub.ok());
  std::string expected(32, '\0');
  crypto_scalarmult_base(reinterpret_cast<uint8_t*>(expected.data()),
                         U(raw.InsecureView()));
  EXPECT_EQ(*pub, expected);
  EXPECT_EQ(*X25519PublicKeyFromRaw(*pub), *spki);
  auto jwk = SpkiToJwk(KeyType::kX25519, *spki, "k1", "ECDH-ES");
  ASSERT_TRUE(jwk.ok()) << jwk.status();
  EXPECT_EQ(*jwk, absl::StrCat(R"({"kty":"OKP","crv":"X25519","x":")",
                               absl::WebSafeBase64Escape(*pub),
                               R"(","kid":"k1","alg":"ECDH-ES"})"));
  EXPECT_EQ(X25519PrivateKeyFromRaw(SecretData::Random(31)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(X25519PublicKeyFromRaw("short").status().code(),
            absl::StatusCode::kInvalidArgument);
  // An Ed25519 key is not an X25519 key.
  auto ed = GenerateKeyMaterial(KeyType::kEd25519);
  EXPECT_EQ(NaclBox::Create(*ed).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(X25519KeysTest, PemImportClassifiesX25519) {
  Pair pair = NewPair();
  auto spki = X25519PublicKeyFromRaw(pair.raw_public);
  auto pem = SpkiToPem(*spki);
  ASSERT_TRUE(pem.ok());
  EXPECT_NE(pem->find("MCowBQYDK2VuAyEA"), std::string::npos);  // OID 1.3.101.110
  auto parsed = ParsePublicKey(*pem);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, KeyType::kX25519);
}

TEST(NaclBoxTest, BothWaysAndLibsodiumFormat) {
  Pair alice = NewPair();
  Pair bob = NewPair();
  auto a = NaclBox::Create(alice.pkcs8);
  auto b = NaclBox::Create(bob.pkcs8);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->PublicKey(), alice.raw_public);
  auto boxed = (*a)->Seal(bob.raw_public, "to bob");
  ASSERT_TRUE(boxed.ok()) << boxed.status();
  ASSERT_EQ(boxed->size(), 24 + 16 + 6u);
  auto opened = (*b)->Open(alice.raw_public, "", *boxed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "to bob");
  // The nonce given apart.
  opened = (*b)->Open(alice.raw_public, boxed->substr(0, 24), boxed->substr(24));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "to bob");
}

TEST(NaclBoxTest, BadInputIsInvalidArgumentWithoutPlaintext) {
  Pair alice = NewPair();
  Pair bob = NewPair();
  Pair mallory = NewPair();
  auto a = NaclBox::Create(alice.pkcs8);
  auto b = NaclBox::Create(bob.pkcs8);
  auto boxed = (*a)->Seal(bob.raw_public, "secret");
  ASSERT_TRUE(boxed.ok());
  // A box from an unknown sender key.
  EXPECT_EQ((*b)->Open(mallory.raw_public, "", *boxed).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A wrong nonce length.
  for (size_t n : {1, 12, 23, 25, 32}) {
    auto opened = (*b)->Open(alice.raw_public, std::string(n, 'n'),
                             boxed->substr(24));
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(opened.status().message().find("nonce"), std::string::npos);
  }
  FlipEachBit(*boxed, [&](const std::string& changed) {
    EXPECT_EQ((*b)->Open(alice.raw_public, "", changed).status().code(),
              absl::StatusCode::kInvalidArgument);
  });
  for (size_t i = 0; i < boxed->size(); ++i) {
    EXPECT_EQ((*b)->Open(alice.raw_public, "", boxed->substr(0, i))
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument);
  }
  // Peer keys of the wrong size or of small order.
  EXPECT_EQ((*a)->Seal("short", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*a)->Seal(std::string(32, '\0'), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string one(32, '\0');
  one[0] = 1;
  EXPECT_EQ((*a)->Seal(one, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SealedBoxTest, RoundTripLibsodiumAndBadInput) {
  Pair pair = NewPair();
  auto spki = X25519PublicKeyFromRaw(pair.raw_public);
  auto enc = NewSealedBoxEncrypter(*spki);
  auto dec = NewSealedBoxDecrypter(pair.pkcs8);
  ASSERT_TRUE(enc.ok() && dec.ok());
  auto sealed = (*enc)->Encrypt("anon", "");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), 48 + 4u);
  EXPECT_EQ(*(*dec)->Decrypt(*sealed, ""), "anon");
  // One made by libsodium directly.
  std::string theirs(48 + 5, '\0');
  ASSERT_EQ(crypto_box_seal(reinterpret_cast<uint8_t*>(theirs.data()),
                            U("hello"), 5, U(pair.raw_public)),
            0);
  EXPECT_EQ(*(*dec)->Decrypt(theirs, ""), "hello");
  // Truncated, altered, labelled, other key.
  for (size_t i = 0; i < sealed->size(); ++i) {
    EXPECT_EQ((*dec)->Decrypt(sealed->substr(0, i), "").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  FlipEachBit(*sealed, [&](const std::string& changed) {
    EXPECT_EQ((*dec)->Decrypt(changed, "").status().code(),
              absl::StatusCode::kInvalidArgument);
  });
  EXPECT_EQ((*enc)->Encrypt("x", "label").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*dec)->Decrypt(*sealed, "label").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto other = NewSealedBoxDecrypter(NewPair().pkcs8);
  EXPECT_EQ((*other)->Decrypt(*sealed, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Wycheproof x25519_test.json through X25519SharedSecret. "acceptable"
// vectors: a point of small order (ZeroSharedSecret) must be refused, as
// libsodium refuses it; every other acceptable one (twist points,
// non-canonical encodings) must give the expected secret, as RFC 7748 says.
TEST(X25519WycheproofTest, SharedSecrets) {
  const auto root = wycheproof::Load("x25519_test.json");
  int run = 0;
  for (const auto& group : Get(root, "testGroups").list_value().values()) {
    const auto& g = group.struct_value();
    ASSERT_EQ(Str(g, "curve"), "curve25519");
    for (const auto& test : Get(g, "tests").list_value().values()) {
      const auto& t = test.struct_value();
      const std::string result = Str(t, "result");
      bool zero = false;
      for (const auto& flag : Get(t, "flags").list_value().values()) {
        zero = zero || flag.string_value() == "ZeroSharedSecret";
      }
      auto pkcs8 = X25519PrivateKeyFromRaw(SecretData(Hex(t, "private")));
      ASSERT_TRUE(pkcs8.ok());
      auto shared = X25519SharedSecret(*pkcs8, Hex(t, "public"));
      ++run;
      if (result == "invalid" || zero) {
        EXPECT_EQ(shared.status().code(), absl::StatusCode::kInvalidArgument)
            << "tcId " << Int(t, "tcId");
        if (zero) {
          EXPECT_EQ(CheckPeerPublicKey(Hex(t, "public")).code(),
                    absl::StatusCode::kInvalidArgument);
        }
        continue;
      }
      ASSERT_TRUE(shared.ok()) << "tcId " << Int(t, "tcId") << shared.status();
      EXPECT_EQ(absl::BytesToHexString(shared->InsecureView()),
                Str(t, "shared"))
          << "tcId " << Int(t, "tcId");
    }
  }
  EXPECT_EQ(run, Int(root, "numberOfTests"));
  std::cout << "x25519_test.json: " << run << " run, 0 skipped\n";
}

// Wycheproof x25519_pem_test.json: the same vectors with the keys as PEM
// (RFC 8410 PKCS#8 and SPKI), through Keyward's import parsers.
TEST(X25519WycheproofTest, PemKeys) {
  const auto root = wycheproof::Load("x25519_pem_test.json");
  int run = 0;
  for (const auto& group : Get(root, "testGroups").list_value().values()) {
    for (const auto& test : Get(group.struct_value(), "tests").list_value().values()) {
      const auto& t = test.struct_value();
      bool zero = false;
      for (const auto& flag : Get(t, "flags").list_value().values()) {
        zero = zero || flag.string_value() == "ZeroSharedSecret";
      }
      ++run;
      auto priv = ParsePrivateKeyPem(Str(t, "private"), nullptr);
      auto pub = ParsePublicKey(Str(t, "public"));
      absl::StatusOr<SecretData> shared =
          absl::InvalidArgumentError("unparsed");
      if (priv.ok() && pub.ok()) {
        EXPECT_EQ(priv->type, KeyType::kX25519);
        EXPECT_EQ(pub->type, KeyType::kX25519);
        shared = X25519SharedSecret(priv->pkcs8_der,
                                    *X25519RawPublicKey(pub->spki_der));
      }
      if (Str(t, "result") == "invalid" || zero) {
        EXPECT_EQ(shared.status().code(), absl::StatusCode::kInvalidArgument)
            << "tcId " << Int(t, "tcId");
        continue;
      }
      ASSERT_TRUE(shared.ok()) << "tcId " << Int(t, "tcId") << shared.status();
      EXPECT_EQ(absl::BytesToHexString(shared->InsecureView()), Str(t, "shared"))
          << "tcId " << Int(t, "tcId");
    }
  }
  EXPECT_EQ(run, Int(root, "numberOfTests"));
  std::cout << "x25519_pem_test.json: " << run << " run, 0 skipped\n";
}

// Wycheproof xchacha20_poly1305_test.json through XChaCha20Poly1305 in
// Keyward's wire form nonce || ciphertext || tag. Vectors whose nonce is
// not 24 bytes cannot be expressed in that form: their concatenation must
// still be refused with INVALID_ARGUMENT.
TEST(XChaChaWycheproofTest, Vectors) {
  const auto root = wycheproof::Load("xchacha20_poly1305_test.json");
  int run = 0;
  for (const auto& group : Get(root, "testGroups").list_value().values()) {
    const auto& g = group.struct_value();
    for (const auto& test : Get(g, "tests").list_value().values()) {
      const auto& t = test.struct_value();
      auto aead = XChaCha20Poly1305::Create(SecretData(Hex(t, "key")));
      ASSERT_TRUE(aead.ok());
      const std::string iv = Hex(t, "iv");
      const std::string wire = iv + Hex(t, "ct") + Hex(t, "tag");
      auto opened = (*aead)->Decrypt(wire, Hex(t, "aad"));
      ++run;
      if (Str(t, "result") == "valid") {
        ASSERT_EQ(iv.size(), 24u);
        ASSERT_TRUE(opened.ok()) << "tcId " << Int(t, "tcId") << opened.status();
        EXPECT_EQ(*opened, Hex(t, "msg"));
      } else {
        EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument)
            << "tcId " << Int(t, "tcId");
      }
    }
  }
  EXPECT_EQ(run, Int(root, "numberOfTests"));
  std::cout << "xchacha20_poly1305_test.json: " << run << " run, 0 skipped\n";
}

}  // namespace
}  // namespace keyward::crypto
