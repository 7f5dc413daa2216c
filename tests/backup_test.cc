// End-to-end: backups of a SQLite keystore through the real keywardd, made
// with CreateBackup and restored offline (`keywardd restore`) and online
// (RestoreBackup).
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service_fixture.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;
using BackupTest = ServiceTest;

TEST_F(BackupTest, BackupRestoresEveryKeyOnlyWithThePassphrase) {
  ASSERT_TRUE(CreateKey("data", pb::KEY_TYPE_AES256_GCM).ok());
  ASSERT_TRUE(CreateKey("sig", pb::KEY_TYPE_ECDSA_P256).ok());
  pb::EncryptResponse ct;
  ASSERT_TRUE(Encrypt("data", "kept across restore", &ct).ok());
  {
    grpc::ClientContext ctx;
    pb::RotateKeyRequest req;
    req.set_name("keys/data");
    pb::RotateKeyResponse resp;
    ASSERT_TRUE(keys_->RotateKey(&ctx, req, &resp).ok());
  }
  pb::SignResponse sig;
  ASSERT_TRUE(Sign("sig", "signed before", &sig).ok());

  std::string backup;
  ASSERT_NO_FATAL_FAILURE(Backup(&backup));
  ASSERT_GT(backup.size(), 100u);
  EXPECT_EQ(backup.substr(0, 10), "KWBACKUP2\n");
  EXPECT_EQ(backup.find("kept across restore"), std::string::npos);

  // Lose the data dir.
  daemon_.reset();
  for (const char* f : {"/keystore.db", "/keystore.db-wal", "/keystore.db-shm"}) {
    unlink((dir_ + f).c_str());
  }
  const std::string file = dir_ + "/backup.kw";
  std::ofstream(file, std::ios::binary) << backup;
  std::string wrong = dir_ + "/wrong";
  std::ofstream(wrong) << "not the passphrase\n";
  chmod(wrong.c_str(), 0600);
  ProcessResult r = RunProcess({Runfile("daemon/keywardd"), "restore",
                                "--data-dir", dir_, "--passphrase-file", wrong,
                                "--in", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("wrong passphrase"));
  EXPECT_NE(access((dir_ + "/keystore.db").c_str(), F_OK), 0) << "nothing written";

  std::string tampered = backup;
  tampered[tampered.size() - 40] ^= 1;
  std::ofstream(dir_ + "/tampered.kw", std::ios::binary) << tampered;
  r = RunProcess({Runfile("daemon/keywardd"), "restore", "--data-dir", dir_,
                  "--passphrase-file", passphrase_, "--in", dir_ + "/tampered.kw"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("integrity"));
  EXPECT_NE(access((dir_ + "/keystore.db").c_str(), F_OK), 0) << "nothing written";

  r = RunProcess({Runfile("daemon/keywardd"), "restore", "--data-dir", dir_,
                  "--passphrase-file", passphrase_, "--in", file});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Start("");
  pb::DecryptResponse pt;
  ASSERT_TRUE(Decrypt("data", ct.ciphertext(), &pt).ok());
  EXPECT_EQ(pt.plaintext(), "kept across restore");
  EXPECT_TRUE(Verify("sig", "signed before", sig.signature()).valid());
  grpc::ClientContext ctx;
  pb::GetKeyRequest req;
  req.set_name("keys/data");
  pb::GetKeyResponse key;
  ASSERT_TRUE(keys_->GetKey(&ctx, req, &key).ok());
  EXPECT_EQ(key.key().primary_version(), 2u);
}

TEST_F(BackupTest, OnlineRestoreSwapsTheKeystoreAndSeals) {
  const std::string kPass = kPassphrase;
  ASSERT_TRUE(CreateKey("data", pb::KEY_TYPE_AES256_GCM).ok());
  pb::EncryptResponse ct;
  ASSERT_TRUE(Encrypt("data", "made before the backup", &ct).ok());
  std::string backup;
  ASSERT_NO_FATAL_FAILURE(Backup(&backup));
  ASSERT_TRUE(CreateKey("later", pb::KEY_TYPE_ED25519).ok());

  // Streams the backup in 4 KiB messages.
  auto restore = [&](const std::string& bytes, const std::string& passphrase,
                     bool replace) {
    grpc::ClientContext ctx;
    pb::RestoreBackupResponse resp;
    auto writer = system_->RestoreBackup(&ctx, &resp);
    pb::RestoreBackupRequest msg;
    msg.set_passphrase(passphrase);
    msg.set_replace_existing(replace);
    for (size_t at = 0; at < bytes.size(); at += 4096) {
      msg.set_data(bytes.substr(at, 4096));
      if (!writer->Write(msg)) break;
      msg.clear_passphrase();
      msg.clear_replace_existing();
    }
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    return std::make_pair(s, resp);
  };
  auto still_unsealed_with_later = [&] {
    pb::SignResponse sig;
    return Sign("later", "x", &sig).ok();
  };
  EXPECT_EQ(restore(backup, kPass, false).first.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  auto wrong = restore(backup, "not the passphrase", true).first;
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(wrong.error_message(), HasSubstr("passphrase"));
  std::string tampered = backup;
  tampered[tampered.size() - 40] ^= 1;
  EXPECT_EQ(restore(tampered, kPass, true).first.error_code(),
            grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(restore(backup.substr(0, backup.size() / 2), kPass, true)
                .first.error_code(),
            grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(restore("GIF89a not a backup", kPass, true)
                .first.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(restore(backup, "", true).first.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(still_unsealed_with_later()) << "refused restores change nothing";

  auto [status, resp] = restore(backup, kPass, true);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.info().key_count(), 1u);
  EXPECT_EQ(HealthStatus(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  pb::DecryptResponse pt;
  EXPECT_EQ(Decrypt("data", ct.ciphertext(), &pt).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  {
    grpc::ClientContext ctx;
    pb::UnsealRequest req;
    req.set_passphrase(kPass);
    pb::UnsealResponse unsealed;
    grpc::Status s = system_->Unseal(&ctx, req, &unsealed);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_TRUE(Decrypt("data", ct.ciphertext(), &pt).ok());
  EXPECT_EQ(pt.plaintext(), "made before the backup");
  grpc::ClientContext ctx;
  pb::GetKeyRequest req;
  req.set_name("keys/later");
  pb::GetKeyResponse key;
  EXPECT_EQ(keys_->GetKey(&ctx, req, &key).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // No staged copy is left in the data dir.
  ProcessResult ls = RunProcess({"/bin/sh", "-c", "ls " + dir_});
  EXPECT_THAT(ls.output, ::testing::Not(HasSubstr("restore-")));
}

}  // namespace
}  // namespace keyward::testing
