// JwtTest: a real keywardd on a fresh keystore, with JwtService, KeyService
// and CryptoService stubs and helpers to create JWT keys, sign and verify;
// shared by the end-to-end JWT tests (jwt_test.cc, jwt_contract_test.cc).
#ifndef KEYWARD_TESTS_JWT_FIXTURE_H_
#define KEYWARD_TESTS_JWT_FIXTURE_H_

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/jwt_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/test_storage.h"

namespace keyward::testing {

namespace pb = keyward::v1;

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The keystore's backend (test_storage.h): SQLite, or PostgreSQL.
    auto keystore = TestKeystore::Init("jwt test");
    ASSERT_TRUE(keystore.ok()) << keystore.status();
    args_ = keystore->Args();
    auto daemon = DaemonProcess::Start(keystore->dir(), args_);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    jwt_ = pb::JwtService::NewStub(daemon_->NewChannel());
    keys_ = pb::KeyService::NewStub(daemon_->NewChannel());
    crypto_ = pb::CryptoService::NewStub(daemon_->NewChannel());
  }

  void CreateJwtKey(const std::string& id, pb::KeyType type) {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(type);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWT);
    pb::CreateKeyResponse resp;
    grpc::Status s = keys_->CreateKey(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  pb::SignJwtResponse Sign(const std::string& key, const std::string& claims,
                           int ttl_seconds = 90, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    pb::SignJwtRequest req;
    req.set_name("keys/" + key);
    req.set_claims_json(claims);
    req.mutable_ttl()->set_seconds(ttl_seconds);
    pb::SignJwtResponse resp;
    grpc::Status s = jwt_->SignJwt(&ctx, req, &resp);
    if (status) *status = s;
    else EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  pb::VerifyJwtResponse Verify(const std::string& token,
                               const std::string& audience = "",
                               int leeway = -1) {
    grpc::ClientContext ctx;
    pb::VerifyJwtRequest req;
    req.set_token(token);
    req.set_audience(audience);
    if (leeway >= 0) req.mutable_leeway()->set_seconds(leeway);
    pb::VerifyJwtResponse resp;
    grpc::Status s = jwt_->VerifyJwt(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // The daemon's arguments (data dir, passphrase file, config).
  std::vector<std::string> args_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<pb::JwtService::Stub> jwt_;
  std::unique_ptr<pb::KeyService::Stub> keys_;
  std::unique_ptr<pb::CryptoService::Stub> crypto_;
};

}  // namespace keyward::testing

#endif  // KEYWARD_TESTS_JWT_FIXTURE_H_
