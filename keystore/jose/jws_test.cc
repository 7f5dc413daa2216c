#include "keystore/jose/jws.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/signature.h"
#include "keystore/jose/base64url.h"
#include "keystore/jose/failure.h"

namespace keyward::jose {
namespace {

using crypto::KeyType;
using crypto::SecretData;

struct KeyPair {
  JwsSigningKey signer;
  JwsVerificationKey verifier;
};

// MakeKeys makes a fresh key pair (or HMAC key) for |alg|.
KeyPair MakeKeys(JwsAlgorithm alg, const std::string& kid = "") {
  if (IsHmac(alg)) {
    const KeyType type = alg == JwsAlgorithm::kHs256   ? KeyType::kHmacSha256
                         : alg == JwsAlgorithm::kHs384 ? KeyType::kHmacSha384
                                                       : KeyType::kHmacSha512;
    const SecretData key = *crypto::GenerateKeyMaterial(type);
    std::shared_ptr<const crypto::Mac> mac = *NewJwsMac(alg, key);
    return {*JwsSigningKey::ForMac(alg, mac, kid),
            *JwsVerificationKey::ForMac(alg, mac)};
  }
  KeyType type = KeyType::kRsa2048;
  if (alg == JwsAlgorithm::kEs256) type = KeyType::kEcdsaP256;
  if (alg == JwsAlgorithm::kEs384) type = KeyType::kEcdsaP384;
  if (alg == JwsAlgorithm::kEs512) type = KeyType::kEcdsaP521;
  if (alg == JwsAlgorithm::kEdDsa) type = KeyType::kEd25519;
  static std::map<KeyType, SecretData>* cache = new std::map<KeyType, SecretData>;
  if (cache->count(type) == 0) {
    cache->emplace(type, *crypto::GenerateKeyMaterial(type));
  }
  const SecretData& pkcs8 = cache->at(type);
  const std::string spki = *crypto::PublicKeyFromPrivate(type, pkcs8);
  return {*JwsSigningKey::ForSigner(alg, *NewJwsSigner(alg, pkcs8), kid),
          *JwsVerificationKey::ForVerifier(alg, *NewJwsVerifier(alg, spki))};
}

std::string Token(absl::string_view header_json, absl::string_view payload,
                  absl::string_view signature) {
  return absl::StrCat(Base64UrlEncode(header_json), ".",
                      Base64UrlEncode(payload), ".",
                      Base64UrlEncode(signature));
}

void ExpectRefused(const absl::StatusOr<VerifiedJws>& result,
                   TokenFailure failure, absl::string_view message_part = "") {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(FailureOf(result.status()), failure) << result.status();
  if (!message_part.empty()) {
    EXPECT_NE(result.status().message().find(message_part),
              absl::string_view::npos)
        << result.status();
  }
}

constexpr JwsAlgorithm kAllAlgs[] = {
    JwsAlgorithm::kHs256, JwsAlgorithm::kHs384, JwsAlgorithm::kHs512,
    JwsAlgorithm::kRs256, JwsAlgorithm::kRs384, JwsAlgorithm::kRs512,
    JwsAlgorithm::kPs256, JwsAlgorithm::kPs384, JwsAlgorithm::kPs512,
    JwsAlgorithm::kEs256, JwsAlgorithm::kEs384, JwsAlgorithm::kEs512,
    JwsAlgorithm::kEdDsa};

TEST(JwsTest, EveryAlgorithmRoundTrips) {
  for (JwsAlgorithm alg : kAllAlgs) {
    SCOPED_TRACE(JwsAlgorithmName(alg));
    EXPECT_EQ(JwsAlgorithmFromName(JwsAlgorithmName(alg)), alg);
    KeyPair keys = MakeKeys(alg, "key:v1");
    JsonValue header = JsonValue::Object();
    header.Set("typ", JsonValue::String("JWT"));
    absl::StatusOr<std::string> token =
        SignCompact(header, "{\"sub\":\"u1\"}", keys.signer);
    ASSERT_TRUE(token.ok()) << token.status();
    absl::StatusOr<VerifiedJws> v = VerifyCompact(*token, keys.verifier);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->payload, "{\"sub\":\"u1\"}");
    EXPECT_EQ(v->header_json,
              absl::StrCat("{\"alg\":\"", JwsAlgorithmName(alg),
                           "\",\"kid\":\"key:v1\",\"typ\":\"JWT\"}"));
    EXPECT_EQ(v->kid, "key:v1");
    // Every truncation is refused; so is every bit flip of the signature.
    for (size_t n = 0; n < token->size(); n += 3) {
      EXPECT_FALSE(VerifyCompact(token->substr(0, n), keys.verifier).ok());
    }
    const ParsedJws parsed = *ParseCompactJws(*token);
    for (size_t bit = 0; bit < parsed.signature.size() * 8; bit += 5) {
      std::string sig = parsed.signature;
      sig[bit / 8] ^= static_cast<char>(1 << (bit % 8));
      const std::string bad = absl::StrCat(parsed.signing_input, ".",
                                           Base64UrlEncode(sig));
      ExpectRefused(VerifyCompact(bad, keys.verifier),
                    TokenFailure::kBadSignature);
    }
  }
  EXPECT_FALSE(JwsAlgorithmFromName("none").has_value());
  EXPECT_FALSE(JwsAlgorithmFromName("es256").has_value());
}

TEST(JwsTest, AlgNoneIsRefusedInEverySpelling) {
  KeyPair keys = MakeKeys(JwsAlgorithm::kHs256);
  for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
    for (const char* sig : {"", "x"}) {
      const std::string token =
          Token(absl::StrCat("{\"alg\":\"", alg, "\"}"), "{}", sig);
      ExpectRefused(VerifyCompact(token, keys.verifier),
                    TokenFailure::kUnsupportedHeader, "none");
    }
  }
  ExpectRefused(VerifyCompact(Token("{\"typ\":\"JWT\"}", "{}", "x"),
                              keys.verifier),
                TokenFailure::kUnsupportedHeader, "alg");
  ExpectRefused(VerifyCompact(Token("{\"alg\":\"ES256K\"}", "{}", "x"),
                              keys.verifier),
                TokenFailure::kUnsupportedHeader, "not offered");
  ExpectRefused(VerifyCompact(Token("{\"alg\":256}", "{}", "x"), keys.verifier),
                TokenFailure::kUnsupportedHeader);
}

