#include "daemon/replica.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"

namespace keyward::daemon {

std::string ReplicaLeaseName(const std::string& id) {
  return absl::StrCat("replica:", id);
}

ReplicaClaim::ReplicaClaim(keystore::Keystore* keystore, std::string id,
                           std::string instance, absl::Duration ttl)
    : keystore_(keystore),
      id_(std::move(id)),
      instance_(std::move(instance)),
      ttl_(ttl) {}

absl::StatusOr<std::unique_ptr<ReplicaClaim>> ReplicaClaim::Claim(
    keystore::Keystore* keystore, const std::string& id,
    const std::string& instance, absl::Duration ttl) {
  std::unique_ptr<ReplicaClaim> claim(
      new ReplicaClaim(keystore, id, instance, ttl));
  absl::Status s = claim->Renew(ttl);
  if (!s.ok()) return s;
  return claim;
}

ReplicaClaim::~ReplicaClaim() { Release(); }

absl::Status ReplicaClaim::Renew(absl::Duration ttl) {
  auto lease = keystore_->AcquireLease(ReplicaLeaseName(id_), instance_, ttl);
  if (!lease.ok()) return lease.status();
  if (lease->holder == instance_) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "replica id \"", id_, "\" is live on this database: the keywardd ",
      "instance ", lease->holder, " holds it (heartbeat valid until ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", lease->expires,
                       absl::UTCTimeZone()),
      ", the database's clock). Give this replica its own id (replica_id in "
      "the config, or --replica_id), or stop the other one; the id of a "
      "replica that died is free once replica_ttl has passed since its last "
      "heartbeat"));
}

void ReplicaClaim::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ReplicaClaim::Loop() {
  bool failing = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_;
      };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), ttl_ / 3)) return;
    }
    absl::Status s = Renew(ttl_);
    if (!s.ok() && !failing) {
      if (absl::IsFailedPrecondition(s)) {
        LogWarning("replica_id_taken", {{"replica_id", id_},
                                        {"error", std::string(s.message())}});
      } else {
        LogWarning("replica_heartbeat_failed",
                   {{"replica_id", id_}, {"error", std::string(s.message())}});
      }
    } else if (s.ok() && failing) {
      LogInfo("replica_heartbeat_resumed", {{"replica_id", id_}});
    }
    failing = !s.ok();
  }
}

void ReplicaClaim::Release() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // Held by this instance: expire it now (never another's: AcquireLease
  // does not steal a live lease).
  Renew(absl::Microseconds(1)).IgnoreError();
}

}  // namespace keyward::daemon
