// keyward-bench's load drivers: a Workload issues one operation; RunLoad
// keeps --inflight of them outstanding (closed loop) or starts --rate per
// second (open loop) and records each one's latency and outcome in the
// measured window, with the CPU the bench and the daemon used in it.
// RawRate runs the raw crypto layer in process for the (a) of --compare.
#ifndef KEYWARD_TOOLS_KEYWARD_BENCH_LOAD_H_
#define KEYWARD_TOOLS_KEYWARD_BENCH_LOAD_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "tools/keyward_bench_machine.h"

namespace keyward::bench {

// One call's outcome.
struct Outcome {
  int items_ok = 0;
  // (code name, message) of each failure: the call's, or each failed item's.
  std::vector<std::pair<std::string, std::string>> errors;
};

std::string CodeName(grpc::StatusCode code);
Outcome Failed(const grpc::Status& s);
Outcome Failed(const absl::Status& s);
// One item that came back wrong: code BAD_RESULT with `why`.
Outcome BadResult(std::string why);
Outcome Succeeded(int items);

// The record of one run.
struct RunResult {
  double seconds = 0;
  int64_t calls = 0;      // completed in the window, with or without error
  int64_t items_ok = 0;   // operations done (batch items count one each)
  int64_t errors = 0;     // failed calls or items
  std::map<std::string, int64_t> errors_by_code;
  std::map<std::string, std::string> first_message;
  std::vector<double> latency_us;  // per call, sorted
  double client_cpu = 0;
  double daemon_cpu = -1;  // -1: unknown
  double daemon_system_cpu = -1;  // its kernel (stime) part; -1: unknown
  std::string load;        // load average when the window began
  std::string fsync;       // --fsync-probe before the run, or ""

  double ops_per_s() const { return seconds > 0 ? items_ok / seconds : 0; }
  double calls_per_s() const { return seconds > 0 ? calls / seconds : 0; }
  double Percentile(double p) const;
};

using Done = std::function<void(Outcome)>;

// Workload: one kind of call against the daemon.
class Workload {
 public:
  virtual ~Workload() = default;
  // Issue starts one call; `done` runs once when it ends: on a gRPC thread,
  // or inline if the call failed at once, or (blocking()) inline always.
  virtual void Issue(Done done) = 0;
  // blocking: Issue returns only after `done` ran (a synchronous client);
  // RunLoad then keeps --inflight threads calling it, closed loop only.
  virtual bool blocking() const { return false; }
  // Transport: how the calls travelled so far, for the report (e.g. the
  // items per stream message), or "" if there is nothing to say.
  virtual std::string Transport() const { return ""; }
};

struct LoadOptions {
  int inflight = 32;
  double rate = 0;
  int max_inflight = 2000;
  absl::Duration warmup;
  absl::Duration duration;
  absl::Duration deadline;
  pid_t daemon_pid = 0;
  std::string fsync_probe_dir;  // FsyncProbe before the run; "" for none
};

// RunLoad drives `work` for opt.warmup + opt.duration and returns what
// ended in the measured window (calls still outstanding at the end are
// waited for, not counted). A blocking workload with opt.rate > 0 is
// refused (Die).
RunResult RunLoad(Workload& work, const LoadOptions& opt);

// RawRate runs `op` on `threads` threads and returns completed ops/s over
// `duration` after `warmup`; `cpu` gets this process's CPU and the load.
double RawRate(const std::function<void()>& op, int threads,
               absl::Duration warmup, absl::Duration duration,
               RunResult* cpu);

}  // namespace keyward::bench

#endif  // KEYWARD_TOOLS_KEYWARD_BENCH_LOAD_H_
