// End-to-end: the real keywardd serving the data plane, key admin, access
// control and audit over its Unix socket, driven by real gRPC stubs.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "keystore/crypto/digest.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "tests/free_port.h"
#include "tests/service_fixture.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(ServiceTest, SignVerifyEveryAsymmetricType) {
  for (auto [id, type] : std::vector<std::pair<std::string, pb::KeyType>>{
           {"ed", pb::KEY_TYPE_ED25519},
           {"p256", pb::KEY_TYPE_ECDSA_P256},
           {"p384", pb::KEY_TYPE_ECDSA_P384},
           {"rsa", pb::KEY_TYPE_RSA_2048}}) {
    SCOPED_TRACE(id);
    ASSERT_TRUE(CreateKey(id, type).ok());
    pb::SignResponse sig;
    grpc::Status s = Sign(id, "hello", &sig);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(sig.key_version(), "keys/" + id + "/versions/1");
    EXPECT_TRUE(absl::StartsWith(sig.signature(), "kw:v1:"));
    EXPECT_FALSE(sig.raw_signature().empty());
    EXPECT_TRUE(Verify(id, "hello", sig.signature()).valid());
    EXPECT_FALSE(Verify(id, "hellO", sig.signature()).valid());
    std::string tampered = sig.signature();
    tampered.back() ^= 1;
    EXPECT_FALSE(Verify(id, "hello", tampered).valid());
  }
}

