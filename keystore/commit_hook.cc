#include "keystore/commit_hook.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace keyward::keystore {
namespace {

thread_local ScopedCommitHook* current_hook = nullptr;
thread_local const LeaseFence* current_fence = nullptr;

}  // namespace

ScopedCommitHook::ScopedCommitHook(Hook hook) : hook_(std::move(hook)) {
  if (current_hook != nullptr) std::abort();  // scopes do not nest
  current_hook = this;
}

ScopedCommitHook::~ScopedCommitHook() { current_hook = nullptr; }

absl::Status RunCommitHook(const CommitInfo& info) {
  ScopedCommitHook* hook = current_hook;
  if (hook == nullptr || hook->ran_ || !hook->hook_) return absl::OkStatus();
  absl::Status s = hook->hook_(info);
  if (s.ok()) hook->ran_ = hook->awaiting_outcome_ = true;
  return s;
}

void NoteCommitOutcome(bool committed) {
  ScopedCommitHook* hook = current_hook;
  if (hook == nullptr || !hook->awaiting_outcome_) return;
  hook->awaiting_outcome_ = false;
  hook->committed_ = committed;
  // A change that did not commit has not taken the record: a retry of it
  // (or the call's next change) runs the hook again.
  if (!committed) hook->ran_ = false;
}

ScopedLeaseFence::ScopedLeaseFence(LeaseFence fence) {
  if (current_fence != nullptr) std::abort();  // scopes do not nest
  current_fence = new LeaseFence(std::move(fence));
}

ScopedLeaseFence::~ScopedLeaseFence() {
  delete current_fence;
  current_fence = nullptr;
}

const LeaseFence* CurrentLeaseFence() { return current_fence; }

absl::Status LeaseLostError(const LeaseFence& fence) {
  return absl::FailedPreconditionError(absl::StrCat(
      "the lease '", fence.name, "' (epoch ", fence.epoch, ") is no longer "
      "held by '", fence.holder, "': it expired or another replica took it; "
      "the change was not made"));
}

}  // namespace keyward::keystore