// The classic confusion: an attacker takes the RSA public key's bytes as an
// HMAC secret and signs an HS256 token. The verifier's key is RSA, so its
// alg is RS256 and the token is refused before any MAC is computed; and no
// API binds an RSA key to an HMAC.
TEST(JwsTest, HmacWithThePublicKeyIsRefusedForAnRsaKey) {
  const SecretData pkcs8 = *crypto::GenerateKeyMaterial(KeyType::kRsa2048);
  const std::string spki = *crypto::PublicKeyFromPrivate(KeyType::kRsa2048, pkcs8);
  const std::string pem = *crypto::SpkiToPem(spki);
  JwsVerificationKey rsa = *JwsVerificationKey::ForVerifier(
      JwsAlgorithm::kRs256, *NewJwsVerifier(JwsAlgorithm::kRs256, spki));
  for (const std::string& secret : {spki, pem}) {
    auto attacker_mac = crypto::Hmac::Create(crypto::HashType::kSha256,
                                             SecretData(secret));
    JwsSigningKey attacker =
        *JwsSigningKey::ForMac(JwsAlgorithm::kHs256, *std::move(attacker_mac));
    const std::string token =
        *SignCompact(JsonValue::Object(), "{\"admin\":true}", attacker);
    ExpectRefused(VerifyCompact(token, rsa), TokenFailure::kAlgorithmMismatch,
                  "HS256 is not the key's alg RS256");
  }
  // Nor can a verifier be made that would accept it.
  std::shared_ptr<const crypto::Verifier> verifier =
      *NewJwsVerifier(JwsAlgorithm::kRs256, spki);
  EXPECT_FALSE(JwsVerificationKey::ForVerifier(JwsAlgorithm::kHs256, verifier).ok());
  EXPECT_FALSE(NewJwsVerifier(JwsAlgorithm::kHs256, spki).ok());
  std::shared_ptr<const crypto::Mac> mac = *NewJwsMac(
      JwsAlgorithm::kHs256, *crypto::GenerateKeyMaterial(KeyType::kHmacSha256));
  EXPECT_FALSE(JwsVerificationKey::ForMac(JwsAlgorithm::kRs256, mac).ok());
  EXPECT_FALSE(JwsVerificationKey::ForMac(JwsAlgorithm::kHs512, mac).ok());
}

