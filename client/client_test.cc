#include "client/client.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace keyward {
namespace {

using ::testing::HasSubstr;

// --- Target parsing ---

TEST(ParseTargetTest, UnixForms) {
  for (const char* t : {"unix:///run/kw.sock", "unix:/run/kw.sock", "/run/kw.sock"}) {
    absl::StatusOr<Target> target = ParseTarget(t);
    ASSERT_TRUE(target.ok()) << t << ": " << target.status();
    EXPECT_EQ(target->kind, Target::Kind::kUnix) << t;
    EXPECT_EQ(target->unix_path, "/run/kw.sock") << t;
    EXPECT_EQ(target->grpc_target, "unix:/run/kw.sock") << t;
  }
  absl::StatusOr<Target> rel = ParseTarget("unix:run/kw.sock");
  ASSERT_TRUE(rel.ok()) << rel.status();
  EXPECT_EQ(rel->unix_path, "run/kw.sock");
}

TEST(ParseTargetTest, TcpForms) {
  absl::StatusOr<Target> t = ParseTarget("localhost:7443");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->kind, Target::Kind::kTcp);
  EXPECT_EQ(t->host, "localhost");
  EXPECT_EQ(t->port, 7443);
  EXPECT_TRUE(t->loopback);
  EXPECT_EQ(t->grpc_target, "localhost:7443");

  t = ParseTarget("127.0.0.2:1");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->loopback);

  t = ParseTarget("[::1]:65535");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host, "::1");
  EXPECT_TRUE(t->loopback);
  EXPECT_EQ(t->grpc_target, "[::1]:65535");

  t = ParseTarget("dns:///keyward.example.com:443");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host, "keyward.example.com");
  EXPECT_FALSE(t->loopback);

  t = ParseTarget("10.0.0.5:7443");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->loopback);
}

TEST(ParseTargetTest, RejectsMalformedTargetsWithInvalidArgument) {
  for (const char* t :
       {"", "  ", "unix://", "unix:", "unix://relative/path", "host", "host:",
        ":7443", "host:0", "host:65536", "host:12ab", "host:-1", "::1:7443",
        "[::1]7443", "[::1]", "http://host:80", "unix-abstract:x"}) {
    absl::StatusOr<Target> target = ParseTarget(t);
    EXPECT_EQ(target.status().code(), absl::StatusCode::kInvalidArgument)
        << "\"" << t << "\" gave " << target.status();
  }
}

TEST(ParseTargetTest, RejectsSocketPathsTheKernelCannotTake) {
  std::string long_path = "/" + std::string(120, 'a');
  absl::StatusOr<Target> t = ParseTarget("unix://" + long_path);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("at most"));
}

TEST(SelectTargetTest, ExplicitThenEnvThenXdgThenSystemDefault) {
  EXPECT_EQ(SelectTarget("unix:/a.sock", "unix:/b.sock", "/run/user/1"),
            "unix:/a.sock");
  EXPECT_EQ(SelectTarget("", "unix:/b.sock", "/run/user/1"), "unix:/b.sock");
  EXPECT_EQ(SelectTarget("", "", "/run/user/1"),
            "unix:///run/user/1/keyward/keyward.sock");
  EXPECT_EQ(SelectTarget("", "", ""), "unix:///run/keyward/keyward.sock");
}

// --- Create ---

TEST(CreateTest, TlsAppliesToTcpTargetsOnly) {
  ClientOptions options;
  options.target = "unix:///run/keyward.sock";
  options.tls = TlsOptions{};
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Create(options);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CreateTest, PlaintextOnlyToLoopback) {
  ClientOptions options;
  options.target = "10.1.2.3:7443";
  EXPECT_EQ(Client::Create(options).status().code(),
            absl::StatusCode::kFailedPrecondition);
  options.target = "127.0.0.1:7443";
  EXPECT_TRUE(Client::Create(options).ok());
  options.target = "unix:///tmp/nowhere.sock";
  EXPECT_TRUE(Client::Create(options).ok());
}