TEST_F(ServiceTest, EncryptDecryptRotateAndRetire) {
  ASSERT_TRUE(CreateKey("data", pb::KEY_TYPE_AES256_GCM).ok());
  pb::EncryptResponse ct1;
  ASSERT_TRUE(Encrypt("data", "card 4111", &ct1).ok());
  EXPECT_EQ(ct1.key_version(), "keys/data/versions/1");

  grpc::ClientContext rctx;
  pb::RotateKeyRequest rreq;
  rreq.set_name("keys/data");
  pb::RotateKeyResponse rresp;
  ASSERT_TRUE(keys_->RotateKey(&rctx, rreq, &rresp).ok());
  EXPECT_EQ(rresp.version().number(), 2u);
  EXPECT_EQ(rresp.key().primary_version(), 2u);

  pb::EncryptResponse ct2;
  ASSERT_TRUE(Encrypt("data", "card 5500", &ct2).ok());
  EXPECT_EQ(ct2.key_version(), "keys/data/versions/2");
  pb::DecryptResponse pt1;
  ASSERT_TRUE(Decrypt("data", ct1.ciphertext(), &pt1).ok());
  EXPECT_EQ(pt1.plaintext(), "card 4111");
  EXPECT_FALSE(pt1.used_primary());

  // Tampered ciphertext: INVALID_ARGUMENT; wrong AAD likewise.
  std::string bad = ct1.ciphertext();
  bad[bad.size() / 2] ^= 0x40;
  pb::DecryptResponse ignored;
  EXPECT_EQ(Decrypt("data", bad, &ignored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Raising the minimum decryption version retires v1's ciphertexts.
  {
    grpc::ClientContext ctx;
    pb::UpdateKeyRequest req;
    req.mutable_key()->set_name("keys/data");
    req.mutable_key()->set_min_decryption_version(2);
    req.add_update_mask("min_decryption_version");
    pb::UpdateKeyResponse resp;
    ASSERT_TRUE(keys_->UpdateKey(&ctx, req, &resp).ok());
  }
  grpc::Status retired = Decrypt("data", ct1.ciphertext(), &ignored);
  EXPECT_EQ(retired.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(retired.error_message(), HasSubstr("minimum decryption version"));
  {
    grpc::ClientContext ctx;
    pb::UpdateKeyRequest req;
    req.mutable_key()->set_name("keys/data");
    req.mutable_key()->set_min_decryption_version(1);
    req.add_update_mask("min_decryption_version");
    pb::UpdateKeyResponse resp;
    ASSERT_TRUE(keys_->UpdateKey(&ctx, req, &resp).ok());
  }

  // Disable, then destroy v1: its ciphertexts fail with a clear message.
  grpc::ClientContext dctx;
  pb::DisableKeyVersionRequest dreq;
  dreq.set_name("keys/data/versions/1");
  pb::DisableKeyVersionResponse dresp;
  ASSERT_TRUE(keys_->DisableKeyVersion(&dctx, dreq, &dresp).ok());
  EXPECT_EQ(dresp.version().state(), pb::VERSION_STATE_DISABLED);
  grpc::ClientContext xctx;
  pb::DestroyKeyVersionRequest xreq;
  xreq.set_name("keys/data/versions/1");
  pb::DestroyKeyVersionResponse xresp;
  ASSERT_TRUE(keys_->DestroyKeyVersion(&xctx, xreq, &xresp).ok());
  EXPECT_EQ(xresp.version().state(), pb::VERSION_STATE_DESTROYED);
  grpc::Status s = Decrypt("data", ct1.ciphertext(), &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("destroyed"));
  pb::DecryptResponse pt2;
  ASSERT_TRUE(Decrypt("data", ct2.ciphertext(), &pt2).ok());
  EXPECT_EQ(pt2.plaintext(), "card 5500");
}

TEST_F(ServiceTest, BadInputGetsSpecificCodes) {
  pb::SignResponse sig;
  EXPECT_EQ(Sign("missing", "x", &sig).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx;
  pb::SignRequest req;
  req.set_name("not-a-key-name");
  req.set_data("x");
  grpc::Status s = crypto_->Sign(&ctx, req, &sig);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("keys/NAME"));
  EXPECT_EQ(CreateKey("Bad Name", pb::KEY_TYPE_ED25519).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CreateKey("nokind", pb::KEY_TYPE_UNSPECIFIED).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(CreateKey("dup", pb::KEY_TYPE_ED25519).ok());
  EXPECT_EQ(CreateKey("dup", pb::KEY_TYPE_ED25519).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  pb::EncryptResponse ct;
  s = Encrypt("dup", "x", &ct);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Encrypt("dup", std::string(70 << 10, 'x'), &ct).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServiceTest, BatchSignReportsEachItem) {
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  grpc::ClientContext ctx;
  pb::BatchSignRequest req;
  for (int i = 0; i < 64; ++i) {
    auto* item = req.add_requests();
    item->set_name(i == 7 ? "keys/absent" : "keys/ed");
    item->set_data(absl::StrCat("item ", i));
  }
  pb::BatchSignResponse resp;
  ASSERT_TRUE(crypto_->BatchSign(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 64);
  for (int i = 0; i < 64; ++i) {
    if (i == 7) {
      EXPECT_EQ(resp.results(i).status().code(), grpc::StatusCode::NOT_FOUND);
      EXPECT_FALSE(resp.results(i).has_response());
    } else {
      ASSERT_EQ(resp.results(i).status().code(), 0) << i;
      EXPECT_TRUE(Verify("ed", absl::StrCat("item ", i),
                         resp.results(i).response().signature())
                      .valid());
    }
  }
  grpc::ClientContext empty_ctx;
  pb::BatchSignRequest empty;
  EXPECT_EQ(crypto_->BatchSign(&empty_ctx, empty, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServiceTest, PublicKeyFormats) {
  ASSERT_TRUE(CreateKey("p256", pb::KEY_TYPE_ECDSA_P256).ok());
  for (auto format : {pb::PUBLIC_KEY_FORMAT_PEM, pb::PUBLIC_KEY_FORMAT_DER,
                      pb::PUBLIC_KEY_FORMAT_JWK}) {
    grpc::ClientContext ctx;
    pb::GetPublicKeyRequest req;
    req.set_name("keys/p256");
    req.set_format(format);
    pb::GetPublicKeyResponse resp;
    ASSERT_TRUE(crypto_->GetPublicKey(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.kid(), "p256:v1");
    if (format == pb::PUBLIC_KEY_FORMAT_PEM) {
      EXPECT_TRUE(absl::StartsWith(resp.public_key(), "-----BEGIN PUBLIC KEY-----"));
    } else if (format == pb::PUBLIC_KEY_FORMAT_JWK) {
      EXPECT_THAT(resp.public_key(), HasSubstr("\"kty\":\"EC\""));
      EXPECT_THAT(resp.public_key(), HasSubstr("\"crv\":\"P-256\""));
    } else {
      EXPECT_EQ(resp.public_key()[0], 0x30);  // DER SEQUENCE
    }
  }
}

TEST_F(ServiceTest, DefaultDenyAndGrantsByPolicy) {
  ASSERT_TRUE(CreateKey("app-signing", pb::KEY_TYPE_ED25519).ok());
  ASSERT_TRUE(CreateKey("other", pb::KEY_TYPE_ED25519).ok());
  const std::string me = absl::StrCat("unix:uid:", getuid());
  {
    grpc::ClientContext ctx;
    pb::CreatePolicyRequest req;
    req.set_policy_id("app-sign");
    req.mutable_policy()->set_principal(me);
    req.mutable_policy()->set_resource("keys/app-*");
    req.mutable_policy()->add_operations(pb::OPERATION_SIGN);
    req.mutable_policy()->add_operations(pb::OPERATION_VERIFY);
    pb::CreatePolicyResponse resp;
    grpc::Status s = access_->CreatePolicy(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Restart with someone else as the only bootstrap admin: this test's uid
  // now holds only what the policy grants.
  Start(absl::StrCat("bootstrap_admin_uids: ", getuid() + 4242, "\n"));
  {
    grpc::ClientContext ctx;
    pb::WhoAmIResponse who;
    ASSERT_TRUE(access_->WhoAmI(&ctx, pb::WhoAmIRequest(), &who).ok());
    EXPECT_EQ(who.principal(), me);
    EXPECT_FALSE(who.global_admin());
  }
  pb::SignResponse sig;
  grpc::Status s = Sign("app-signing", "ok", &sig);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(Verify("app-signing", "ok", sig.signature()).valid());
  s = Sign("other", "no", &sig);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr(me + " may not SIGN on keys/other"));
  EXPECT_EQ(CreateKey("app-new", pb::KEY_TYPE_ED25519).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext rctx;
  pb::RotateKeyRequest rreq;
  rreq.set_name("keys/app-signing");
  pb::RotateKeyResponse rresp;
  EXPECT_EQ(keys_->RotateKey(&rctx, rreq, &rresp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Status needs only an identity.
  grpc::ClientContext sctx;
  pb::GetStatusResponse status;
  ASSERT_TRUE(system_->GetStatus(&sctx, pb::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.key_count(), 2u);
  EXPECT_FALSE(status.sealed());
}

TEST_F(ServiceTest, EveryCallIsAuditedInAnIntactChain) {
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  pb::SignResponse sig;
  ASSERT_TRUE(Sign("ed", "secret message", &sig).ok());
  ASSERT_EQ(Sign("absent", "x", &sig).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx;
  pb::VerifyAuditLogResponse verdict;
  ASSERT_TRUE(
      system_->VerifyAuditLog(&ctx, pb::VerifyAuditLogRequest(), &verdict).ok());
  EXPECT_TRUE(verdict.ok()) << verdict.problem();
  EXPECT_EQ(verdict.records_checked(), 3u);
  {
    grpc::ClientContext rctx;
    pb::ReadAuditLogRequest req;
    req.set_start_sequence(2);
    auto reader = system_->ReadAuditLog(&rctx, req);
    std::vector<pb::AuditRecord> records;
    pb::ReadAuditLogResponse batch;
    while (reader->Read(&batch)) {
      for (const auto& r : batch.records()) records.push_back(r);
    }
    ASSERT_TRUE(reader->Finish().ok());
    ASSERT_GE(records.size(), 2u);
    EXPECT_EQ(records[0].sequence(), 2u);
    EXPECT_EQ(records[0].method(), "CryptoService/Sign");
    EXPECT_EQ(records[0].operation(), pb::OPERATION_SIGN);
    EXPECT_EQ(records[0].resource(), "keys/ed");
    EXPECT_EQ(records[0].code(), 0);
    EXPECT_EQ(records[1].code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(records[1].hash().size(), 32u);
    EXPECT_EQ(records[1].prev_hash(), records[0].hash());
  }

  std::ifstream in(dir_ + "/audit.log");
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_THAT(log.str(), HasSubstr("\"method\":\"CryptoService/Sign\""));
  EXPECT_THAT(log.str(), HasSubstr("\"code\":\"NOT_FOUND\""));
  EXPECT_THAT(log.str(), ::testing::Not(HasSubstr("secret message")));

  // Alter one byte of the first record: verify names record 1.
  daemon_.reset();
  std::string text = log.str();
  text[text.find("keys/ed")] = 'K';
  std::ofstream(dir_ + "/audit.log", std::ios::trunc) << text;
  Start("");
  grpc::ClientContext ctx2;
  ASSERT_TRUE(
      system_->VerifyAuditLog(&ctx2, pb::VerifyAuditLogRequest(), &verdict).ok());
  EXPECT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.first_bad_sequence(), 1u);

  // A range after the altered record trusts its first record's prev hash.
  grpc::ClientContext ctx3;
  pb::VerifyAuditLogRequest range;
  range.set_start_sequence(2);
  range.set_end_sequence(3);
  ASSERT_TRUE(system_->VerifyAuditLog(&ctx3, range, &verdict).ok());
  EXPECT_TRUE(verdict.ok()) << verdict.problem();
  EXPECT_EQ(verdict.first_sequence(), 2u);
  EXPECT_EQ(verdict.records_checked(), 2u);
  EXPECT_EQ(verdict.last_sequence(), 3u);

  grpc::ClientContext ctx4;
  range.set_start_sequence(3);
  range.set_end_sequence(2);
  EXPECT_EQ(system_->VerifyAuditLog(&ctx4, range, &verdict).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext ctx5;
  range.set_start_sequence(1000);
  range.set_end_sequence(0);
  EXPECT_EQ(system_->VerifyAuditLog(&ctx5, range, &verdict).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(ServiceTest, StartsSealedWithoutPassphraseAndUnseals) {
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  Start("start_sealed: true\n");
  EXPECT_EQ(HealthStatus(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  grpc::ClientContext sctx;
  pb::GetStatusResponse status;
  ASSERT_TRUE(system_->GetStatus(&sctx, pb::GetStatusRequest(), &status).ok());
  EXPECT_TRUE(status.sealed());
  pb::SignResponse sig;
  grpc::Status s = Sign("ed", "x", &sig);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("sealed"));
  {
    grpc::ClientContext ctx;
    pb::UnsealRequest req;
    req.set_passphrase("not the passphrase");
    pb::UnsealResponse resp;
    s = system_->Unseal(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(s.error_message(), HasSubstr("wrong passphrase"));
  }
  {
    grpc::ClientContext ctx;
    pb::UnsealRequest req;
    req.set_passphrase("service test passphrase");
    pb::UnsealResponse resp;
    s = system_->Unseal(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(resp.already_unsealed());
  }
  ASSERT_TRUE(Sign("ed", "x", &sig).ok());
  EXPECT_EQ(HealthStatus(), grpc::health::v1::HealthCheckResponse::SERVING);
  {
    grpc::ClientContext ctx;
    pb::SealResponse resp;
    ASSERT_TRUE(system_->Seal(&ctx, pb::SealRequest(), &resp).ok());
  }
  EXPECT_EQ(Sign("ed", "x", &sig).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(HealthStatus(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
}

TEST_F(ServiceTest, AuditFollowStreamsNewRecordsAsTheyAreWritten) {
  ASSERT_TRUE(CreateKey("followed", pb::KEY_TYPE_ED25519).ok());
  uint64_t last = 0;
  {
    grpc::ClientContext ctx;
    pb::VerifyAuditLogResponse resp;
    ASSERT_TRUE(
        system_->VerifyAuditLog(&ctx, pb::VerifyAuditLogRequest(), &resp).ok());
    last = resp.last_sequence();
  }
  // The VerifyAuditLog call above is record last + 1; follow from there.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  pb::ReadAuditLogRequest req;
  req.set_start_sequence(last + 1);
  req.set_follow(true);
  req.set_max_records(5);
  auto reader = system_->ReadAuditLog(&ctx, req);
  std::vector<pb::AuditRecord> got;
  pb::ReadAuditLogResponse batch;
  // First what is there already: VerifyAuditLog and this call.
  while (got.size() < 2 && reader->Read(&batch)) {
    for (const auto& r : batch.records()) got.push_back(r);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].sequence(), last + 1);
  EXPECT_THAT(got[1].method(), HasSubstr("ReadAuditLog"));
  // Then records written after the stream started arrive on it.
  for (int i = 0; i < 3; ++i) {
    pb::SignResponse sig;
    ASSERT_TRUE(Sign("followed", "x", &sig).ok());
  }
  while (reader->Read(&batch)) {
    for (const auto& r : batch.records()) got.push_back(r);
  }
  grpc::Status s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_THAT(got[i].method(), HasSubstr("CryptoService/Sign"));
    EXPECT_EQ(got[i].resource(), "keys/followed");
    EXPECT_EQ(got[i].details().at("version"), "1");
    EXPECT_EQ(got[i].sequence(), got[i - 1].sequence() + 1);
  }

  // A follower that cancels is let go.
  grpc::ClientContext cancelled;
  pb::ReadAuditLogRequest open_ended;
  open_ended.set_follow(true);
  open_ended.set_start_sequence(got.back().sequence() + 100);
  auto idle = system_->ReadAuditLog(&cancelled, open_ended);
  cancelled.TryCancel();
  EXPECT_FALSE(idle->Read(&batch));
  EXPECT_EQ(idle->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(ServiceTest, PrecomputedDigestsSignAndVerify) {
  ASSERT_TRUE(CreateKey("ec", pb::KEY_TYPE_ECDSA_P256).ok());
  ASSERT_TRUE(CreateKey("rsa", pb::KEY_TYPE_RSA_2048).ok());
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  const std::string message = "a release tarball, hashed where it is";
  const std::string digest = crypto::Sha256(message);
  auto sign_digest = [&](const std::string& key, const std::string& d,
                         pb::SignResponse* resp) {
    grpc::ClientContext ctx;
    pb::SignRequest req;
    req.set_name("keys/" + key);
    req.set_digest(d);
    return crypto_->Sign(&ctx, req, resp);
  };
  for (const char* key : {"ec", "rsa"}) {
    SCOPED_TRACE(key);
    pb::SignResponse by_digest;
    grpc::Status s = sign_digest(key, digest, &by_digest);
    ASSERT_TRUE(s.ok()) << s.error_message();
    // The signature is over the message: it verifies with the data...
    EXPECT_TRUE(Verify(key, message, by_digest.signature()).valid());
    // ...and a data signature verifies against the digest.
    pb::SignResponse by_data;
    ASSERT_TRUE(Sign(key, message, &by_data).ok());
    grpc::ClientContext ctx;
    pb::VerifyRequest req;
    req.set_name(std::string("keys/") + key);
    req.set_digest(digest);
    req.set_signature(by_data.signature());
    pb::VerifyResponse verdict;
    ASSERT_TRUE(crypto_->Verify(&ctx, req, &verdict).ok());
    EXPECT_TRUE(verdict.valid());
    grpc::ClientContext ctx2;
    req.set_digest(crypto::Sha256("another message"));
    ASSERT_TRUE(crypto_->Verify(&ctx2, req, &verdict).ok());
    EXPECT_FALSE(verdict.valid());
  }
  pb::SignResponse refused;
  grpc::Status s = sign_digest("ec", digest.substr(0, 20), &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("32-byte digest"));
  s = sign_digest("ed", digest, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("Ed25519"));
  EXPECT_TRUE(refused.signature().empty());
}

TEST_F(ServiceTest, KeysRotateByThemselvesWhenTheirPeriodPasses) {
  Start("maintenance_interval { seconds: 1 }\n");
  {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id("auto");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_AES256_GCM);
    req.mutable_key()->mutable_rotation_period()->set_seconds(3600);
    pb::CreateKeyResponse resp;
    ASSERT_TRUE(keys_->CreateKey(&ctx, req, &resp).ok());
  }
  ASSERT_TRUE(CreateKey("manual", pb::KEY_TYPE_AES256_GCM).ok());
  pb::EncryptResponse ct;
  ASSERT_TRUE(Encrypt("auto", "before rotation", &ct).ok());
  // Two hours pass for "auto" (its primary is made older on disk).
  absl::Status aged = storage_->Sql(
      dir_, "UPDATE keys SET rotated_at_us = rotated_at_us - 7200000000 "
            "WHERE id = 'auto'");
  ASSERT_TRUE(aged.ok()) << aged;

  auto primary = [&](const std::string& id) {
    grpc::ClientContext ctx;
    pb::GetKeyRequest req;
    req.set_name("keys/" + id);
    pb::GetKeyResponse resp;
    EXPECT_TRUE(keys_->GetKey(&ctx, req, &resp).ok());
    return resp.key().primary_version();
  };
  // Bounded wait (a hang guard, not a timing assertion): passes run every
  // second.
  for (int i = 0; i < 100 && primary("auto") != 2; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(primary("auto"), 2u);
  EXPECT_EQ(primary("manual"), 1u);
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(primary("auto"), 2u) << "rotated once, not every pass";
  pb::DecryptResponse pt;
  ASSERT_TRUE(Decrypt("auto", ct.ciphertext(), &pt).ok());
  EXPECT_EQ(pt.plaintext(), "before rotation");

  // The rotation is in the audit log, by the daemon.
  grpc::ClientContext ctx;
  pb::ReadAuditLogRequest req;
  req.set_principal("keywardd");
  auto reader = system_->ReadAuditLog(&ctx, req);
  pb::ReadAuditLogResponse batch;
  std::vector<pb::AuditRecord> records;
  while (reader->Read(&batch)) {
    for (const auto& r : batch.records()) records.push_back(r);
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].method(), "daemon");
  EXPECT_EQ(records[0].resource(), "keys/auto");
  EXPECT_EQ(records[0].operation(), pb::OPERATION_ROTATE);
  EXPECT_EQ(records[0].details().at("version"), "2");
}

TEST_F(ServiceTest, UnwritableAuditLogFailsClosed) {
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  ASSERT_TRUE(CreateKey("aes", pb::KEY_TYPE_AES256_GCM).ok());
  pb::EncryptResponse ct;
  ASSERT_TRUE(Encrypt("aes", "secret plaintext", &ct).ok());
  Start(absl::StrCat("audit { path: \"/dev/full\" }\n"));
  pb::SignResponse sig;
  grpc::Status s = Sign("ed", "x", &sig);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("audit"));
  EXPECT_TRUE(sig.signature().empty());
  pb::DecryptResponse pt;
  s = Decrypt("aes", ct.ciphertext(), &pt);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(pt.plaintext().empty());
  // A batch answers nothing: its records are written together, or none.
  grpc::ClientContext ctx;
  pb::BatchSignRequest batch;
  for (int i = 0; i < 3; ++i) {
    batch.add_requests()->set_name("keys/ed");
    batch.mutable_requests(i)->set_data("x");
  }
  pb::BatchSignResponse signed_batch;
  s = crypto_->BatchSign(&ctx, batch, &signed_batch);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(signed_batch.results_size(), 0);
}

TEST_F(ServiceTest, PrometheusMetricsCountCallsByMethodAndCode) {
  int port = FreePort();
  Start(absl::StrCat("metrics_address: \"127.0.0.1:", port, "\"\n"));
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  pb::SignResponse sig;
  ASSERT_TRUE(Sign("ed", "x", &sig).ok());
  ASSERT_TRUE(Sign("ed", "y", &sig).ok());
  ASSERT_EQ(Sign("absent", "x", &sig).error_code(), grpc::StatusCode::NOT_FOUND);
  ProcessResult r = RunProcess(
      {"/usr/bin/python3", "-c",
       absl::StrCat("import urllib.request; print(urllib.request.urlopen("
                    "'http://127.0.0.1:", port, "/metrics').read().decode())")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(
      "keyward_rpc_total{code=\"OK\",method=\"CryptoService/Sign\"} 2"));
  EXPECT_THAT(r.output, HasSubstr(
      "keyward_rpc_total{code=\"NOT_FOUND\",method=\"CryptoService/Sign\"} 1"));
  EXPECT_THAT(r.output, HasSubstr("keyward_rpc_latency_seconds_bucket"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("keys/ed")));
}

// GenerateDataKey: 16, 32 or 64 bytes (0 is 32), associated data up to
// 64 KiB, and the wrapped key opens with Decrypt to the same bytes.
TEST_F(ServiceTest, GenerateDataKeyLengthsAndLimits) {
  ASSERT_TRUE(CreateKey("wrap", pb::KEY_TYPE_AES256_GCM).ok());
  auto generate = [&](uint32_t length, const std::string& aad,
                      pb::GenerateDataKeyResponse* resp) {
    grpc::ClientContext ctx;
    pb::GenerateDataKeyRequest req;
    req.set_name("keys/wrap");
    req.set_length_bytes(length);
    req.set_associated_data(aad);
    return crypto_->GenerateDataKey(&ctx, req, resp);
  };
  for (auto [asked, got] : std::vector<std::pair<uint32_t, size_t>>{
           {0, 32}, {16, 16}, {32, 32}, {64, 64}}) {
    pb::GenerateDataKeyResponse resp;
    grpc::Status s = generate(asked, "record 7", &resp);
    ASSERT_TRUE(s.ok()) << asked << ": " << s.error_message();
    EXPECT_EQ(resp.plaintext().size(), got);
    EXPECT_EQ(resp.key_version(), "keys/wrap/versions/1");
    grpc::ClientContext ctx;
    pb::DecryptRequest req;
    req.set_name("keys/wrap");
    req.set_ciphertext(resp.ciphertext());
    req.set_associated_data("record 7");
    pb::DecryptResponse opened;
    ASSERT_TRUE(crypto_->Decrypt(&ctx, req, &opened).ok());
    EXPECT_EQ(opened.plaintext(), resp.plaintext());
  }
  for (uint32_t bad : {1u, 20u, 48u, 65u, 1u << 20}) {
    pb::GenerateDataKeyResponse resp;
    grpc::Status s = generate(bad, "", &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(s.error_message(), HasSubstr("use 16, 32 or 64")) << bad;
  }
  pb::GenerateDataKeyResponse resp;
  grpc::Status s = generate(32, std::string((64 << 10) + 1, 'a'), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("associated_data"));
  EXPECT_TRUE(generate(32, std::string(64 << 10, 'a'), &resp).ok());
}

}  // namespace
}  // namespace keyward::testing