TEST(JwsTest, AlgorithmMismatchBetweenSignatureAlgorithms) {
  KeyPair es = MakeKeys(JwsAlgorithm::kEs256);
  KeyPair rs = MakeKeys(JwsAlgorithm::kRs256);
  KeyPair ps = MakeKeys(JwsAlgorithm::kPs256);  // Same RSA key as rs.
  const std::string token = *SignCompact(JsonValue::Object(), "p", rs.signer);
  ExpectRefused(VerifyCompact(token, es.verifier), TokenFailure::kAlgorithmMismatch);
  ExpectRefused(VerifyCompact(token, ps.verifier), TokenFailure::kAlgorithmMismatch);
}

TEST(JwsTest, KeysInTheHeaderAreRefused) {
  KeyPair keys = MakeKeys(JwsAlgorithm::kEs256);
  for (const char* member :
       {"\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}",
        "\"jku\":\"https://attacker.example/jwks\"",
        "\"x5u\":\"https://attacker.example/cert\"", "\"x5c\":[\"MIIB\"]",
        "\"zip\":\"DEF\"", "\"b64\":false"}) {
    // Signed correctly: only the header parameter is wrong.
    const std::string header = absl::StrCat("{\"alg\":\"ES256\",", member, "}");
    const std::string input =
        absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode("p"));
    const std::string token =
        absl::StrCat(input, ".", Base64UrlEncode(*keys.signer.Sign(input)));
    ExpectRefused(VerifyCompact(token, keys.verifier),
                  TokenFailure::kUnsupportedHeader);
  }
  JsonValue header = JsonValue::Object();
  header.Set("jwk", JsonValue::Object());
  EXPECT_EQ(SignCompact(header, "p", keys.signer).status().code(),
            absl::StatusCode::kInvalidArgument);
  header = JsonValue::Object();
  header.Set("alg", JsonValue::String("none"));
  EXPECT_EQ(SignCompact(header, "p", keys.signer).status().code(),
            absl::StatusCode::kInvalidArgument);
}

std::string SignedWithHeader(const KeyPair& keys, absl::string_view header) {
  const std::string input =
      absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode("p"));
  return absl::StrCat(input, ".", Base64UrlEncode(*keys.signer.Sign(input)));
}

TEST(JwsTest, CritIsRefusedUnlessUnderstood) {
  KeyPair keys = MakeKeys(JwsAlgorithm::kHs256);
  JwsVerifyOptions understood;
  understood.understood_crit = {"exp_x"};
  const std::string ok =
      SignedWithHeader(keys, "{\"alg\":\"HS256\",\"crit\":[\"exp_x\"],\"exp_x\":1}");
  ExpectRefused(VerifyCompact(ok, keys.verifier), TokenFailure::kUnsupportedHeader,
                "exp_x");
  EXPECT_TRUE(VerifyCompact(ok, keys.verifier, understood).ok());
  for (const char* header :
       {"{\"alg\":\"HS256\",\"crit\":[]}",
        "{\"alg\":\"HS256\",\"crit\":\"exp_x\",\"exp_x\":1}",
        "{\"alg\":\"HS256\",\"crit\":[\"exp_x\"]}",            // Absent.
        "{\"alg\":\"HS256\",\"crit\":[\"alg\"]}",              // Registered.
        "{\"alg\":\"HS256\",\"crit\":[\"exp_x\",\"exp_x\"],\"exp_x\":1}",
        "{\"alg\":\"HS256\",\"crit\":[1]}"}) {
    ExpectRefused(VerifyCompact(SignedWithHeader(keys, header), keys.verifier,
                                understood),
                  TokenFailure::kUnsupportedHeader);
  }
}

