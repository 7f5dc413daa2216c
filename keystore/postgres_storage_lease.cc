// PostgresStorage: leases of work done once among replicas (storage.h,
// "Leases"), on the database's clock.
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "keystore/commit_hook.h"
#include "keystore/internal/postgres_rows.h"
#include "keystore/internal/pq.h"
#include "keystore/postgres_storage.h"

namespace keyward::keystore {

using internal::PqParams;
using internal::PqSession;

namespace {

// The database's clock, in microseconds since the epoch.
constexpr char kNowUs[] =
    "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

}  // namespace

namespace internal {

absl::Status CheckLeaseFence(PqSession& q) {
  const LeaseFence* fence = CurrentLeaseFence();
  if (fence == nullptr) return absl::OkStatus();
  auto rows = q.Query(
      absl::StrCat("SELECT 1 FROM leases WHERE name = $1 AND holder = $2 "
                   "AND epoch = $3 AND expires_at_us > ",
                   kNowUs, " FOR SHARE")
          .c_str(),
      PqParams().Text(fence->name).Text(fence->holder).Int(fence->epoch),
      "check the lease fence");
  if (!rows.ok()) return rows.status();
  if (rows->size() != 1) return LeaseLostError(*fence);
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<LeaseRecord> PostgresStorage::AcquireLease(
    const std::string& name, const std::string& holder, absl::Duration ttl) {
  if (name.empty() || holder.empty() || ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "a lease needs a name, a holder and a positive time to live");
  }
  LeaseRecord out;
  absl::Status s = pool_->Run([&](PqSession& q) -> absl::Status {
    // One statement: the row's lock orders concurrent acquirers, and each
    // re-evaluates the condition on the row the previous one left.
    auto taken = q.Query(
        absl::StrCat(
            "INSERT INTO leases AS l (name, holder, epoch, expires_at_us) "
            "VALUES ($1, $2, 1, ", kNowUs, " + $3) "
            "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
            "epoch = CASE WHEN l.holder = EXCLUDED.holder AND "
            "l.expires_at_us > ", kNowUs, " THEN l.epoch ELSE l.epoch + 1 END, "
            "expires_at_us = EXCLUDED.expires_at_us "
            "WHERE l.holder = EXCLUDED.holder OR l.expires_at_us <= ", kNowUs,
            " RETURNING holder, epoch, expires_at_us")
            .c_str(),
        PqParams().Text(name).Text(holder).Int(absl::ToInt64Microseconds(ttl)),
        "take the lease");
    if (!taken.ok()) return taken.status();
    if (taken->size() == 0) {
      taken = q.Query(
          "SELECT holder, epoch, expires_at_us FROM leases WHERE name = $1",
          PqParams().Text(name), "read the lease");
      if (!taken.ok()) return taken.status();
      if (taken->size() != 1) {
        return absl::AbortedError("the lease row vanished; try again");
      }
    }
    out.name = name;
    out.holder = taken->Bytes(0, 0);
    out.epoch = taken->Int(0, 1);
    out.expires = taken->Time(0, 2);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace keyward::keystore
