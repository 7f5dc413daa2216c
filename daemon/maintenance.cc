#include "daemon/maintenance.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/access.h"
#include "daemon/audited_change.h"
#include "daemon/log.h"
#include "keystore/commit_hook.h"
#include "keystore/crypto/random.h"

namespace keyward::daemon {

namespace {

constexpr char kLease[] = "maintenance";

bool IsLeaseLost(const absl::Status& s) {
  return absl::IsFailedPrecondition(s) &&
         absl::StrContains(s.message(), "is no longer held by");
}

}  // namespace

Maintenance::Maintenance(keystore::Keystore* keystore, AuditLog* audit,
                         absl::Duration interval, std::string holder)
    : keystore_(keystore),
      audit_(audit),
      interval_(interval),
      holder_(std::move(holder)) {}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Maintenance::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (!thread_.joinable()) return;
  thread_.join();
  if (lease().holder == holder_) {
    auto given_up =
        keystore_->AcquireLease(kLease, holder_, absl::Microseconds(1));
    if (!given_up.ok()) {
      LogWarning("maintenance_lease_release_failed",
                 {{"error", given_up.status().ToString()}});
    }
  }
}

void Maintenance::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.Unlock();
    RunOnce();
    mu_.Lock();
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
  }
}

std::string Maintenance::NewHolderName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, "/", getpid(), "/",
                      absl::BytesToHexString(crypto::RandomBytes(4)));
}

keystore::LeaseRecord Maintenance::lease() const {
  absl::MutexLock lock(&mu_);
  return lease_;
}

std::vector<std::string> Maintenance::RunOnce() {
  std::vector<std::string> rotated;
  if (keystore_->sealed()) return rotated;
  auto lease = keystore_->AcquireLease(kLease, holder_, 3 * interval_);
  if (!lease.ok()) {
    LogWarning("maintenance_lease_failed",
               {{"error", lease.status().ToString()}});
    return rotated;
  }
  keystore::LeaseRecord before;
  {
    absl::MutexLock lock(&mu_);
    before = lease_;
    lease_ = *lease;
  }
  if (lease->holder != holder_) {
    if (before.holder == holder_) {
      LogInfo("maintenance_lease_stepped_down", {{"holder", lease->holder}});
    }
    return rotated;
  }
  if (before.holder != holder_ || before.epoch != lease->epoch) {
    LogInfo("maintenance_lease_taken",
            {{"holder", holder_}, {"epoch", absl::StrCat(lease->epoch)}});
  }
  keystore::ScopedLeaseFence fence({kLease, holder_, lease->epoch});
  if (!Work(&rotated)) {
    LogWarning("maintenance_lease_lost",
               {{"holder", holder_}, {"epoch", absl::StrCat(lease->epoch)}});
    absl::MutexLock lock(&mu_);
    lease_.holder.clear();
  }
  return rotated;
}

bool Maintenance::Work(std::vector<std::string>* rotated) {
  auto due = keystore_->KeysDueForRotation();
  if (!due.ok()) {
    LogWarning("rotation_check_failed", {{"error", due.status().ToString()}});
    return true;
  }
  const std::string request_id =
      absl::StrCat("maintenance-", absl::BytesToHexString(crypto::RandomBytes(8)));
  for (const std::string& id : *due) {
    AuditEntry entry;
    entry.principal = "keywardd";
    entry.method = "daemon";
    entry.operation = OperationName(keyward::v1::OPERATION_ROTATE);
    entry.resource = "keys/" + id;
    entry.request_id = request_id;
    // The rotation and its record commit together (audited_change.h): a
    // rotation that cannot be audited is not made.
    absl::Status rotated_status =
        RunAudited(*audit_, std::move(entry), [&](int32_t* version) {
          auto made = keystore_->RotateKeyIfDue(id);
          if (!made.ok()) return made.status();
          *version = made->version;
          return absl::OkStatus();
        });
    if (IsLeaseLost(rotated_status)) return false;
    if (!rotated_status.ok()) {
      LogWarning("rotation_failed",
                 {{"key", id}, {"error", rotated_status.ToString()}});
      continue;
    }
    LogInfo("rotated", {{"key", id}});
    rotated->push_back(id);
  }
  auto purged = keystore_->PurgeExpiredTokens(100000);
  if (IsLeaseLost(purged.status())) return false;
  if (!purged.ok()) {
    LogWarning("token_purge_failed", {{"error", purged.status().ToString()}});
  } else if (*purged > 0) {
    LogInfo("token_records_purged", {{"count", absl::StrCat(*purged)}});
  }
  auto pruned = keystore_->PruneChanges(absl::Hours(1), 100000);
  if (IsLeaseLost(pruned.status())) return false;
  if (!pruned.ok()) {
    LogWarning("feed_prune_failed", {{"error", pruned.status().ToString()}});
  }
  return true;
}

}  // namespace keyward::daemon
