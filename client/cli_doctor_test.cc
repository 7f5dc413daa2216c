#include "client/cli_doctor.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace keyward::cli {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kSecret[] = "correct-horse-battery-staple-7f3a";

// Host is a healthy keywardd layout in a temporary directory (short, so that
// the socket path fits): data dir 0700, passphrase file 0600, a bound
// socket 0660, an audit log 0600 and a config naming them.
class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/keyward-doctor-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root_ = dir;
    ASSERT_EQ(chmod(dir, 0750), 0);  // as /run/keyward: the group may enter
    data_ = root_ + "/data";
    ASSERT_EQ(mkdir(data_.c_str(), 0700), 0);
    passphrase_ = root_ + "/passphrase";
    Write(passphrase_, kSecret, 0600);
    audit_ = data_ + "/audit.log";
    Write(audit_, "", 0600);
    socket_ = root_ + "/kw.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(socket_.size(), sizeof(addr.sun_path));
    memcpy(addr.sun_path, socket_.data(), socket_.size());
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(chmod(socket_.c_str(), 0660), 0);
    WriteConfig("");
    options_.config_path = config_;
    options_.fail_free_bytes = 0;
    options_.warn_free_bytes = 0;
    status_.set_version("0.1.0");
    status_.set_key_count(3);
    status_.mutable_audit()->set_writable(true);
    *status_.mutable_start_time() = TimeUtil::GetCurrentTime();
    options_.get_status = [this](const std::string& target)
        -> absl::StatusOr<v1::GetStatusResponse> {
      asked_ = target;
      if (!daemon_up_) return absl::UnavailableError("connection refused");
      return status_;
    };
  }
  void TearDown() override {
    close(fd_);
    std::string cmd = absl::StrCat("rm -rf '", root_, "'");
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  static void Write(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  }
  void WriteConfig(const std::string& extra) {
    config_ = root_ + "/keywardd.textproto";
    Write(config_,
          absl::StrCat("data_dir: \"", data_, "\"\npassphrase_file: \"", passphrase_,
                       "\"\nunix_socket { path: \"", socket_, "\" mode: 0660 }\n", extra),
          0644);
  }

  // Run returns the text report and sets exit_.
  std::string Run(bool json = false) {
    results_ = RunDoctorChecks(options_);
    std::ostringstream out;
    exit_ = PrintDoctorReport(results_, json, out);
    return out.str();
  }
  const CheckResult* Find(absl::string_view check) const {
    for (const CheckResult& r : results_) {
      if (r.check == check) return &r;
    }
    return nullptr;
  }
  CheckLevel LevelOf(absl::string_view check) const {
    const CheckResult* r = Find(check);
    EXPECT_NE(r, nullptr) << "no check named " << check;
    return r == nullptr ? CheckLevel::kOk : r->level;
  }

  std::string root_, data_, passphrase_, audit_, socket_, config_;
  int fd_ = -1;
  DoctorOptions options_;
  v1::GetStatusResponse status_;
  bool daemon_up_ = true;
  std::string asked_;
  std::vector<CheckResult> results_;
  int exit_ = -1;
};

TEST_F(DoctorTest, AHealthyHostPasses) {
  std::string out = Run();
  EXPECT_EQ(exit_, 0) << out;
  for (const CheckResult& r : results_) {
    if (r.check == "clock") continue;  // a container's NTP state varies
    EXPECT_EQ(r.level, CheckLevel::kOk) << r.check << ": " << r.detail;
  }
  EXPECT_EQ(asked_, "unix://" + socket_);
  EXPECT_TRUE(absl::StrContains(out, "doctor: 0 failed")) << out;
  EXPECT_FALSE(absl::StrContains(out, kSecret));
}

TEST_F(DoctorTest, APassphraseFileReadableByOthersFailsWithTheFix) {
  ASSERT_EQ(chmod(passphrase_.c_str(), 0644), 0);
  std::string out = Run();
  EXPECT_EQ(exit_, 1);
  ASSERT_EQ(LevelOf("passphrase file"), CheckLevel::kFail);
  EXPECT_EQ(Find("passphrase file")->fix, "chmod 600 " + passphrase_);
  EXPECT_TRUE(absl::StrContains(out, "mode 0644")) << out;
  EXPECT_FALSE(absl::StrContains(out, kSecret)) << out;
  EXPECT_FALSE(absl::StrContains(Run(/*json=*/true), kSecret));
}

TEST_F(DoctorTest, AMissingPassphraseFileFails) {
  ASSERT_EQ(unlink(passphrase_.c_str()), 0);
  Run();
  EXPECT_EQ(exit_, 1);
  EXPECT_EQ(LevelOf("passphrase file"), CheckLevel::kFail);
}

TEST_F(DoctorTest, AnOpenDataDirFails) {
  ASSERT_EQ(chmod(data_.c_str(), 0755), 0);
  Run();
  EXPECT_EQ(exit_, 1);
  EXPECT_EQ(LevelOf("data dir"), CheckLevel::kFail);
  EXPECT_EQ(Find("data dir")->fix, "chmod 700 " + data_);
}

