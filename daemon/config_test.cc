#include "daemon/config.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keyward::daemon {
namespace {

using ::testing::HasSubstr;

std::string WriteFile(const std::string& text) {
  static int n = 0;
  std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/config", n++, ".txtpb");
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, ParsesAndFillsDefaults) {
  auto config = LoadConfigFile(WriteFile(R"(
    data_dir: "/srv/keyward"
    unix_socket { mode: 0600 }
    key_cache_size: 10
  )"));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(FinalizeConfig(&*config).ok());
  EXPECT_EQ(config->unix_socket().path(), "/srv/keyward/keyward.sock");
  EXPECT_EQ(config->unix_socket().mode(), 0600u);
  EXPECT_EQ(config->key_cache_size(), 10u);
  EXPECT_EQ(config->scrypt().log2_n(), 15u);
  EXPECT_EQ(config->shutdown_grace_period().seconds(), 10);
  EXPECT_EQ(config->audit().path(), "/srv/keyward/audit.log");
}

TEST(ConfigTest, DefaultsWithNothingSet) {
  keyward::v1::DaemonConfig config;
  ASSERT_TRUE(FinalizeConfig(&config).ok());
  EXPECT_EQ(config.data_dir(), "/var/lib/keyward");
  EXPECT_EQ(config.unix_socket().mode(), 0660u);
  EXPECT_EQ(config.key_cache_size(), 1024u);
}

// The default replica_id is "{hostname}:{data_dir}" made valid: a data_dir
// with other characters, or a long one, still finalizes, and finalizing
// again keeps it (found by //tests/fuzz:config_fuzzer).
TEST(ConfigTest, DefaultReplicaIdIsValidForAnyDataDir) {
  for (const std::string& dir :
       {std::string("/srv/keyward"), std::string("/srv/key ward>1"),
        "/" + std::string(300, 'd'), "/" + std::string(300, '>')}) {
    SCOPED_TRACE(dir);
    keyward::v1::DaemonConfig config;
    config.set_data_dir(dir);
    ASSERT_TRUE(FinalizeConfig(&config).ok());
    const std::string& id = config.replica_id();
    EXPECT_LE(id.size(), 200u);
    EXPECT_NE(id.find(':'), std::string::npos);
    EXPECT_EQ(id.find_first_of(" >"), std::string::npos) << id;
    keyward::v1::DaemonConfig again = config;
    ASSERT_TRUE(FinalizeConfig(&again).ok());
    EXPECT_EQ(again.replica_id(), id);
  }
  keyward::v1::DaemonConfig a, b;
  a.set_data_dir("/" + std::string(300, 'd') + "a");
  b.set_data_dir("/" + std::string(300, 'd') + "b");
  ASSERT_TRUE(FinalizeConfig(&a).ok());
  ASSERT_TRUE(FinalizeConfig(&b).ok());
  EXPECT_NE(a.replica_id(), b.replica_id());  // the hash tells them apart
  keyward::v1::DaemonConfig given;
  given.set_replica_id("has space");
  EXPECT_EQ(FinalizeConfig(&given).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, AuditFsync) {
  keyward::v1::DaemonConfig config;
  ASSERT_TRUE(FinalizeConfig(&config).ok());
  EXPECT_EQ(config.audit().fsync(), keyward::v1::AUDIT_FSYNC_EVERY_RECORD);

  auto interval = LoadConfigFile(WriteFile("audit { fsync: AUDIT_FSYNC_INTERVAL }"));
  ASSERT_TRUE(interval.ok()) << interval.status();
  ASSERT_TRUE(FinalizeConfig(&*interval).ok());
  EXPECT_EQ(interval->audit().fsync(), keyward::v1::AUDIT_FSYNC_INTERVAL);
  EXPECT_EQ(interval->audit().fsync_interval().seconds(), 1);  // the default

  for (const char* text :
       {"audit { fsync: AUDIT_FSYNC_INTERVAL fsync_interval { nanos: 1000000 } }",
        "audit { fsync: AUDIT_FSYNC_INTERVAL fsync_interval { seconds: 60 } }",
        // Ignored unless fsync is INTERVAL.
        "audit { fsync: AUDIT_FSYNC_EVERY_RECORD fsync_interval { seconds: 0 } }"}) {
    auto loaded = LoadConfigFile(WriteFile(text));
    ASSERT_TRUE(loaded.ok()) << text;
    absl::Status s = FinalizeConfig(&*loaded);
    EXPECT_TRUE(s.ok()) << text << ": " << s;
  }
}

TEST(ConfigTest, AuditRotationAndRetentionAreAcceptedInRange) {
  for (const char* text :
       {"audit { rotate_bytes: 16384 keep_files: 1 }",
        "audit { rotate_bytes: 1099511627776 compress: true }",
        "audit { rotate_interval { seconds: 60 } keep_age { seconds: 60 } "
        "require_shipped: true }",
        "audit { keep_files: 10 require_shipped: true }"}) {
    auto loaded = LoadConfigFile(WriteFile(text));
    ASSERT_TRUE(loaded.ok()) << text;
    absl::Status s = FinalizeConfig(&*loaded);
    EXPECT_TRUE(s.ok()) << text << ": " << s;
  }
}

TEST(ConfigTest, SyntaxErrorsNameFileLineAndColumn) {
  std::string path = WriteFile("data_dir: \"/x\"\nno_such_field: 3\n");
  auto config = LoadConfigFile(path);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr(path + ":2:"));
  EXPECT_THAT(config.status().message(), HasSubstr("no_such_field"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadConfigFile("/nonexistent/keyward.txtpb").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ConfigTest, BadValuesNameTheField) {
  struct Case {
    const char* text;
    const char* field;
  } cases[] = {
      {"unix_socket { mode: 01777 }", "unix_socket.mode"},
      {"key_cache_size: 2000000", "key_cache_size"},
      {"scrypt { log2_n: 10 }", "scrypt.log2_n"},
      {"session_token_ttl { seconds: 5 }", "session_token_ttl"},
      {"shutdown_grace_period { seconds: -1 }", "shutdown_grace_period"},
      {"maintenance_interval { nanos: 1000 }", "maintenance_interval"},
      {"maintenance_interval { seconds: 90000 }", "maintenance_interval"},
      {"tcp_listeners { address: \"nohostport\" }", "tcp_listeners[0].address"},
      {"unix_socket { disabled: true }", "unix_socket.disabled"},
      {"audit { fsync: AUDIT_FSYNC_INTERVAL fsync_interval {} }",
       "audit.fsync_interval"},
      {"audit { fsync: AUDIT_FSYNC_INTERVAL fsync_interval { seconds: -1 } }",
       "audit.fsync_interval"},
      {"audit { fsync: AUDIT_FSYNC_INTERVAL fsync_interval { seconds: 61 } }",
       "audit.fsync_interval"},
      {"audit { fsync: 7 }", "audit.fsync"},
      {"audit { rotate_bytes: 16383 }", "audit.rotate_bytes"},
      {"audit { rotate_bytes: 1099511627777 }", "audit.rotate_bytes"},
      {"audit { rotate_interval { seconds: 59 } }", "audit.rotate_interval"},
      {"audit { rotate_interval {} }", "audit.rotate_interval"},
      {"audit { keep_files: 1000001 }", "audit.keep_files"},
      {"audit { keep_age { seconds: -60 } }", "audit.keep_age"},
      // It would guard nothing: no rotated file is ever removed.
      {"audit { require_shipped: true }", "audit.require_shipped"},
  };
  for (const Case& c : cases) {
    auto config = LoadConfigFile(WriteFile(c.text));
    ASSERT_TRUE(config.ok()) << c.text;
    absl::Status s = FinalizeConfig(&*config);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(s.message(), HasSubstr(c.field)) << c.text;
  }
}

}  // namespace
}  // namespace keyward::daemon
