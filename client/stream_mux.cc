#include "client/stream_mux.h"

#include <algorithm>
#include <utility>
#include <vector>


namespace keyward {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

}  // namespace

StreamMux::StreamMux(std::shared_ptr<grpc::Channel> channel,
                     const std::string& session_token)
    : stub_(v1::DataPlaneService::NewStub(std::move(channel))) {
  if (!session_token.empty()) {
    context_.AddMetadata("authorization", "Bearer " + session_token);
  }
  stub_->async()->Stream(&context_, this);
  StartRead(&in_);
  StartCall();
}

StreamMux::~StreamMux() {
  absl::MutexLock lock(&mu_);
  closing_ = true;
  MaybeWrite();
  mu_.Await(absl::Condition(&done_));
}

bool StreamMux::Enqueue(v1::StreamItem& item, Callback& done) {
  if (done_) return false;
  // Once the stream is ending, the call waits for OnDone's status.
  const uint64_t id = next_id_++;
  pending_.emplace(id, Pending{item.id(), std::move(done)});
  if (ended_.ok()) {
    item.set_id(id);
    queued_.add_items()->Swap(&item);
    MaybeWrite();
  }
  return true;
}

void StreamMux::Call(v1::StreamItem item, Callback done) {
  absl::Status ended;
  {
    absl::MutexLock lock(&mu_);
    if (Enqueue(item, done)) return;
    ended = ended_;
  }
  done(ended);
}

absl::StatusOr<v1::StreamResult> StreamMux::CallSync(v1::StreamItem item) {
  return CallSync(std::move(item), absl::InfiniteFuture());
}

absl::StatusOr<v1::StreamResult> StreamMux::CallSync(v1::StreamItem item,
                                                     absl::Time deadline) {
  // The callback may run after this returns (deadline): it owns the slot.
  struct Slot {
    absl::Mutex mu;
    bool answered ABSL_GUARDED_BY(mu) = false;
    absl::StatusOr<v1::StreamResult> out ABSL_GUARDED_BY(mu);
  };
  auto slot = std::make_shared<Slot>();
  Callback done = [slot](absl::StatusOr<v1::StreamResult> result) {
    absl::MutexLock lock(&slot->mu);
    slot->out = std::move(result);
    slot->answered = true;
  };
  {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return done_ || !ended_.ok() || pending_.size() < kMaxOutstanding;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&room), deadline)) {
      return absl::DeadlineExceededError(
          "no room on the data-plane stream before the deadline");
    }
    if (!Enqueue(item, done)) return ended_;
  }
  absl::MutexLock lock(&slot->mu);
  if (!slot->mu.AwaitWithDeadline(absl::Condition(&slot->answered),
                                  deadline)) {
    return absl::DeadlineExceededError(
        "no answer on the data-plane stream before the deadline");
  }
  return std::move(slot->out);
}

bool StreamMux::ended() const {
  absl::MutexLock lock(&mu_);
  return !ended_.ok() || done_;
}

void StreamMux::MaybeWrite() {
  if (write_in_flight_ || dispatching_ || !ended_.ok()) return;
  if (queued_.items_size() == 0) {
    if (closing_ && !writes_done_sent_) {
      writes_done_sent_ = true;
      StartWritesDone();
    }
    return;
  }
  writing_.Clear();
  // From kSplitFrom items queued on, the message carries half of them and
  // the rest follow in the next write (see the header).
  int n = queued_.items_size();
  if (n >= kSplitFrom) n = (n + 1) / 2;
  n = std::min(n, kMaxItemsPerMessage);
  if (n == queued_.items_size()) {
    writing_.Swap(&queued_);
  } else {
    auto* items = queued_.mutable_items();
    for (int i = 0; i < n; ++i) {
      writing_.add_items()->Swap(items->Mutable(i));
    }
    items->DeleteSubrange(0, n);
  }
  ++messages_;
  items_ += writing_.items_size();
  write_in_flight_ = true;
  StartWrite(&writing_);
}

void StreamMux::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  write_in_flight_ = false;
  // A failed write means the stream is ending; OnReadDone/OnDone report it.
  if (ok) MaybeWrite();
}

void StreamMux::OnReadDone(bool ok) {
  std::vector<std::pair<Callback, v1::StreamResult>> answered;
  {
    absl::MutexLock lock(&mu_);
    if (ok) {
      for (auto& result : *in_.mutable_results()) {
        auto it = pending_.find(result.id());
        if (it == pending_.end()) continue;  // not ours: ignored
        result.set_id(it->second.caller_id);
        answered.emplace_back(std::move(it->second.done), std::move(result));
        pending_.erase(it);
      }
      in_.Clear();
      dispatching_ = !answered.empty();
    } else if (ended_.ok()) {
      // The stream ended: OnDone follows with its status.
      ended_ = absl::UnavailableError("the stream ended");
    }
  }
  for (auto& [done, result] : answered) done(std::move(result));
  if (!answered.empty()) {
    // What the callbacks submitted goes out together.
    absl::MutexLock lock(&mu_);
    dispatching_ = false;
    MaybeWrite();
  }
  if (ok) StartRead(&in_);
}

void StreamMux::OnDone(const grpc::Status& status) {
  const absl::Status ended =
      status.ok() ? absl::CancelledError("the stream was closed")
                  : FromGrpc(status);
  absl::MutexLock lock(&mu_);
  ended_ = ended;
  // Calls made while the callbacks run are failed too; done_ last, since
  // the destructor may run as soon as it is set.
  while (!pending_.empty()) {
    std::vector<Callback> failed;
    for (auto& [id, p] : pending_) failed.push_back(std::move(p.done));
    pending_.clear();
    mu_.Unlock();
    for (auto& done : failed) done(ended);
    mu_.Lock();
  }
  done_ = true;
}

uint64_t StreamMux::messages_sent() const {
  absl::MutexLock lock(&mu_);
  return messages_;
}

uint64_t StreamMux::items_sent() const {
  absl::MutexLock lock(&mu_);
  return items_;
}

}  // namespace keyward
