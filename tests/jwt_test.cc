// End-to-end: JWT issuing and verification through the real daemon: the
// algorithm comes from the key, never from the token.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/signature.h"
#include "keystore/jose/jwk.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jws.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/jwt_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/jwt_fixture.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using ::testing::HasSubstr;

std::string B64(absl::string_view s) { return absl::WebSafeBase64Escape(s); }


TEST_F(JwtTest, SignAndVerifyWithEveryKeyKind) {
  struct Case {
    std::string id;
    pb::KeyType type;
    std::string alg;
  } cases[] = {{"es256", pb::KEY_TYPE_ECDSA_P256, "ES256"},
               {"es384", pb::KEY_TYPE_ECDSA_P384, "ES384"},
               {"eddsa", pb::KEY_TYPE_ED25519, "EdDSA"},
               {"rs256", pb::KEY_TYPE_RSA_2048, "RS256"},
               {"hs256", pb::KEY_TYPE_HMAC_SHA256, "HS256"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    CreateJwtKey(c.id, c.type);
    pb::SignJwtResponse t = Sign(c.id, R"({"sub":"alice","aud":"api"})");
    ASSERT_FALSE(t.token().empty());
    EXPECT_EQ(t.key_version(), "keys/" + c.id + "/versions/1");
    EXPECT_EQ(t.expire_time().seconds() - t.issue_time().seconds(), 90);
    std::vector<std::string> parts = absl::StrSplit(t.token(), '.');
    ASSERT_EQ(parts.size(), 3u);
    std::string header;
    ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
    EXPECT_THAT(header, HasSubstr("\"alg\":\"" + c.alg + "\""));
    EXPECT_THAT(header, HasSubstr("\"kid\":\"" + c.id + ":v1\""));

    pb::VerifyJwtResponse v = Verify(t.token(), "api");
    EXPECT_TRUE(v.valid()) << v.failure_detail();
    EXPECT_THAT(v.claims_json(), HasSubstr("\"sub\":\"alice\""));
    EXPECT_EQ(v.key_version(), "keys/" + c.id + "/versions/1");

    // Wrong audience; tampered payload.
    EXPECT_EQ(Verify(t.token(), "other").failure(), pb::JWT_FAILURE_AUDIENCE_MISMATCH);
    std::string forged = absl::StrCat(parts[0], ".",
                                      B64(R"({"sub":"mallory","aud":"api"})"), ".",
                                      parts[2]);
    pb::VerifyJwtResponse bad = Verify(forged, "api");
    EXPECT_FALSE(bad.valid());
    EXPECT_EQ(bad.failure(), pb::JWT_FAILURE_BAD_SIGNATURE);
  }
}

TEST_F(JwtTest, AttacksAreRefused) {
  CreateJwtKey("rs", pb::KEY_TYPE_RSA_2048);
  pb::SignJwtResponse t = Sign("rs", R"({"sub":"alice"})");
  std::vector<std::string> parts = absl::StrSplit(t.token(), '.');
  const std::string payload = parts[1];

  // alg none, with the key's kid.
  std::string none = absl::StrCat(B64(R"({"alg":"none","kid":"rs:v1"})"), ".",
                                  payload, ".");
  pb::VerifyJwtResponse v = Verify(none);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(v.failure(), pb::JWT_FAILURE_UNSUPPORTED_HEADER);

  // HS256 under the RSA key's kid (the classic confusion): refused because
  // the algorithm comes from the key.
  std::string hs = absl::StrCat(B64(R"({"alg":"HS256","kid":"rs:v1"})"), ".",
                                payload, ".", B64("any-mac-at-all-32-bytes-long...."));
  v = Verify(hs);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(v.failure(), pb::JWT_FAILURE_ALGORITHM_MISMATCH);

  // An embedded jwk header.
  std::string jwk = absl::StrCat(
      B64(R"({"alg":"RS256","kid":"rs:v1","jwk":{"kty":"oct","k":"AAAA"}})"),
      ".", payload, ".", parts[2]);
  EXPECT_EQ(Verify(jwk).failure(), pb::JWT_FAILURE_UNSUPPORTED_HEADER);

  // Unknown kid.
  std::string unknown = absl::StrCat(B64(R"({"alg":"RS256","kid":"nope:v1"})"),
                                     ".", payload, ".", parts[2]);
  EXPECT_EQ(Verify(unknown).failure(), pb::JWT_FAILURE_KEY_NOT_FOUND);

  // Duplicate member names.
  std::string dup = absl::StrCat(
      B64(R"({"alg":"RS256","kid":"rs:v1","kid":"rs:v1"})"), ".", payload, ".",
      parts[2]);
  EXPECT_EQ(Verify(dup).failure(), pb::JWT_FAILURE_MALFORMED);

  // Garbage.
  EXPECT_EQ(Verify("not.a.token!").failure(), pb::JWT_FAILURE_MALFORMED);
}

TEST_F(JwtTest, EcdsaSignatureOfZerosIsRefused) {
  CreateJwtKey("es", pb::KEY_TYPE_ECDSA_P256);
  pb::SignJwtResponse t = Sign("es", R"({"sub":"alice"})");
  std::vector<std::string> parts = absl::StrSplit(t.token(), '.');
  std::string zeros = absl::StrCat(parts[0], ".", parts[1], ".",
                                   B64(std::string(64, '\0')));
  pb::VerifyJwtResponse v = Verify(zeros);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(v.failure(), pb::JWT_FAILURE_BAD_SIGNATURE);
}

TEST_F(JwtTest, ExpiryRotationAndSeparationFromRawSigning) {
  CreateJwtKey("es", pb::KEY_TYPE_ECDSA_P256);
  pb::SignJwtResponse old = Sign("es", R"({"sub":"alice"})");
  pb::SignJwtResponse short_lived = Sign("es", R"({"sub":"bob"})", 1);
  {
    grpc::ClientContext ctx;
    pb::RotateKeyRequest req;
    req.set_name("keys/es");
    pb::RotateKeyResponse resp;
    ASSERT_TRUE(keys_->RotateKey(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(Sign("es", "{}").key_version(), "keys/es/versions/2");
  EXPECT_TRUE(Verify(old.token()).valid()) << "tokens in flight keep verifying";

  absl::SleepFor(absl::Milliseconds(2100));
  pb::VerifyJwtResponse expired = Verify(short_lived.token(), "", 0);
  EXPECT_FALSE(expired.valid());
  EXPECT_EQ(expired.failure(), pb::JWT_FAILURE_EXPIRED);

  // A JWT key does not sign raw data, and a raw signing key does not sign
  // JWTs.
  grpc::ClientContext sctx;
  pb::SignRequest sreq;
  sreq.set_name("keys/es");
  sreq.set_data("header.payload");
  pb::SignResponse sresp;
  EXPECT_EQ(crypto_->Sign(&sctx, sreq, &sresp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id("raw");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_ED25519);
    pb::CreateKeyResponse resp;
    ASSERT_TRUE(keys_->CreateKey(&ctx, req, &resp).ok());
  }
  grpc::Status s;
  Sign("raw", "{}", 60, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  Sign("es", "[1,2]", 60, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(JwtTest, JweRoundTripsForEveryKeyKind) {
  struct Case {
    std::string id;
    pb::KeyType type;
    pb::JweAlgorithm alg;
    pb::JweEncryption enc;
  } cases[] = {
      {"jwe-rsa", pb::KEY_TYPE_RSA_2048, pb::JWE_ALGORITHM_RSA_OAEP_256,
       pb::JWE_ENCRYPTION_A256GCM},
      {"jwe-rsa1", pb::KEY_TYPE_RSA_2048, pb::JWE_ALGORITHM_RSA_OAEP,
       pb::JWE_ENCRYPTION_A128CBC_HS256},
      {"jwe-ecdh", pb::KEY_TYPE_ECDH_P256, pb::JWE_ALGORITHM_ECDH_ES_A256KW,
       pb::JWE_ENCRYPTION_A256CBC_HS512},
      {"jwe-ecdh-direct", pb::KEY_TYPE_ECDH_P256, pb::JWE_ALGORITHM_ECDH_ES,
       pb::JWE_ENCRYPTION_A128GCM},
      {"jwe-aes", pb::KEY_TYPE_AES256_GCM, pb::JWE_ALGORITHM_A256GCMKW,
       pb::JWE_ENCRYPTION_A256GCM},
      {"jwe-dir", pb::KEY_TYPE_AES256_GCM, pb::JWE_ALGORITHM_DIR,
       pb::JWE_ENCRYPTION_A256GCM},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    {
      grpc::ClientContext ctx;
      pb::CreateKeyRequest req;
      req.set_key_id(c.id);
      req.mutable_key()->set_key_type(c.type);
      req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWE);
      req.mutable_key()->set_jwe_algorithm(c.alg);
      pb::CreateKeyResponse resp;
      grpc::Status s = keys_->CreateKey(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(resp.key().jwe_algorithm(), c.alg);
    }
    pb::EncryptJweResponse enc;
    {
      grpc::ClientContext ctx;
      pb::EncryptJweRequest req;
      req.set_name("keys/" + c.id);
      req.set_algorithm(c.alg);
      req.set_encryption(c.enc);
      req.set_payload("card 4111 1111 1111 1111");
      grpc::Status s = jwt_->EncryptJwe(&ctx, req, &enc);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    EXPECT_EQ(std::count(enc.token().begin(), enc.token().end(), '.'), 4);
    EXPECT_EQ(enc.token().find("4111"), std::string::npos);
    auto decrypt = [&](const std::string& token, pb::DecryptJweResponse* out) {
      grpc::ClientContext ctx;
      pb::DecryptJweRequest req;
      req.set_token(token);
      return jwt_->DecryptJwe(&ctx, req, out);
    };
    pb::DecryptJweResponse dec;
    grpc::Status s = decrypt(enc.token(), &dec);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(dec.payload(), "card 4111 1111 1111 1111");
    EXPECT_EQ(dec.key_version(), "keys/" + c.id + "/versions/1");
    // Alter the ciphertext part.
    std::vector<std::string> parts = absl::StrSplit(enc.token(), '.');
    parts[3][parts[3].size() / 2] = parts[3][parts[3].size() / 2] == 'A' ? 'B' : 'A';
    EXPECT_EQ(decrypt(absl::StrJoin(parts, "."), &dec).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // An algorithm the key does not offer.
  grpc::ClientContext ctx;
  pb::EncryptJweRequest req;
  req.set_name("keys/jwe-rsa");
  req.set_algorithm(pb::JWE_ALGORITHM_DIR);
  req.set_payload("x");
  pb::EncryptJweResponse resp;
  EXPECT_EQ(jwt_->EncryptJwe(&ctx, req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(JwtTest, JwksListsEveryEnabledVersion) {
  CreateJwtKey("es", pb::KEY_TYPE_ECDSA_P256);
  CreateJwtKey("ed", pb::KEY_TYPE_ED25519);
  {
    grpc::ClientContext ctx;
    pb::RotateKeyRequest req;
    req.set_name("keys/es");
    pb::RotateKeyResponse resp;
    ASSERT_TRUE(keys_->RotateKey(&ctx, req, &resp).ok());
  }
  grpc::ClientContext ctx;
  pb::GetJwksRequest req;
  req.add_names("keys/es");
  req.add_names("keys/ed");
  pb::GetJwksResponse resp;
  grpc::Status s = jwt_->GetJwks(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"kid\":\"es:v1\""));
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"kid\":\"es:v2\""));
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"kid\":\"ed:v1\""));
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"alg\":\"ES256\""));
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"alg\":\"EdDSA\""));
  EXPECT_THAT(resp.jwks_json(), ::testing::Not(HasSubstr("\"d\"")));
  // Versions newest first, keys in the order named.
  const size_t v2 = resp.jwks_json().find("es:v2");
  const size_t v1 = resp.jwks_json().find("es:v1");
  const size_t ed = resp.jwks_json().find("ed:v1");
  EXPECT_LT(v2, v1);
  EXPECT_LT(v1, ed);

  // A JWE key publishes its JWE alg for "enc"; a secret one has nothing.
  for (auto [id, type] : {std::make_pair("rsa-enc", pb::KEY_TYPE_RSA_2048),
                          std::make_pair("aes-enc", pb::KEY_TYPE_AES256_GCM)}) {
    grpc::ClientContext cctx;
    pb::CreateKeyRequest create;
    create.set_key_id(id);
    create.mutable_key()->set_key_type(type);
    create.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWE);
    pb::CreateKeyResponse created;
    ASSERT_TRUE(keys_->CreateKey(&cctx, create, &created).ok());
  }
  {
    grpc::ClientContext ectx;
    pb::GetJwksRequest ereq;
    ereq.add_names("keys/rsa-enc");
    pb::GetJwksResponse eresp;
    ASSERT_TRUE(jwt_->GetJwks(&ectx, ereq, &eresp).ok());
    EXPECT_THAT(eresp.jwks_json(), HasSubstr("\"use\":\"enc\""));
    EXPECT_THAT(eresp.jwks_json(), HasSubstr("\"alg\":\"RSA-OAEP-256\""));
    EXPECT_THAT(eresp.jwks_json(), HasSubstr("\"kid\":\"rsa-enc:v1\""));
    grpc::ClientContext actx;
    pb::GetJwksRequest areq;
    areq.add_names("keys/aes-enc");
    EXPECT_EQ(jwt_->GetJwks(&actx, areq, &eresp).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }

  CreateJwtKey("hs", pb::KEY_TYPE_HMAC_SHA256);
  grpc::ClientContext hctx;
  pb::GetJwksRequest hreq;
  hreq.add_names("keys/hs");
  EXPECT_EQ(jwt_->GetJwks(&hctx, hreq, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

pb::TokenRecord GetRecord(pb::JwtService::Stub* jwt, const std::string& name,
                          grpc::Status* status, const std::string& external_id = "") {
  grpc::ClientContext ctx;
  pb::GetTokenRecordRequest req;
  if (external_id.empty()) req.set_name(name);
  else req.set_external_id(external_id);
  pb::GetTokenRecordResponse resp;
  *status = jwt->GetTokenRecord(&ctx, req, &resp);
  return resp.record();
}

TEST_F(JwtTest, TokenRecordsCanBeLookedUpRevokedAndListed) {
  CreateJwtKey("otp", pb::KEY_TYPE_ECDSA_P256);
  auto sign_recorded = [&](const std::string& external_id, bool store,
                           grpc::Status* status) {
    grpc::ClientContext ctx;
    pb::SignJwtRequest req;
    req.set_name("keys/otp");
    req.set_claims_json(R"({"sub":"u-7"})");
    req.mutable_ttl()->set_seconds(90);
    req.mutable_record()->set_external_id(external_id);
    (*req.mutable_record()->mutable_metadata())["channel"] = "sms";
    req.mutable_record()->set_store_token(store);
    pb::SignJwtResponse resp;
    *status = jwt_->SignJwt(&ctx, req, &resp);
    return resp;
  };
  grpc::Status s;
  pb::SignJwtResponse first = sign_recorded("txn-42", true, &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(first.record_name(), "tokens/" + first.jti());
  pb::SignJwtResponse second = sign_recorded("txn-42", false, &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  pb::SignJwtResponse other = sign_recorded("txn-43", false, &s);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // By name: everything kept, the token itself because it was asked for.
  pb::TokenRecord r = GetRecord(jwt_.get(), first.record_name(), &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.jti(), first.jti());
  EXPECT_EQ(r.external_id(), "txn-42");
  EXPECT_EQ(r.metadata().at("channel"), "sms");
  EXPECT_EQ(r.subject(), "u-7");
  EXPECT_EQ(r.token(), first.token());
  EXPECT_EQ(r.key_version(), "keys/otp/versions/1");
  EXPECT_EQ(r.state(), pb::TOKEN_STATE_ACTIVE);
  EXPECT_EQ(r.expire_time().seconds(), first.expire_time().seconds());
  EXPECT_EQ(r.purge_time().seconds(),
            first.expire_time().seconds() + 7 * 24 * 3600);
  EXPECT_THAT(r.issued_by(), HasSubstr("unix:uid:"));
  // By external id: the most recent with it, which kept no token.
  r = GetRecord(jwt_.get(), "", &s, "txn-42");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.jti(), second.jti());
  EXPECT_TRUE(r.token().empty());
  GetRecord(jwt_.get(), "tokens/no-such-jti", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  GetRecord(jwt_.get(), "", &s, "txn-none");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  GetRecord(jwt_.get(), "tokens/bad jti", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Revocation: VerifyJwt says REVOKED; a second revoke keeps the first.
  ASSERT_TRUE(Verify(first.token()).valid());
  auto revoke = [&](const std::string& name, const std::string& reason,
                    grpc::Status* status) {
    grpc::ClientContext ctx;
    pb::RevokeTokenRequest req;
    req.set_name(name);
    req.set_reason(reason);
    pb::RevokeTokenResponse resp;
    *status = jwt_->RevokeToken(&ctx, req, &resp);
    return resp.record();
  };
  r = revoke(first.record_name(), "phone reported stolen", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.state(), pb::TOKEN_STATE_REVOKED);
  EXPECT_EQ(r.revoke_reason(), "phone reported stolen");
  pb::VerifyJwtResponse v = Verify(first.token());
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(v.failure(), pb::JWT_FAILURE_REVOKED);
  EXPECT_THAT(v.failure_detail(), HasSubstr("phone reported stolen"));
  EXPECT_TRUE(v.claims_json().empty());
  EXPECT_TRUE(Verify(second.token()).valid());  // same txn, not revoked
  r = revoke(first.record_name(), "again", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.revoke_reason(), "phone reported stolen");
  revoke("tokens/unknown", "", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  revoke(second.record_name(), std::string(300, 'x'), &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Listing: newest first, paged, filtered by state and external id.
  auto list = [&](pb::ListTokenRecordsRequest req, grpc::Status* status) {
    grpc::ClientContext ctx;
    pb::ListTokenRecordsResponse resp;
    *status = jwt_->ListTokenRecords(&ctx, req, &resp);
    return resp;
  };
  pb::ListTokenRecordsRequest req;
  req.set_page_size(2);
  pb::ListTokenRecordsResponse page = list(req, &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(page.records_size(), 2);
  EXPECT_EQ(page.records(0).jti(), other.jti());
  EXPECT_EQ(page.records(1).jti(), second.jti());
  ASSERT_FALSE(page.next_page_token().empty());
  req.set_page_token(page.next_page_token());
  page = list(req, &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(page.records_size(), 1);
  EXPECT_EQ(page.records(0).jti(), first.jti());
  EXPECT_EQ(page.records(0).state(), pb::TOKEN_STATE_REVOKED);

  pb::ListTokenRecordsRequest revoked_only;
  revoked_only.set_state(pb::TOKEN_STATE_REVOKED);
  page = list(revoked_only, &s);
  ASSERT_EQ(page.records_size(), 1);
  EXPECT_EQ(page.records(0).jti(), first.jti());
  pb::ListTokenRecordsRequest by_txn;
  by_txn.set_external_id("txn-43");
  by_txn.set_key("keys/otp");
  page = list(by_txn, &s);
  ASSERT_EQ(page.records_size(), 1);
  EXPECT_EQ(page.records(0).jti(), other.jti());
  pb::ListTokenRecordsRequest bad;
  bad.set_page_token("not-a-token");
  list(bad, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  pb::ListTokenRecordsRequest missing_key;
  missing_key.set_key("keys/nope");
  list(missing_key, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  // Bad record options are refused, and nothing is signed.
  {
    grpc::ClientContext ctx;
    pb::SignJwtRequest req;
    req.set_name("keys/otp");
    (*req.mutable_record()->mutable_metadata())["bad key!"] = "v";
    pb::SignJwtResponse resp;
    grpc::Status st = jwt_->SignJwt(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(st.error_message(), HasSubstr("metadata"));
    EXPECT_TRUE(resp.token().empty());
  }
  {
    grpc::ClientContext ctx;
    pb::SignJwtRequest req;
    req.set_name("keys/otp");
    req.mutable_record()->mutable_retention()->set_seconds(10);
    pb::SignJwtResponse resp;
    EXPECT_EQ(jwt_->SignJwt(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(JwtTest, RevocationSurvivesARestart) {
  CreateJwtKey("sess", pb::KEY_TYPE_ED25519);
  grpc::ClientContext ctx;
  pb::SignJwtRequest req;
  req.set_name("keys/sess");
  req.mutable_record();
  pb::SignJwtResponse t;
  ASSERT_TRUE(jwt_->SignJwt(&ctx, req, &t).ok());
  grpc::ClientContext rctx;
  pb::RevokeTokenRequest revoke;
  revoke.set_name(t.record_name());
  pb::RevokeTokenResponse revoked;
  ASSERT_TRUE(jwt_->RevokeToken(&rctx, revoke, &revoked).ok());

  std::string dir = daemon_->socket_path().substr(
      0, daemon_->socket_path().rfind('/'));
  ASSERT_EQ(daemon_->Signal(SIGTERM).exit_code, 0);
  auto again = DaemonProcess::Start(dir, args_);
  ASSERT_TRUE(again.ok()) << again.status();
  daemon_ = std::move(*again);
  jwt_ = pb::JwtService::NewStub(daemon_->NewChannel());
  EXPECT_EQ(Verify(t.token()).failure(), pb::JWT_FAILURE_REVOKED);
}

TEST_F(JwtTest, NestedSignedThenEncryptedInOneCallEachWay) {
  CreateJwtKey("signer", pb::KEY_TYPE_ECDSA_P256);
  {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id("partner");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_RSA_2048);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWE);
    pb::CreateKeyResponse resp;
    ASSERT_TRUE(keys_->CreateKey(&ctx, req, &resp).ok());
  }
  auto encrypt = [&](pb::EncryptJweRequest req, grpc::Status* status) {
    grpc::ClientContext ctx;
    pb::EncryptJweResponse resp;
    *status = jwt_->EncryptJwe(&ctx, req, &resp);
    return resp;
  };
  pb::EncryptJweRequest req;
  req.set_name("keys/partner");
  req.set_encryption(pb::JWE_ENCRYPTION_A128CBC_HS256);
  req.mutable_nested_jwt()->set_name("keys/signer");
  req.mutable_nested_jwt()->set_claims_json(R"({"sub":"card-1","aud":"bank"})");
  req.mutable_nested_jwt()->mutable_record()->set_external_id("pay-9");
  grpc::Status s;
  pb::EncryptJweResponse jwe = encrypt(req, &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(jwe.key_version(), "keys/partner/versions/1");
  EXPECT_EQ(jwe.nested().key_version(), "keys/signer/versions/1");
  EXPECT_EQ(jwe.nested().record_name(), "tokens/" + jwe.nested().jti());
  std::vector<std::string> parts = absl::StrSplit(jwe.token(), '.');
  ASSERT_EQ(parts.size(), 5u);
  std::string header;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
  EXPECT_THAT(header, HasSubstr("\"cty\":\"JWT\""));

  auto decrypt = [&](const std::string& token, const std::string& audience,
                     grpc::Status* status) {
    grpc::ClientContext ctx;
    pb::DecryptJweRequest req;
    req.set_token(token);
    req.set_name("keys/partner");
    req.mutable_verify_nested()->set_audience(audience);
    pb::DecryptJweResponse resp;
    *status = jwt_->DecryptJwe(&ctx, req, &resp);
    return resp;
  };
  pb::DecryptJweResponse out = decrypt(jwe.token(), "bank", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(out.nested().valid()) << out.nested().failure_detail();
  EXPECT_EQ(out.payload(), jwe.nested().token());
  EXPECT_THAT(out.nested().claims_json(), HasSubstr("card-1"));
  EXPECT_EQ(out.nested().key_version(), "keys/signer/versions/1");
  // The nested verdict is a verdict: a wrong audience gives no payload.
  out = decrypt(jwe.token(), "other", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(out.nested().valid());
  EXPECT_EQ(out.nested().failure(), pb::JWT_FAILURE_AUDIENCE_MISMATCH);
  EXPECT_TRUE(out.payload().empty());
  // A revoked nested token is refused inside the JWE too.
  {
    grpc::ClientContext ctx;
    pb::RevokeTokenRequest revoke;
    revoke.set_name(jwe.nested().record_name());
    pb::RevokeTokenResponse revoked;
    ASSERT_TRUE(jwt_->RevokeToken(&ctx, revoke, &revoked).ok());
  }
  out = decrypt(jwe.token(), "bank", &s);
  EXPECT_EQ(out.nested().failure(), pb::JWT_FAILURE_REVOKED);

  // Refusals: a content type with nested_jwt; a token in verify_nested;
  // a nested key that does not exist.
  pb::EncryptJweRequest with_cty = req;
  with_cty.set_content_type("JWT");
  encrypt(with_cty, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  pb::EncryptJweRequest missing = req;
  missing.mutable_nested_jwt()->set_name("keys/nope");
  missing.mutable_nested_jwt()->clear_record();
  encrypt(missing, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  {
    grpc::ClientContext ctx;
    pb::DecryptJweRequest d;
    d.set_token(jwe.token());
    d.mutable_verify_nested()->set_token("x.y.z");
    pb::DecryptJweResponse resp;
    EXPECT_EQ(jwt_->DecryptJwe(&ctx, d, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(JwtTest, PinnedKeyVerifiesTokensWithoutAKeywardKid) {
  // A service moves its HS256 secret into Keyward; the tokens it issued
  // before (no kid, or its own kid) keep verifying with the key pinned.
  const std::string secret = "an existing HS256 signing secret, 32+ bytes";
  {
    grpc::ClientContext ctx;
    pb::ImportKeyRequest req;
    req.set_key_id("legacy");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_HMAC_SHA256);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWT);
    req.set_format(pb::KEY_MATERIAL_FORMAT_RAW_SECRET);
    req.set_material(secret);
    pb::ImportKeyResponse resp;
    grpc::Status s = keys_->ImportKey(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  auto mac = crypto::Hmac::Create(crypto::HashType::kSha256,
                                  crypto::SecretData(secret));
  ASSERT_TRUE(mac.ok()) << mac.status();
  auto key = jose::JwsSigningKey::ForMac(jose::JwsAlgorithm::kHs256,
                                         std::move(*mac));
  ASSERT_TRUE(key.ok()) << key.status();
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::string claims =
      absl::StrCat(R"({"sub":"old-session","exp":)", now + 60, "}");
  auto header = jose::ParseJsonObject(R"({"typ":"JWT"})");
  auto token = jose::SignCompact(*header, claims, *key);
  ASSERT_TRUE(token.ok()) << token.status();

  auto verify = [&](const std::string& name) {
    grpc::ClientContext ctx;
    pb::VerifyJwtRequest req;
    req.set_token(*token);
    req.set_name(name);
    pb::VerifyJwtResponse resp;
    grpc::Status s = jwt_->VerifyJwt(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  pb::VerifyJwtResponse pinned = verify("keys/legacy");
  EXPECT_TRUE(pinned.valid()) << pinned.failure_detail();
  EXPECT_EQ(pinned.key_version(), "keys/legacy/versions/1");
  // Unpinned, a token without a Keyward kid finds no key.
  EXPECT_EQ(verify("").failure(), pb::JWT_FAILURE_KEY_NOT_FOUND);
  // After a rotation the old version still verifies it.
  {
    grpc::ClientContext ctx;
    pb::RotateKeyRequest req;
    req.set_name("keys/legacy");
    pb::RotateKeyResponse resp;
    ASSERT_TRUE(keys_->RotateKey(&ctx, req, &resp).ok());
  }
  pinned = verify("keys/legacy");
  EXPECT_TRUE(pinned.valid()) << pinned.failure_detail();
  EXPECT_EQ(pinned.key_version(), "keys/legacy/versions/1");
  // A pinned key that does not exist is an error, not a verdict.
  {
    grpc::ClientContext ctx;
    pb::VerifyJwtRequest req;
    req.set_token(*token);
    req.set_name("keys/nope");
    pb::VerifyJwtResponse resp;
    EXPECT_EQ(jwt_->VerifyJwt(&ctx, req, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(JwtTest, LifetimesDefaultAndAreNeverSilentlyShortened) {
  CreateJwtKey("life", pb::KEY_TYPE_ED25519);
  grpc::Status s;
  // No ttl: 15 minutes.
  {
    grpc::ClientContext ctx;
    pb::SignJwtRequest req;
    req.set_name("keys/life");
    pb::SignJwtResponse resp;
    ASSERT_TRUE(jwt_->SignJwt(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.expire_time().seconds() - resp.issue_time().seconds(), 900);
  }
  // Over the default maximum of 24 h: refused, naming the limit.
  Sign("life", "{}", 25 * 3600, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("maximum token lifetime"));
  Sign("life", "{}", -5, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // A given exp past the maximum is refused too.
  Sign("life", absl::StrCat(R"({"exp":)", absl::ToUnixSeconds(absl::Now()) +
                                               48 * 3600, "}"),
       60, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Sign("life", "{}", 24 * 3600, &s).expire_time().seconds() -
                Sign("life", "{}", 24 * 3600, &s).issue_time().seconds(),
            24 * 3600);
}

TEST_F(JwtTest, AJweKeyHasOneAlgorithm) {
  auto create = [&](const std::string& id, pb::KeyType type,
                    pb::KeyPurpose purpose, pb::JweAlgorithm alg,
                    pb::CreateKeyResponse* out) {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(type);
    req.mutable_key()->set_purpose(purpose);
    req.mutable_key()->set_jwe_algorithm(alg);
    return keys_->CreateKey(&ctx, req, out);
  };
  pb::CreateKeyResponse created;
  ASSERT_TRUE(create("one-alg", pb::KEY_TYPE_RSA_2048, pb::KEY_PURPOSE_JWE,
                     pb::JWE_ALGORITHM_UNSPECIFIED, &created)
                  .ok());
  EXPECT_EQ(created.key().jwe_algorithm(), pb::JWE_ALGORITHM_RSA_OAEP_256);
  EXPECT_EQ(create("bad-alg", pb::KEY_TYPE_RSA_2048, pb::KEY_PURPOSE_JWE,
                   pb::JWE_ALGORITHM_ECDH_ES, &created)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(create("not-jwe", pb::KEY_TYPE_ED25519, pb::KEY_PURPOSE_JWT,
                   pb::JWE_ALGORITHM_RSA_OAEP, &created)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext ctx;
  pb::EncryptJweRequest req;
  req.set_name("keys/one-alg");
  req.set_algorithm(pb::JWE_ALGORITHM_RSA_OAEP);
  req.set_payload("x");
  pb::EncryptJweResponse resp;
  grpc::Status s = jwt_->EncryptJwe(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("RSA-OAEP-256 only"));
  // dir: the key is the content key, for A256GCM only.
  ASSERT_TRUE(create("dir-key", pb::KEY_TYPE_AES256_GCM, pb::KEY_PURPOSE_JWE,
                     pb::JWE_ALGORITHM_DIR, &created)
                  .ok());
  grpc::ClientContext dctx;
  pb::EncryptJweRequest dreq;
  dreq.set_name("keys/dir-key");
  dreq.set_encryption(pb::JWE_ENCRYPTION_A128CBC_HS256);
  dreq.set_payload("x");
  EXPECT_EQ(jwt_->EncryptJwe(&dctx, dreq, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(JwtTest, ImportedKeysKeepTheirOwnKid) {
  const std::string secret = "the HS256 secret a service used until today";
  auto import = [&](const std::string& id, const std::string& kid,
                    pb::ImportKeyResponse* out) {
    grpc::ClientContext ctx;
    pb::ImportKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(pb::KEY_TYPE_HMAC_SHA256);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWT);
    req.set_format(pb::KEY_MATERIAL_FORMAT_RAW_SECRET);
    req.set_material(secret);
    req.set_kid(kid);
    return keys_->ImportKey(&ctx, req, out);
  };
  pb::ImportKeyResponse imported;
  grpc::Status s = import("moved", "auth-2024-01", &imported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(imported.version().kid(), "auth-2024-01");
  EXPECT_EQ(imported.version().origin(), pb::VERSION_ORIGIN_IMPORTED);
  EXPECT_EQ(import("again", "auth-2024-01", &imported).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(import("reserved", "other:v3", &imported).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // A token the service issued before the move, with its own kid, verifies
  // without pinning the key.
  auto mac = crypto::Hmac::Create(crypto::HashType::kSha256,
                                  crypto::SecretData(secret));
  ASSERT_TRUE(mac.ok());
  auto key = jose::JwsSigningKey::ForMac(jose::JwsAlgorithm::kHs256,
                                         std::move(*mac), "auth-2024-01");
  ASSERT_TRUE(key.ok());
  auto header = jose::ParseJsonObject(R"({"typ":"JWT"})");
  auto token = jose::SignCompact(
      *header,
      absl::StrCat(R"({"sub":"s1","exp":)", absl::ToUnixSeconds(absl::Now()) + 60,
                   "}"),
      *key);
  ASSERT_TRUE(token.ok());
  pb::VerifyJwtResponse v = Verify(*token);
  EXPECT_TRUE(v.valid()) << v.failure_detail();
  EXPECT_EQ(v.key_version(), "keys/moved/versions/1");
  // And Keyward's own tokens from that version carry the same kid.
  pb::SignJwtResponse issued = Sign("moved", "{}");
  std::vector<std::string> parts = absl::StrSplit(issued.token(), '.');
  std::string issued_header;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &issued_header));
  EXPECT_THAT(issued_header, HasSubstr("\"kid\":\"auth-2024-01\""));
  EXPECT_TRUE(Verify(issued.token()).valid());
}

TEST_F(JwtTest, APartnersPublicJwkImportsWithItsKid) {
  // The partner's key, made here; Keyward gets only its public JWK.
  auto pkcs8 = crypto::GenerateKeyMaterial(crypto::KeyType::kEd25519);
  ASSERT_TRUE(pkcs8.ok());
  auto spki = crypto::PublicKeyFromPrivate(crypto::KeyType::kEd25519, *pkcs8);
  ASSERT_TRUE(spki.ok());
  auto jwk = jose::PublicJwk(crypto::KeyType::kEd25519, *spki, "partner-2025",
                             "EdDSA", "sig");
  ASSERT_TRUE(jwk.ok()) << jwk.status();
  auto import = [&](const std::string& id, const std::string& material) {
    grpc::ClientContext ctx;
    pb::ImportKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWT);
    req.set_format(pb::KEY_MATERIAL_FORMAT_PUBLIC_KEY_JWK);
    req.set_material(material);
    pb::ImportKeyResponse resp;
    grpc::Status s = keys_->ImportKey(&ctx, req, &resp);
    return std::make_pair(s, resp);
  };
  auto [s, imported] = import("partner", jwk->Serialize());
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(imported.key().key_type(), pb::KEY_TYPE_ED25519);
  EXPECT_TRUE(imported.key().public_only());
  EXPECT_EQ(imported.version().kid(), "partner-2025");

  auto signer = crypto::NewSigner(crypto::SignatureAlgorithm::kEd25519, *pkcs8);
  ASSERT_TRUE(signer.ok());
  auto key = jose::JwsSigningKey::ForSigner(jose::JwsAlgorithm::kEdDsa,
                                            std::move(*signer), "partner-2025");
  ASSERT_TRUE(key.ok()) << key.status();
  auto token = jose::SignCompact(
      *jose::ParseJsonObject(R"({"typ":"JWT"})"),
      absl::StrCat(R"({"sub":"from-partner","exp":)",
                   absl::ToUnixSeconds(absl::Now()) + 60, "}"),
      *key);
  ASSERT_TRUE(token.ok());
  pb::VerifyJwtResponse v = Verify(*token);
  EXPECT_TRUE(v.valid()) << v.failure_detail();
  EXPECT_EQ(v.key_version(), "keys/partner/versions/1");
  // Keyward cannot sign with a public key.
  grpc::Status st;
  Sign("partner", "{}", 60, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // Refused: not JSON; a JWK with its private half.
  EXPECT_EQ(import("bad1", "not json").first.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto private_jwk = *jwk;
  private_jwk.Set("d", jose::JsonValue::String("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"));
  EXPECT_EQ(import("bad2", private_jwk.Serialize()).first.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace keyward::testing
