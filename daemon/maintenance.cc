#include "daemon/maintenance.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "daemon/access.h"
#include "daemon/audited_change.h"
#include "daemon/log.h"
#include "keystore/crypto/random.h"

namespace keyward::daemon {

Maintenance::Maintenance(keystore::Keystore* keystore, AuditLog* audit,
                         absl::Duration interval)
    : keystore_(keystore), audit_(audit), interval_(interval) {}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Maintenance::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
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

std::vector<std::string> Maintenance::RunOnce() {
  std::vector<std::string> rotated;
  if (keystore_->sealed()) return rotated;
  auto due = keystore_->KeysDueForRotation();
  if (!due.ok()) {
    LogWarning("rotation_check_failed", {{"error", due.status().ToString()}});
    return rotated;
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
          auto rotated = keystore_->RotateKey(id);
          if (!rotated.ok()) return rotated.status();
          *version = rotated->version;
          return absl::OkStatus();
        });
    if (!rotated_status.ok()) {
      LogWarning("rotation_failed",
                 {{"key", id}, {"error", rotated_status.ToString()}});
      continue;
    }
    LogInfo("rotated", {{"key", id}});
    rotated.push_back(id);
  }
  auto purged = keystore_->PurgeExpiredTokens(100000);
  if (!purged.ok()) {
    LogWarning("token_purge_failed", {{"error", purged.status().ToString()}});
  } else if (*purged > 0) {
    LogInfo("token_records_purged", {{"count", absl::StrCat(*purged)}});
  }
  return rotated;
}

}  // namespace keyward::daemon
