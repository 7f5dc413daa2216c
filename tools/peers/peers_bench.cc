// peers-bench: the load generator for Keyward's peers (issue 17): signs
// with a PKCS#11 module (SoftHSM2 in-process, or behind `p11-kit server`
// through p11-kit-client.so) or with OpenSSH's ssh-agent, from --threads
// threads, each with its own session or connection and one signature
// outstanding (so --threads is the number in flight), for --duration after
// --warmup, and prints one JSON object: ops/s, latency percentiles, errors,
// its own CPU per signature and, with --server_pid, the server's.
//
//   peers-bench --peer pkcs11 --module /usr/lib/softhsm/libsofthsm2.so
//     --pin 1234 --key_type ed25519 --threads 2 --duration 3s
//   P11_KIT_SERVER_ADDRESS=unix:path=/tmp/p11.sock peers-bench --peer pkcs11
//     --module /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so ...
//   SSH_AUTH_SOCK=... peers-bench --peer ssh-agent --key_type ed25519 --threads 32
//
// tools/peers_suite.py runs it beside keyward-bench; BENCHMARKS.md has the
// figures. Exit 0 if every signature succeeded and there was at least one;
// 4 if the peer does not offer the key type's mechanism (FAILED_PRECONDITION);
// 1 for any other failure to open it; 3 for errors or no signature.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "keystore/jose/json.h"
#include "tools/peers/peer.h"
#include "tools/peers/pkcs11_peer.h"
#include "tools/peers/ssh_agent_peer.h"

ABSL_FLAG(std::string, peer, "", "pkcs11 | ssh-agent");
ABSL_FLAG(std::string, key_type, "ed25519", "ed25519 | ecdsa-p256 | rsa-2048");
ABSL_FLAG(std::string, module, "", "pkcs11: the module to dlopen()");
ABSL_FLAG(std::string, token, "", "pkcs11: token label; default the first token");
ABSL_FLAG(std::string, pin, "", "pkcs11: the user PIN");
ABSL_FLAG(std::string, key_label, "",
          "pkcs11: the key's CKA_LABEL, generated if absent; default "
          "peers-<key_type>");
ABSL_FLAG(std::string, socket, "", "ssh-agent: its socket; default $SSH_AUTH_SOCK");
ABSL_FLAG(int, threads, 32, "threads, each with its own session; = in flight");
ABSL_FLAG(int, payload, 1024, "bytes signed per signature");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(3), "measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Milliseconds(500), "unmeasured load first");
ABSL_FLAG(int, server_pid, 0,
          "also report the CPU per signature of this process and its children");

namespace keyward::peers {
namespace {

using jose::JsonValue;

double SelfCpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return absl::ToDoubleSeconds(absl::DurationFromTimeval(ru.ru_utime) +
                               absl::DurationFromTimeval(ru.ru_stime));
}

// utime + stime of `pid` (fields 14 and 15 of /proc/PID/stat), or -1.
double PidCpuSeconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(paren + 1));
  std::vector<std::string> f{std::istream_iterator<std::string>(rest), {}};
  if (f.size() < 13) return -1;  // f[0] is field 3 (state)
  return (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) /
         sysconf(_SC_CLK_TCK);
}

// PidCpuSeconds of `pid` plus its children's (p11-kit server forks one per
// connection), or -1.
double TreeCpuSeconds(int pid) {
  double total = PidCpuSeconds(pid);
  if (total < 0) return -1;
  std::ifstream in(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  for (int child; in >> child;) total += std::max(0.0, PidCpuSeconds(child));
  return total;
}

std::string LoadAverage() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) != 3) return "unknown";
  return absl::StrFormat("%.2f %.2f %.2f", l[0], l[1], l[2]);
}

// What one thread saw in the measured window.
struct ThreadResult {
  int64_t ok = 0;
  int64_t errors = 0;
  std::string first_error;
  std::vector<float> latency_us;
};

// 0: warm-up, 1: measuring, 2: stop.
std::atomic<int> phase{0};

void Worker(SignSession* session, const std::string& data, ThreadResult* out) {
  while (phase.load(std::memory_order_relaxed) != 2) {
    const absl::Time t0 = absl::Now();
    const bool counted = phase.load(std::memory_order_relaxed) == 1;
    absl::Status s = session->Sign(data);
    const float us = static_cast<float>(absl::ToDoubleMicroseconds(absl::Now() - t0));
    if (!counted || phase.load(std::memory_order_relaxed) != 1) continue;
    if (s.ok()) {
      ++out->ok;
      out->latency_us.push_back(us);
    } else {
      if (out->errors++ == 0) out->first_error = s.ToString();
    }
  }
}

