// keyward-bench: a load generator for keywardd (issue 7, PRODUCT.md "The bar").
//
// It drives one operation against a running daemon with the gRPC callback
// client API, either closed-loop (--inflight calls always outstanding) or
// open-loop (--rate calls started per second, latency measured from the
// moment each call was due, so a stall is not hidden), and prints throughput,
// p50/p90/p99/p99.9 latency, errors by status code, and the CPU seconds the
// bench (getrusage) and the daemon (/proc/PID/stat) used in the window.
//
// --compare runs, back to back and --runs times: (a) the raw crypto layer
// in this process on as many threads as cores, (b) noop against the daemon,
// (c) the operation against the daemon; and prints the medians and the
// ratio of (c) to the ideal 1 / (1/a + 1/b): the rate the machine would
// reach if the daemon added nothing but one RPC per operation.
//
//   keyward-bench --target unix:///tmp/kw/k.sock --op sign --key-type ed25519
//   keyward-bench --target unix:///tmp/kw/k.sock --op encrypt --compare
//   keyward-bench --target unix:///tmp/kw/k.sock --op sign --rate 5000
//   keyward-bench --target unix:///tmp/kw/k.sock --op sign --mode stream
//   keyward-bench --target unix:///tmp/kw/k.sock --op sign --mode coalesced
//
// The tool by concern: keyward_bench_flags (command line, operations, key
// types), keyward_bench_machine (cores, load, CPU times), keyward_bench_load
// (the load drivers), keyward_bench_raw (the in-process baseline),
// keyward_bench_workloads (the daemon side: one template over the method
// for --mode unary, stream and coalesced), keyward_bench_report (output).
//
// BENCHMARKS.md has the figures and how to read them.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tools/keyward_bench_flags.h"
#include "tools/keyward_bench_load.h"
#include "tools/keyward_bench_machine.h"
#include "tools/keyward_bench_raw.h"
#include "tools/keyward_bench_report.h"
#include "tools/keyward_bench_workloads.h"

namespace keyward::bench {
namespace {

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "load generator for keywardd: keyward-bench --target unix:///path "
      "--op sign [--key-type ed25519] [--compare] ...");
  std::vector<std::string> storage;
  std::vector<char*> args = NormalizeFlags(argc, argv, &storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());

  absl::StatusOr<Op> parsed_op = ParseOp(absl::GetFlag(FLAGS_op));
  if (!parsed_op.ok()) Die(std::string(parsed_op.status().message()));
  const Op op = *parsed_op;
  absl::StatusOr<Mode> parsed_mode = ParseMode(absl::GetFlag(FLAGS_mode));
  if (!parsed_mode.ok()) Die(std::string(parsed_mode.status().message()));
  const Mode call_mode = *parsed_mode;
  const std::string type_name = absl::GetFlag(FLAGS_key_type);
  const KeyTypeInfo* type = &DefaultKeyType(op);
  if (!type_name.empty()) {
    absl::StatusOr<const KeyTypeInfo*> parsed = ParseBenchKeyType(type_name);
    if (!parsed.ok()) {
      Die(absl::StrCat("--key-type: ", parsed.status().message()));
    }
    type = *parsed;
  }
  if (absl::Status s = Fits(op, *type); !s.ok()) Die(std::string(s.message()));
  const int payload_size = absl::GetFlag(FLAGS_payload);
  if (payload_size < 0) Die("--payload must be >= 0");
  const std::string payload = Payload(payload_size);
  const bool json = absl::GetFlag(FLAGS_json);
  const bool compare = absl::GetFlag(FLAGS_compare);
  const int batch = op == Op::kSignBatch ? absl::GetFlag(FLAGS_batch) : 1;

