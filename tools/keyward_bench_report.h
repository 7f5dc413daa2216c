// keyward-bench's output: a run as JSON or text, the machine it ran on, and
// the helpers both forms use. The format is read by
// tools/keyward_bench_table.py, tools/peers_suite.py and
// tests/bench/bench_smoke_test.cc: keep it stable.
#ifndef KEYWARD_TOOLS_KEYWARD_BENCH_REPORT_H_
#define KEYWARD_TOOLS_KEYWARD_BENCH_REPORT_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "tools/keyward_bench_load.h"

namespace keyward::bench {

// Where the run happened: this machine and the daemon's build.
struct Machine {
  int cores = 0;
  std::string cpu;
  std::string flavor;          // from GetStatus
  std::string daemon_library;  // from GetStatus
  std::string bench_library;   // this process's libcrypto
  std::string daemon_version;
  pid_t daemon_pid = 0;
};

// A JSON string literal of `s`, and a JSON number ("null" if not finite).
std::string JsonString(absl::string_view s);
std::string JsonNumber(double v);
// A JSON array of numbers.
std::string JsonList(const std::vector<double>& v);

std::string MachineJson(const Machine& m);
std::string MachineText(const Machine& m);

// "none", or each error code with its count and first message.
std::string ErrorsText(const RunResult& r);
std::string ResultJson(const RunResult& r);
// The text report of one run; `batch` > 1 adds the calls/s.
void PrintResultText(const RunResult& r, int batch);

// The median of `v` (0 if empty).
double Median(std::vector<double> v);

}  // namespace keyward::bench

#endif  // KEYWARD_TOOLS_KEYWARD_BENCH_REPORT_H_
