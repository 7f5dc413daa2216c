// Test helpers for the CLI's handler unit tests: run a command line through
// RunCli against a MockClient, capturing exit code, output and errors.
#ifndef KEYWARD_CLIENT_CLI_TEST_UTIL_H_
#define KEYWARD_CLIENT_CLI_TEST_UTIL_H_

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli_command.h"
#include "client/mock_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace keyward::cli::testing {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::StrictMock;
using ::testing::Truly;

// CommandTest is the fixture of handler tests: a strict mock client.
class CommandTest : public ::testing::Test {
 protected:
  StrictMock<MockClient> client_;
};

// Forwarder hands RunCli an owned ClientInterface that calls the test's
// mock.
class Forwarder : public ClientInterface {
 public:
  explicit Forwarder(ClientInterface* target) : t_(target) {}
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> CheckHealth(
      const std::string& service) override {
    return t_->CheckHealth(service);
  }
  absl::StatusOr<v1::GetStatusResponse> GetStatus() override { return t_->GetStatus(); }
  absl::StatusOr<v1::SealResponse> Seal() override { return t_->Seal(); }
  absl::StatusOr<v1::RotateAuditLogResponse> RotateAuditLog() override {
    return t_->RotateAuditLog();
  }
  absl::StatusOr<v1::WhoAmIResponse> WhoAmI() override { return t_->WhoAmI(); }
  absl::StatusOr<v1::BackupInfo> CreateBackup(
      const std::function<absl::Status(absl::string_view)>& sink) override {
    return t_->CreateBackup(sink);
  }
  absl::StatusOr<v1::RestoreBackupResponse> RestoreBackup(
      const std::string& passphrase, bool replace,
      const std::function<absl::StatusOr<std::string>()>& next) override {
    return t_->RestoreBackup(passphrase, replace, next);
  }
  absl::Status ReadAuditLog(
      const v1::ReadAuditLogRequest& request,
      const std::function<bool(const v1::ReadAuditLogResponse&)>& on) override {
    return t_->ReadAuditLog(request, on);
  }
#define KEYWARD_FORWARD_(Method)                                              \
  absl::StatusOr<v1::Method##Response> Method(const v1::Method##Request& r) \
      override {                                                              \
    return t_->Method(r);                                                     \
  }
  KEYWARD_CLIENT_UNARY_RPCS(KEYWARD_FORWARD_)
#undef KEYWARD_FORWARD_

 private:
  ClientInterface* t_;
};

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  int connects = 0;  // how many clients were made
};

// RunWith runs `args` against `client`.
inline CliResult RunWith(ClientInterface& client, const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  CliResult result;
  Environment env;
  env.out = &out;
  env.err = &err;
  env.connect = [&](const ClientOptions&)
      -> absl::StatusOr<std::unique_ptr<ClientInterface>> {
    ++result.connects;
    return std::make_unique<Forwarder>(&client);
  };
  result.exit_code = RunCli(args, env);
  result.out = out.str();
  result.err = err.str();
  return result;
}

// TempPath is a file name in the test's temporary folder.
inline std::string TempPath(const std::string& name) {
  const char* dir = getenv("TEST_TMPDIR");
  return std::string(dir == nullptr ? "/tmp" : dir) + "/" + name;
}

inline std::string WriteTemp(const std::string& name, const std::string& data,
                             mode_t mode = 0600) {
  std::string path = TempPath(name);
  unlink(path.c_str());
  std::ofstream(path, std::ios::binary) << data;
  chmod(path.c_str(), mode);
  return path;
}

inline std::string ReadTemp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ExpectUsageError: exit 2, one error line naming `text`, no call made.
inline void ExpectRefusedBeforeAnyCall(const CliResult& r, const std::string& text) {
  EXPECT_EQ(r.exit_code, kExitError) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr(text));
  EXPECT_THAT(r.err, ::testing::StartsWith("keyward: "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.connects, 0);
  EXPECT_EQ(r.out, "");
}

}  // namespace keyward::cli::testing

#endif  // KEYWARD_CLIENT_CLI_TEST_UTIL_H_
