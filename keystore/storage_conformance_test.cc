// The storage contract (keystore/storage.h), checked against every backend:
// the backends and the suite's instantiation, and a database server that
// goes away. The cases are in storage_conformance_keys_test.cc (the key
// hierarchy, keys, versions), storage_conformance_hook_test.cc (atomicity
// under the commit hook, concurrent writers, whole-store copies) and
// storage_conformance_access_test.cc (policies, API keys, token records).
#include <atomic>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "absl/synchronization/barrier.h"
#include "gmock/gmock.h"
#include "keystore/commit_hook.h"
#include "keystore/postgres_storage.h"
#include "keystore/sqlite_storage.h"
#include "keystore/store_records.h"
#include "keystore/testing/postgres_server.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// --- Backends -----------------------------------------------------------

StorageBackend SqliteBackend() {
  auto path = std::make_shared<std::string>();
  StorageBackend b;
  b.name = "Sqlite";
  b.fresh = [path]() -> absl::StatusOr<std::unique_ptr<Storage>> {
    *path = TempPath("conformance.db");
    auto s = SqliteStorage::Open(*path, SqliteStorage::Mode::kCreateNew);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Storage>(std::move(*s));
  };
  b.another = [path]() -> absl::StatusOr<std::unique_ptr<Storage>> {
    auto s = SqliteStorage::Open(*path, SqliteStorage::Mode::kOpenExisting);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Storage>(std::move(*s));
  };
  return b;
}

// One PostgreSQL server for the whole test binary, started on first use;
// each case gets a new database on it.
std::unique_ptr<PostgresServer>& SharedServerSlot() {
  static auto* server = new std::unique_ptr<PostgresServer>();
  return *server;
}

absl::StatusOr<PostgresServer*> SharedServer() {
  std::unique_ptr<PostgresServer>& slot = SharedServerSlot();
  if (slot == nullptr) {
    auto started = PostgresServer::Start({});
    if (!started.ok()) return started.status();
    slot = std::move(*started);
  }
  return slot.get();
}

// Stops the shared server when the tests are done.
class StopSharedServer : public ::testing::Environment {
 public:
  void TearDown() override { SharedServerSlot().reset(); }
};
::testing::Environment* const stop_shared_server =
    ::testing::AddGlobalTestEnvironment(new StopSharedServer);

absl::StatusOr<std::unique_ptr<Storage>> OpenPostgres(const std::string& dsn) {
  PostgresOptions options;
  options.dsn = dsn;
  options.pool_size = 3;
  auto s = PostgresStorage::Open(options);
  if (!s.ok()) return s.status();
  return std::unique_ptr<Storage>(std::move(*s));
}

StorageBackend PostgresBackend() {
  auto dsn = std::make_shared<std::string>();
  StorageBackend b;
  b.name = "Postgres";
  b.fresh = [dsn]() -> absl::StatusOr<std::unique_ptr<Storage>> {
    auto server = SharedServer();
    if (!server.ok()) return server.status();
    auto made = (*server)->CreateDatabase();
    if (!made.ok()) return made.status();
    *dsn = *made;
    return OpenPostgres(*dsn);
  };
  b.another = [dsn]() { return OpenPostgres(*dsn); };
  return b;
}

// SQLite always; PostgreSQL where the build has libpq (the default flavor).
std::vector<StorageBackend> Backends() {
  std::vector<StorageBackend> backends = {SqliteBackend()};
  if (PostgresStorage::Available()) backends.push_back(PostgresBackend());
  return backends;
}

// Which backends run is itself checked, in each flavor.
TEST(StorageBackendsTest, PostgresRunsWhereverTheBuildHasIt) {
  if (PostgresStorage::Available()) {
    ASSERT_EQ(Backends().size(), 2u);
    EXPECT_EQ(Backends()[1].name, "Postgres");
    return;
  }
  ASSERT_EQ(Backends().size(), 1u);
  auto s = PostgresStorage::Open(PostgresOptions());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(),
              HasSubstr("PostgreSQL is not available in the BoringSSL flavor "
                        "(libpq links OpenSSL 3)"));
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StorageConformanceTest, ::testing::ValuesIn(Backends()),
    [](const ::testing::TestParamInfo<StorageBackend>& info) {
      return info.param.name;
    });

// --- Across backends -------------------------------------------------------

