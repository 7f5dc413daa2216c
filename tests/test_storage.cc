#include "tests/test_storage.h"

#include <cstdlib>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
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

absl::StatusOr<std::string> TestStorage::Dump(
    const std::string& data_dir) const {
  if (dsn_.empty()) {
    std::string bytes;
    for (const char* suffix : {"", "-wal"}) {
      std::ifstream in(data_dir + "/keystore.db" + suffix, std::ios::binary);
      bytes.append(std::istreambuf_iterator<char>(in), {});
    }
    if (bytes.empty()) {
      return absl::NotFoundError(absl::StrCat("no keystore.db in ", data_dir));
    }
    return bytes;
  }
  ProcessResult r = RunProcess(
      {"/usr/lib/postgresql/15/bin/pg_dump", "--no-owner", "-d", dsn_});
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("pg_dump: ", r.output));
  }
  return r.output;
}

absl::StatusOr<TestKeystore> TestKeystore::Init(const std::string& passphrase) {
  auto storage = TestStorage::Create();
  if (!storage.ok()) return storage.status();
  const std::string dir = NewTempDir();
  const std::string passphrase_file = dir + "/passphrase";
  std::ofstream(passphrase_file) << passphrase << "\n";
  chmod(passphrase_file.c_str(), 0600);
  TestKeystore keystore(dir, passphrase_file, *std::move(storage));
  std::vector<std::string> init = {Runfile("daemon/keywardd"), "init"};
  for (std::string& arg : keystore.Args()) init.push_back(std::move(arg));
  ProcessResult r = RunProcess(init);
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("keywardd init: ", r.output));
  }
  return keystore;
}

std::string TestKeystore::WriteConfig(const std::string& config_text,
                                      const std::string& name) const {
  const std::string path = dir_ + "/" + name;
  std::ofstream(path) << storage_.config() << config_text;
  return path;
}

std::vector<std::string> TestKeystore::Args(const std::string& config_text,
                                            const std::string& name) const {
  return {"--data_dir", dir_, "--passphrase_file", passphrase_file_,
          "--config", WriteConfig(config_text, name)};
}

}  // namespace keyward::testing
