// End-to-end: a key's own signature algorithms, JWT settings and legacy
// short HMAC secrets (issue 14), through the real daemon on either backend.
// Every RPC that takes an algorithm is given one the key does not have and
// answers INVALID_ARGUMENT naming both; nothing is dropped in silence.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "keystore/jose/json.h"
#include "tests/jwt_fixture.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;

class KeySettingsTest : public JwtTest {
 protected:
  grpc::Status Create(const std::string& id, pb::KeyType type,
                      pb::KeyPurpose purpose,
                      std::vector<pb::SignatureAlgorithm> algorithms,
                      pb::Key* out = nullptr) {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(type);
    req.mutable_key()->set_purpose(purpose);
    for (auto a : algorithms) req.mutable_key()->add_signature_algorithms(a);
    pb::CreateKeyResponse resp;
    grpc::Status s = keys_->CreateKey(&ctx, req, &resp);
    if (out != nullptr) *out = resp.key();
    return s;
  }

  grpc::Status SignRaw(const std::string& id, pb::SignatureAlgorithm alg,
                       pb::SignResponse* resp) {
    grpc::ClientContext ctx;
    pb::SignRequest req;
    req.set_name("keys/" + id);
    req.set_data("payload");
    req.set_algorithm(alg);
    return crypto_->Sign(&ctx, req, resp);
  }

  pb::GetKeyResponse Get(const std::string& id) {
    grpc::ClientContext ctx;
    pb::GetKeyRequest req;
    req.set_name("keys/" + id);
    pb::GetKeyResponse resp;
    EXPECT_TRUE(keys_->GetKey(&ctx, req, &resp).ok());
    return resp;
  }

  static std::string Header(const std::string& token) {
    std::vector<std::string> parts = absl::StrSplit(token, '.');
    std::string header;
    EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
    return header;
  }
};

