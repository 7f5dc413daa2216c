// keyward-bench's output (keyward_bench_report.h).
#include "tools/keyward_bench_report.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace keyward::bench {

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  if (!(v == v) || v < -1e300 || v > 1e300) return "null";
  return absl::StrFormat("%.6g", v);
}

std::string JsonList(const std::vector<double>& v) {
  std::vector<std::string> s;
  for (double x : v) s.push_back(JsonNumber(x));
  return absl::StrCat("[", absl::StrJoin(s, ","), "]");
}

std::string MachineJson(const Machine& m) {
  return absl::StrCat(
      "{\"cores\":", m.cores, ",\"cpu\":", JsonString(m.cpu),
      ",\"flavor\":", JsonString(m.flavor),
      ",\"daemon_crypto_library\":", JsonString(m.daemon_library),
      ",\"bench_crypto_library\":", JsonString(m.bench_library),
      ",\"daemon_version\":", JsonString(m.daemon_version),
      ",\"daemon_pid\":", m.daemon_pid, "}");
}

std::string MachineText(const Machine& m) {
  return absl::StrFormat(
      "machine: %d cores (%s); daemon %s flavor (%s), pid %s; bench library %s",
      m.cores, m.cpu, m.flavor, m.daemon_library,
      m.daemon_pid > 0 ? absl::StrCat(m.daemon_pid) : "unknown (no --daemon-pid)",
      m.bench_library);
}

std::string ErrorsText(const RunResult& r) {
  if (r.errors == 0) return "none";
  std::vector<std::string> parts;
  for (const auto& [code, n] : r.errors_by_code) {
    parts.push_back(absl::StrCat(code, " ", n, " (\"",
                                 r.first_message.at(code), "\")"));
  }
  return absl::StrJoin(parts, ", ");
}

std::string ResultJson(const RunResult& r) {
  std::vector<std::string> codes;
  for (const auto& [code, n] : r.errors_by_code) {
    codes.push_back(absl::StrCat(JsonString(code), ":", n));
  }
  auto per_op = [&](double cpu) {
    return cpu >= 0 && r.items_ok > 0 ? JsonNumber(cpu / r.items_ok * 1e6) : "null";
  };
  return absl::StrCat(
      "{\"seconds\":", JsonNumber(r.seconds), ",\"ops\":", r.items_ok,
      ",\"calls\":", r.calls, ",\"errors\":", r.errors,
      ",\"errors_by_code\":{", absl::StrJoin(codes, ","), "}",
      ",\"ops_per_s\":", JsonNumber(r.ops_per_s()),
      ",\"calls_per_s\":", JsonNumber(r.calls_per_s()),
      ",\"latency_us\":{\"p50\":", JsonNumber(r.Percentile(50)),
      ",\"p90\":", JsonNumber(r.Percentile(90)),
      ",\"p99\":", JsonNumber(r.Percentile(99)),
      ",\"p99.9\":", JsonNumber(r.Percentile(99.9)),
      ",\"max\":", JsonNumber(r.latency_us.empty() ? 0 : r.latency_us.back()),
      "},\"client_cpu_s\":", JsonNumber(r.client_cpu),
      ",\"daemon_cpu_s\":", r.daemon_cpu >= 0 ? JsonNumber(r.daemon_cpu) : "null",
      ",\"client_cpu_us_per_op\":", per_op(r.client_cpu),
      ",\"daemon_cpu_us_per_op\":", per_op(r.daemon_cpu),
      ",\"daemon_system_cpu_us_per_op\":", per_op(r.daemon_system_cpu),
      ",\"load\":", JsonString(r.load), ",\"fsync_probe\":", JsonString(r.fsync),
      "}");
}

void PrintResultText(const RunResult& r, int batch) {
  std::printf("throughput   %.1f ops/s", r.ops_per_s());
  if (batch > 1) std::printf("  (%.1f calls/s of %d items)", r.calls_per_s(), batch);
  std::printf("  [%lld ops in %.2f s]\n", static_cast<long long>(r.items_ok),
              r.seconds);
  std::printf("latency      p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms"
              "  max %.3f ms\n",
              r.Percentile(50) / 1e3, r.Percentile(90) / 1e3,
              r.Percentile(99) / 1e3, r.Percentile(99.9) / 1e3,
              r.latency_us.empty() ? 0 : r.latency_us.back() / 1e3);
  std::printf("errors       %s\n", ErrorsText(r).c_str());
  std::printf("cpu          bench %.2f s", r.client_cpu);
  if (r.items_ok > 0) std::printf(" (%.1f us/op)", r.client_cpu / r.items_ok * 1e6);
  if (r.daemon_cpu >= 0) {
    std::printf(", daemon %.2f s", r.daemon_cpu);
    if (r.items_ok > 0) std::printf(" (%.1f us/op)", r.daemon_cpu / r.items_ok * 1e6);
    if (r.daemon_cpu > 0 && r.daemon_system_cpu >= 0) {
      std::printf(" of which kernel %.0f%%", 100 * r.daemon_system_cpu / r.daemon_cpu);
    }
  } else {
    std::printf(", daemon unknown");
  }
  std::printf(", over %.2f s wall; load average at start %s\n", r.seconds,
              r.load.c_str());
  if (!r.fsync.empty()) std::printf("disk         %s (before the run)\n", r.fsync.c_str());
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace keyward::bench
