// PostgresStorage in a build without libpq: the BoringSSL flavor, since
// Debian's libpq links OpenSSL 3 and one process cannot hold both libcryptos
// (../shared/docs/BUILD-NOTES.md). Open refuses; nothing else is reachable,
// because no PostgresStorage can be made.
#include "keystore/postgres_storage.h"

namespace keyward::keystore {

bool PostgresStorage::Available() { return false; }

absl::StatusOr<std::unique_ptr<PostgresStorage>> PostgresStorage::Open(
    const PostgresOptions&) {
  return absl::FailedPreconditionError(
      "PostgreSQL is not available in the BoringSSL flavor (libpq links "
      "OpenSSL 3); build the default flavor to use a PostgreSQL keystore");
}

}  // namespace keyward::keystore
