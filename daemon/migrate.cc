#include "daemon/migrate.h"

#include <unistd.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/postgres_storage.h"
#include "keystore/sqlite_storage.h"

namespace keyward::daemon {
namespace {

using keystore::RecordCounts;
using keystore::StorageSpec;
using keystore::StoreRecord;

std::string Name(const StorageSpec& spec) {
  if (spec.postgres.has_value()) {
    return absl::StrCat("PostgreSQL (dsn \"", spec.postgres->dsn, "\")");
  }
  return absl::StrCat("SQLite '", spec.sqlite_path, "'");
}

absl::StatusOr<std::unique_ptr<keystore::Storage>> OpenSide(
    const StorageSpec& spec, bool target) {
  if (spec.postgres.has_value()) {
    auto pg = keystore::PostgresStorage::Open(*spec.postgres);
    if (!pg.ok()) {
      return absl::Status(pg.status().code(),
                          absl::StrCat(Name(spec), ": ", pg.status().message()));
    }
    return std::unique_ptr<keystore::Storage>(std::move(*pg));
  }
  auto sqlite = keystore::SqliteStorage::Open(
      spec.sqlite_path, target ? keystore::SqliteStorage::Mode::kCreateNew
                               : keystore::SqliteStorage::Mode::kOpenExisting);
  if (!sqlite.ok()) return sqlite.status();
  return std::unique_ptr<keystore::Storage>(std::move(*sqlite));
}

std::string Plural(int64_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

}  // namespace

std::string DescribeCounts(const RecordCounts& c) {
  return absl::StrCat(Plural(c.metas, "key hierarchy", "key hierarchies"),
                      ", ", Plural(c.keys, "key", "keys"), " (",
                      Plural(c.versions, "version", "versions"), "), ",
                      Plural(c.policies, "policy", "policies"), ", ",
                      Plural(c.api_keys, "API key", "API keys"), ", ",
                      Plural(c.tokens, "token record", "token records"));
}

absl::StatusOr<RecordCounts> MigrateKeystore(const StorageSpec& from,
                                             const StorageSpec& to) {
  auto source = OpenSide(from, /*target=*/false);
  if (!source.ok()) return source.status();
  auto records = keystore::ExportAll(**source);
  if (!records.ok()) return records.status();
  const RecordCounts counts = keystore::CountRecords(*records);
  if (counts.metas != 1) {
    return absl::NotFoundError(absl::StrCat(
        Name(from), " holds no keystore; nothing to migrate"));
  }
  auto target = OpenSide(to, /*target=*/true);
  if (!target.ok()) return target.status();
  // Refuse a target holding anything at all.
  bool empty = true;
  absl::Status s = (*target)->ExportRecords([&](const StoreRecord&) {
    empty = false;
    return absl::CancelledError();  // one record is enough to know
  });
  if (!s.ok() && !absl::IsCancelled(s)) return s;
  if (!empty) {
    return absl::FailedPreconditionError(absl::StrCat(
        Name(to), " already holds a keystore (or part of one); migrate "
        "into an empty database. Nothing was changed"));
  }
  auto undo = [&](absl::Status failure) {
    if (!to.postgres.has_value()) {
      target->reset();
      for (const char* suffix : {"", "-wal", "-shm"}) {
        unlink(absl::StrCat(to.sqlite_path, suffix).c_str());
      }
      return failure;
    }
    return absl::Status(failure.code(),
                        absl::StrCat(failure.message(), " (", Name(to),
                                     " keeps what was written)"));
  };
  s = (*target)->ReplaceAll(*records);
  if (!s.ok()) return undo(s);
  // The check: both sides read again, compared record by record.
  auto copied = keystore::ExportAll(**target);
  if (!copied.ok()) return undo(copied.status());
  auto again = keystore::ExportAll(**source);
  if (!again.ok()) return undo(again.status());
  s = keystore::CompareRecords(*again, *copied);
  if (!s.ok()) {
    return undo(absl::DataLossError(absl::StrCat(
        "the copy in ", Name(to), " differs from ", Name(from), ": ",
        s.message(), " (was the source changed during the migration?)")));
  }
  if (!(keystore::CountRecords(*copied) == counts)) {
    return undo(absl::DataLossError(absl::StrCat(
        "the copy holds ", DescribeCounts(keystore::CountRecords(*copied)),
        "; the source ", DescribeCounts(counts))));
  }
  return counts;
}

}  // namespace keyward::daemon