TEST_F(KeySettingsTest, SignVerifyKeyTakesItsOwnAlgorithmsFirstIsDefault) {
  pb::Key key;
  ASSERT_TRUE(Create("rsa-sign", pb::KEY_TYPE_RSA_2048,
                     pb::KEY_PURPOSE_SIGN_VERIFY,
                     {pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512}, &key)
                  .ok());
  ASSERT_EQ(key.signature_algorithms_size(), 1);
  EXPECT_EQ(Get("rsa-sign").key().signature_algorithms(0),
            pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512);
  pb::SignResponse signed_;
  ASSERT_TRUE(SignRaw("rsa-sign", pb::SIGNATURE_ALGORITHM_UNSPECIFIED, &signed_)
                  .ok());
  EXPECT_EQ(signed_.algorithm(), pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512);

  // Sign with an algorithm the key does not have.
  pb::SignResponse refused;
  grpc::Status s =
      SignRaw("rsa-sign", pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA256, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("RSA-PSS-SHA256"));
  EXPECT_THAT(s.error_message(), HasSubstr("RSA-PKCS1-SHA512"));

  // Verify with one: an error, not a verdict.
  {
    grpc::ClientContext ctx;
    pb::VerifyRequest req;
    req.set_name("keys/rsa-sign");
    req.set_data("payload");
    req.set_signature(signed_.signature());
    req.set_algorithm(pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA256);
    pb::VerifyResponse resp;
    s = crypto_->Verify(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("RSA-PKCS1-SHA512"));
  }
  // BatchSign and BatchVerify: the item's code.
  {
    grpc::ClientContext ctx;
    pb::BatchSignRequest req;
    pb::SignRequest* item = req.add_requests();
    item->set_name("keys/rsa-sign");
    item->set_data("x");
    item->set_algorithm(pb::SIGNATURE_ALGORITHM_ECDSA_SHA256_DER);
    pb::BatchSignResponse resp;
    ASSERT_TRUE(crypto_->BatchSign(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.results(0).status().code(),
              static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  }
  {
    grpc::ClientContext ctx;
    pb::BatchVerifyRequest req;
    pb::VerifyRequest* item = req.add_requests();
    item->set_name("keys/rsa-sign");
    item->set_data("payload");
    item->set_signature(signed_.signature());
    item->set_algorithm(pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA512);
    pb::BatchVerifyResponse resp;
    ASSERT_TRUE(crypto_->BatchVerify(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.results(0).status().code(),
              static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  }
}

TEST_F(KeySettingsTest, TemplatesNamingAlgorithmsTheKeyCannotHaveAreRefused) {
  struct Case {
    pb::KeyType type;
    pb::KeyPurpose purpose;
    std::vector<pb::SignatureAlgorithm> algorithms;
  };
  const Case cases[] = {
      {pb::KEY_TYPE_RSA_2048, pb::KEY_PURPOSE_JWT,
       {pb::SIGNATURE_ALGORITHM_ECDSA_SHA256_P1363}},
      {pb::KEY_TYPE_RSA_2048, pb::KEY_PURPOSE_JWT,
       {pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512,
        pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA256}},
      {pb::KEY_TYPE_ECDSA_P256, pb::KEY_PURPOSE_JWT,
       {pb::SIGNATURE_ALGORITHM_ECDSA_SHA256_DER}},
      {pb::KEY_TYPE_ECDSA_P384, pb::KEY_PURPOSE_SIGN_VERIFY,
       {pb::SIGNATURE_ALGORITHM_ECDSA_SHA256_DER}},
      {pb::KEY_TYPE_HMAC_SHA256, pb::KEY_PURPOSE_JWT,
       {pb::SIGNATURE_ALGORITHM_ED25519}},
      {pb::KEY_TYPE_AES256_GCM, pb::KEY_PURPOSE_ENCRYPT_DECRYPT,
       {pb::SIGNATURE_ALGORITHM_ED25519}},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(n);
    const std::string id = absl::StrCat("bad", n++);
    grpc::Status s = Create(id, c.type, c.purpose, c.algorithms);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message();
    grpc::ClientContext ctx;
    pb::GetKeyRequest get;
    get.set_name("keys/" + id);
    pb::GetKeyResponse got;
    EXPECT_EQ(keys_->GetKey(&ctx, get, &got).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(KeySettingsTest, JwtKeySignsPublishesAndHoldsTokensToItsAlgorithm) {
  for (auto [id, alg, name] :
       std::vector<std::tuple<std::string, pb::SignatureAlgorithm, std::string>>{
           {"rs512", pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512, "RS512"},
           {"ps384", pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA384, "PS384"}}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(Create(id, pb::KEY_TYPE_RSA_2048, pb::KEY_PURPOSE_JWT, {alg}).ok());
    pb::SignJwtResponse token = Sign(id, R"({"sub":"a"})");
    EXPECT_THAT(Header(token.token()), HasSubstr("\"alg\":\"" + name + "\""));
    EXPECT_TRUE(Verify(token.token()).valid());
    {
      grpc::ClientContext ctx;
      pb::GetJwksRequest req;
      req.add_names("keys/" + id);
      pb::GetJwksResponse resp;
      ASSERT_TRUE(jwt_->GetJwks(&ctx, req, &resp).ok());
      EXPECT_THAT(resp.jwks_json(), HasSubstr("\"alg\":\"" + name + "\""));
    }
    {
      grpc::ClientContext ctx;
      pb::GetPublicKeyRequest req;
      req.set_name("keys/" + id);
      req.set_format(pb::PUBLIC_KEY_FORMAT_JWK);
      pb::GetPublicKeyResponse resp;
      ASSERT_TRUE(crypto_->GetPublicKey(&ctx, req, &resp).ok());
      EXPECT_THAT(resp.public_key(), HasSubstr("\"alg\":\"" + name + "\""));
      EXPECT_THAT(resp.public_key(), HasSubstr("\"use\":\"sig\""));
    }
    // A token whose header names another alg (RS256) is refused before its
    // signature is looked at: the contract's ALGORITHM_MISMATCH verdict.
    std::vector<std::string> parts = absl::StrSplit(token.token(), '.');
    std::string header = Header(token.token());
    header.replace(header.find(name), name.size(), "RS256");
    const std::string forged = absl::StrCat(absl::WebSafeBase64Escape(header),
                                            ".", parts[1], ".", parts[2]);
    pb::VerifyJwtResponse verdict = Verify(forged);
    EXPECT_FALSE(verdict.valid());
    EXPECT_EQ(verdict.failure(), pb::JWT_FAILURE_ALGORITHM_MISMATCH);
  }
}

TEST_F(KeySettingsTest, IssuerAndDefaultTtlAreFilledInAndEnforced) {
  {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id("issuing");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_ED25519);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWT);
    req.mutable_key()->mutable_jwt()->set_issuer("https://id.example");
    req.mutable_key()->mutable_jwt()->mutable_default_ttl()->set_seconds(300);
    pb::CreateKeyResponse resp;
    ASSERT_TRUE(keys_->CreateKey(&ctx, req, &resp).ok());
  }
  pb::SignJwtResponse token = Sign("issuing", R"({"sub":"a"})", /*ttl=*/0);
  EXPECT_EQ(token.expire_time().seconds() - token.issue_time().seconds(), 300);
  pb::VerifyJwtResponse verdict = Verify(token.token());
  ASSERT_TRUE(verdict.valid()) << verdict.failure_detail();
  // The issuer goes right after the claims given, before the time claims.
  EXPECT_THAT(verdict.claims_json(),
              HasSubstr(R"({"sub":"a","iss":"https://id.example","iat":)"));
  // The same issuer in the claims is fine; another is refused.
  Sign("issuing", R"({"iss":"https://id.example"})");
  grpc::Status s;
  Sign("issuing", R"({"iss":"https://evil.example"})", 90, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("is not key 'issuing''s issuer \"https://id.example\""));
  // A default lifetime over the maximum is refused on update; nothing changes.
  grpc::ClientContext ctx;
  pb::UpdateKeyRequest req;
  req.mutable_key()->set_name("keys/issuing");
  req.mutable_key()->mutable_jwt()->mutable_default_ttl()->set_seconds(
      25 * 3600);
  req.add_update_mask("jwt.default_ttl");
  pb::UpdateKeyResponse resp;
  EXPECT_EQ(keys_->UpdateKey(&ctx, req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("issuing").key().jwt().default_ttl().seconds(), 300);
}

TEST_F(KeySettingsTest, ShortHmacSecretsOnlyWhenAskedAndMarked) {
  const std::string secret = "nineteen-byte-sec!!";
  ASSERT_EQ(secret.size(), 19u);
  auto import = [&](const std::string& id, bool allow) {
    grpc::ClientContext ctx;
    pb::ImportKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(pb::KEY_TYPE_HMAC_SHA256);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWT);
    req.set_format(pb::KEY_MATERIAL_FORMAT_RAW_SECRET);
    req.set_material(secret);
    req.set_allow_short_secret(allow);
    pb::ImportKeyResponse resp;
    return keys_->ImportKey(&ctx, req, &resp);
  };
  grpc::Status s = import("short", false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("allow_short_secret"));
  ASSERT_TRUE(import("short", true).ok());
  EXPECT_TRUE(Get("short").key().legacy_short_secret());
  EXPECT_TRUE(Verify(Sign("short", "{}").token()).valid());
  // The import's audit record says so.
  std::ifstream audit(args_[1] + "/audit.log");
  std::stringstream text;
  text << audit.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("legacy short secret accepted: 19 bytes"));
  // A generated key is never short.
  ASSERT_TRUE(Create("generated", pb::KEY_TYPE_HMAC_SHA512, pb::KEY_PURPOSE_JWT, {}).ok());
  EXPECT_FALSE(Get("generated").key().legacy_short_secret());
}

TEST_F(KeySettingsTest, ImportedJwkTakesItsAlgUnlessTheRequestDiffers) {
  ASSERT_TRUE(Create("src", pb::KEY_TYPE_RSA_2048, pb::KEY_PURPOSE_SIGN_VERIFY, {}).ok());
  std::string jwk;
  {
    grpc::ClientContext ctx;
    pb::GetPublicKeyRequest req;
    req.set_name("keys/src");
    req.set_format(pb::PUBLIC_KEY_FORMAT_JWK);
    pb::GetPublicKeyResponse resp;
    ASSERT_TRUE(crypto_->GetPublicKey(&ctx, req, &resp).ok());
    jwk = resp.public_key();
  }
  ASSERT_EQ(jwk.find("\"alg\""), std::string::npos) << jwk;
  jwk.insert(1, R"("alg":"RS512",)");
  auto import = [&](const std::string& id,
                    pb::SignatureAlgorithm asked) -> grpc::Status {
    grpc::ClientContext ctx;
    pb::ImportKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWT);
    if (asked != pb::SIGNATURE_ALGORITHM_UNSPECIFIED) {
      req.mutable_key()->set_key_type(pb::KEY_TYPE_RSA_2048);
      req.mutable_key()->add_signature_algorithms(asked);
    }
    req.set_format(pb::KEY_MATERIAL_FORMAT_PUBLIC_KEY_JWK);
    req.set_material(jwk);
    req.set_kid(id + "-kid");
    pb::ImportKeyResponse resp;
    return keys_->ImportKey(&ctx, req, &resp);
  };
  ASSERT_TRUE(import("partner", pb::SIGNATURE_ALGORITHM_UNSPECIFIED).ok());
  EXPECT_EQ(Get("partner").key().signature_algorithms(0),
            pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512);
  grpc::Status s = import("partner-2", pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA256);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("RS512"));
  EXPECT_THAT(s.error_message(), HasSubstr("RSA-PSS-SHA256"));
}

TEST_F(KeySettingsTest, EncryptJweWithAnotherAlgIsRefused) {
  grpc::ClientContext ctx;
  pb::CreateKeyRequest create;
  create.set_key_id("jwe");
  create.mutable_key()->set_key_type(pb::KEY_TYPE_RSA_2048);
  create.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWE);
  pb::CreateKeyResponse created;
  ASSERT_TRUE(keys_->CreateKey(&ctx, create, &created).ok());
  grpc::ClientContext ectx;
  pb::EncryptJweRequest req;
  req.set_name("keys/jwe");
  req.set_algorithm(pb::JWE_ALGORITHM_RSA_OAEP);
  req.set_payload("x");
  pb::EncryptJweResponse resp;
  grpc::Status s = jwt_->EncryptJwe(&ectx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("RSA-OAEP-256"));
  EXPECT_THAT(s.error_message(), HasSubstr("RSA-OAEP"));
}

}  // namespace
}  // namespace keyward::testing
