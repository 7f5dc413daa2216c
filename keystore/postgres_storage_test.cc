// PostgresStorage's own rules, beyond the shared contract that
// storage_conformance_test.cc checks: the password file, the dsn, the schema
// version and its lock, the pool under more threads than connections, and
// a server that stops answering.
// Each test runs a real PostgreSQL (testing/postgres_server.h).
#include "keystore/postgres_storage.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/testing/postgres_server.h"

namespace keyward::keystore {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PostgresServer;

constexpr char kPassword[] = "correct-horse-battery-staple";

std::string WriteFile(const std::string& name, const std::string& text,
                      mode_t mode) {
  const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
  unlink(path.c_str());
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()),
            static_cast<ssize_t>(text.size()));
  close(fd);
  chmod(path.c_str(), mode);
  return path;
}

// StartWithDatabase starts a throwaway server (the caller keeps it running)
// and points `options` at a new database on it with `pool_size` connections;
// nullptr (the failure recorded) if either fails.
std::unique_ptr<PostgresServer> StartWithDatabase(int pool_size,
                                                  PostgresOptions* options) {
  auto server = PostgresServer::Start({});
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  auto dsn = (*server)->CreateDatabase();
  EXPECT_TRUE(dsn.ok()) << dsn.status();
  if (!dsn.ok()) return nullptr;
  options->dsn = *dsn;
  options->pool_size = pool_size;
  return std::move(*server);
}

// Sql runs one statement on its own connection (the test's, not the
// storage's) and returns the first value, or "" if none.
std::string Sql(const std::string& dsn, const char* sql,
                const char* password = nullptr) {
  const char* keys[] = {"dbname", "password", nullptr};
  const char* values[] = {dsn.c_str(), password, nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* r = PQexec(conn, sql);
  EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK ||
              PQresultStatus(r) == PGRES_COMMAND_OK)
      << PQresultErrorMessage(r);
  std::string out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  PQfinish(conn);
  return out;
}

TEST(PostgresStorageTest, PasswordComesFromAPrivateFileAndNeverShows) {
  auto server = PostgresServer::Start({kPassword});
  ASSERT_TRUE(server.ok()) << server.status();
  auto dsn = (*server)->CreateDatabase();
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  PostgresOptions options;
  options.dsn = *dsn;

  // No password: refused by the server, UNAVAILABLE.
  auto s = PostgresStorage::Open(options);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);

  // A file others can read is refused before it is used.
  options.password_file = WriteFile("pw-open", kPassword, 0644);
  s = PostgresStorage::Open(options);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("chmod 600"));

  // A wrong password: UNAVAILABLE, and neither password in the message.
  const std::string wrong = "wrong-password-do-not-print";
  options.password_file = WriteFile("pw-wrong", wrong + "\n", 0600);
  s = PostgresStorage::Open(options);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr("password authentication"));
  EXPECT_THAT(s.status().message(), Not(HasSubstr(wrong)));
  EXPECT_THAT(s.status().message(), Not(HasSubstr(kPassword)));

  // A password in the dsn is refused, and not repeated.
  PostgresOptions in_dsn;
  in_dsn.dsn = absl::StrCat(*dsn, " password=", kPassword);
  s = PostgresStorage::Open(in_dsn);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), Not(HasSubstr(kPassword)));
  in_dsn.dsn = absl::StrCat("host=/tmp password=", kPassword, " junk");
  s = PostgresStorage::Open(in_dsn);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), Not(HasSubstr(kPassword)));

  // The right one (with its newline) works, for every pooled connection.
  options.password_file = WriteFile("pw-right", absl::StrCat(kPassword, "\n"),
                                    0600);
  options.pool_size = 2;
  s = PostgresStorage::Open(options);
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { EXPECT_TRUE((*s)->CountKeys().ok()); });
  }
  for (std::thread& t : threads) t.join();
}

