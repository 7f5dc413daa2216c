// End-to-end: API keys, Login, session tokens over loopback TCP, and the
// per-caller limit on failed authentication, per-principal request limits
// (re-read on SIGHUP), anonymous WhoAmI/GetStatus and the authorization
// scheme, against the real daemon.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/free_port.h"
#include "tests/test_storage.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using ::testing::HasSubstr;
using ::testing::Not;

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keystore = TestKeystore::Init("access test");
    ASSERT_TRUE(keystore.ok()) << keystore.status();
    keystore_ = std::make_unique<TestKeystore>(*std::move(keystore));
    dir_ = keystore_->dir();
    port_ = FreePort();
    auto daemon = DaemonProcess::Start(
        dir_, keystore_->Args(Config("auth_failures_per_minute: 3 "
                                     "requests_per_second: 1 burst: 20")));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    unix_ = daemon_->NewChannel();
    tcp_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                               grpc::InsecureChannelCredentials());
  }

  // Config is the daemon's config (after the storage's), with
  // `rate_limits` inside the rate_limits block.
  std::string Config(const std::string& rate_limits) const {
    return absl::StrCat("tcp_listeners { address: \"127.0.0.1:", port_,
                        "\" }\nrate_limits { ", rate_limits, " }\n");
  }

  // WriteConfig rewrites the daemon's config file with Config(rate_limits).
  void WriteConfig(const std::string& rate_limits) {
    keystore_->WriteConfig(Config(rate_limits));
  }

  std::unique_ptr<TestKeystore> keystore_;
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<DaemonProcess> daemon_;
  std::shared_ptr<grpc::Channel> unix_, tcp_;
};

