// The BoringSSL flavor of tests:postgres_daemon_test: this build has no
// PostgreSQL client (libpq links OpenSSL 3), so every keywardd command given
// a config with storage.postgres is refused at start, exit 2, with a message
// saying so, and nothing is created.
#include <sys/stat.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon_process.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kNoPostgres =
    "this build (the BoringSSL flavor) has no PostgreSQL";

class PostgresDaemonUnavailableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir();
    passphrase_ = dir_ + "/passphrase";
    std::ofstream(passphrase_) << "a passphrase\n";
    chmod(passphrase_.c_str(), 0600);
    pg_password_ = dir_ + "/pg-password";
    std::ofstream(pg_password_) << "pw\n";
    chmod(pg_password_.c_str(), 0600);
    config_ = dir_ + "/keywardd.txtpb";
    std::ofstream(config_)
        << "storage { postgres { dsn: \"host=/run/postgresql dbname=keyward "
           "user=keyward\" password_file: \""
        << pg_password_ << "\" pool_size: 4 } }\n";
  }

  ProcessResult Keywardd(std::vector<std::string> args) {
    args.insert(args.begin(), Runfile("daemon/keywardd"));
    return RunProcess(args, absl::Seconds(30));
  }

  std::string dir_, passphrase_, pg_password_, config_;
};

TEST_F(PostgresDaemonUnavailableTest, InitIsRefused) {
  ProcessResult r = Keywardd({"init", "--config", config_, "--data_dir", dir_,
                              "--passphrase_file", passphrase_});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(kNoPostgres));
  EXPECT_THAT(r.output, HasSubstr("storage.postgres"));
  struct stat st;
  EXPECT_NE(stat((dir_ + "/keystore.db").c_str(), &st), 0);
}

TEST_F(PostgresDaemonUnavailableTest, ServingIsRefused) {
  ProcessResult r = Keywardd({"--config", config_, "--data_dir", dir_,
                              "--passphrase_file", passphrase_, "--socket",
                              dir_ + "/k.sock"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(kNoPostgres));
  struct stat st;
  EXPECT_NE(stat((dir_ + "/k.sock").c_str(), &st), 0);
}

TEST_F(PostgresDaemonUnavailableTest, RestoreIsRefused) {
  const std::string backup = dir_ + "/b.backup";
  std::ofstream(backup) << "x";
  ProcessResult r = Keywardd({"restore", "--config", config_, "--data_dir",
                              dir_, "--passphrase_file", passphrase_, "--in",
                              backup});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(kNoPostgres));
}

// Without storage.postgres the same build still uses SQLite.
TEST_F(PostgresDaemonUnavailableTest, SqliteStillWorks) {
  ProcessResult r = Keywardd({"init", "--data_dir", dir_, "--passphrase_file",
                              passphrase_});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  struct stat st;
  EXPECT_EQ(stat((dir_ + "/keystore.db").c_str(), &st), 0);
}

}  // namespace
}  // namespace keyward::testing
