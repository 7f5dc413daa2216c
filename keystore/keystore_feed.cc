// Keystore: following the change feed (keystore.h, "Replicas").
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/keystore.h"
#include "keystore/keystore_impl.h"

namespace keyward::keystore {

absl::StatusOr<std::vector<ChangeRecord>> Keystore::CatchUp(int limit) {
  absl::MutexLock follow(&impl_->feed_mu_);
  const absl::Time started = absl::Now();
  const int64_t position = impl_->feed_position_.load();
  auto changes = impl_->storage_->ReadChanges(position, limit);
  if (!changes.ok()) return changes.status();
  // Pruned changes (this keystore fell behind the retention) cannot be
  // applied one by one: reload. A restore replaced everything: reload, and
  // seal (the restored store may have another root key).
  bool gap = !changes->empty() && changes->front().seq != position + 1;
  bool restored = false;
  for (const ChangeRecord& c : *changes) {
    restored = restored || c.kind == ChangeKind::kStore;
  }
  if (gap || restored) {
    {
      // No cache load runs meanwhile (it could put back an old entry).
      absl::MutexLock admin(&impl_->admin_mu_);
      if (restored) {
        Seal();
      } else {
        impl_->cache_.Clear();
      }
    }
    absl::Status s = impl_->LoadIndexes();
    if (!s.ok()) return s;
    ChangeRecord reload;
    reload.seq = impl_->feed_position_.load();
    reload.kind = ChangeKind::kStore;
    reload.at = started;
    return std::vector<ChangeRecord>{reload};
  }
  if (!changes->empty()) {
    // Exclusive: a cache load that read the key before the change
    // committed finishes first, so the entry dropped here is not put back
    // stale (keystore_impl.h, admin_mu_).
    absl::MutexLock admin(&impl_->admin_mu_);
    for (const ChangeRecord& c : *changes) {
      // An entry read after the change (this replica's own, say) holds it.
      if (c.kind == ChangeKind::kKey) {
        impl_->cache_.EraseOlderThan(c.subject, c.seq);
      }
      if (c.kind == ChangeKind::kToken) {
        absl::MutexLock lock(&impl_->revoked_mu_);
        impl_->revoked_.insert(c.subject);
        impl_->any_revoked_.store(true, std::memory_order_release);
      }
    }
    impl_->feed_position_.store(changes->back().seq);
  }
  if (static_cast<int>(changes->size()) < limit) {
    impl_->caught_up_at_us_.store(absl::ToUnixMicros(started));
  }
  return changes;
}

int64_t Keystore::FeedPosition() const { return impl_->feed_position_.load(); }

absl::StatusOr<int64_t> Keystore::FeedHead() {
  return impl_->storage_->ChangeHead();
}

absl::Time Keystore::CaughtUpAt() const {
  return absl::FromUnixMicros(impl_->caught_up_at_us_.load());
}

void Keystore::WaitForChange(absl::Duration timeout) {
  impl_->storage_->WaitForChange(timeout);
}

absl::StatusOr<LeaseRecord> Keystore::AcquireLease(const std::string& name,
                                                   const std::string& holder,
                                                   absl::Duration ttl) {
  return impl_->storage_->AcquireLease(name, holder, ttl);
}

absl::StatusOr<int> Keystore::PruneChanges(absl::Duration keep, int limit) {
  return impl_->storage_->PruneChanges(absl::Now() - keep, limit);
}

}  // namespace keyward::keystore
