#include "daemon/work_pool.h"

#include <algorithm>
#include <utility>

namespace keyward::daemon {

WorkPool::WorkPool(int threads) {
  threads = std::max(threads, 1);
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkPool::~WorkPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

int WorkPool::DefaultSize() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int WorkPool::ChunksFor(int items, int min_per_chunk) const {
  return std::max(1, std::min(size(), items / std::max(min_per_chunk, 1)));
}

void WorkPool::Schedule(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
}

void WorkPool::Loop() {
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  };
  while (true) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_, absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing left to run
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

}  // namespace keyward::daemon