// A store copied as records from SQLite into PostgreSQL and back gives the
// same records, byte for byte, at every step.
TEST(StorageAcrossBackendsTest, SqliteToPostgresToSqliteKeepsEveryRecord) {
  if (!PostgresStorage::Available()) GTEST_SKIP() << "no PostgreSQL here";
  auto first = SqliteBackend().fresh();
  ASSERT_TRUE(first.ok()) << first.status();
  PopulateEveryKind(**first);
  if (HasFatalFailure()) return;
  auto from_sqlite = ExportAll(**first);
  ASSERT_TRUE(from_sqlite.ok()) << from_sqlite.status();
  auto pg = PostgresBackend().fresh();
  ASSERT_TRUE(pg.ok()) << pg.status();
  ASSERT_TRUE((*pg)->ReplaceAll(*from_sqlite).ok());
  auto from_pg = ExportAll(**pg);
  ASSERT_TRUE(from_pg.ok()) << from_pg.status();
  absl::Status same = CompareRecords(*from_sqlite, *from_pg);
  EXPECT_TRUE(same.ok()) << same;
  auto back = SqliteBackend().fresh();
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE((*back)->ReplaceAll(*from_pg).ok());
  auto again = ExportAll(**back);
  ASSERT_TRUE(again.ok()) << again.status();
  same = CompareRecords(*from_sqlite, *again);
  EXPECT_TRUE(same.ok()) << same;
  EXPECT_EQ(CountRecords(*again), CountRecords(*from_sqlite));
  EXPECT_EQ(CountRecords(*again).versions, 3);
}

// --- A database server that goes away --------------------------------------

// PostgreSQL stops mid-call (inside the commit hook, before COMMIT) and
// between calls: the calls then get UNAVAILABLE and change nothing; once it
// is back, the same Storage works again without being reopened. (In the
// BoringSSL flavor there is no PostgreSQL: Open's refusal is checked.)
TEST(StorageServerRestartTest, PostgresGoesAwayAndComesBack) {
  if (!PostgresStorage::Available()) {
    EXPECT_EQ(PostgresStorage::Open(PostgresOptions()).status().code(),
              absl::StatusCode::kFailedPrecondition);
    return;
  }
  auto server = PostgresServer::Start({});
  ASSERT_TRUE(server.ok()) << server.status();
  auto dsn = (*server)->CreateDatabase();
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  auto opened = OpenPostgres(*dsn);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Storage& storage = **opened;
  ASSERT_TRUE(storage.CreateKey(Key("a"), {Version("a", 1)}).ok());

  // In flight: the server stops after the change's statements, before
  // COMMIT.
  {
    int calls = 0;
    ScopedCommitHook hook([&](const CommitInfo&) {
      ++calls;
      EXPECT_TRUE((*server)->Stop().ok());
      return absl::OkStatus();
    });
    absl::Status s = storage.AddVersion(Version("a", 2), true);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    // The hook ran; the failed COMMIT gave it back (commit_hook.h).
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(hook.ran());
    EXPECT_FALSE(hook.committed());
  }
  // Between calls, while it is down.
  EXPECT_EQ(storage.GetKey("a").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(storage.CreatePolicy(Policy("p")).code(),
            absl::StatusCode::kUnavailable);

  ASSERT_TRUE((*server)->Restart().ok());
  // Back: the same Storage object, no reopen; the interrupted change was
  // not made.
  auto key = storage.GetKey("a");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->latest_version, 1);
  EXPECT_TRUE(storage.AddVersion(Version("a", 2), true).ok());
  EXPECT_EQ(storage.GetKey("a")->latest_version, 2);
  EXPECT_TRUE(storage.CreatePolicy(Policy("p")).ok());
  EXPECT_EQ(storage.ListPolicies()->size(), 1u);

  // And once more, with several pooled connections all made stale.
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] { EXPECT_TRUE(storage.CountKeys().ok()); });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE((*server)->Stop().ok());
  ASSERT_TRUE((*server)->Restart().ok());
  for (int i = 0; i < 4; ++i) {
    auto n = storage.CountKeys();
    ASSERT_TRUE(n.ok()) << "call " << i << " after restart: " << n.status();
    EXPECT_EQ(*n, 1);
  }
}

}  // namespace
}  // namespace keyward::keystore::testing
