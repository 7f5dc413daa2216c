// End-to-end: the real keywardd when its audit log cannot be written.
//
// Fail closed for real (issue 12, findings 1 and 3): a call refused because
// its audit record could not be written has changed nothing, even after a
// restart; and once the log can be written again, the daemon resumes by
// itself, with a record of the calls it refused.
//
// Streamed items (DataPlaneService, whose items run in chunks over the
// cores) are refused alike, each with its own UNAVAILABLE and no result.
//
// Two real faults: an audit log on /dev/full (every write fails with
// ENOSPC), and a file-size limit set on the running daemon with prlimit(1)
// (writes past it fail with EFBIG, the first one part-way: a torn record),
// then lifted.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/data_plane_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/test_storage.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using ::testing::HasSubstr;

class AuditOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keystore = TestKeystore::Init("audit outage test passphrase");
    ASSERT_TRUE(keystore.ok()) << keystore.status();
    keystore_ = std::make_unique<TestKeystore>(*std::move(keystore));
    dir_ = keystore_->dir();
  }

  // (Re)starts the daemon; `audit_path` empty: the default log.
  void Start(const std::string& audit_path = "") {
    daemon_.reset();
    auto daemon = DaemonProcess::Start(
        dir_, keystore_->Args(audit_path.empty()
                                  ? ""
                                  : absl::StrCat("audit { path: \"",
                                                 audit_path, "\" }\n")));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    auto channel = daemon_->NewChannel();
    crypto_ = pb::CryptoService::NewStub(channel);
    keys_ = pb::KeyService::NewStub(channel);
    access_ = pb::AccessService::NewStub(channel);
    system_ = pb::SystemService::NewStub(channel);
  }

  grpc::Status CreateKey(const std::string& id, pb::KeyType type) {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(type);
    pb::CreateKeyResponse resp;
    return keys_->CreateKey(&ctx, req, &resp);
  }

  grpc::Status GetKey(const std::string& id, pb::Key* key) {
    grpc::ClientContext ctx;
    pb::GetKeyRequest req;
    req.set_name("keys/" + id);
    pb::GetKeyResponse resp;
    grpc::Status s = keys_->GetKey(&ctx, req, &resp);
    *key = resp.key();
    return s;
  }

  grpc::Status Rotate(const std::string& id) {
    grpc::ClientContext ctx;
    pb::RotateKeyRequest req;
    req.set_name("keys/" + id);
    pb::RotateKeyResponse resp;
    return keys_->RotateKey(&ctx, req, &resp);
  }

  grpc::Status Sign(const std::string& id) {
    grpc::ClientContext ctx;
    pb::SignRequest req;
    req.set_name("keys/" + id);
    req.set_data("data");
    pb::SignResponse resp;
    grpc::Status s = crypto_->Sign(&ctx, req, &resp);
    EXPECT_EQ(s.ok(), !resp.signature().empty());
    return s;
  }

  pb::GetStatusResponse Status() {
    grpc::ClientContext ctx;
    pb::GetStatusResponse status;
    grpc::Status s = system_->GetStatus(&ctx, pb::GetStatusRequest(), &status);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return status;
  }

  pb::VerifyAuditLogResponse VerifyAudit() {
    grpc::ClientContext ctx;
    pb::VerifyAuditLogResponse verdict;
    grpc::Status s = system_->VerifyAuditLog(&ctx, pb::VerifyAuditLogRequest(),
                                             &verdict);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return verdict;
  }

  std::vector<pb::AuditRecord> AuditRecords() {
    grpc::ClientContext ctx;
    auto reader = system_->ReadAuditLog(&ctx, pb::ReadAuditLogRequest());
    pb::ReadAuditLogResponse batch;
    std::vector<pb::AuditRecord> records;
    while (reader->Read(&batch)) {
      for (const auto& r : batch.records()) records.push_back(r);
    }
    EXPECT_TRUE(reader->Finish().ok());
    return records;
  }

  off_t AuditLogSize() {
    struct stat st;
    return stat((dir_ + "/audit.log").c_str(), &st) == 0 ? st.st_size : -1;
  }

  // SetFileSizeLimit sets the daemon's soft RLIMIT_FSIZE ("unlimited" too).
  void SetFileSizeLimit(const std::string& limit) {
    ProcessResult r = RunProcess({"/usr/bin/prlimit", "--pid",
                                  absl::StrCat(daemon_->pid()),
                                  absl::StrCat("--fsize=", limit, ":unlimited")});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::unique_ptr<TestKeystore> keystore_;
  std::string dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<pb::CryptoService::Stub> crypto_;
  std::unique_ptr<pb::KeyService::Stub> keys_;
  std::unique_ptr<pb::AccessService::Stub> access_;
  std::unique_ptr<pb::SystemService::Stub> system_;
};