  LoadOptions load;
  load.inflight = absl::GetFlag(FLAGS_inflight);
  load.rate = absl::GetFlag(FLAGS_rate);
  load.max_inflight = absl::GetFlag(FLAGS_max_inflight);
  load.warmup = absl::GetFlag(FLAGS_warmup);
  load.duration = absl::GetFlag(FLAGS_duration);
  load.deadline = absl::GetFlag(FLAGS_deadline);
  load.fsync_probe_dir = absl::GetFlag(FLAGS_fsync_probe);
  if (load.inflight < 1) Die("--inflight must be at least 1");
  if (load.duration <= absl::ZeroDuration()) Die("--duration must be positive");
  if (load.warmup < absl::ZeroDuration()) Die("--warmup must not be negative");
  if (call_mode == Mode::kCoalesced && load.rate > 0) {
    Die("--mode=coalesced is closed loop only (no --rate)");
  }

  const std::string target = ResolveTarget();
  auto stubs = Connect(target, std::max(1, absl::GetFlag(FLAGS_channels)));
  const Machine machine = Describe(*stubs);
  load.daemon_pid = machine.daemon_pid;

  const std::string mode = load.rate > 0
                               ? absl::StrFormat("open loop at %.0f calls/s", load.rate)
                               : absl::StrCat(load.inflight, " in flight");
  const std::string what = absl::StrCat(
      NameOf(op), op == Op::kNoop ? absl::StrCat(" (", absl::GetFlag(FLAGS_noop_call), ")")
                                  : absl::StrCat(" ", type->name()),
      op == Op::kNoop ? "" : absl::StrCat(", payload ", payload_size, " B"),
      op == Op::kSignBatch ? absl::StrCat(", ", batch, " items per call") : "");

  if ((op == Op::kJwtSign || op == Op::kJwtVerify) && !JwtServed(*stubs, op)) {
    if (json) {
      std::printf("{\"tool\":\"keyward-bench\",\"op\":%s,\"skipped\":"
                  "\"UNIMPLEMENTED\",\"machine\":%s}\n",
                  JsonString(NameOf(op)).c_str(), MachineJson(machine).c_str());
    } else {
      std::printf("%s: not served by this daemon (UNIMPLEMENTED)\n", NameOf(op));
    }
    return 0;
  }

  if (!json) {
    std::printf("keyward-bench: %s, %s, %s (+%s warm-up), %s\n", what.c_str(),
                mode.c_str(), absl::FormatDuration(load.duration).c_str(),
                absl::FormatDuration(load.warmup).c_str(), target.c_str());
    std::printf("%s\n", MachineText(machine).c_str());
    std::fflush(stdout);
  }

  std::string key_name;
  std::unique_ptr<Workload> work = MakeWorkload(*stubs, op, call_mode, *type, payload,
                                                 &key_name);
  if (!json && !key_name.empty()) std::printf("key: %s\n", key_name.c_str());

  if (!compare) {
    RunResult r = RunLoad(*work, load);
    if (json) {
      std::printf("{\"tool\":\"keyward-bench\",\"op\":%s,\"key_type\":%s,"
                  "\"key\":%s,\"payload\":%d,\"inflight\":%d,\"rate\":%s,"
                  "\"batch\":%d,\"noop\":%s,\"machine\":%s,\"result\":%s,"
                  "\"ops\":%lld,\"errors\":%lld,\"ops_per_s\":%s,\"transport\":%s}\n",
                  JsonString(NameOf(op)).c_str(), JsonString(type->name()).c_str(),
                  JsonString(key_name).c_str(), payload_size, load.inflight,
                  JsonNumber(load.rate).c_str(), batch,
                  JsonString(absl::GetFlag(FLAGS_noop_call)).c_str(),
                  MachineJson(machine).c_str(), ResultJson(r).c_str(),
                  static_cast<long long>(r.items_ok),
                  static_cast<long long>(r.errors), JsonNumber(r.ops_per_s()).c_str(),
                  JsonString(work->Transport()).c_str());
    } else {
      PrintResultText(r, batch);
      const std::string transport = work->Transport();
      if (!transport.empty()) std::printf("transport    %s\n", transport.c_str());
    }
    return r.errors == 0 && r.items_ok > 0 ? 0 : 3;
  }