TEST_F(DoctorTest, AWorldConnectableSocketFails) {
  ASSERT_EQ(chmod(socket_.c_str(), 0666), 0);
  std::string out = Run();
  EXPECT_EQ(exit_, 1);
  EXPECT_EQ(LevelOf("socket"), CheckLevel::kFail);
  EXPECT_TRUE(absl::StrContains(out, "any local user can connect")) << out;
}

TEST_F(DoctorTest, ASocketDirectoryClosedToTheGroupWarns) {
  ASSERT_EQ(chmod(root_.c_str(), 0700), 0);
  Run();
  EXPECT_EQ(LevelOf("socket"), CheckLevel::kWarn);
  EXPECT_EQ(Find("socket")->fix, "chmod g+x " + root_);
}

TEST_F(DoctorTest, AMissingSocketAndASilentDaemonFail) {
  ASSERT_EQ(unlink(socket_.c_str()), 0);
  daemon_up_ = false;
  Run();
  EXPECT_EQ(exit_, 1);
  EXPECT_EQ(LevelOf("socket"), CheckLevel::kFail);
  EXPECT_EQ(LevelOf("daemon"), CheckLevel::kFail);
  EXPECT_TRUE(absl::StrContains(Find("daemon")->fix, "systemctl start keywardd"));
}

TEST_F(DoctorTest, ALowDiskFails) {
  options_.fail_free_bytes = UINT64_MAX;
  std::string out = Run();
  EXPECT_EQ(exit_, 1);
  EXPECT_EQ(LevelOf("disk space (data dir and audit log)"), CheckLevel::kFail) << out;
}

TEST_F(DoctorTest, LittleDiskWarnsOnly) {
  options_.warn_free_bytes = UINT64_MAX;
  Run();
  EXPECT_EQ(LevelOf("disk space (data dir and audit log)"), CheckLevel::kWarn);
}

TEST_F(DoctorTest, AReadableAuditLogFails) {
  ASSERT_EQ(chmod(audit_.c_str(), 0644), 0);
  Run();
  EXPECT_EQ(exit_, 1);
  EXPECT_EQ(LevelOf("audit log"), CheckLevel::kFail);
}

TEST_F(DoctorTest, ValuesAgainstTheRecommendationsWarn) {
  WriteConfig(
      "audit { fsync: AUDIT_FSYNC_INTERVAL }\nkey_cache_size: 8\n"
      "metrics_address: \"0.0.0.0:9464\"\nsession_token_ttl { seconds: 86400 }\n");
  std::string out = Run();
  EXPECT_EQ(exit_, 0) << out;  // warnings only
  int warnings = 0;
  for (const CheckResult& r : results_) {
    if (r.check == "config values") {
      EXPECT_EQ(r.level, CheckLevel::kWarn);
      ++warnings;
    }
  }
  EXPECT_EQ(warnings, 4) << out;
  EXPECT_EQ(LevelOf("key cache"), CheckLevel::kOk);  // 8 >= 3 keys
}

TEST_F(DoctorTest, AnInvalidConfigFailsAndStops) {
  WriteConfig("key_cache_size: 2000000\n");
  std::string out = Run();
  EXPECT_EQ(exit_, 1);
  ASSERT_EQ(results_.size(), 1u) << out;
  EXPECT_EQ(results_[0].check, "config");
  EXPECT_TRUE(absl::StrContains(results_[0].detail, "key_cache_size")) << out;
}

TEST_F(DoctorTest, SealedWarnsAndAnUnwritableAuditLogFails) {
  status_.set_sealed(true);
  status_.mutable_audit()->set_writable(false);
  status_.mutable_audit()->set_error("write: No space left on device");
  Run();
  EXPECT_EQ(exit_, 1);
  EXPECT_EQ(LevelOf("daemon"), CheckLevel::kWarn);
  EXPECT_EQ(LevelOf("daemon audit log"), CheckLevel::kFail);
}

TEST_F(DoctorTest, MoreKeysThanTheCacheWarns) {
  status_.set_key_count(5000);
  Run();
  EXPECT_EQ(LevelOf("key cache"), CheckLevel::kWarn);
  EXPECT_TRUE(absl::StrContains(Find("key cache")->fix, "at least 5000"));
}

TEST_F(DoctorTest, ADaemonClockFarOffFails) {
  options_.now = [] { return absl::Now() + absl::Minutes(5); };
  Run();
  EXPECT_EQ(LevelOf("daemon clock"), CheckLevel::kFail);
}

TEST_F(DoctorTest, JsonListsEveryCheck) {
  std::string json = Run(/*json=*/true);
  EXPECT_TRUE(absl::StrContains(json, "\"check\": \"passphrase file\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"level\": \"ok\"")) << json;
}

}  // namespace
}  // namespace keyward::cli
