#include "daemon/audited_change.h"

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/sqlite_storage.h"

namespace keyward::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// A real audit log and a real SQLite keystore file; the audit log's disk
// can be made full.
class AuditedChangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    const std::string base =
        absl::StrCat(getenv("TEST_TMPDIR"), "/audited", n++);
    audit_path_ = base + ".log";
    AuditLogOptions options;
    options.write = [this](int fd, const void* data, size_t size) -> ssize_t {
      if (full_) {
        errno = ENOSPC;
        return -1;
      }
      return write(fd, data, size);
    };
    auto log = AuditLog::Open(audit_path_, options);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
    auto storage = keystore::SqliteStorage::Open(
        base + ".db", keystore::SqliteStorage::Mode::kCreateNew);
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
  }

  AuditEntry Entry() {
    AuditEntry e;
    e.principal = "unix:uid:1000";
    e.method = "AccessService/CreatePolicy";
    e.operation = "ADMIN";
    e.resource = "*";
    e.request_id = "req";
    return e;
  }

  keystore::PolicyRecord Policy(const std::string& id) {
    keystore::PolicyRecord p;
    p.id = id;
    p.principal = "unix:uid:4242";
    p.resource = "*";
    p.operations = {"ADMIN"};
    return p;
  }

  std::vector<std::string> Records() {
    auto lines = AuditLog::Read(audit_path_, 1, 100);
    EXPECT_TRUE(lines.ok());
    return lines.ok() ? *lines : std::vector<std::string>();
  }

  bool full_ = false;
  std::string audit_path_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<keystore::SqliteStorage> storage_;
};

TEST_F(AuditedChangeTest, AChangeIsRecordedInItsTransactionOnce) {
  absl::Status s = RunAudited(*log_, Entry(), [&](int32_t*) {
    return storage_->CreatePolicy(Policy("p"));
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(storage_->ListPolicies().value(), SizeIs(1));
  ASSERT_THAT(Records(), SizeIs(1));
  EXPECT_THAT(Records()[0], HasSubstr("\"code\":\"OK\""));
}

TEST_F(AuditedChangeTest, AnUnwritableRecordRollsTheChangeBack) {
  full_ = true;
  absl::Status s = RunAudited(*log_, Entry(), [&](int32_t*) {
    return storage_->CreatePolicy(Policy("p"));
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(storage_->ListPolicies().value(), SizeIs(0));
  full_ = false;
  EXPECT_THAT(Records(), SizeIs(0));
}

TEST_F(AuditedChangeTest, ABodyThatIgnoresTheRefusedChangeIsStillRefused) {
  // As Login did with its last-login update: the change's failure was
  // ignored and the call answered OK, unaudited.
  full_ = true;
  absl::Status s = RunAudited(*log_, Entry(), [&](int32_t*) {
    storage_->CreatePolicy(Policy("p")).IgnoreError();
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("audit"));
  EXPECT_THAT(storage_->ListPolicies().value(), SizeIs(0));
}

TEST_F(AuditedChangeTest, ARefusalBeforeAnyChangeIsRecordedWithItsCode) {
  absl::Status s = RunAudited(*log_, Entry(), [&](int32_t*) {
    return absl::PermissionDeniedError("no grant");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  ASSERT_THAT(Records(), SizeIs(1));
  EXPECT_THAT(Records()[0], HasSubstr("\"code\":\"PERMISSION_DENIED\""));
  // And with the log down, the refusal itself cannot be answered unaudited.
  full_ = true;
  s = RunAudited(*log_, Entry(), [&](int32_t*) { return absl::OkStatus(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
}

TEST_F(AuditedChangeTest, AFailureAfterTheChangeSaysTheChangeWasMade) {
  absl::Status s = RunAudited(*log_, Entry(), [&](int32_t*) {
    absl::Status made = storage_->CreatePolicy(Policy("p"));
    if (!made.ok()) return made;
    return absl::UnavailableError("reading it back failed");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("the change was made"));
  EXPECT_THAT(storage_->ListPolicies().value(), SizeIs(1));
  ASSERT_THAT(Records(), SizeIs(2));
  EXPECT_THAT(Records()[0], HasSubstr("\"code\":\"OK\""));
  EXPECT_THAT(Records()[1], HasSubstr("\"code\":\"UNAVAILABLE\""));
}

TEST_F(AuditedChangeTest, AnInMemoryChangeIsUndoneIfItsRecordIsRefused) {
  // Unseal and Login change memory, not storage: their record follows the
  // work, and if it cannot be written the work is undone.
  full_ = true;
  bool changed = false;
  absl::Status s = RunAudited(
      *log_, Entry(),
      [&](int32_t*) {
        changed = true;
        return absl::OkStatus();
      },
      [&] { changed = false; });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(changed);
  // The same work, recorded: kept.
  full_ = false;
  s = RunAudited(
      *log_, Entry(),
      [&](int32_t*) {
        changed = true;
        return absl::OkStatus();
      },
      [&] { changed = false; });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(changed);
}

TEST_F(AuditedChangeTest, TheRecordNamesTheVersionTheChangeMade) {
  keystore::KeyRecord key;
  key.id = "k";
  key.type = keystore::KeyType::kAes256Gcm;
  key.purpose = keystore::KeyPurpose::kEncryptDecrypt;
  key.primary_version = key.latest_version = 1;
  keystore::VersionRecord v1;
  v1.key_id = "k";
  v1.version = 1;
  v1.wrapped_material = "x";
  ASSERT_TRUE(storage_->CreateKey(key, {v1}).ok());
  keystore::VersionRecord v2 = v1;
  v2.version = 2;
  absl::Status s = RunAudited(*log_, Entry(), [&](int32_t*) {
    return storage_->AddVersion(v2, true);
  });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_THAT(Records(), SizeIs(1));
  EXPECT_THAT(Records()[0], HasSubstr("\"version\":2,"));
}

}  // namespace
}  // namespace keyward::daemon