absl::StatusOr<std::unique_ptr<Peer>> OpenPeer(KeyType type, const std::string& type_name) {
  const std::string peer = absl::GetFlag(FLAGS_peer);
  if (peer == "pkcs11") {
    Pkcs11Options o;
    o.module = absl::GetFlag(FLAGS_module);
    o.token_label = absl::GetFlag(FLAGS_token);
    o.pin = absl::GetFlag(FLAGS_pin);
    o.key_label = absl::GetFlag(FLAGS_key_label);
    if (o.key_label.empty()) o.key_label = "peers-" + type_name;
    if (o.module.empty()) return absl::InvalidArgumentError("--peer pkcs11 needs --module");
    return OpenPkcs11Peer(o, type);
  }
  if (peer == "ssh-agent") {
    std::string socket = absl::GetFlag(FLAGS_socket);
    if (socket.empty() && std::getenv("SSH_AUTH_SOCK") != nullptr) {
      socket = std::getenv("SSH_AUTH_SOCK");
    }
    if (socket.empty()) {
      return absl::InvalidArgumentError("--peer ssh-agent needs --socket or SSH_AUTH_SOCK");
    }
    return OpenSshAgentPeer(socket, type);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--peer must be pkcs11 or ssh-agent, not '", peer, "'"));
}

int Main() {
  const std::string type_name = absl::GetFlag(FLAGS_key_type);
  absl::StatusOr<KeyType> type = ParseKeyType(type_name);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int payload = absl::GetFlag(FLAGS_payload);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  if (!type.ok() || threads < 1 || payload < 0 || duration <= absl::ZeroDuration()) {
    std::fprintf(stderr, "peers-bench: %s\n",
                 !type.ok() ? type.status().ToString().c_str()
                            : "--threads >= 1, --payload >= 0, --duration > 0");
    return 2;
  }
  absl::StatusOr<std::unique_ptr<Peer>> peer = OpenPeer(*type, type_name);
  if (!peer.ok()) {
    std::fprintf(stderr, "peers-bench: %s\n", peer.status().ToString().c_str());
    return peer.status().code() == absl::StatusCode::kFailedPrecondition ? 4 : 1;
  }
  std::vector<std::unique_ptr<SignSession>> sessions;
  for (int i = 0; i < threads; ++i) {
    absl::StatusOr<std::unique_ptr<SignSession>> s = (*peer)->NewSession();
    if (!s.ok()) {
      std::fprintf(stderr, "peers-bench: session %d: %s\n", i, s.status().ToString().c_str());
      return 1;
    }
    sessions.push_back(std::move(*s));
  }
  const std::string data(static_cast<size_t>(payload), 'k');
  const std::string load_before = LoadAverage();
  std::vector<ThreadResult> results(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back(Worker, sessions[i].get(), std::cref(data), &results[i]);
  }
  absl::SleepFor(absl::GetFlag(FLAGS_warmup));
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  const double cpu0 = SelfCpuSeconds(), server0 = TreeCpuSeconds(server_pid);
  const absl::Time start = absl::Now();
  phase = 1;
  absl::SleepFor(duration);
  phase = 2;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = SelfCpuSeconds() - cpu0;
  const double server1 = TreeCpuSeconds(server_pid);
  for (std::thread& t : pool) t.join();

  int64_t ok = 0, errors = 0;
  std::string first_error;
  std::vector<float> lat;
  for (ThreadResult& r : results) {
    ok += r.ok;
    errors += r.errors;
    if (first_error.empty()) first_error = r.first_error;
    lat.insert(lat.end(), r.latency_us.begin(), r.latency_us.end());
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    if (lat.empty()) return JsonValue();
    size_t i = static_cast<size_t>(p / 100 * (lat.size() - 1));
    return JsonValue::Double(lat[i]);
  };
  auto per_op = [&](double s) {
    return ok > 0 && s >= 0 ? JsonValue::Double(s / ok * 1e6) : JsonValue();
  };
  JsonValue latency = JsonValue::Object();
  latency.Set("p50", pct(50));
  latency.Set("p90", pct(90));
  latency.Set("p99", pct(99));
  JsonValue o = JsonValue::Object();
  o.Set("tool", JsonValue::String("peers-bench"));
  o.Set("peer", JsonValue::String(absl::GetFlag(FLAGS_peer)));
  o.Set("module", JsonValue::String(absl::GetFlag(FLAGS_module)));
  o.Set("key_type", JsonValue::String(type_name));
  o.Set("mechanism", JsonValue::String((*peer)->Mechanism()));
  o.Set("threads", JsonValue::Int(threads));
  o.Set("payload", JsonValue::Int(payload));
  o.Set("seconds", JsonValue::Double(seconds));
  o.Set("ops", JsonValue::Int(ok));
  o.Set("errors", JsonValue::Int(errors));
  o.Set("first_error", JsonValue::String(first_error));
  o.Set("ops_per_s", JsonValue::Double(ok / seconds));
  o.Set("latency_us", std::move(latency));
  o.Set("client_cpu_us_per_op", per_op(cpu));
  o.Set("server_cpu_us_per_op",
        per_op(server0 >= 0 && server1 >= 0 ? server1 - server0 : -1));
  o.Set("load_before", JsonValue::String(load_before));
  o.Set("load_after", JsonValue::String(LoadAverage()));
  std::printf("%s\n", o.Serialize().c_str());
  sessions.clear();
  return errors == 0 && ok > 0 ? 0 : 3;
}

}  // namespace

absl::StatusOr<KeyType> ParseKeyType(absl::string_view name) {
  if (name == "ed25519") return KeyType::kEd25519;
  if (name == "ecdsa-p256") return KeyType::kEcdsaP256;
  if (name == "rsa-2048") return KeyType::kRsa2048;
  return absl::InvalidArgumentError(absl::StrCat(
      "--key_type must be ed25519, ecdsa-p256 or rsa-2048, not '", name, "'"));
}

}  // namespace keyward::peers

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("peers-bench --peer pkcs11|ssh-agent --key_type T ...");
  absl::ParseCommandLine(argc, argv);
  return keyward::peers::Main();
}
