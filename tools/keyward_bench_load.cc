// keyward-bench's load drivers (keyward_bench_load.h).
#include "tools/keyward_bench_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tools/keyward_bench_flags.h"

namespace keyward::bench {

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

Outcome Failed(const grpc::Status& s) {
  Outcome o;
  o.errors.emplace_back(CodeName(s.error_code()), s.error_message());
  return o;
}

Outcome Failed(const absl::Status& s) {
  Outcome o;
  o.errors.emplace_back(absl::StatusCodeToString(s.code()), std::string(s.message()));
  return o;
}

Outcome BadResult(std::string why) {
  Outcome o;
  o.errors.emplace_back("BAD_RESULT", std::move(why));
  return o;
}

Outcome Succeeded(int items) {
  Outcome o;
  o.items_ok = items;
  return o;
}

double RunResult::Percentile(double p) const {
  if (latency_us.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * latency_us.size());
  return latency_us[std::min(i, latency_us.size() - 1)];
}

namespace {

class Recorder {
 public:
  Recorder(Clock::time_point start, Clock::time_point end)
      : start_(start), end_(end) {}

  // Counts the call if it ended inside the window.
  void Record(Clock::time_point began, Clock::time_point ended,
              const Outcome& o) {
    if (ended < start_ || ended >= end_) return;
    const double us =
        std::chrono::duration<double, std::micro>(ended - began).count();
    std::lock_guard<std::mutex> lock(mu_);
    r_.latency_us.push_back(us);
    ++r_.calls;
    r_.items_ok += o.items_ok;
    for (const auto& [code, message] : o.errors) {
      ++r_.errors;
      ++r_.errors_by_code[code];
      r_.first_message.emplace(code, message);
    }
  }

  void Dropped(Clock::time_point due) {
    if (due < start_ || due >= end_) return;
    std::lock_guard<std::mutex> lock(mu_);
    ++r_.errors;
    ++r_.errors_by_code["DROPPED"];
    r_.first_message.emplace(
        "DROPPED", "due while --max_inflight calls were outstanding; not sent");
  }

  RunResult Take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::sort(r_.latency_us.begin(), r_.latency_us.end());
    return std::move(r_);
  }

 private:
  const Clock::time_point start_, end_;
  std::mutex mu_;
  RunResult r_;
};

// Measures CPU and load at the window's edges while the load runs.
void MeasureWindow(Clock::time_point start, Clock::time_point end,
                   pid_t daemon_pid, RunResult* cpu) {
  std::this_thread::sleep_until(start);
  cpu->load = LoadAverage();
  const double client0 = SelfCpuSeconds();
  double sys0 = 0, sys1 = 0;
  const double daemon0 = ProcessCpuSeconds(daemon_pid, &sys0);
  std::this_thread::sleep_until(end);
  const double client1 = SelfCpuSeconds();
  const double daemon1 = ProcessCpuSeconds(daemon_pid, &sys1);
  cpu->client_cpu = client1 - client0;
  cpu->daemon_cpu = daemon0 >= 0 && daemon1 >= 0 ? daemon1 - daemon0 : -1;
  cpu->daemon_system_cpu = cpu->daemon_cpu >= 0 ? sys1 - sys0 : -1;
}

}  // namespace

