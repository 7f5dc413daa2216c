// KeystoreTest: a gtest fixture that runs each test on a fresh keystore in
// every storage backend the build has: a SQLite file, and (default flavor) a
// new database on a real, throwaway PostgreSQL server (postgres_server.h),
// started once per test binary and stopped at its end. Test-only.
//
//   TEST_P(KeystoreTest, Something) { Create("k", KeyType::kEd25519); ... }
//   INSTANTIATE_TEST_SUITE_P(Backends, KeystoreTest,
//                            ::testing::ValuesIn(AllBackends()), BackendName);
#ifndef KEYWARD_KEYSTORE_TESTING_KEYSTORE_FIXTURE_H_
#define KEYWARD_KEYSTORE_TESTING_KEYSTORE_FIXTURE_H_

#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "keystore/keystore.h"
#include "keystore/postgres_storage.h"
#include "keystore/testing/postgres_server.h"

namespace keyward::keystore {

enum class Backend { kSqlite, kPostgres };

// AllBackends: SQLite, and PostgreSQL where the build has it.
inline std::vector<Backend> AllBackends() {
  std::vector<Backend> backends = {Backend::kSqlite};
  if (PostgresStorage::Available()) backends.push_back(Backend::kPostgres);
  return backends;
}

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// A path in the test's temp dir, new on every call.
inline std::string TempPath(const std::string& name) {
  static int counter = 0;
  const char* dir = getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name, "-", getpid(), "-",
                      counter++, ".db");
}

inline const crypto::SecretData& Passphrase() {
  static const auto* p = new crypto::SecretData("correct horse battery staple");
  return *p;
}

// Token: a token record issued at `issued` by key "issuer", for tests.
inline TokenRecord Token(const std::string& jti, absl::Time issued,
                  const std::string& external_id = "") {
  TokenRecord r;
  r.jti = jti;
  r.key_id = "issuer";
  r.version = 1;
  r.external_id = external_id;
  r.metadata = {{"txn", "t-" + jti}, {"channel", "sms"}};
  r.subject = "u1";
  r.claims_json = R"({"sub":"u1"})";
  r.issued_by = "unix:uid:1000";
  r.issued_at = issued;
  r.expire_at = issued + absl::Seconds(90);
  r.purge_at = r.expire_at + absl::Hours(1);
  return r;
}

// The server shared by every PostgreSQL case of the binary: started on first
// use, stopped by a gtest environment when the binary's tests end.
class SharedPostgres : public ::testing::Environment {
 public:
  // Server: the shared server (for tests that stop and restart it).
  static absl::StatusOr<testing::PostgresServer*> Server() {
    if (server_ == nullptr) {
      auto started = testing::PostgresServer::Start({});
      if (!started.ok()) return started.status();
      server_ = started->release();
      ::testing::AddGlobalTestEnvironment(new SharedPostgres);
    }
    return server_;
  }
  // NewDatabase: a new, empty database on it; its libpq connection string.
  static absl::StatusOr<std::string> NewDatabase() {
    auto server = Server();
    if (!server.ok()) return server.status();
    return (*server)->CreateDatabase();
  }
  void TearDown() override {
    delete server_;
    server_ = nullptr;
  }

 private:
  static inline testing::PostgresServer* server_ = nullptr;
};

class KeystoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      path_ = TempPath("keystore");
      spec_.sqlite_path = path_;
    } else {
      auto dsn = SharedPostgres::NewDatabase();
      ASSERT_TRUE(dsn.ok()) << dsn.status();
      spec_.postgres = PostgresOptions{*dsn, "", 4};
    }
    auto ks = Keystore::Init(spec_, Passphrase(), Options());
    ASSERT_TRUE(ks.ok()) << ks.status();
    ks_ = std::move(*ks);
  }

  virtual KeystoreOptions Options() {
    KeystoreOptions options;
    options.now = [this] { return now_; };
    return options;
  }

  void Reopen() {
    ks_.reset();
    auto ks = Keystore::Open(spec_, Passphrase(), Options());
    ASSERT_TRUE(ks.ok()) << ks.status();
    ks_ = std::move(*ks);
  }

  KeyRecord Create(const std::string& id, KeyType type,
                   std::optional<KeyPurpose> purpose = std::nullopt) {
    CreateKeyParams params;
    params.id = id;
    params.type = type;
    params.purpose = purpose;
    auto key = ks_->CreateKey(params);
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? *key : KeyRecord{};
  }

  absl::Time now_ = absl::FromUnixSeconds(1800000000);
  // The keystore's storage; path_ is its SQLite file (SQLite only).
  StorageSpec spec_;
  std::string path_;
  std::unique_ptr<Keystore> ks_;
};

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_TESTING_KEYSTORE_FIXTURE_H_
