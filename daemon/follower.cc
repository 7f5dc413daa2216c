#include "daemon/follower.h"

#include <algorithm>
#include <string>

#include "daemon/log.h"

namespace keyward::daemon {

using keystore::ChangeKind;
using keystore::ChangeRecord;

Follower::Follower(keystore::Keystore* keystore, Authorizer* authorizer,
                   SessionTable* sessions, absl::Duration poll)
    : keystore_(keystore),
      authorizer_(authorizer),
      sessions_(sessions),
      poll_(poll) {}

Follower::~Follower() { Stop(); }

void Follower::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Follower::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Follower::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    RunOnce().IgnoreError();  // logged by RunOnce
    keystore_->WaitForChange(poll_);
  }
}

void Follower::Apply(const std::vector<ChangeRecord>& changes) {
  for (const ChangeRecord& c : changes) {
    switch (c.kind) {
      case ChangeKind::kPolicy: {
        absl::MutexLock lock(&mu_);
        policies_stale_ = true;
        break;
      }
      case ChangeKind::kApiKey: {
        // Created or revoked (here or elsewhere): a revoked key's sessions
        // end here too, and it gets no new ones (SessionTable::Revoke). A
        // created one's are left: sessions made since the creation
        // committed, before it was read back here, are its own. Revocation
        // is for good, so a key not revoked now was not revoked by this
        // change; the sessions of one that cannot be read end (its next
        // Login reads it again).
        auto key = keystore_->GetApiKey(c.subject);
        if (!key.ok()) {
          sessions_->EndSessionsOf(c.subject);
        } else if (key->revoked_at != absl::InfiniteFuture()) {
          sessions_->Revoke(c.subject);
        }
        break;
      }
      case ChangeKind::kStore: {
        // Restored elsewhere (this replica is sealed now), or reloaded.
        sessions_->Restored();
        absl::MutexLock lock(&mu_);
        policies_stale_ = true;
        break;
      }
      case ChangeKind::kKey:
      case ChangeKind::kToken:
        break;  // applied by Keystore::CatchUp
    }
  }
}

absl::Status Follower::RunOnce() {
  constexpr int kBatch = 1000;
  absl::Status status;
  while (true) {
    auto changes = keystore_->CatchUp(kBatch);
    if (!changes.ok()) {
      status = changes.status();
      break;
    }
    Apply(*changes);
    if (static_cast<int>(changes->size()) < kBatch) break;
  }
  bool reload = false;
  {
    absl::MutexLock lock(&mu_);
    reload = policies_stale_;
  }
  if (status.ok() && reload) {
    auto policies = keystore_->ListPolicies();
    if (policies.ok()) {
      authorizer_->Reload(std::move(*policies));
      absl::MutexLock lock(&mu_);
      policies_stale_ = false;
    } else {
      status = policies.status();
    }
  }
  int64_t head = -1;
  if (status.ok() && metrics_ != nullptr) {
    auto read = keystore_->FeedHead();
    if (read.ok()) head = *read;
  }
  absl::MutexLock lock(&mu_);
  if (metrics_ != nullptr) {
    if (head >= 0) head_ = head;
    metrics_->SetFeedLag(
        Lag(), std::max<int64_t>(0, head_ - keystore_->FeedPosition()));
  }
  if (!status.ok() && !failing_) {
    LogWarning("feed_follow_failed",
               {{"error", std::string(status.message())}});
  } else if (status.ok() && failing_) {
    LogInfo("feed_follow_resumed",
            {{"position", std::to_string(keystore_->FeedPosition())}});
  }
  failing_ = !status.ok();
  return status;
}

void Follower::ExportLag(Metrics* metrics) { metrics_ = metrics; }

absl::Duration Follower::Lag() const {
  return std::max(absl::ZeroDuration(), absl::Now() - keystore_->CaughtUpAt());
}

}  // namespace keyward::daemon
