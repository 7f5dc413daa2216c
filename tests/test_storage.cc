#include "tests/test_storage.h"

#include <cstdlib>
#include <sqlite3.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "keystore/testing/postgres_server.h"
#include "tests/daemon_process.h"

namespace keyward::testing {
namespace {

using keystore::testing::PostgresServer;

// Owns the shared server; gtest tears it down after the last test.
class SharedServer : public ::testing::Environment {
 public:
  static absl::StatusOr<PostgresServer*> Get() {
    if (server_ == nullptr) {
      auto started = PostgresServer::Start({});
      if (!started.ok()) return started.status();
      server_ = started->release();
      ::testing::AddGlobalTestEnvironment(new SharedServer);
    }
    return server_;
  }
  void TearDown() override {
    delete server_;
    server_ = nullptr;
  }

 private:
  static inline PostgresServer* server_ = nullptr;
};

}  // namespace

std::string TestBackend() {
  const char* backend = std::getenv("KEYWARD_TEST_BACKEND");
  return backend == nullptr || *backend == '\0' ? "sqlite" : backend;
}

absl::StatusOr<TestStorage> TestStorage::Create() {
  const std::string backend = TestBackend();
  if (backend == "sqlite") return TestStorage("", "");
  if (backend != "postgres") {
    return absl::InvalidArgumentError(absl::StrCat(
        "KEYWARD_TEST_BACKEND=", backend, ": use sqlite or postgres"));
  }
  auto server = SharedServer::Get();
  if (!server.ok()) return server.status();
  auto dsn = (*server)->CreateDatabase();
  if (!dsn.ok()) return dsn.status();
  return TestStorage(absl::StrCat("storage { postgres { dsn: \"", *dsn,
                                  "\" pool_size: 4 } }\n"),
                     *dsn);
}

absl::Status TestStorage::Sql(const std::string& data_dir,
                              const std::string& sql) const {
  if (dsn_.empty()) {
    sqlite3* db = nullptr;
    const std::string path = data_dir + "/keystore.db";
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
      sqlite3_close(db);
      return absl::UnavailableError(absl::StrCat("cannot open ", path));
    }
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    absl::Status status =
        rc == SQLITE_OK ? absl::OkStatus()
                        : absl::InternalError(absl::StrCat(
                              sql, ": ", err != nullptr ? err : "error"));
    sqlite3_free(err);
    sqlite3_close(db);
    return status;
  }
  ProcessResult r =
      RunProcess({"/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v",
                  "ON_ERROR_STOP=1", "-d", dsn_, "-c", sql});
  if (r.exit_code == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(sql, ": psql: ", r.output));
}

}  // namespace keyward::testing