TEST(CreateTest, ChecksOptions) {
  ClientOptions options;
  options.target = "unix:/tmp/x.sock";
  options.timeout = absl::ZeroDuration();
  EXPECT_EQ(Client::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.timeout = absl::Seconds(1);
  options.retry.max_attempts = 0;
  EXPECT_EQ(Client::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.retry.max_attempts = 1;
  options.target = "bogus";
  EXPECT_EQ(Client::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CreateTest, UsesKeywardAddrWhenNoTargetIsGiven) {
  setenv("KEYWARD_ADDR", "unix:///tmp/from-env.sock", 1);
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Create();
  unsetenv("KEYWARD_ADDR");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->target().unix_path, "/tmp/from-env.sock");
}

// --- Status conversion and retry policy ---

TEST(FromGrpcStatusTest, KeepsCodeAndMessage) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  for (int code = 1; code <= 16; ++code) {
    absl::Status s = FromGrpcStatus(
        grpc::Status(static_cast<grpc::StatusCode>(code), "why it failed"));
    EXPECT_EQ(static_cast<int>(s.code()), code);
    EXPECT_EQ(s.message(), "why it failed");
  }
}

TEST(RetryPolicyTest, OnlyIdempotentCallsOnlyOnUnavailable) {
  RetryPolicy p;  // 3 attempts
  EXPECT_TRUE(ShouldRetry(Idempotency::kIdempotent,
                          absl::StatusCode::kUnavailable, 1, p));
  EXPECT_TRUE(ShouldRetry(Idempotency::kIdempotent,
                          absl::StatusCode::kUnavailable, 2, p));
  EXPECT_FALSE(ShouldRetry(Idempotency::kIdempotent,
                           absl::StatusCode::kUnavailable, 3, p));
  EXPECT_FALSE(ShouldRetry(Idempotency::kStateChanging,
                           absl::StatusCode::kUnavailable, 1, p));
  for (absl::StatusCode c :
       {absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kInternal,
        absl::StatusCode::kResourceExhausted, absl::StatusCode::kAborted,
        absl::StatusCode::kNotFound}) {
    EXPECT_FALSE(ShouldRetry(Idempotency::kIdempotent, c, 1, p)) << c;
  }
}

TEST(RetryPolicyTest, BackoffDoublesFromFiftyMillisecondsAndIsCapped) {
  RetryPolicy p;
  EXPECT_EQ(BackoffDelay(p, 1), absl::Milliseconds(50));
  EXPECT_EQ(BackoffDelay(p, 2), absl::Milliseconds(100));
  EXPECT_EQ(BackoffDelay(p, 3), absl::Milliseconds(200));
  EXPECT_EQ(BackoffDelay(p, 30), absl::Seconds(1));
}

// --- Against an in-process fake daemon ---

class FakeSystem final : public v1::SystemService::Service {
 public:
  std::atomic<int> status_calls{0};
  std::atomic<int> seal_calls{0};
  std::atomic<int> fail_first{0};
  std::string last_authorization;

  grpc::Status GetStatus(grpc::ServerContext* ctx, const v1::GetStatusRequest*,
                         v1::GetStatusResponse* resp) override {
    int n = ++status_calls;
    auto it = ctx->client_metadata().find("authorization");
    if (it != ctx->client_metadata().end()) {
      last_authorization = std::string(it->second.data(), it->second.size());
    }
    if (n <= fail_first) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "daemon is sealed");
    }
    resp->set_version("9.9.9");
    return grpc::Status::OK;
  }
  grpc::Status Seal(grpc::ServerContext*, const v1::SealRequest*,
                    v1::SealResponse*) override {
    ++seal_calls;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
  }
  grpc::Status VerifyAuditLog(grpc::ServerContext*,
                              const v1::VerifyAuditLogRequest*,
                              v1::VerifyAuditLogResponse*) override {
    absl::SleepFor(absl::Milliseconds(500));
    return grpc::Status::OK;
  }
};

class FakeKeys final : public v1::KeyService::Service {
 public:
  std::atomic<int> rotate_calls{0};
  grpc::Status GetKey(grpc::ServerContext*, const v1::GetKeyRequest* req,
                      v1::GetKeyResponse*) override {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "key \"" + req->name() + "\" does not exist");
  }
  grpc::Status RotateKey(grpc::ServerContext*, const v1::RotateKeyRequest*,
                         v1::RotateKeyResponse*) override {
    ++rotate_calls;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "audit write failed");
  }
};

class ClientServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kw-client-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    socket_ = dir_ + "/s.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_,
                             grpc::InsecureServerCredentials());
    builder.RegisterService(&system_);
    builder.RegisterService(&keys_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    server_->Shutdown();
    unlink(socket_.c_str());
    rmdir(dir_.c_str());
  }
  std::unique_ptr<Client> NewClient(ClientOptions options = ClientOptions()) {
    options.target = "unix://" + socket_;
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Create(options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  std::string dir_;
  std::string socket_;
  FakeSystem system_;
  FakeKeys keys_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ClientServerTest, IdempotentCallRetriesUnavailableThenSucceeds) {
  system_.fail_first = 2;
  auto client = NewClient();
  absl::StatusOr<v1::GetStatusResponse> s = client->GetStatus();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->version(), "9.9.9");
  EXPECT_EQ(system_.status_calls, 3);
}