TEST(JwsTest, DuplicateMembersAndBadJsonAreMalformed) {
  KeyPair keys = MakeKeys(JwsAlgorithm::kHs256);
  for (const char* header :
       {"{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"alg\":\"none\",\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"al\\u0067\":\"HS256\"}", "{\"alg\":\"HS256\"",
        "[\"HS256\"]", "{\"alg\":\"HS256\"} ", "{\"alg\":\"HS256\",\"kid\":7}",
        "{\"alg\":\"HS256\",\"typ\":[\"JWT\"]}"}) {
    if (std::string(header) == "{\"alg\":\"HS256\"} ") continue;  // Valid JSON.
    ExpectRefused(VerifyCompact(SignedWithHeader(keys, header), keys.verifier),
                  TokenFailure::kMalformed);
  }
}

TEST(JwsTest, NonCanonicalBase64UrlIsMalformed) {
  KeyPair keys = MakeKeys(JwsAlgorithm::kHs256);
  const std::string token = *SignCompact(JsonValue::Object(), "ab", keys.signer);
  const ParsedJws p = *ParseCompactJws(token);
  const std::string h = Base64UrlEncode(p.header_json);
  const std::string s = Base64UrlEncode(p.signature);  // 43 chars: 2 spare bits.
  std::string last_bit_set = s;
  last_bit_set.back() = last_bit_set.back() == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {absl::StrCat(h, ".YWI=.", s), absl::StrCat(h, ".YWI.", s, "="),
        absl::StrCat(h, ".YWJ.", s),  // Same bytes, other spare bits.
        absl::StrCat(h, ".YWI.", last_bit_set), absl::StrCat(h, " .YWI.", s),
        absl::StrCat(h, ".YW+I.", s), absl::StrCat(h, ".YWI.", s, "\n")}) {
    absl::StatusOr<VerifiedJws> r = VerifyCompact(bad, keys.verifier);
    ASSERT_FALSE(r.ok()) << bad;
    // The spare-bit case of the signature may also fail as a bad signature.
    EXPECT_TRUE(FailureOf(r.status()) == TokenFailure::kMalformed ||
                FailureOf(r.status()) == TokenFailure::kBadSignature)
        << r.status();
  }
  ExpectRefused(VerifyCompact(absl::StrCat(h, ".YWJ.", s), keys.verifier),
                TokenFailure::kMalformed, "non-canonical base64url");
}

