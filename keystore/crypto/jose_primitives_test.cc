// Tests of the primitives added for JOSE: RSA-OAEP-SHA-1, RSA-PSS-SHA-384/
// 512, AES-GCM of any key size, AES-CBC-HMAC-SHA-2, AES key wrap, ECDH P-256
// with the Concat KDF, and key building from components. Known-answer tests
// come from the RFCs; Wycheproof files run every vector (a128/a192/a256cbc,
// aes_gcm, ecdh_secp256r1 and its ecpoint variant), printing counts.

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/aes_cbc_hmac.h"
#include "keystore/crypto/aes_gcm_any.h"
#include "keystore/crypto/aes_key_wrap.h"
#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/ecdh.h"
#include "keystore/crypto/key_components.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/rsa_oaep_sha1.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"
#include "keystore/testing/wycheproof.h"

namespace keyward::crypto {
namespace {

using google::protobuf::Struct;

std::string Unhex(absl::string_view hex) { return absl::HexStringToBytes(hex); }
std::string B64u(absl::string_view text) {
  std::string out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(text, &out)) << text;
  return out;
}

const SecretData& Rsa2048() {
  static const auto* key = new SecretData(*GenerateKeyMaterial(KeyType::kRsa2048));
  return *key;
}
const std::string& Rsa2048Spki() {
  static const auto* spki =
      new std::string(*PublicKeyFromPrivate(KeyType::kRsa2048, Rsa2048()));
  return *spki;
}

// --- RSA-OAEP-SHA-1 -----------------------------------------------------------

TEST(RsaOaepSha1Test, RoundTripAndTamper) {
  auto enc = NewRsaOaepSha1Encrypter(Rsa2048Spki());
  auto dec = NewRsaOaepSha1Decrypter(Rsa2048());
  ASSERT_TRUE(enc.ok() && dec.ok());
  EXPECT_EQ((*enc)->MaxPlaintextSize(), 256u - 42u);
  const std::string cek(32, 'k');
  const std::string ct = *(*enc)->Encrypt(cek, "");
  EXPECT_EQ(*(*dec)->Decrypt(ct, ""), cek);
  for (size_t bit = 0; bit < ct.size() * 8; bit += 7) {
    std::string bad = ct;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    auto pt = (*dec)->Decrypt(bad, "");
    ASSERT_FALSE(pt.ok());
    EXPECT_EQ(pt.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(pt.status().message(), "ciphertext is not valid");
  }
  EXPECT_EQ((*enc)->Encrypt(std::string(215, 'k'), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*enc)->Encrypt(cek, "label").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A SHA-256 OAEP ciphertext does not decrypt as SHA-1, and vice versa.
  auto enc256 = NewAsymmetricEncrypter(Rsa2048Spki());
  auto dec256 = NewAsymmetricDecrypter(Rsa2048());
  EXPECT_EQ((*dec)->Decrypt(*(*enc256)->Encrypt(cek, ""), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*dec256)->Decrypt(ct, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RsaOaepSha1Test, RefusesOtherKeys) {
  auto ec = GenerateKeyMaterial(KeyType::kEcdsaP256);
  EXPECT_EQ(NewRsaOaepSha1Decrypter(*ec).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- RSA-PSS-SHA-384/512 ------------------------------------------------------

TEST(RsaPssTest, SignVerifyAndHashSeparation) {
  const SignatureAlgorithm kPss384 = SignatureAlgorithm::kRsaPssSha384;
  const SignatureAlgorithm kPss512 = SignatureAlgorithm::kRsaPssSha512;
  for (SignatureAlgorithm alg : {kPss384, kPss512}) {
    auto signer = NewSigner(alg, Rsa2048());
    auto verifier = NewVerifier(alg, Rsa2048Spki());
    ASSERT_TRUE(signer.ok() && verifier.ok());
    const std::string sig = *(*signer)->Sign("message");
    EXPECT_EQ(sig.size(), 256u);
    EXPECT_TRUE((*verifier)->Verify(sig, "message").ok());
    EXPECT_EQ((*verifier)->Verify(sig, "messagf").code(),
              absl::StatusCode::kInvalidArgument);
    std::string bad = sig;
    bad[100] ^= 1;
    EXPECT_EQ((*verifier)->Verify(bad, "message").code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ((*verifier)->Verify(sig.substr(1), "message").code(),
              absl::StatusCode::kInvalidArgument);
    const SignatureAlgorithm other = alg == kPss384 ? kPss512 : kPss384;
    EXPECT_EQ((*NewVerifier(other, Rsa2048Spki()))->Verify(sig, "message").code(),
              absl::StatusCode::kInvalidArgument);
    // Nor is it an RSA-PSS-SHA-256 or PKCS#1 signature.
    EXPECT_EQ((*NewVerifier(SignatureAlgorithm::kRsaPssSha256, Rsa2048Spki()))
                  ->Verify(sig, "message")
                  .code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// --- AES-GCM of any size --------------------------------------------------------

TEST(AesGcmAnyKeySizeTest, SizesAndRoundTrip) {
  for (size_t size : {16, 24, 32}) {
    auto aead = AesGcmAnyKeySize::Create(SecretData::Random(size));
    ASSERT_TRUE(aead.ok());
    const std::string ct = *(*aead)->Encrypt("hello", "aad");
    EXPECT_EQ(ct.size(), 12u + 5u + 16u);
    EXPECT_EQ(*(*aead)->Decrypt(ct, "aad"), "hello");
    EXPECT_EQ((*aead)->Decrypt(ct, "aae").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  for (size_t size : {0, 15, 20, 31, 33, 64}) {
    EXPECT_EQ(AesGcmAnyKeySize::Create(SecretData::Random(size)).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// --- AES-CBC-HMAC-SHA-2 -----------------------------------------------------

// RFC 7518 Appendix B.1, A128CBC-HS256 (the IV is the ciphertext's prefix).
TEST(AesCbcHmacTest, Rfc7518AppendixB1) {
  const SecretData key(Unhex(
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  const std::string p = Unhex(
      "41206369706865722073797374656d206d757374206e6f7420626520726571756972"
      "656420746f206265207365637265742c20616e64206974206d7573742062652061626c"
      "6520746f2066616c6c20696e746f207468652068616e6473206f662074686520656e65"
      "6d7920776974686f757420696e636f6e76656e69656e6365");
  const std::string a = Unhex(
      "546865207365636f6e64207072696e6369706c65206f662041756775737465204b6572"
      "636b686f666673");
  const std::string iv = Unhex("1af38c2dc2b96ffdd86694092341bc04");
  const std::string e = Unhex(
      "c80edfa32ddf39d5ef00c0b468834279a2e46a1b8049f792f76bfe54b903a9c9a94ac9"
      "b47ad2655c5f10f9aef71427e2fc6f9b3f399a221489f16362c703233609d45ac69864"
      "e3321cf82935ac4096c86e133314c54019e8ca7980dfa4b9cf1b384c486f3a54c51078"
      "158ee5d79de59fbd34d848b3d69550a67646344427ade54b8851ffb598f7f80074b947"
      "3c82e2db");
  const std::string t = Unhex("652c3fa36b0a7c5b3219fab3a30bc1c4");
  auto aead = AesCbcHmacSha2::Create(key);
  ASSERT_TRUE(aead.ok());
  auto pt = (*aead)->Decrypt(iv + e + t, a);
  ASSERT_TRUE(pt.ok()) << pt.status();
  EXPECT_EQ(*pt, p);
  // Every truncation and every bit flip of IV || E || T fails the same way.
  const std::string ct = iv + e + t;
  for (size_t n = 0; n < ct.size(); ++n) {
    auto r = (*aead)->Decrypt(ct.substr(0, n), a);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "ciphertext is not authentic or is truncated");
  }
  for (size_t bit = 0; bit < ct.size() * 8; ++bit) {
    std::string bad = ct;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    auto r = (*aead)->Decrypt(bad, a);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(AesCbcHmacTest, RoundTripEverySize) {
  for (size_t size : {32, 48, 64}) {
    auto aead = AesCbcHmacSha2::Create(SecretData::Random(size));
    ASSERT_TRUE(aead.ok());
    for (size_t n : {0, 1, 15, 16, 17, 100}) {
      const std::string msg(n, 'm');
      const std::string ct = *(*aead)->Encrypt(msg, "aad");
      EXPECT_EQ(ct.size(), 16 + (n / 16 + 1) * 16 + size / 2);
      EXPECT_EQ(*(*aead)->Decrypt(ct, "aad"), msg);
      EXPECT_FALSE((*aead)->Decrypt(ct, "aae").ok());
    }
  }
  EXPECT_EQ(AesCbcHmacSha2::Create(SecretData::Random(16)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- AES key wrap -----------------------------------------------------------

// RFC 3394 4.1 and 4.6.
TEST(AesKeyWrapTest, Rfc3394Vectors) {
  const SecretData kek128(Unhex("000102030405060708090A0B0C0D0E0F"));
  const SecretData key128(Unhex("00112233445566778899AABBCCDDEEFF"));
  EXPECT_EQ(absl::BytesToHexString(*AesKeyWrap(kek128, key128)),
            "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
  const SecretData kek256(Unhex(
      "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"));
  const SecretData key256(Unhex(
      "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F"));
  const std::string wrapped = *AesKeyWrap(kek256, key256);
  EXPECT_EQ(absl::BytesToHexString(wrapped),
            "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21");
  auto unwrapped = AesKeyUnwrap(kek256, wrapped);
  ASSERT_TRUE(unwrapped.ok());
  EXPECT_EQ(unwrapped->InsecureView(), key256.InsecureView());
  for (size_t bit = 0; bit < wrapped.size() * 8; ++bit) {
    std::string bad = wrapped;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    auto r = AesKeyUnwrap(kek256, bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "wrapped key is not authentic");
  }
  for (size_t n = 0; n < wrapped.size(); ++n) {
    EXPECT_FALSE(AesKeyUnwrap(kek256, wrapped.substr(0, n)).ok());
  }
  EXPECT_FALSE(AesKeyUnwrap(kek128, wrapped).ok());
  EXPECT_EQ(AesKeyWrap(SecretData::Random(20), key128).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AesKeyWrap(kek128, SecretData::Random(12)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- ECDH and Concat KDF ----------------------------------------------------

// RFC 7518 Appendix C: Alice -> Bob, ECDH-ES with A128GCM.
TEST(EcdhTest, Rfc7518AppendixC) {
  const std::string bob_x = B64u("weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ");
  const std::string bob_y = B64u("e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck");
  const SecretData bob_d(B64u("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"));
  const std::string alice_x = B64u("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0");
  const std::string alice_y = B64u("SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps");
  const SecretData alice_d(B64u("0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo"));
  auto bob_spki = EcPublicKeyFromCoordinates(KeyType::kEcdhP256, bob_x, bob_y);
  auto alice_spki = EcPublicKeyFromCoordinates(KeyType::kEcdhP256, alice_x, alice_y);
  ASSERT_TRUE(bob_spki.ok() && alice_spki.ok());
  auto bob = NewEcdhP256PrivateKey(
      *EcPrivateKeyFromScalar(KeyType::kEcdhP256, bob_d, *bob_spki));
  auto alice = NewEcdhP256PrivateKey(
      *EcPrivateKeyFromScalar(KeyType::kEcdhP256, alice_d, *alice_spki));
  ASSERT_TRUE(bob.ok() && alice.ok());
  auto z1 = (*bob)->ComputeSharedSecret(*alice_spki);
  auto z2 = (*alice)->ComputeSharedSecret(*bob_spki);
  ASSERT_TRUE(z1.ok() && z2.ok());
  EXPECT_EQ(z1->InsecureView(), z2->InsecureView());
  EXPECT_EQ(absl::BytesToHexString(z1->InsecureView()),
            "9e56d91d817135d372834283bf84269cfb316ea3da806a48f6daa7798cfe90c4");
  // OtherInfo: AlgorithmID "A128GCM", PartyUInfo "Alice", PartyVInfo "Bob",
  // SuppPubInfo 128.
  const std::string other_info = absl::StrCat(
      std::string("\0\0\0\x07", 4), "A128GCM", std::string("\0\0\0\x05", 4),
      "Alice", std::string("\0\0\0\x03", 4), "Bob",
      std::string("\0\0\0\x80", 4));
  auto cek = ConcatKdfSha256(*z1, other_info, 16);
  ASSERT_TRUE(cek.ok());
  EXPECT_EQ(cek->InsecureView(), B64u("VqqN6vgjbSBcIijNcacQGg"));
}

TEST(EcdhTest, EphemeralAgreesWithRecipient) {
  const SecretData pkcs8 = *GenerateKeyMaterial(KeyType::kEcdhP256);
  const std::string spki = *PublicKeyFromPrivate(KeyType::kEcdhP256, pkcs8);
  auto result = EcdhP256Ephemeral(spki);
  ASSERT_TRUE(result.ok()) << result.status();
  auto z = (*NewEcdhP256PrivateKey(pkcs8))->ComputeSharedSecret(result->ephemeral_spki_der);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->InsecureView(), result->shared_secret.InsecureView());
}

TEST(EcdhTest, RefusesOffCurveAndOtherCurvePoints) {
  const std::string x = B64u("weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ");
  std::string y = B64u("e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck");
  y[31] ^= 1;
  EXPECT_EQ(EcPublicKeyFromCoordinates(KeyType::kEcdhP256, x, y).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The same point, hand-wrapped as SPKI, is refused by ComputeSharedSecret.
  const std::string spki = Unhex(
      "3059301306072a8648ce3d020106082a8648ce3d030107034200") +
      "\x04" + x + y;
  auto key = NewEcdhP256PrivateKey(*GenerateKeyMaterial(KeyType::kEcdhP256));
  auto z = (*key)->ComputeSharedSecret(spki);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.status().message(), "the peer public key is not a valid P-256 point");
  EXPECT_FALSE(EcdhP256Ephemeral(spki).ok());
  const SecretData p384 = *GenerateKeyMaterial(KeyType::kEcdsaP384);
  EXPECT_FALSE((*key)->ComputeSharedSecret(
                    *PublicKeyFromPrivate(KeyType::kEcdsaP384, p384)).ok());
  EXPECT_FALSE(NewEcdhP256PrivateKey(p384).ok());
}

TEST(EcdhTest, ConcatKdfBounds) {
  const SecretData z = SecretData::Random(32);
  EXPECT_EQ(ConcatKdfSha256(z, "", 64)->size(), 64u);
  EXPECT_EQ(ConcatKdfSha256(z, "", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConcatKdfSha256(SecretData(), "", 16).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The first 32 bytes of a 64-byte output are the 32-byte output.
  EXPECT_EQ(ConcatKdfSha256(z, "x", 64)->InsecureView().substr(0, 32),
            ConcatKdfSha256(z, "x", 32)->InsecureView());
}

// --- key components ---------------------------------------------------------

TEST(KeyComponentsTest, RsaExponentChecks) {
  EXPECT_TRUE(CheckRsaPublicKey(Rsa2048Spki()).ok());
  // Any odd 2048-bit number parses as a modulus; only the exponent varies.
  const std::string modulus = std::string(1, '\xc1') + std::string(255, '\x35');
  const std::string bad_exponents[] = {
      std::string(1, '\x01'), std::string(1, '\x02'), std::string("\x01\x00\x00", 3),
      std::string("\x01\x00\x00\x00\x01", 5)};
  for (const std::string& e : bad_exponents) {
    EXPECT_EQ(RsaPublicKeyFromComponents(modulus, e).status().code(),
              absl::StatusCode::kInvalidArgument)
        << absl::BytesToHexString(e);
  }
  EXPECT_TRUE(RsaPublicKeyFromComponents(modulus, std::string("\x01\x00\x01", 3)).ok());
  EXPECT_TRUE(RsaPublicKeyFromComponents(std::string(3, '\0') + modulus, "\x03").ok());
  // 1024-bit moduli are refused.
  EXPECT_FALSE(RsaPublicKeyFromComponents(modulus.substr(0, 128), std::string("\x01\x00\x01", 3)).ok());
  EXPECT_FALSE(CheckRsaPublicKey(*PublicKeyFromPrivate(
      KeyType::kEcdsaP256, *GenerateKeyMaterial(KeyType::kEcdsaP256))).ok());
}

// A 2048-bit modulus n = k * M + 1, M the product of the ROCA test's primes:
// n is 1 modulo each of them, a power of 65537, so it has the fingerprint.
// (Wycheproof's ROCA key is 2049 bits and is refused by size first.)
TEST(KeyComponentsTest, RocaFingerprintIsRefused) {
  const std::string n = Unhex(
      "865f1a01316cbe684d3da1b5b097767ceb3e33e13cf5e55d9cc8899721aa0f1f"
      "bdb8870be903b244660ac0e5ceff51338df3ae5b1db4f0b0f7deaf9fc6ea9c30"
      "70213e5ed2c5a942202d7ae85e1d4b5f1349d84ae1ade48cdcdd1768d08506f3"
      "e1f002400fdccac6f8084700cf46d98caf1232f751d2021de58aed6bb6b1fadf"
      "fa98afdc44c57757ed38cf294db943c4ec8de1afa51a47f04d91deb9251ba746"
      "b9d7cd77013eb5387273fcb922ad64f3fa0430cf3ad1eaf419683c84ddb547f9"
      "8f96a760ad76a7746e7523781b831f1216489fdbb243d3bdc8e962acc8171cac"
      "a98ef4662fa87ac687ce6cd83ba5bfc6a4a4f465c93cfd632d4228fb1254d01b");
  auto r = RsaPublicKeyFromComponents(n, std::string("\x01\x00\x01", 3));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ROCA"), absl::string_view::npos)
      << r.status();
  // n + 2 has no fingerprint: it is 3 modulo 11, where the powers of 65537
  // are only 1 and 10.
  std::string other = n;
  other.back() = static_cast<char>(other.back() + 2);
  EXPECT_TRUE(RsaPublicKeyFromComponents(other, std::string("\x01\x00\x01", 3)).ok());
}

TEST(KeyComponentsTest, EcAndEd25519RoundTrip) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384}) {
    const SecretData pkcs8 = *GenerateKeyMaterial(type);
    const std::string spki = *PublicKeyFromPrivate(type, pkcs8);
    std::string x, y;
    ASSERT_TRUE(EcCoordinatesFromPublicKey(type, spki, &x, &y).ok());
    EXPECT_EQ(x.size(), EcFieldSize(type));
    EXPECT_EQ(*EcPublicKeyFromCoordinates(type, x, y), spki);
    // A wrong scalar for the public key is refused.
    const SecretData d = SecretData::Random(EcFieldSize(type) - 1);
    EXPECT_FALSE(EcPrivateKeyFromScalar(type, d, spki).ok());
    const SecretData other_pkcs8 = *GenerateKeyMaterial(type);
    const std::string other = *PublicKeyFromPrivate(type, other_pkcs8);
    std::string ox, oy;
    ASSERT_TRUE(EcCoordinatesFromPublicKey(type, other, &ox, &oy).ok());
    EXPECT_FALSE(EcPublicKeyFromCoordinates(type, x, oy).ok());  // Off the curve.
  }
  const std::string zero(32, '\0');
  EXPECT_FALSE(EcPrivateKeyFromScalar(KeyType::kEcdsaP256, SecretData(zero), "").ok());
  EXPECT_FALSE(Ed25519PublicKeyFromRaw("short").ok());
  // RFC 8032 7.1 TEST 1.
  const SecretData seed(Unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  const std::string pub = Unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto spki = Ed25519PublicKeyFromRaw(pub);
  ASSERT_TRUE(spki.ok());
  EXPECT_TRUE(Ed25519PrivateKeyFromSeed(seed, *spki).ok());
  std::string other_pub = pub;
  other_pub[0] ^= 1;
  auto other_spki = Ed25519PublicKeyFromRaw(other_pub);
  if (other_spki.ok()) {
    EXPECT_FALSE(Ed25519PrivateKeyFromSeed(seed, *other_spki).ok());
  }
}

// --- Wycheproof ---------------------------------------------------------------

using wycheproof::Get;
using wycheproof::Hex;
using wycheproof::Str;

enum class Kind { kCbcHmac, kGcm, kEcdhAsn, kEcdhPoint };

struct FileSpec {
  const char* name;
  Kind kind;
};
void PrintTo(const FileSpec& spec, std::ostream* os) { *os << spec.name; }

// Decide returns "" to skip, else runs the test and returns "ok" or a problem.
struct Verdict {
  bool skipped = false;
  std::string skip_reason;
  absl::Status status;
  bool wrong_output = false;
};

std::string P256Spki(absl::string_view point) {
  // SEQUENCE { AlgorithmIdentifier(ecPublicKey, P-256), BIT STRING point }.
  const std::string alg = Unhex("301306072a8648ce3d020106082a8648ce3d030107");
  std::string bits = std::string(1, '\x03');
  bits.push_back(static_cast<char>(point.size() + 1));
  bits.push_back('\0');
  bits.append(point.data(), point.size());
  std::string body = alg + bits;
  return std::string(1, '\x30') + std::string(1, static_cast<char>(body.size())) + body;
}

// DecryptVector opens the vector's iv || ct || tag under its aad with a
// `Cipher` made from its key, and compares the result with its msg.
template <typename Cipher>
Verdict DecryptVector(const Struct& test) {
  Verdict v;
  auto aead = Cipher::Create(SecretData(Hex(test, "key")));
  if (!aead.ok()) return {false, "", aead.status()};
  auto pt = (*aead)->Decrypt(Hex(test, "iv") + Hex(test, "ct") + Hex(test, "tag"),
                             Hex(test, "aad"));
  v.status = pt.status();
  v.wrong_output = pt.ok() && *pt != Hex(test, "msg");
  return v;
}

Verdict RunOne(const FileSpec& spec, const Struct& group, const Struct& test) {
  Verdict v;
  switch (spec.kind) {
    case Kind::kCbcHmac: {
      return DecryptVector<AesCbcHmacSha2>(test);
    }
    case Kind::kGcm: {
      if (wycheproof::Int(group, "ivSize") != 96 || wycheproof::Int(group, "tagSize") != 128) {
        return {true, "IV not 96 bits or tag not 128 bits"};
      }
      return DecryptVector<AesGcmAnyKeySize>(test);
    }
    case Kind::kEcdhAsn:
    case Kind::kEcdhPoint: {
      std::string d = Hex(test, "private");
      while (d.size() > 32 && d.front() == '\0') d.erase(0, 1);
      if (d.size() < 32) d.insert(0, 32 - d.size(), '\0');
      auto pkcs8 = EcPrivateKeyFromScalar(KeyType::kEcdhP256, SecretData(d), "");
      if (!pkcs8.ok()) return {false, "", pkcs8.status()};
      auto key = NewEcdhP256PrivateKey(*pkcs8);
      if (!key.ok()) return {false, "", key.status()};
      const std::string pub = Hex(test, "public");
      auto z = (*key)->ComputeSharedSecret(spec.kind == Kind::kEcdhAsn ? pub : P256Spki(pub));
      v.status = z.status();
      v.wrong_output = z.ok() && z->InsecureView() != Hex(test, "shared");
      return v;
    }
  }
  return v;
}

class JosePrimitivesWycheproofTest : public testing::TestWithParam<FileSpec> {};

TEST_P(JosePrimitivesWycheproofTest, EveryVector) {
  const FileSpec& spec = GetParam();
  const Struct root = wycheproof::Load(spec.name);
  int total = 0, run = 0, passed = 0;
  std::map<std::string, int> skipped;
  for (const auto& gv : Get(root, "testGroups").list_value().values()) {
    const Struct& group = gv.struct_value();
    for (const auto& tv : Get(group, "tests").list_value().values()) {
      const Struct& test = tv.struct_value();
      ++total;
      const Verdict v = RunOne(spec, group, test);
      if (v.skipped) {
        ++skipped[v.skip_reason];
        continue;
      }
      ++run;
      const std::string result = Str(test, "result");
      std::string problem;
      if (result == "valid") {
        if (!v.status.ok()) problem = "rejected: " + v.status.ToString();
        else if (v.wrong_output) problem = "wrong output";
      } else if (result == "invalid") {
        if (v.status.ok()) problem = "accepted";
        else if (v.status.code() != absl::StatusCode::kInvalidArgument)
          problem = "wrong code: " + v.status.ToString();
      } else {  // "acceptable": either way, but right if accepted.
        if (v.status.ok() && v.wrong_output) problem = "wrong output";
      }
      if (problem.empty()) {
        ++passed;
      } else {
        ADD_FAILURE() << spec.name << " tcId " << wycheproof::Int(test, "tcId") << " ("
                      << result << ", " << Str(test, "comment") << "): " << problem;
      }
    }
  }
  wycheproof::PrintTally(spec.name, total, run, passed, skipped);
  EXPECT_EQ(total, wycheproof::Int(root, "numberOfTests"));
  EXPECT_GT(run, 0);
  EXPECT_EQ(passed, run);
}

const FileSpec kFiles[] = {
    {"a128cbc_hs256_test.json", Kind::kCbcHmac},
    {"a192cbc_hs384_test.json", Kind::kCbcHmac},
    {"a256cbc_hs512_test.json", Kind::kCbcHmac},
    {"aes_gcm_test.json", Kind::kGcm},
    {"ecdh_secp256r1_test.json", Kind::kEcdhAsn},
    {"ecdh_secp256r1_ecpoint_test.json", Kind::kEcdhPoint},
};

INSTANTIATE_TEST_SUITE_P(
    Files, JosePrimitivesWycheproofTest, testing::ValuesIn(kFiles),
    [](const testing::TestParamInfo<FileSpec>& info) {
      return wycheproof::TestName(info.param.name);
    });

}  // namespace
}  // namespace keyward::crypto
