// keyward-bench's view of the machine: cores, CPU model, load average, the
// CPU time of this process and of the daemon, and the disk's fsync cost.
#ifndef KEYWARD_TOOLS_KEYWARD_BENCH_MACHINE_H_
#define KEYWARD_TOOLS_KEYWARD_BENCH_MACHINE_H_

#include <sys/types.h>

#include <chrono>
#include <string>

namespace keyward::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The cores this process may run on.
int Cores();
// /proc/cpuinfo's model name, or "unknown".
std::string CpuModel();
// "1.00 2.00 3.00" (1, 5, 15 min), or "unknown".
std::string LoadAverage();
// User + system CPU seconds of this process.
double SelfCpuSeconds();
// utime + stime of `pid` in seconds, or -1 if it cannot be read; `system`
// (if not null) gets the stime part.
double ProcessCpuSeconds(pid_t pid, double* system = nullptr);
// The pid of the process listening on the Unix socket `path`, or 0.
pid_t ListenerPid(const std::string& path);
// FsyncProbe times 50 appends + fdatasync of an audit-sized line to a
// scratch file in `dir` (removed after) and returns "p50 X ms, p90 Y ms",
// or "" if `dir` is empty.
std::string FsyncProbe(const std::string& dir);

}  // namespace keyward::bench

#endif  // KEYWARD_TOOLS_KEYWARD_BENCH_MACHINE_H_