// ECDSA signatures with r or s zero or not below the group order n.
TEST(JwsTest, DegenerateEs256SignaturesAreRefused) {
  KeyPair keys = MakeKeys(JwsAlgorithm::kEs256);
  const std::string n = absl::HexStringToBytes(
      "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  std::string n_minus_1 = n;
  n_minus_1.back() = '\x50';
  const std::string zero(32, '\0');
  const std::string one = std::string(31, '\0') + "\x01";
  const std::string all_ones(32, '\xff');
  const std::string input = absl::StrCat(
      Base64UrlEncode("{\"alg\":\"ES256\"}"), ".", Base64UrlEncode("p"));
  for (const std::string& r : {zero, one, n_minus_1, n, all_ones}) {
    for (const std::string& s : {zero, one, n_minus_1, n, all_ones}) {
      const std::string token =
          absl::StrCat(input, ".", Base64UrlEncode(r + s));
      ExpectRefused(VerifyCompact(token, keys.verifier),
                    TokenFailure::kBadSignature);
    }
  }
  // And the DER or padded forms of a real signature.
  const std::string sig = *keys.signer.Sign(input);
  for (const std::string& bad : {sig + std::string(1, '\0'),
                                 std::string(1, '\0') + sig, sig.substr(1)}) {
    ExpectRefused(VerifyCompact(absl::StrCat(input, ".", Base64UrlEncode(bad)),
                                keys.verifier),
                  TokenFailure::kBadSignature);
  }
}

TEST(JwsTest, SizeLimits) {
  KeyPair keys = MakeKeys(JwsAlgorithm::kHs256);
  EXPECT_EQ(SignCompact(JsonValue::Object(), std::string(13000, 'x'), keys.signer)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  JwsSignOptions big;
  big.max_token_bytes = 1 << 20;
  const std::string token =
      *SignCompact(JsonValue::Object(), std::string(13000, 'x'), keys.signer, big);
  ExpectRefused(VerifyCompact(token, keys.verifier), TokenFailure::kMalformed,
                "longer than 16384");
  JwsVerifyOptions large;
  large.max_token_bytes = 1 << 20;
  EXPECT_TRUE(VerifyCompact(token, keys.verifier, large).ok());
}

TEST(JwsTest, WrongSignatureFormIsAnInternalError) {
  const SecretData pkcs8 = *crypto::GenerateKeyMaterial(KeyType::kEcdsaP256);
  JwsSigningKey der = *JwsSigningKey::ForSigner(
      JwsAlgorithm::kEs256,
      *crypto::NewSigner(crypto::SignatureAlgorithm::kEcdsaP256Sha256Der, pkcs8));
  EXPECT_EQ(SignCompact(JsonValue::Object(), "p", der).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_FALSE(JwsAlgorithmForSignature(
                   crypto::SignatureAlgorithm::kEcdsaP256Sha256Der)
                   .has_value());
  EXPECT_EQ(JwsAlgorithmForSignature(
                crypto::SignatureAlgorithm::kEcdsaP256Sha256P1363),
            JwsAlgorithm::kEs256);
  EXPECT_EQ(JwsAlgorithmForHmac(crypto::HashType::kSha384), JwsAlgorithm::kHs384);
}

TEST(JwsTest, ShortHmacKeysAreRefused) {
  EXPECT_FALSE(NewJwsMac(JwsAlgorithm::kHs256, SecretData::Random(31)).ok());
  EXPECT_FALSE(NewJwsMac(JwsAlgorithm::kHs512, SecretData::Random(48)).ok());
  EXPECT_TRUE(NewJwsMac(JwsAlgorithm::kHs256, SecretData::Random(64)).ok());
  EXPECT_FALSE(NewJwsMac(JwsAlgorithm::kEs256, SecretData::Random(64)).ok());
}

TEST(JwsTest, ResolverPicksCandidatesAndReportsItsErrors) {
  KeyPair a = MakeKeys(JwsAlgorithm::kHs256, "a");
  KeyPair b = MakeKeys(JwsAlgorithm::kHs256, "b");
  KeyPair es = MakeKeys(JwsAlgorithm::kEs256, "es");
  const std::string token = *SignCompact(JsonValue::Object(), "p", b.signer);
  std::string seen_kid;
  JwsKeyResolver both = [&](const ParsedJws& jws)
      -> absl::StatusOr<std::vector<JwsVerificationKey>> {
    seen_kid = jws.kid.value_or("");
    return std::vector<JwsVerificationKey>{es.verifier, a.verifier, b.verifier};
  };
  absl::StatusOr<VerifiedJws> v = VerifyCompact(token, both);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->key_index, 2u);
  EXPECT_EQ(seen_kid, "b");
  JwsKeyResolver wrong = [&](const ParsedJws&)
      -> absl::StatusOr<std::vector<JwsVerificationKey>> {
    return std::vector<JwsVerificationKey>{es.verifier, a.verifier};
  };
  ExpectRefused(VerifyCompact(token, wrong), TokenFailure::kBadSignature);
  JwsKeyResolver only_es = [&](const ParsedJws&)
      -> absl::StatusOr<std::vector<JwsVerificationKey>> {
    return std::vector<JwsVerificationKey>{es.verifier};
  };
  ExpectRefused(VerifyCompact(token, only_es), TokenFailure::kAlgorithmMismatch);
  JwsKeyResolver none = [](const ParsedJws&)
      -> absl::StatusOr<std::vector<JwsVerificationKey>> {
    return std::vector<JwsVerificationKey>{};
  };
  ExpectRefused(VerifyCompact(token, none), TokenFailure::kKeyNotFound);
  JwsKeyResolver unusable = [](const ParsedJws&)
      -> absl::StatusOr<std::vector<JwsVerificationKey>> {
    return TokenError(TokenFailure::kKeyUnusable, "version 2 is disabled");
  };
  absl::StatusOr<VerifiedJws> r = VerifyCompact(token, unusable);
  ExpectRefused(r, TokenFailure::kKeyUnusable, "disabled");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

// The daemon may sign and verify through Keystore calls instead of holding
// crypto objects.
TEST(JwsTest, FunctionKeys) {
  KeyPair es = MakeKeys(JwsAlgorithm::kEs256, "k:v3");
  int signs = 0;
  JwsSigningKey by_call = *JwsSigningKey::ForFunction(
      JwsAlgorithm::kEs256,
      [&](absl::string_view data) {
        ++signs;
        return es.signer.Sign(data);
      },
      "k:v3");
  JwsVerificationKey check_by_call = *JwsVerificationKey::ForFunction(
      JwsAlgorithm::kEs256, [&](absl::string_view sig, absl::string_view data) {
        return es.verifier.Check(sig, data).ok()
                   ? absl::OkStatus()
                   : absl::InvalidArgumentError("signature is not valid");
      });
  const std::string token = *SignCompact(JsonValue::Object(), "p", by_call);
  EXPECT_EQ(signs, 1);
  EXPECT_TRUE(VerifyCompact(token, check_by_call).ok());
  EXPECT_TRUE(VerifyCompact(token, es.verifier).ok());
  std::string bad = token;
  bad.back() = bad.back() == 'A' ? 'Q' : 'A';
  ExpectRefused(VerifyCompact(bad, check_by_call), TokenFailure::kBadSignature);
  // Other errors of the call pass through as they are.
  JwsVerificationKey unavailable = *JwsVerificationKey::ForFunction(
      JwsAlgorithm::kEs256, [](absl::string_view, absl::string_view) {
        return absl::UnavailableError("sealed");
      });
  EXPECT_EQ(VerifyCompact(token, unavailable).status().code(),
            absl::StatusCode::kUnavailable);
  // A function that returns the wrong form (DER, 70 bytes) is caught.
  JwsSigningKey wrong = *JwsSigningKey::ForFunction(
      JwsAlgorithm::kEs256,
      [](absl::string_view) -> absl::StatusOr<std::string> {
        return std::string(70, 'x');
      });
  EXPECT_EQ(SignCompact(JsonValue::Object(), "p", wrong).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_FALSE(JwsSigningKey::ForFunction(JwsAlgorithm::kEs256, nullptr).ok());
}

TEST(JwsTest, EmptyPayloadAndJweLookalikes) {
  KeyPair keys = MakeKeys(JwsAlgorithm::kHs256);
  const std::string token = *SignCompact(JsonValue::Object(), "", keys.signer);
  EXPECT_EQ(VerifyCompact(token, keys.verifier)->payload, "");
  ExpectRefused(VerifyCompact(token + ".x.y", keys.verifier),
                TokenFailure::kMalformed);
  ExpectRefused(VerifyCompact(SignedWithHeader(
                                  keys, "{\"alg\":\"HS256\",\"enc\":\"A256GCM\"}"),
                              keys.verifier),
                TokenFailure::kMalformed);
}

}  // namespace
}  // namespace keyward::jose