TEST(PostgresStorageTest, OptionsAreChecked) {
  PostgresOptions options;
  options.dsn = "host=/nonexistent-dir port=1";
  options.pool_size = 0;
  EXPECT_EQ(PostgresStorage::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.pool_size = 1;
  options.connect_timeout = absl::Seconds(2);
  EXPECT_EQ(PostgresStorage::Open(options).status().code(),
            absl::StatusCode::kUnavailable);
  options.password_file = "/nonexistent/password";
  EXPECT_EQ(PostgresStorage::Open(options).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PostgresStorageTest, SchemaIsMadeOnceByConcurrentOpensAndVersioned) {
  PostgresOptions options;
  auto server = StartWithDatabase(1, &options);
  ASSERT_NE(server, nullptr);
  // Several daemons start at once on an empty database.
  constexpr int kDaemons = 6;
  std::vector<std::unique_ptr<PostgresStorage>> opened(kDaemons);
  std::vector<absl::Status> status(kDaemons);
  std::vector<std::thread> threads;
  for (int i = 0; i < kDaemons; ++i) {
    threads.emplace_back([&, i] {
      auto s = PostgresStorage::Open(options);
      status[i] = s.status();
      if (s.ok()) opened[i] = std::move(*s);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kDaemons; ++i) {
    ASSERT_TRUE(status[i].ok()) << "daemon " << i << ": " << status[i];
  }
  EXPECT_EQ(Sql(options.dsn, "SELECT version FROM keyward_schema"),
            absl::StrCat(PostgresStorage::kSchemaVersion));
  EXPECT_EQ(Sql(options.dsn, "SELECT count(*) FROM keyward_schema"), "1");
  // Ids sort by bytes even though the column's collation could differ.
  EXPECT_EQ(Sql(options.dsn,
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'keys' AND column_name = 'id'"),
            "C");
  KeyRecord key;
  key.id = "shared";
  key.type = KeyType::kAes256Gcm;
  ASSERT_TRUE(opened[0]->CreateKey(key, {}).ok());
  EXPECT_TRUE(opened[kDaemons - 1]->GetKey("shared").ok());

  KeyRecord rsa_jwt;
  rsa_jwt.id = "rsa-jwt";
  rsa_jwt.type = KeyType::kRsa2048;
  rsa_jwt.purpose = KeyPurpose::kJwt;
  ASSERT_TRUE(opened[0]->CreateKey(rsa_jwt, {}).ok());

  // A schema-5 database (before key revisions, schema 7's key columns and
  // schema 8's change feed) migrates to the current schema at Open: every key starts at revision 1, conditional
  // updates work on it, and each key gets its type's default algorithms.
  opened.clear();
  Sql(options.dsn, "ALTER TABLE keys DROP COLUMN revision");
  for (const char* column : {"signature_algorithms", "jwt_default_ttl_s",
                             "jwt_issuer", "legacy_short_secret"}) {
    Sql(options.dsn, absl::StrCat("ALTER TABLE keys DROP COLUMN ", column).c_str());
  }
  Sql(options.dsn, "DROP TABLE changes");
  Sql(options.dsn, "DROP TABLE change_head");
  Sql(options.dsn, "DROP TABLE leases");
  Sql(options.dsn, "UPDATE keyward_schema SET version = 5");
  {
    auto migrated = PostgresStorage::Open(options);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    EXPECT_EQ(Sql(options.dsn, "SELECT version FROM keyward_schema"),
              absl::StrCat(PostgresStorage::kSchemaVersion));
    auto jwt = (*migrated)->GetKey("rsa-jwt");
    ASSERT_TRUE(jwt.ok()) << jwt.status();
    EXPECT_EQ(jwt->signature_algorithms,
              std::vector<crypto::SignatureAlgorithm>{
                  crypto::SignatureAlgorithm::kRsaPkcs1Sha256});
    auto shared = (*migrated)->GetKey("shared");
    ASSERT_TRUE(shared.ok()) << shared.status();
    EXPECT_TRUE(shared->signature_algorithms.empty());
    EXPECT_EQ(shared->revision, 1);
    EXPECT_TRUE((*migrated)->UpdateKey(*shared, 1).ok());
    EXPECT_EQ((*migrated)->UpdateKey(*shared, 1).code(),
              absl::StatusCode::kAborted);
  }

  // A database from a newer keywardd is refused.
  Sql(options.dsn, "UPDATE keyward_schema SET version = 99");
  auto s = PostgresStorage::Open(options);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("newer"));
}

TEST(PostgresStorageTest, MoreThreadsThanConnections) {
  PostgresOptions options;
  auto server = StartWithDatabase(2, &options);
  ASSERT_NE(server, nullptr);
  auto storage = PostgresStorage::Open(options);
  ASSERT_TRUE(storage.ok()) << storage.status();
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        KeyRecord key;
        key.id = absl::StrCat("k", t, "-", i);
        EXPECT_TRUE((*storage)->CreateKey(key, {}).ok());
        EXPECT_TRUE((*storage)->GetKey(key.id).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(*(*storage)->CountKeys(), 60);
  // Text PostgreSQL cannot hold is refused as such.
  KeyRecord bad;
  bad.id = std::string("nul\0inside", 10);
  EXPECT_EQ((*storage)->CreateKey(bad, {}).code(),
            absl::StatusCode::kInvalidArgument);
  bad.id = "\xff\xfe";
  EXPECT_EQ((*storage)->CreateKey(bad, {}).code(),
            absl::StatusCode::kInvalidArgument);
}

// A server that stops answering (stopped, hung, or cut off without a
// reset, where its own statement_timeout cannot help) fails a call once
// statement_timeout + kAnswerGrace pass without an answer: UNAVAILABLE,
// naming the bound, after one wait (not one per pooled connection), and
// having changed nothing. Once it answers again, calls succeed.
TEST(PostgresStorageTest, AStalledServerFailsACallWithinTheAnswerBound) {
  PostgresOptions options;
  auto server = StartWithDatabase(2, &options);
  ASSERT_NE(server, nullptr);
  options.statement_timeout = absl::Milliseconds(500);
  options.lock_timeout = absl::Milliseconds(200);
  options.connect_timeout = absl::Seconds(1);
  auto storage = PostgresStorage::Open(options);
  ASSERT_TRUE(storage.ok()) << storage.status();
  KeyRecord before;
  before.id = "before";
  ASSERT_TRUE((*storage)->CreateKey(before, {}).ok());

  ASSERT_TRUE(server->Pause().ok());
  absl::Time start = absl::Now();
  auto count = (*storage)->CountKeys();
  absl::Duration waited = absl::Now() - start;
  EXPECT_EQ(count.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(count.status().message(),
              HasSubstr("no answer within 2.5s (statement_timeout + 2s)"));
  EXPECT_GE(waited, absl::Milliseconds(2500));
  EXPECT_LT(waited, absl::Seconds(5)) << "waited once per connection";

  // The stalled connection was dropped: a new one cannot log in either
  // (connect_timeout).
  KeyRecord during;
  during.id = "during";
  start = absl::Now();
  EXPECT_EQ((*storage)->CreateKey(during, {}).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  ASSERT_TRUE(server->Resume().ok());
  // Calls fail fast while the pool backs off from the failed connect
  // (at most 2 s), then succeed.
  absl::StatusOr<int64_t> after = count.status();
  for (int i = 0; i < 50 && !after.ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    after = (*storage)->CountKeys();
  }
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, 1);
  EXPECT_EQ((*storage)->GetKey("during").status().code(),
            absl::StatusCode::kNotFound);
  KeyRecord later;
  later.id = "later";
  EXPECT_TRUE((*storage)->CreateKey(later, {}).ok());
}

}  // namespace
}  // namespace keyward::keystore
