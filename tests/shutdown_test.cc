// End-to-end: SIGTERM while many calls are in flight. Every call either
// completes or is refused with UNAVAILABLE; the daemon exits 0; every key it
// acknowledged is there after a restart and the keystore passes
// integrity_check.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/test_storage.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;

TEST(ShutdownTest, SigtermUnderLoadLosesNothingAcknowledged) {
  auto keystore = TestKeystore::Init("shutdown test");
  ASSERT_TRUE(keystore.ok()) << keystore.status();
  const std::string dir = keystore->dir();
  const std::vector<std::string> args = keystore->Args();
  auto daemon = DaemonProcess::Start(dir, args);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto channel = (*daemon)->NewChannel();
  auto keys = pb::KeyService::NewStub(channel);
  auto crypto = pb::CryptoService::NewStub(channel);
  {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id("hot");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_ED25519);
    pb::CreateKeyResponse resp;
    ASSERT_TRUE(keys->CreateKey(&ctx, req, &resp).ok());
  }

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> created;
  std::multiset<grpc::StatusCode> codes;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000 && !stop; ++i) {
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
        grpc::Status s;
        std::string id = absl::StrCat("k", t, "-", i);
        if (i % 3 == 0) {
          pb::CreateKeyRequest req;
          req.set_key_id(id);
          req.mutable_key()->set_key_type(pb::KEY_TYPE_AES256_GCM);
          pb::CreateKeyResponse resp;
          s = keys->CreateKey(&ctx, req, &resp);
        } else {
          pb::SignRequest req;
          req.set_name("keys/hot");
          req.set_data(id);
          pb::SignResponse resp;
          s = crypto->Sign(&ctx, req, &resp);
          if (s.ok() && resp.signature().empty()) s = grpc::Status(grpc::StatusCode::INTERNAL, "empty");
        }
        std::lock_guard<std::mutex> lock(mu);
        codes.insert(s.error_code());
        if (!s.ok() && s.error_code() != grpc::StatusCode::UNAVAILABLE) {
          std::cerr << "code " << s.error_code() << ": " << s.error_message() << "\n";
        }
        if (s.ok() && i % 3 == 0) created.insert(id);
        if (s.error_code() == grpc::StatusCode::UNAVAILABLE) break;
      }
    });
  }
  // A caller following the audit log does not hold the shutdown up.
  auto system = pb::SystemService::NewStub(channel);
  grpc::ClientContext follow_ctx;
  pb::ReadAuditLogRequest follow;
  follow.set_follow(true);
  auto follower = system->ReadAuditLog(&follow_ctx, follow);
  uint64_t followed = 0;
  grpc::Status follow_status;
  std::thread follow_thread([&] {
    pb::ReadAuditLogResponse batch;
    while (follower->Read(&batch)) followed += batch.records_size();
    follow_status = follower->Finish();
  });
  absl::SleepFor(absl::Milliseconds(700));
  ProcessResult exit = (*daemon)->Signal(SIGTERM);
  stop = true;
  for (auto& t : threads) t.join();
  follow_thread.join();
  EXPECT_EQ(exit.exit_code, 0) << exit.output;
  EXPECT_GT(followed, 0u);
  EXPECT_EQ(follow_status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << follow_status.error_message();
  for (grpc::StatusCode code : codes) {
    EXPECT_TRUE(code == grpc::StatusCode::OK ||
                code == grpc::StatusCode::UNAVAILABLE)
        << "unexpected code " << code;
  }
  EXPECT_GT(codes.count(grpc::StatusCode::OK), 0u);
  ASSERT_FALSE(created.empty());

  // SQLite's integrity_check (PostgreSQL has no equivalent: its own
  // crash-safety is not under test), then every acknowledged key is there.
  if (TestBackend() == "sqlite") {
    sqlite3* db;
    ASSERT_EQ(sqlite3_open((dir + "/keystore.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* q;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, nullptr);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)),
                 "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
  }
  auto again = DaemonProcess::Start(dir, args);
  ASSERT_TRUE(again.ok()) << again.status();
  auto keys2 = pb::KeyService::NewStub((*again)->NewChannel());
  for (const std::string& id : created) {
    grpc::ClientContext ctx;
    pb::GetKeyRequest req;
    req.set_name("keys/" + id);
    pb::GetKeyResponse resp;
    EXPECT_TRUE(keys2->GetKey(&ctx, req, &resp).ok()) << id;
  }
}

}  // namespace
}  // namespace keyward::testing
