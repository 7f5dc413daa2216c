// In the BoringSSL flavor there is no libpq (it links OpenSSL 3):
// PostgresStorage says so instead of being silently absent.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/postgres_storage.h"

namespace keyward::keystore {
namespace {

TEST(PostgresStorageTest, RefusedInTheBoringSslFlavor) {
  EXPECT_FALSE(PostgresStorage::Available());
  PostgresOptions options;
  options.dsn = "host=/tmp dbname=keyward";
  auto s = PostgresStorage::Open(options);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.status().message()),
              ::testing::HasSubstr(
                  "PostgreSQL is not available in the BoringSSL flavor "
                  "(libpq links OpenSSL 3)"));
}

}  // namespace
}  // namespace keyward::keystore
