// WorkPool: a fixed set of threads that run scheduled closures, oldest
// first. DataPlaneService spreads one stream message's items over it, so
// that a caller who sends many items in one message gets every core rather
// than the one gRPC thread that read the message.
//
// The queue itself is not bounded: callers bound what they schedule (the
// stream's items are bounded per stream and per principal before they are
// run).
#ifndef KEYWARD_DAEMON_WORK_POOL_H_
#define KEYWARD_DAEMON_WORK_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace keyward::daemon {

class WorkPool {
 public:
  // Starts `threads` threads (at least 1).
  explicit WorkPool(int threads);
  // Runs every closure already scheduled, then joins the threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()); }

  // ChunksFor: into how many chunks to split `items` units of work, one
  // per thread at most, each of at least `min_per_chunk` units unless there
  // is only one: 1 to size().
  int ChunksFor(int items, int min_per_chunk) const;

  // Schedule runs `work` on one of the pool's threads. Thread-safe.
  void Schedule(std::function<void()> work);

  // The number of threads for this machine: its cores (at least 1).
  static int DefaultSize();

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_WORK_POOL_H_
