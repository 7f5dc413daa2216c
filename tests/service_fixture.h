// ServiceTest: a gtest fixture running the real keywardd on a fresh data
// dir and Unix socket, with its keystore on the backend the test target
// chooses (test_storage.h), and stubs of every service. Test-only.
#ifndef KEYWARD_TESTS_SERVICE_FIXTURE_H_
#define KEYWARD_TESTS_SERVICE_FIXTURE_H_

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/test_storage.h"

namespace keyward::testing {

namespace pb = keyward::v1;

class ServiceTest : public ::testing::Test {
 protected:
  static constexpr const char* kPassphrase = "service test passphrase";

  void SetUp() override { Start({}); }

  // (Re)starts the daemon on the same data dir with `config_text`.
  void Start(const std::string& config_text) {
    // A clean stop: the daemon gives its maintenance lease up (a killed one
    // would hold it for three of its maintenance intervals).
    if (daemon_ != nullptr) daemon_->Signal(SIGTERM);
    daemon_.reset();
    if (dir_.empty()) {
      dir_ = NewTempDir();
      passphrase_ = dir_ + "/passphrase";
      std::ofstream(passphrase_) << kPassphrase << "\n";
      chmod(passphrase_.c_str(), 0600);
      auto storage = TestStorage::Create();
      ASSERT_TRUE(storage.ok()) << storage.status();
      storage_ = std::make_unique<TestStorage>(*storage);
      std::vector<std::string> init_args = {Runfile("daemon/keywardd"), "init",
                                            "--data_dir", dir_,
                                            "--passphrase_file", passphrase_};
      AddConfig("", &init_args);
      ProcessResult init = RunProcess(init_args);
      ASSERT_EQ(init.exit_code, 0) << init.output;
    }
    std::vector<std::string> args = {"--data_dir", dir_, "--passphrase_file",
                                     passphrase_};
    AddConfig(config_text, &args);
    auto daemon = DaemonProcess::Start(dir_, args);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    auto channel = daemon_->NewChannel();
    crypto_ = pb::CryptoService::NewStub(channel);
    keys_ = pb::KeyService::NewStub(channel);
    access_ = pb::AccessService::NewStub(channel);
    system_ = pb::SystemService::NewStub(channel);
  }

  // AddConfig writes the backend's storage config (test_storage.h) and
  // `config_text` to a config file and adds --config to `args`, if either
  // is not empty.
  void AddConfig(const std::string& config_text,
                 std::vector<std::string>* args) {
    if (storage_->config().empty() && config_text.empty()) return;
    std::string config = dir_ + "/keywardd.txtpb";
    std::ofstream(config) << storage_->config() << config_text;
    args->push_back("--config");
    args->push_back(config);
  }

  // The daemon's health as grpc.health.v1 reports it.
  grpc::health::v1::HealthCheckResponse::ServingStatus HealthStatus() {
    auto health = grpc::health::v1::Health::NewStub(daemon_->NewChannel());
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    EXPECT_TRUE(
        health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp).ok());
    return resp.status();
  }

  // Backup streams a CreateBackup into `out`.
  void Backup(std::string* out) {
    grpc::ClientContext ctx;
    auto reader = system_->CreateBackup(&ctx, pb::CreateBackupRequest());
    pb::CreateBackupResponse chunk;
    while (reader->Read(&chunk)) *out += chunk.data();
    grpc::Status s = reader->Finish();
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status CreateKey(const std::string& id, pb::KeyType type,
                         pb::KeyPurpose purpose = pb::KEY_PURPOSE_UNSPECIFIED) {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(type);
    req.mutable_key()->set_purpose(purpose);
    pb::CreateKeyResponse resp;
    return keys_->CreateKey(&ctx, req, &resp);
  }

  grpc::Status Sign(const std::string& key, const std::string& data,
                    pb::SignResponse* resp) {
    grpc::ClientContext ctx;
    pb::SignRequest req;
    req.set_name("keys/" + key);
    req.set_data(data);
    return crypto_->Sign(&ctx, req, resp);
  }

  pb::VerifyResponse Verify(const std::string& key, const std::string& data,
                            const std::string& signature,
                            grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    pb::VerifyRequest req;
    req.set_name("keys/" + key);
    req.set_data(data);
    req.set_signature(signature);
    pb::VerifyResponse resp;
    grpc::Status s = crypto_->Verify(&ctx, req, &resp);
    if (status) *status = s;
    EXPECT_TRUE(status || s.ok()) << s.error_message();
    return resp;
  }

  grpc::Status Encrypt(const std::string& key, const std::string& pt,
                       pb::EncryptResponse* resp) {
    grpc::ClientContext ctx;
    pb::EncryptRequest req;
    req.set_name("keys/" + key);
    req.set_plaintext(pt);
    req.set_associated_data("aad");
    return crypto_->Encrypt(&ctx, req, resp);
  }

  grpc::Status Decrypt(const std::string& key, const std::string& ct,
                       pb::DecryptResponse* resp) {
    grpc::ClientContext ctx;
    pb::DecryptRequest req;
    req.set_name("keys/" + key);
    req.set_ciphertext(ct);
    req.set_associated_data("aad");
    return crypto_->Decrypt(&ctx, req, resp);
  }

  std::string dir_, passphrase_;
  // The keystore's backend (test_storage.h).
  std::unique_ptr<TestStorage> storage_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<pb::CryptoService::Stub> crypto_;
  std::unique_ptr<pb::KeyService::Stub> keys_;
  std::unique_ptr<pb::AccessService::Stub> access_;
  std::unique_ptr<pb::SystemService::Stub> system_;
};

}  // namespace keyward::testing

#endif  // KEYWARD_TESTS_SERVICE_FIXTURE_H_
