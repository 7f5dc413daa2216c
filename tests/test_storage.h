// TestStorage: where an end-to-end test's keywardd keeps its keystore,
// chosen by the test target (the KEYWARD_TEST_BACKEND environment variable),
// so that one test source runs on every backend:
//   unset or "sqlite"  ""  (the data dir's SQLite file, keywardd's default)
//   "postgres"         `storage { postgres { dsn: "..." } }` for a new,
//                      empty database on a real throwaway PostgreSQL server
//                      (keystore/testing/postgres_server.h), started on first
//                      use and stopped when the test binary's tests end.
// Put the text at the top of the config given to both `keywardd init` and
// the daemon. Anything else in KEYWARD_TEST_BACKEND is INVALID_ARGUMENT.
#ifndef KEYWARD_TESTS_TEST_STORAGE_H_
#define KEYWARD_TESTS_TEST_STORAGE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace keyward::testing {

class TestStorage {
 public:
  // Create: SQLite, or a new database on the shared PostgreSQL server.
  static absl::StatusOr<TestStorage> Create();

  // The config text (empty for SQLite).
  const std::string& config() const { return config_; }

  // Sql runs `sql` on the keystore behind keywardd's back (a test's way to
  // age or damage rows): SQLite's `data_dir`/keystore.db, or the database
  // through psql. Both backends share the schema's table and column names.
  absl::Status Sql(const std::string& data_dir, const std::string& sql) const;

  // Dump returns every byte the keystore holds at rest, for a test that
  // checks what is never stored (a secret only as its hash): SQLite's
  // `data_dir`/keystore.db and its -wal file, or pg_dump's plain output of
  // the database (bytea columns in hex).
  absl::StatusOr<std::string> Dump(const std::string& data_dir) const;

 private:
  TestStorage(std::string config, std::string dsn)
      : config_(std::move(config)), dsn_(std::move(dsn)) {}
  std::string config_;
  std::string dsn_;  // PostgreSQL only
};

// TestKeystore: a fresh data dir (NewTempDir) with a passphrase file, made
// by `keywardd init` with its keystore on the test's backend (TestStorage).
class TestKeystore {
 public:
  // Init writes `passphrase` to <dir>/passphrase (mode 0600) and runs
  // `keywardd init`; an error quotes init's output.
  static absl::StatusOr<TestKeystore> Init(const std::string& passphrase);

  const std::string& dir() const { return dir_; }
  const std::string& passphrase_file() const { return passphrase_file_; }
  const TestStorage& storage() const { return storage_; }

  // WriteConfig writes <dir>/`name`: the backend's storage config, then
  // `config_text`. Returns its path.
  std::string WriteConfig(const std::string& config_text,
                          const std::string& name = "keywardd.txtpb") const;

  // Args are keywardd's arguments for this keystore: --data_dir,
  // --passphrase_file and --config WriteConfig(config_text, name).
  std::vector<std::string> Args(
      const std::string& config_text = "",
      const std::string& name = "keywardd.txtpb") const;

 private:
  TestKeystore(std::string dir, std::string passphrase_file,
               TestStorage storage)
      : dir_(std::move(dir)),
        passphrase_file_(std::move(passphrase_file)),
        storage_(std::move(storage)) {}
  std::string dir_;
  std::string passphrase_file_;
  TestStorage storage_;
};

// The backend's name as KEYWARD_TEST_BACKEND gives it ("sqlite" if unset).
std::string TestBackend();

}  // namespace keyward::testing

#endif  // KEYWARD_TESTS_TEST_STORAGE_H_
