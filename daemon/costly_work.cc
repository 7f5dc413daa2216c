#include "daemon/costly_work.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace keyward::daemon {

absl::Status StillWanted(const grpc::ServerContextBase& context) {
  if (context.deadline() <= std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError(
        "the call's deadline passed before its costly work (key derivation "
        "or generation) started; nothing was done: retry with a longer "
        "deadline");
  }
  if (context.IsCancelled()) {
    return absl::CancelledError(
        "the call was cancelled before its costly work started; nothing was "
        "done");
  }
  return absl::OkStatus();
}

CostlyWork::Slot::~Slot() {
  if (owner_ != nullptr) owner_->Release();
}

void CostlyWork::Release() {
  absl::MutexLock lock(&mu_);
  --busy_;
}

absl::StatusOr<CostlyWork::Slot> CostlyWork::Begin(
    const grpc::ServerContextBase& context) {
  const absl::Time give_up = absl::Now() + max_wait_;
  auto free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return busy_ < slots_;
  };
  while (true) {
    absl::Status wanted = StillWanted(context);
    if (!wanted.ok()) return wanted;
    {
      absl::MutexLock lock(&mu_);
      // Wake at least every 20 ms to notice a deadline or a cancellation.
      if (mu_.AwaitWithTimeout(absl::Condition(&free), absl::Milliseconds(20))) {
        // The caller may have given up while it waited.
        wanted = StillWanted(context);
        if (!wanted.ok()) return wanted;
        ++busy_;
        return Slot(this);
      }
    }
    if (absl::Now() >= give_up) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "keywardd is busy with ", slots_,
          " costly calls (key derivation or generation) and this one waited ",
          absl::FormatDuration(max_wait_), "; retry later"));
    }
  }
}

}  // namespace keyward::daemon