  // --compare: (a) raw, (b) noop, (c) op, --runs times, interleaved so that
  // drift of the machine hits all three alike.
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  const int threads = absl::GetFlag(FLAGS_threads) > 0 ? absl::GetFlag(FLAGS_threads)
                                                       : machine.cores;
  absl::StatusOr<std::function<void()>> raw =
      op == Op::kNoop ? absl::UnimplementedError("noop") : RawOp(op, *type, payload);
  if (!raw.ok() && op != Op::kNoop) Die(std::string(raw.status().message()));
  std::unique_ptr<Workload> noop =
      MakeNoopWorkload(*stubs, absl::GetFlag(FLAGS_noop_call) == "status");

  std::vector<double> a, b, c;
  std::vector<RunResult> a_runs, b_runs, c_runs;
  for (int run = 1; run <= runs; ++run) {
    if (raw.ok()) {
      RunResult cpu;
      a.push_back(RawRate(*raw, threads, load.warmup, load.duration, &cpu));
      a_runs.push_back(std::move(cpu));
    }
    b_runs.push_back(RunLoad(*noop, load));
    b.push_back(b_runs.back().ops_per_s());
    c_runs.push_back(RunLoad(*work, load));
    c.push_back(c_runs.back().ops_per_s());
    if (!json) {
      std::printf("run %d: ", run);
      if (raw.ok()) {
        std::printf("(a) raw %.0f/s [load %s]  ", a.back(), a_runs.back().load.c_str());
      }
      const RunResult& br = b_runs.back();
      const RunResult& cr = c_runs.back();
      std::printf("(b) noop %.0f/s p99 %.2f ms [load %s]  (c) %s %.0f/s p99 %.2f ms "
                  "[load %s]  errors %lld\n",
                  b.back(), br.Percentile(99) / 1e3, br.load.c_str(), NameOf(op),
                  c.back(), cr.Percentile(99) / 1e3, cr.load.c_str(),
                  static_cast<long long>(br.errors + cr.errors));
      if (!br.fsync.empty()) {
        std::printf("       disk before (b): %s; before (c): %s\n", br.fsync.c_str(),
                    cr.fsync.c_str());
      }
      std::fflush(stdout);
    }
  }
  const double am = Median(a), bm = Median(b), cm = Median(c);
  const double ideal = raw.ok() && am > 0 && bm > 0 ? 1.0 / (1.0 / am + 1.0 / bm) : 0;
  int64_t errors = 0;
  for (const RunResult& r : b_runs) errors += r.errors;
  for (const RunResult& r : c_runs) errors += r.errors;
  // The run of (c) whose rate is the median, for its latency and CPU.
  size_t median_run = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i] == cm) median_run = i;
  }
  if (runs % 2 == 0) {
    double best = 1e300;
    for (size_t i = 0; i < c.size(); ++i) {
      if (std::abs(c[i] - cm) < best) best = std::abs(c[i] - cm), median_run = i;
    }
  }
  const RunResult& cmed = c_runs[median_run];
  std::vector<double> bcpu, ccpu, bcli, ccli;
  for (const RunResult& r : b_runs) {
    if (r.daemon_cpu >= 0 && r.items_ok > 0) bcpu.push_back(r.daemon_cpu / r.items_ok * 1e6);
    if (r.items_ok > 0) bcli.push_back(r.client_cpu / r.items_ok * 1e6);
  }
  for (const RunResult& r : c_runs) {
    if (r.daemon_cpu >= 0 && r.items_ok > 0) ccpu.push_back(r.daemon_cpu / r.items_ok * 1e6);
    if (r.items_ok > 0) ccli.push_back(r.client_cpu / r.items_ok * 1e6);
  }
  // The raw operation's CPU per op in this process (all its threads).
  std::vector<double> acpu;
  for (const RunResult& r : a_runs) {
    if (r.items_ok > 0) acpu.push_back(r.client_cpu / r.items_ok * 1e6);
  }
  const bool aead_op = op == Op::kEncrypt || op == Op::kDecrypt;

  if (json) {
    std::vector<std::string> c_json;
    for (const RunResult& r : c_runs) c_json.push_back(ResultJson(r));
    std::vector<std::string> b_json;
    for (const RunResult& r : b_runs) b_json.push_back(ResultJson(r));
    std::printf(
        "{\"tool\":\"keyward-bench\",\"mode\":\"compare\",\"op\":%s,"
        "\"key_type\":%s,\"key\":%s,\"payload\":%d,\"inflight\":%d,\"batch\":%d,"
        "\"noop\":%s,\"runs\":%d,\"raw_threads\":%d,\"machine\":%s,"
        "\"raw_ops_per_s\":%s,\"noop_ops_per_s\":%s,\"op_ops_per_s\":%s,"
        "\"median\":{\"raw\":%s,\"noop\":%s,\"op\":%s},\"ideal_ops_per_s\":%s,"
        "\"ratio_to_ideal\":%s,\"ratio_to_noop\":%s,\"ratio_to_raw\":%s,"
        "\"raw_cpu_us_per_op\":%s,\"noop_runs\":[%s],\"op_runs\":[%s],"
        "\"ops\":%lld,\"errors\":%lld}\n",
        JsonString(NameOf(op)).c_str(), JsonString(type->name()).c_str(),
        JsonString(key_name).c_str(), payload_size, load.inflight, batch,
        JsonString(absl::GetFlag(FLAGS_noop_call)).c_str(), runs, threads,
        MachineJson(machine).c_str(), JsonList(a).c_str(), JsonList(b).c_str(),
        JsonList(c).c_str(), JsonNumber(am).c_str(), JsonNumber(bm).c_str(),
        JsonNumber(cm).c_str(), ideal > 0 ? JsonNumber(ideal).c_str() : "null",
        ideal > 0 ? JsonNumber(cm / ideal).c_str() : "null",
        bm > 0 ? JsonNumber(cm / bm).c_str() : "null",
        am > 0 ? JsonNumber(cm / am).c_str() : "null",
        acpu.empty() ? "null" : JsonNumber(Median(acpu)).c_str(),
        absl::StrJoin(b_json, ",").c_str(), absl::StrJoin(c_json, ",").c_str(),
        static_cast<long long>(cmed.items_ok), static_cast<long long>(errors));
    return errors == 0 ? 0 : 3;
  }

  std::printf("\nmedians of %d runs (%s, %s):\n", runs, what.c_str(), mode.c_str());
  if (raw.ok()) {
    std::printf("  (a) raw library, %d threads in process   %10.0f ops/s   "
                "cpu %.1f us/op\n",
                threads, am, Median(acpu));
  }
  std::printf("  (b) noop (%s) against the daemon      %10.0f ops/s   daemon "
              "%.1f us/op, bench %.1f us/op\n",
              absl::GetFlag(FLAGS_noop_call).c_str(), bm, Median(bcpu), Median(bcli));
  std::printf("  (c) %-36s %10.0f ops/s   daemon %.1f us/op, bench %.1f us/op\n",
              absl::StrCat(NameOf(op), " against the daemon").c_str(), cm,
              Median(ccpu), Median(ccli));
  std::printf("      latency of the median run: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms"
              "  p99.9 %.3f ms\n",
              cmed.Percentile(50) / 1e3, cmed.Percentile(90) / 1e3,
              cmed.Percentile(99) / 1e3, cmed.Percentile(99.9) / 1e3);
  if (ideal > 0) {
    std::printf("  ideal 1/(1/a + 1/b)                       %10.0f ops/s\n", ideal);
    std::printf("  c / ideal = %.3f", cm / ideal);
    if (aead_op) std::printf("   c / b = %.3f", cm / bm);
    if (op == Op::kSignBatch) std::printf("   c / a = %.3f", cm / am);
    std::printf("\n");
  } else {
    std::printf("  (no raw baseline for %s)\n", NameOf(op));
  }
  std::printf("  errors: %lld\n", static_cast<long long>(errors));
  return errors == 0 ? 0 : 3;
}

}  // namespace
}  // namespace keyward::bench

int main(int argc, char** argv) { return keyward::bench::Main(argc, argv); }