TEST_F(AccessTest, ApiKeyLoginGrantsExactlyWhatPoliciesSay) {
  auto admin_keys = pb::KeyService::NewStub(unix_);
  auto admin_access = pb::AccessService::NewStub(unix_);
  {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id("ci-signing");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_ED25519);
    pb::CreateKeyResponse resp;
    ASSERT_TRUE(admin_keys->CreateKey(&ctx, req, &resp).ok());
  }
  std::string secret;
  {
    grpc::ClientContext ctx;
    pb::CreateApiKeyRequest req;
    req.set_api_key_id("ci");
    req.mutable_api_key()->set_description("release pipeline");
    pb::CreateApiKeyResponse resp;
    grpc::Status s = admin_access->CreateApiKey(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    secret = resp.secret();
    EXPECT_THAT(secret, ::testing::StartsWith("kw_ak_ci:"));
    EXPECT_EQ(resp.api_key().principal(), "apikey:ci");
  }
  // The secret is stored only as a hash.
  {
    absl::StatusOr<std::string> bytes = keystore_->storage().Dump(dir_);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    const std::string plain = secret.substr(9);
    EXPECT_EQ(bytes->find(plain), std::string::npos);
    EXPECT_EQ(bytes->find(absl::BytesToHexString(plain)), std::string::npos);
  }
  // Over plaintext loopback TCP, with no identity, nothing is allowed.
  auto tcp_crypto = pb::CryptoService::NewStub(tcp_);
  {
    grpc::ClientContext ctx;
    pb::SignRequest req;
    req.set_name("keys/ci-signing");
    req.set_data("x");
    pb::SignResponse resp;
    EXPECT_EQ(tcp_crypto->Sign(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // Login over TCP.
  auto tcp_access = pb::AccessService::NewStub(tcp_);
  std::string token;
  {
    grpc::ClientContext ctx;
    pb::LoginRequest req;
    req.set_api_key_secret(secret);
    pb::LoginResponse resp;
    grpc::Status s = tcp_access->Login(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    token = resp.session_token();
    EXPECT_EQ(resp.principal(), "apikey:ci");
  }
  auto sign = [&](const std::string& bearer) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + bearer);
    pb::SignRequest req;
    req.set_name("keys/ci-signing");
    req.set_data("release.tar.gz");
    pb::SignResponse resp;
    return tcp_crypto->Sign(&ctx, req, &resp);
  };
  grpc::Status s = sign(token);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("apikey:ci may not SIGN on keys/ci-signing"));
  {
    grpc::ClientContext ctx;
    pb::CreatePolicyRequest req;
    req.set_policy_id("ci-sign");
    req.mutable_policy()->set_principal("apikey:ci");
    req.mutable_policy()->set_resource("keys/ci-signing");
    req.mutable_policy()->add_operations(pb::OPERATION_SIGN);
    pb::CreatePolicyResponse resp;
    ASSERT_TRUE(admin_access->CreatePolicy(&ctx, req, &resp).ok());
  }
  EXPECT_TRUE(sign(token).ok());
  // ListKeys shows the caller the keys it holds an operation on, and leaves
  // the others out (key_service.proto).
  {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id("not-for-ci");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_ED25519);
    pb::CreateKeyResponse resp;
    ASSERT_TRUE(admin_keys->CreateKey(&ctx, req, &resp).ok());
  }
  auto list = [&](pb::KeyService::Stub& stub, const std::string& bearer) {
    grpc::ClientContext ctx;
    if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
    pb::ListKeysResponse resp;
    EXPECT_TRUE(stub.ListKeys(&ctx, pb::ListKeysRequest(), &resp).ok());
    std::vector<std::string> names;
    for (const pb::Key& k : resp.keys()) names.push_back(k.name());
    return names;
  };
  auto tcp_keys = pb::KeyService::NewStub(tcp_);
  EXPECT_THAT(list(*tcp_keys, token),
              ::testing::ElementsAre("keys/ci-signing"));
  EXPECT_THAT(list(*admin_keys, ""),
              ::testing::ElementsAre("keys/ci-signing", "keys/not-for-ci"));
  // Revoking the key ends its sessions at once.
  {
    grpc::ClientContext ctx;
    pb::RevokeApiKeyRequest req;
    req.set_name("apiKeys/ci");
    pb::RevokeApiKeyResponse resp;
    ASSERT_TRUE(admin_access->RevokeApiKey(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.api_key().state(), pb::API_KEY_STATE_REVOKED);
  }
  EXPECT_EQ(sign(token).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  {
    grpc::ClientContext ctx;
    pb::LoginRequest req;
    req.set_api_key_secret(secret);
    pb::LoginResponse resp;
    EXPECT_EQ(tcp_access->Login(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
}

TEST_F(AccessTest, SessionTokensExpire) {
  auto admin_access = pb::AccessService::NewStub(unix_);
  std::string secret;
  {
    grpc::ClientContext ctx;
    pb::CreateApiKeyRequest req;
    req.set_api_key_id("short");
    pb::CreateApiKeyResponse resp;
    ASSERT_TRUE(admin_access->CreateApiKey(&ctx, req, &resp).ok());
    secret = resp.secret();
  }
  auto tcp_access = pb::AccessService::NewStub(tcp_);
  std::string token;
  {
    grpc::ClientContext ctx;
    pb::LoginRequest req;
    req.set_api_key_secret(secret);
    req.mutable_ttl()->set_seconds(1);
    pb::LoginResponse resp;
    ASSERT_TRUE(tcp_access->Login(&ctx, req, &resp).ok());
    token = resp.session_token();
  }
  auto whoami = [&] {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    pb::WhoAmIResponse who;
    return tcp_access->WhoAmI(&ctx, pb::WhoAmIRequest(), &who).error_code();
  };
  EXPECT_EQ(whoami(), grpc::StatusCode::OK);
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_EQ(whoami(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AccessTest, FailedLoginsAreRateLimited) {
  auto tcp_access = pb::AccessService::NewStub(tcp_);
  std::vector<grpc::StatusCode> codes;
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext ctx;
    pb::LoginRequest req;
    req.set_api_key_secret("kw_ak_nobody:guess");
    pb::LoginResponse resp;
    codes.push_back(tcp_access->Login(&ctx, req, &resp).error_code());
  }
  EXPECT_THAT(codes, ::testing::ElementsAre(
                         grpc::StatusCode::UNAUTHENTICATED,
                         grpc::StatusCode::UNAUTHENTICATED,
                         grpc::StatusCode::UNAUTHENTICATED,
                         grpc::StatusCode::RESOURCE_EXHAUSTED,
                         grpc::StatusCode::RESOURCE_EXHAUSTED));
}

// A new channel with its own TCP connection (so its own source port): a
// local subchannel pool keeps gRPC from sharing one connection.
std::shared_ptr<grpc::Channel> NewTcpConnection(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

std::string CreateApiKey(pb::AccessService::Stub* admin, const std::string& id) {
  grpc::ClientContext ctx;
  pb::CreateApiKeyRequest req;
  req.set_api_key_id(id);
  pb::CreateApiKeyResponse resp;
  grpc::Status s = admin->CreateApiKey(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.secret();
}

grpc::Status Login(const std::shared_ptr<grpc::Channel>& channel,
                   const std::string& secret, std::string* token = nullptr) {
  grpc::ClientContext ctx;
  pb::LoginRequest req;
  req.set_api_key_secret(secret);
  pb::LoginResponse resp;
  grpc::Status s = pb::AccessService::NewStub(channel)->Login(&ctx, req, &resp);
  if (token != nullptr) *token = resp.session_token();
  return s;
}

// The contract says per peer: many connections (each its own port) from
// one host share one count, and a right secret from a throttled peer is
// refused too; the API key under attack is throttled from any peer.
TEST_F(AccessTest, FailedLoginsAreThrottledPerPeerAcrossConnections) {
  auto admin = pb::AccessService::NewStub(unix_);
  const std::string secret = CreateApiKey(admin.get(), "ci");
  std::vector<grpc::StatusCode> codes;
  for (int i = 0; i < 5; ++i) {
    auto channel = NewTcpConnection(port_);
    codes.push_back(Login(channel, "kw_ak_ci:wrong-" + std::to_string(i)).error_code());
  }
  EXPECT_THAT(codes, ::testing::ElementsAre(
                         grpc::StatusCode::UNAUTHENTICATED,
                         grpc::StatusCode::UNAUTHENTICATED,
                         grpc::StatusCode::UNAUTHENTICATED,
                         grpc::StatusCode::RESOURCE_EXHAUSTED,
                         grpc::StatusCode::RESOURCE_EXHAUSTED));
  // The right secret, from the same host on yet another connection.
  grpc::Status right = Login(NewTcpConnection(port_), secret);
  EXPECT_EQ(right.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(right.error_message(), HasSubstr("ipv4:127.0.0.1 "));
  // The key under attack is throttled from another peer (the Unix socket)
  // as well.
  grpc::Status elsewhere = Login(unix_, secret);
  EXPECT_EQ(elsewhere.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(elsewhere.error_message(), HasSubstr("apikey:ci"));
}

// Unseal with a wrong passphrase over several TCP connections (a session
// caller) is throttled the same way, and the right passphrase with it.
TEST_F(AccessTest, FailedUnsealsAreThrottledPerPeerAcrossConnections) {
  auto admin = pb::AccessService::NewStub(unix_);
  std::string token;
  ASSERT_TRUE(Login(tcp_, CreateApiKey(admin.get(), "ops"), &token).ok());
  auto unseal = [&](const std::string& passphrase) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    pb::UnsealRequest req;
    req.set_passphrase(passphrase);
    pb::UnsealResponse resp;
    return pb::SystemService::NewStub(NewTcpConnection(port_))
        ->Unseal(&ctx, req, &resp);
  };
  std::vector<grpc::StatusCode> codes;
  for (int i = 0; i < 5; ++i) codes.push_back(unseal("wrong").error_code());
  EXPECT_THAT(codes, ::testing::ElementsAre(
                         grpc::StatusCode::UNAUTHENTICATED,
                         grpc::StatusCode::UNAUTHENTICATED,
                         grpc::StatusCode::UNAUTHENTICATED,
                         grpc::StatusCode::RESOURCE_EXHAUSTED,
                         grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_EQ(unseal("access test").error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(AccessTest, RequestsPerPrincipalAreRateLimited) {
  auto keys = pb::KeyService::NewStub(unix_);
  int ok = 0, exhausted = 0;
  for (int i = 0; i < 100; ++i) {  // far more than the burst of 20 at 1/s
    grpc::ClientContext ctx;
    pb::GetKeyRequest req;
    req.set_name("keys/absent");
    pb::GetKeyResponse resp;
    grpc::StatusCode code = keys->GetKey(&ctx, req, &resp).error_code();
    ok += code == grpc::StatusCode::NOT_FOUND;
    exhausted += code == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_GE(ok, 20);
  EXPECT_GT(exhausted, 0);
  EXPECT_EQ(ok + exhausted, 100);
}

// CountGetKeyCodes makes `n` GetKey calls on `channel` and counts NOT_FOUND
// (served) and RESOURCE_EXHAUSTED (limited) answers.
std::pair<int, int> CountGetKeyCodes(const std::shared_ptr<grpc::Channel>& channel,
                                     int n) {
  auto keys = pb::KeyService::NewStub(channel);
  int served = 0, limited = 0;
  for (int i = 0; i < n; ++i) {
    grpc::ClientContext ctx;
    pb::GetKeyRequest req;
    req.set_name("keys/absent");
    pb::GetKeyResponse resp;
    grpc::StatusCode code = keys->GetKey(&ctx, req, &resp).error_code();
    served += code == grpc::StatusCode::NOT_FOUND;
    limited += code == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  return {served, limited};
}

TEST_F(AccessTest, RateLimitOverridesAreReReadOnSighup) {
  // Use up the burst of 20 at 1/s.
  EXPECT_GT(CountGetKeyCodes(unix_, 40).second, 0);
  // An override lifting this uid's limit, read on SIGHUP.
  WriteConfig(absl::StrCat("auth_failures_per_minute: 3 requests_per_second: 1 ",
                           "burst: 20 overrides { principal: \"unix:uid:",
                           geteuid(), "\" requests_per_second: 0 }"));
  ASSERT_EQ(kill(daemon_->pid(), SIGHUP), 0);
  std::pair<int, int> counts;
  for (int i = 0; i < 50; ++i) {  // the reload is asynchronous
    absl::SleepFor(absl::Milliseconds(100));
    counts = CountGetKeyCodes(unix_, 100);
    if (counts.second == 0) break;
  }
  EXPECT_EQ(counts.first, 100);
  EXPECT_EQ(counts.second, 0);
  // A prefix override that tightens it again: 1 per second, burst 2.
  WriteConfig("overrides { principal: \"unix:*\" requests_per_second: 1 burst: 2 }");
  ASSERT_EQ(kill(daemon_->pid(), SIGHUP), 0);
  for (int i = 0; i < 50; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    counts = CountGetKeyCodes(unix_, 10);
    if (counts.second > 0) break;
  }
  EXPECT_LE(counts.first, 3);
  EXPECT_GE(counts.second, 7);
  // A bad file is refused and logged; the limits in force stay.
  WriteConfig("overrides { principal: \"*\" requests_per_second: 5 }");
  ASSERT_EQ(kill(daemon_->pid(), SIGHUP), 0);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_GE(CountGetKeyCodes(unix_, 10).second, 7);
}

TEST_F(AccessTest, AnonymousCallersMayAskWhoTheyAreAndTheStatusOnly) {
  auto access = pb::AccessService::NewStub(tcp_);
  grpc::ClientContext ctx;
  pb::WhoAmIResponse who;
  grpc::Status s = access->WhoAmI(&ctx, pb::WhoAmIRequest(), &who);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(who.principal(), "anonymous");
  EXPECT_EQ(who.authentication(), pb::AUTHENTICATION_METHOD_ANONYMOUS);
  EXPECT_FALSE(who.global_admin());
  auto system = pb::SystemService::NewStub(tcp_);
  grpc::ClientContext status_ctx;
  pb::GetStatusResponse status;
  s = system->GetStatus(&status_ctx, pb::GetStatusRequest(), &status);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(status.sealed());
  // Anything else stays UNAUTHENTICATED, saying how to get an identity.
  auto keys = pb::KeyService::NewStub(tcp_);
  grpc::ClientContext key_ctx;
  pb::GetKeyRequest req;
  req.set_name("keys/absent");
  pb::GetKeyResponse resp;
  s = keys->GetKey(&key_ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("keyward login"));
  // A bad session token is not anonymity: WhoAmI refuses it.
  grpc::ClientContext bad_ctx;
  bad_ctx.AddMetadata("authorization", "Bearer kws_forged");
  EXPECT_EQ(access->WhoAmI(&bad_ctx, pb::WhoAmIRequest(), &who).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AccessTest, AnotherAuthorizationSchemeIsNamed) {
  auto access = pb::AccessService::NewStub(tcp_);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Token kws_abcdef");
  pb::WhoAmIResponse who;
  grpc::Status s = access->WhoAmI(&ctx, pb::WhoAmIRequest(), &who);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("scheme 'Token'"));
  EXPECT_THAT(s.error_message(), HasSubstr("Bearer"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("kws_abcdef")));
  // A bare token without a scheme is never echoed.
  grpc::ClientContext bare;
  bare.AddMetadata("authorization", "kws_secretvalue");
  s = access->WhoAmI(&bare, pb::WhoAmIRequest(), &who);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("has no scheme Keyward knows"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("kws_secretvalue")));
}

TEST_F(AccessTest, BogusBearerTokenIsUnauthenticated) {
  auto crypto = pb::CryptoService::NewStub(unix_);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer kws_forged");
  pb::SignRequest req;
  req.set_name("keys/x");
  req.set_data("x");
  pb::SignResponse resp;
  grpc::Status s = crypto->Sign(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("log in again"));
}

}  // namespace
}  // namespace keyward::testing