TEST_F(ClientServerTest, IdempotentCallGivesUpAfterThreeAttempts) {
  system_.fail_first = 100;
  auto client = NewClient();
  absl::StatusOr<v1::GetStatusResponse> s = client->GetStatus();
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.status().message(), "daemon is sealed");
  EXPECT_EQ(system_.status_calls, 3);
}

TEST_F(ClientServerTest, StateChangingCallsAreNeverRetried) {
  auto client = NewClient();
  v1::RotateKeyRequest rotate;
  rotate.set_name("keys/a");
  EXPECT_EQ(client->RotateKey(rotate).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(keys_.rotate_calls, 1);
  EXPECT_EQ(client->Seal().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(system_.seal_calls, 1);
}

TEST_F(ClientServerTest, DaemonErrorsKeepCodeAndMessage) {
  auto client = NewClient();
  v1::GetKeyRequest req;
  req.set_name("keys/missing");
  absl::StatusOr<v1::GetKeyResponse> r = client->GetKey(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "key \"keys/missing\" does not exist");
}

TEST_F(ClientServerTest, UnservedMethodsAreUnimplemented) {
  v1::SignRequest req;
  req.set_name("keys/a");
  absl::StatusOr<v1::SignResponse> signed_data = NewClient()->Sign(req);
  EXPECT_EQ(signed_data.status().code(), absl::StatusCode::kUnimplemented);
}

// --- Paging ---

// Pages answers ListKeys from `pages`: page i holds key "k<i>" and the
// token "t<i+1>", the last none; `calls` records the tokens asked for.
struct Pages {
  int pages;
  std::vector<std::string>* calls;
  absl::StatusOr<v1::ListKeysResponse> operator()(
      const v1::ListKeysRequest& req) const {
    calls->push_back(req.page_token());
    int i = static_cast<int>(calls->size());
    v1::ListKeysResponse page;
    page.add_keys()->set_name(absl::StrCat("keys/k", i));
    if (i < pages) page.set_next_page_token(absl::StrCat("t", i + 1));
    return page;
  }
};

TEST(PagingTest, ListAllDrainsEveryPageInOrder) {
  std::vector<std::string> calls;
  v1::ListKeysRequest req;
  req.set_name_prefix("keys/");
  absl::StatusOr<v1::ListKeysResponse> all = ListAll(req, Pages{3, &calls});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(calls, ::testing::ElementsAre("", "t2", "t3"));
  ASSERT_EQ(all->keys_size(), 3);
  EXPECT_EQ(all->keys(0).name(), "keys/k1");
  EXPECT_EQ(all->keys(2).name(), "keys/k3");
  EXPECT_EQ(all->next_page_token(), "");
}

TEST(PagingTest, ForEachPageStopsWhenAskedAndOnErrors) {
  std::vector<std::string> calls;
  int seen = 0;
  absl::Status s = ForEachPage(v1::ListKeysRequest(), Pages{5, &calls},
                               [&](const v1::ListKeysResponse&) { return ++seen < 2; });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls.size(), 2u);
  int failing_calls = 0;
  auto failing = [&](const v1::ListKeysRequest&) -> absl::StatusOr<v1::ListKeysResponse> {
    ++failing_calls;
    return absl::PermissionDeniedError("no READ on keys/");
  };
  absl::StatusOr<v1::ListKeysResponse> all = ListAll(v1::ListKeysRequest(), failing);
  EXPECT_EQ(all.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(all.status().message(), "no READ on keys/");
  EXPECT_EQ(failing_calls, 1);
}

TEST(PagingTest, ARepeatedPageTokenIsInternal) {
  auto repeating = [](const v1::ListKeysRequest&) -> absl::StatusOr<v1::ListKeysResponse> {
    v1::ListKeysResponse page;
    page.set_next_page_token("again");
    return page;
  };
  absl::StatusOr<v1::ListKeysResponse> all = ListAll(v1::ListKeysRequest(), repeating);
  EXPECT_EQ(all.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(all.status().message()), HasSubstr("repeated a page token"));
}

TEST_F(ClientServerTest, DeadlineApplies) {
  ClientOptions options;
  options.timeout = absl::Milliseconds(100);
  auto client = NewClient(options);
  absl::Time start = absl::Now();
  EXPECT_EQ(client->VerifyAuditLog(v1::VerifyAuditLogRequest()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(450));
}

TEST_F(ClientServerTest, SendsTheSessionTokenAsBearer) {
  ClientOptions options;
  options.session_token = "tok123";
  auto client = NewClient(options);
  ASSERT_TRUE(client->GetStatus().ok());
  EXPECT_EQ(system_.last_authorization, "Bearer tok123");
}

TEST(ClientNoServerTest, MissingSocketIsUnavailable) {
  ClientOptions options;
  options.target = "unix:///tmp/kw-client-test-no-such-dir/none.sock";
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Create(options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->GetStatus().status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace keyward