RunResult RunLoad(Workload& work, const LoadOptions& opt) {
  const std::string fsync = FsyncProbe(opt.fsync_probe_dir);
  const Clock::time_point begin = Clock::now();
  const Clock::time_point start = begin + absl::ToChronoNanoseconds(opt.warmup);
  const Clock::time_point end = start + absl::ToChronoNanoseconds(opt.duration);
  Recorder recorder(start, end);

  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  std::deque<Clock::time_point> retry;  // closed loop: failed calls to redo
  auto finish_one = [&]() {
    std::lock_guard<std::mutex> lock(mu);
    --outstanding;
    cv.notify_all();
  };

  std::function<void()> launch;
  std::thread driver;
  if (work.blocking()) {
    // Closed loop over a synchronous client: --inflight threads, each
    // calling again as soon as its call returned (1 ms later after a call
    // that failed outright).
    if (opt.rate > 0) Die("a blocking workload (--mode=coalesced) is closed loop only");
    outstanding = opt.inflight;
    driver = std::thread([&]() {
      std::vector<std::thread> callers;
      for (int i = 0; i < opt.inflight; ++i) {
        callers.emplace_back([&]() {
          while (Clock::now() < end) {
            const Clock::time_point began = Clock::now();
            bool failed = false;
            work.Issue([&](Outcome o) {
              recorder.Record(began, Clock::now(), o);
              failed = !o.errors.empty() && o.items_ok == 0;
            });
            if (failed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          finish_one();
        });
      }
      for (std::thread& t : callers) t.join();
    });
  } else if (opt.rate <= 0) {
    // Closed loop: each completion starts the next call at once, on the
    // gRPC thread that ran it. A call that failed is restarted by the
    // driver thread instead (after 1 ms), so that a daemon refusing calls
    // at once cannot make the callbacks recurse.
    launch = [&]() {
      const Clock::time_point began = Clock::now();
      work.Issue([&, began](Outcome o) {
        const Clock::time_point now = Clock::now();
        recorder.Record(began, now, o);
        if (now >= end) {
          finish_one();
        } else if (o.errors.empty() || o.items_ok > 0) {
          launch();
        } else {
          std::lock_guard<std::mutex> lock(mu);
          --outstanding;
          retry.push_back(now);
          cv.notify_all();
        }
      });
    };
    outstanding = opt.inflight;
    driver = std::thread([&]() {
      for (int i = 0; i < opt.inflight; ++i) launch();
      std::unique_lock<std::mutex> lock(mu);
      while (Clock::now() < end) {
        cv.wait_until(lock, end, [&] { return !retry.empty(); });
        while (!retry.empty() && Clock::now() < end) {
          retry.pop_front();
          ++outstanding;
          lock.unlock();
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          launch();
          lock.lock();
        }
      }
    });
  } else {
    // Open loop: call i is due at begin + i / rate and starts then, or as
    // soon after as this thread gets to it; latency counts from when due.
    driver = std::thread([&]() {
      const auto period = std::chrono::duration<double>(1.0 / opt.rate);
      for (int64_t i = 0;; ++i) {
        const Clock::time_point due =
            begin + std::chrono::duration_cast<Clock::duration>(period * i);
        if (due >= end) break;
        std::this_thread::sleep_until(due);
        {
          std::lock_guard<std::mutex> lock(mu);
          if (outstanding >= opt.max_inflight) {
            recorder.Dropped(due);
            continue;
          }
          ++outstanding;
        }
        work.Issue([&, due](Outcome o) {
          recorder.Record(due, Clock::now(), o);
          finish_one();
        });
      }
    });
  }

  RunResult cpu;
  MeasureWindow(start, end, opt.daemon_pid, &cpu);
  driver.join();
  {
    // Calls still in flight at the end are waited for (not counted).
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, absl::ToChronoNanoseconds(opt.deadline + absl::Seconds(1)),
                [&] { return outstanding <= 0; });
    if (outstanding > 0) {
      Die(absl::StrCat(outstanding, " calls did not end within the deadline"));
    }
  }
  RunResult result = recorder.Take();
  result.seconds = Seconds(end - start);
  result.client_cpu = cpu.client_cpu;
  result.daemon_cpu = cpu.daemon_cpu;
  result.daemon_system_cpu = cpu.daemon_system_cpu;
  result.load = cpu.load;
  result.fsync = fsync;
  return result;
}

double RawRate(const std::function<void()>& op, int threads,
               absl::Duration warmup, absl::Duration duration,
               RunResult* cpu) {
  struct alignas(64) Counter {
    std::atomic<int64_t> n{0};
  };
  std::vector<Counter> counts(threads);
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t]() {
      while (!stop.load(std::memory_order_relaxed)) {
        op();
        counts[t].n.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  auto total = [&]() {
    int64_t sum = 0;
    for (const Counter& c : counts) sum += c.n.load(std::memory_order_relaxed);
    return sum;
  };
  const Clock::time_point start =
      Clock::now() + absl::ToChronoNanoseconds(warmup);
  const Clock::time_point end = start + absl::ToChronoNanoseconds(duration);
  std::this_thread::sleep_until(start);
  cpu->load = LoadAverage();
  const int64_t n0 = total();
  const double cpu0 = SelfCpuSeconds();
  const Clock::time_point t0 = Clock::now();
  std::this_thread::sleep_until(end);
  const int64_t n1 = total();
  const double cpu1 = SelfCpuSeconds();
  const Clock::time_point t1 = Clock::now();
  stop = true;
  for (std::thread& w : workers) w.join();
  cpu->client_cpu = cpu1 - cpu0;
  cpu->seconds = Seconds(t1 - t0);
  cpu->items_ok = n1 - n0;
  return (n1 - n0) / Seconds(t1 - t0);
}

}  // namespace keyward::bench