TEST_F(AuditOutageTest, RefusedMutationsChangeNothingEvenAfterARestart) {
  Start();
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  const uint64_t records_before = Status().audit_last_sequence();

  Start("/dev/full");
  // Finding: these answered UNAVAILABLE, yet after a restart the grant was
  // in force, the key had its new version and the new key existed.
  {
    grpc::ClientContext ctx;
    pb::CreatePolicyRequest req;
    req.set_policy_id("escalate");
    req.mutable_policy()->set_principal("unix:uid:4242");
    req.mutable_policy()->set_resource("*");
    req.mutable_policy()->add_operations(pb::OPERATION_ADMIN);
    pb::CreatePolicyResponse resp;
    grpc::Status s = access_->CreatePolicy(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(s.error_message(), HasSubstr("audit"));
  }
  EXPECT_EQ(Rotate("ed").error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(CreateKey("new", pb::KEY_TYPE_AES256_GCM).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  {
    grpc::ClientContext ctx;
    pb::UpdateKeyRequest req;
    req.mutable_key()->set_name("keys/ed");
    req.mutable_key()->set_description("changed while unaudited");
    req.add_update_mask("description");
    pb::UpdateKeyResponse resp;
    EXPECT_EQ(keys_->UpdateKey(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext ctx;
    pb::CreateApiKeyRequest req;
    req.set_api_key_id("ci");
    pb::CreateApiKeyResponse resp;
    grpc::Status s = access_->CreateApiKey(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_TRUE(resp.secret().empty());
  }
  EXPECT_EQ(Sign("ed").error_code(), grpc::StatusCode::UNAVAILABLE);
  // GetStatus still answers, and shows the outage.
  pb::GetStatusResponse status = Status();
  EXPECT_FALSE(status.audit().writable());
  EXPECT_TRUE(status.audit().has_failing_since());
  EXPECT_THAT(status.audit().error(), HasSubstr("No space left on device"));
  EXPECT_EQ(status.audit().refused_calls(), 6u);

  Start();
  pb::Key key;
  ASSERT_TRUE(GetKey("ed", &key).ok());
  EXPECT_EQ(key.primary_version(), 1u);
  EXPECT_EQ(key.description(), "");
  EXPECT_EQ(GetKey("new", &key).error_code(), grpc::StatusCode::NOT_FOUND);
  {
    grpc::ClientContext ctx;
    pb::ListPoliciesResponse policies;
    ASSERT_TRUE(
        access_->ListPolicies(&ctx, pb::ListPoliciesRequest(), &policies).ok());
    for (const auto& p : policies.policies()) {
      EXPECT_NE(p.principal(), "unix:uid:4242");
    }
  }
  {
    grpc::ClientContext ctx;
    pb::ListApiKeysResponse api_keys;
    ASSERT_TRUE(
        access_->ListApiKeys(&ctx, pb::ListApiKeysRequest(), &api_keys).ok());
    EXPECT_EQ(api_keys.api_keys_size(), 0);
  }
  // And the log holds nothing of them: the chain goes on from before.
  std::vector<pb::AuditRecord> records = AuditRecords();
  for (const auto& r : records) {
    if (r.sequence() > records_before) {
      EXPECT_THAT(r.method(), ::testing::Not(HasSubstr("CreatePolicy")));
      EXPECT_THAT(r.method(), ::testing::Not(HasSubstr("RotateKey")));
      EXPECT_THAT(r.method(), ::testing::Not(HasSubstr("CreateApiKey")));
    }
  }
  EXPECT_TRUE(VerifyAudit().ok());
}

TEST_F(AuditOutageTest, AnUnsealWhoseRecordIsRefusedLeavesTheDaemonSealed) {
  Start();
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  daemon_.reset();
  auto daemon = DaemonProcess::Start(
      dir_, keystore_->Args("start_sealed: true\naudit { path: \"/dev/full\" }\n",
                            "sealed.txtpb"));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  daemon_ = std::move(*daemon);
  auto channel = daemon_->NewChannel();
  system_ = pb::SystemService::NewStub(channel);
  crypto_ = pb::CryptoService::NewStub(channel);
  ASSERT_TRUE(Status().sealed());
  grpc::ClientContext ctx;
  pb::UnsealRequest req;
  req.set_passphrase("audit outage test passphrase");
  pb::UnsealResponse resp;
  grpc::Status s = system_->Unseal(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  // Refused, so not done: still sealed, and no key is usable.
  EXPECT_TRUE(Status().sealed());
  EXPECT_EQ(Sign("ed").error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(AuditOutageTest, ResumesByItselfWhenTheLogCanBeWrittenAgain) {
  Start();
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  ASSERT_TRUE(Sign("ed").ok());
  const off_t size = AuditLogSize();
  ASSERT_GT(size, 0);

  // Room for 40 more bytes: the next record is written part-way, then the
  // write fails (EFBIG), as on a disk that fills up.
  SetFileSizeLimit(absl::StrCat(size + 40));
  grpc::Status s = Sign("ed");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("audit"));
  EXPECT_EQ(Sign("ed").error_code(), grpc::StatusCode::UNAVAILABLE);
  {
    // (Not a key change here: the size limit also stops SQLite's own
    // writes; refused changes are the other test's.)
    grpc::ClientContext ctx;
    pb::GetPublicKeyRequest req;
    req.set_name("keys/ed");
    pb::GetPublicKeyResponse resp;
    EXPECT_EQ(crypto_->GetPublicKey(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAVAILABLE);
    EXPECT_TRUE(resp.public_key().empty());
  }
  // The torn record is not left at the end of the log.
  EXPECT_EQ(AuditLogSize(), size);
  pb::GetStatusResponse status = Status();
  EXPECT_FALSE(status.audit().writable());
  EXPECT_THAT(status.audit().error(), HasSubstr("File too large"));
  EXPECT_EQ(status.audit().refused_calls(), 3u);
  EXPECT_EQ(status.audit().outages(), 1u);

  SetFileSizeLimit("unlimited");
  EXPECT_TRUE(Sign("ed").ok());
  status = Status();
  EXPECT_TRUE(status.audit().writable());
  EXPECT_FALSE(status.audit().has_failing_since());
  EXPECT_EQ(status.audit().refused_calls(), 0u);
  EXPECT_EQ(status.audit().outages(), 1u);
  // The first record after the outage says what the log is missing.
  std::vector<pb::AuditRecord> records = AuditRecords();
  int gaps = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].method() != "daemon" ||
        records[i].details().count("note") == 0) {
      continue;
    }
    ++gaps;
    EXPECT_EQ(records[i].principal(), "keywardd");
    EXPECT_THAT(records[i].details().at("note"),
                HasSubstr("3 calls were refused"));
    EXPECT_THAT(records[i].details().at("note"), HasSubstr("File too large"));
    ASSERT_LT(i + 1, records.size());
    EXPECT_THAT(records[i + 1].method(), HasSubstr("Sign"));
    EXPECT_EQ(records[i + 1].code(), 0);
  }
  EXPECT_EQ(gaps, 1);
  pb::VerifyAuditLogResponse verdict = VerifyAudit();
  EXPECT_TRUE(verdict.ok()) << verdict.problem();
  EXPECT_EQ(verdict.torn_bytes(), 0u);
}

// A message of many streamed items runs in chunks on several threads, each
// chunk appending its records together: while the log cannot be written,
// every item is answered UNAVAILABLE without a signature, the log keeps no
// torn record, and once it can be written again every item is signed.
TEST_F(AuditOutageTest, StreamedItemsAreEachRefusedWhileTheLogCannotBeWritten) {
  Start();
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  ASSERT_TRUE(Sign("ed").ok());
  auto stream = pb::DataPlaneService::NewStub(daemon_->NewChannel());
  // Sends one message of 64 Sign items; returns each result's code.
  auto exchange = [&](std::vector<pb::StreamResult>* results) {
    grpc::ClientContext ctx;
    auto rw = stream->Stream(&ctx);
    pb::StreamRequest message;
    for (int i = 0; i < 64; ++i) {
      pb::StreamItem* item = message.add_items();
      item->set_id(i);
      item->mutable_sign()->set_name("keys/ed");
      item->mutable_sign()->set_data(absl::StrCat("item ", i));
    }
    EXPECT_TRUE(rw->Write(message));
    rw->WritesDone();
    pb::StreamResponse response;
    while (rw->Read(&response)) {
      for (const auto& r : response.results()) results->push_back(r);
    }
    return rw->Finish();
  };

  const off_t size = AuditLogSize();
  ASSERT_GT(size, 0);
  SetFileSizeLimit(absl::StrCat(size + 40));
  std::vector<pb::StreamResult> results;
  grpc::Status s = exchange(&results);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 64u);
  for (const auto& r : results) {
    EXPECT_EQ(r.status().code(), grpc::StatusCode::UNAVAILABLE) << r.id();
    EXPECT_THAT(r.status().message(), HasSubstr("audit"));
    EXPECT_FALSE(r.has_sign()) << r.id();
  }
  EXPECT_EQ(AuditLogSize(), size);
  EXPECT_EQ(Status().audit().refused_calls(), 64u);

  SetFileSizeLimit("unlimited");
  results.clear();
  s = exchange(&results);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 64u);
  for (const auto& r : results) {
    EXPECT_EQ(r.status().code(), 0) << r.id() << " " << r.status().message();
    EXPECT_FALSE(r.sign().signature().empty()) << r.id();
  }
  pb::VerifyAuditLogResponse verdict = VerifyAudit();
  EXPECT_TRUE(verdict.ok()) << verdict.problem();
}

TEST_F(AuditOutageTest, VerifyAuditOfflineNamesATornLastRecord) {
  Start();
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  const uint64_t records = Status().audit_last_sequence() + 1;  // + GetStatus
  daemon_.reset();
  const off_t intact = AuditLogSize();
  ProcessResult ok = RunProcess(
      {Runfile("daemon/keywardd"), "verify-audit", "--data_dir", dir_});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr(absl::StrCat("ok: ", records, " records")));
  // A full disk cut the last record short (the finding: this verified ok).
  std::ofstream(dir_ + "/audit.log", std::ios::app)
      << "{\"seq\":" << records + 1 << ",\"code\":\"OK\"";
  ProcessResult torn = RunProcess(
      {Runfile("daemon/keywardd"), "verify-audit", "--data_dir", dir_});
  EXPECT_EQ(torn.exit_code, 1) << torn.output;
  EXPECT_THAT(torn.output,
              HasSubstr(absl::StrCat("record ", records + 1, " is torn")));
  EXPECT_THAT(torn.output, HasSubstr(absl::StrCat("from offset ", intact)));
  // The daemon sets it aside at start and goes on from the intact chain.
  Start();
  EXPECT_EQ(AuditLogSize() >= intact, true);
  pb::VerifyAuditLogResponse verdict = VerifyAudit();
  EXPECT_TRUE(verdict.ok()) << verdict.problem();
  EXPECT_THAT(daemon_->Output(), HasSubstr("audit_torn_tail_quarantined"));
}

}  // namespace
}  // namespace keyward::testing
