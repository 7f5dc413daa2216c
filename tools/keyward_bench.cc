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
//
// BENCHMARKS.md has the figures and how to read them.

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jws.h"
#include "keystore/jose/jwt.h"
#include "client/cli.h"
#include "client/stream_mux.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/jwt_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"

// The libcrypto this binary runs with, for the report. Both OpenSSL 3 and
// BoringSSL export it (OPENSSL_VERSION is 0 in both); declared here so that
// only keystore/crypto includes <openssl/...>.
extern "C" const char* OpenSSL_version(int type);

ABSL_FLAG(std::string, target, "",
          "daemon address: unix:///path/to.sock (or a bare /path) or "
          "host:port; default $KEYWARD_ADDR");
ABSL_FLAG(std::string, op, "sign",
          "sign|verify|encrypt|decrypt|mac|sign-batch|jwt-sign|jwt-verify|noop");
ABSL_FLAG(std::string, key_type, "",
          "key type by its CLI name (`keyward key create --type`); a type "
          "the bench has no baseline for is refused with the list; default: "
          "ed25519 for sign/verify/sign-batch, aes256-gcm for "
          "encrypt/decrypt, hmac-sha256 for mac, ecdsa-p256 (ES256) for jwt-*");
ABSL_FLAG(std::string, key, "",
          "use this existing key (NAME or keys/NAME) instead of creating "
          "kwb-<op>-<type>-<pid>-<time>");
ABSL_FLAG(int, payload, 1024, "bytes of data (or plaintext) per item");
ABSL_FLAG(int, inflight, 32,
          "closed loop: calls kept in flight (a new one starts as one ends)");
ABSL_FLAG(double, rate, 0,
          "open loop: start this many calls per second, whatever the "
          "latency; latency counts from when a call was due. 0: closed loop");
ABSL_FLAG(int, max_inflight, 2000,
          "open loop: calls due while this many are outstanding are not "
          "sent and are counted as errors (DROPPED)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "load before the measured window (not counted)");
ABSL_FLAG(int, batch, 64, "items per call for sign-batch");
ABSL_FLAG(int, daemon_pid, 0,
          "daemon pid for its CPU time (/proc/PID/stat); default: found "
          "from the Unix socket (SO_PEERCRED)");
ABSL_FLAG(bool, json, false, "print one JSON object instead of text");
ABSL_FLAG(bool, compare, false,
          "measure (a) the raw library in process, (b) noop, (c) the op, "
          "--runs times each, and print medians and ratios");
ABSL_FLAG(int, runs, 3, "runs of each of (a), (b), (c) with --compare");
ABSL_FLAG(int, threads, 0, "threads for (a) with --compare; 0 = cores");
ABSL_FLAG(std::string, noop_call, "whoami",
          "what noop calls: whoami (AccessService/WhoAmI: identify, audit) "
          "or status (SystemService/GetStatus: the same plus a SQLite "
          "COUNT(*) of the keys)");
ABSL_FLAG(int, channels, 1,
          "gRPC channels (connections) the calls are spread over");
ABSL_FLAG(std::string, mode, "unary",
          "unary: one call per operation; stream: operations as items over "
          "one DataPlaneService.Stream per channel (keyward::StreamMux, "
          "which coalesces the items submitted during a write); sign, "
          "verify, encrypt, decrypt, mac, jwt-sign, jwt-verify");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(30), "per-call deadline");
ABSL_FLAG(std::string, fsync_probe, "",
          "before each daemon run, time 50 appends + fdatasync of a 300-byte "
          "line to a scratch file in this directory (use the daemon's audit "
          "log directory): the audit log's durability cost on that disk");

namespace keyward::bench {
namespace {

namespace pb = keyward::v1;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "keyward-bench: %s\n", what.c_str());
  std::exit(1);
}

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

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

// --- operations and key types -----------------------------------------------

enum class Op {
  kSign, kVerify, kEncrypt, kDecrypt, kMac, kSignBatch, kJwtSign, kJwtVerify,
  kNoop,
};

struct OpName {
  Op op;
  const char* name;
};
constexpr OpName kOps[] = {
    {Op::kSign, "sign"},         {Op::kVerify, "verify"},
    {Op::kEncrypt, "encrypt"},   {Op::kDecrypt, "decrypt"},
    {Op::kMac, "mac"},           {Op::kSignBatch, "sign-batch"},
    {Op::kJwtSign, "jwt-sign"},  {Op::kJwtVerify, "jwt-verify"},
    {Op::kNoop, "noop"},
};

const char* NameOf(Op op) {
  for (const OpName& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "?";
}

// The key types the bench has a raw-crypto baseline for. Their names are the
// CLI's (cli::KeyTypeName, from the proto enum), never spelled here.
struct KeyTypeInfo {
  pb::KeyType proto;
  crypto::KeyType type;
  crypto::SignatureAlgorithm algorithm;  // the daemon's default for the type
  std::string name() const { return cli::KeyTypeName(proto); }
};
constexpr KeyTypeInfo kKeyTypes[] = {
    {pb::KEY_TYPE_ED25519, crypto::KeyType::kEd25519,
     crypto::SignatureAlgorithm::kEd25519},
    {pb::KEY_TYPE_ECDSA_P256, crypto::KeyType::kEcdsaP256,
     crypto::SignatureAlgorithm::kEcdsaP256Sha256Der},
    {pb::KEY_TYPE_RSA_2048, crypto::KeyType::kRsa2048,
     crypto::SignatureAlgorithm::kRsaPssSha256},
    {pb::KEY_TYPE_AES256_GCM, crypto::KeyType::kAes256Gcm,
     crypto::SignatureAlgorithm::kEd25519},
    {pb::KEY_TYPE_HMAC_SHA256, crypto::KeyType::kHmacSha256,
     crypto::SignatureAlgorithm::kEd25519},
};

bool IsSigning(const KeyTypeInfo& k) {
  return k.type == crypto::KeyType::kEd25519 ||
         k.type == crypto::KeyType::kEcdsaP256 ||
         k.type == crypto::KeyType::kRsa2048;
}

const KeyTypeInfo* FindKeyType(pb::KeyType proto) {
  for (const KeyTypeInfo& k : kKeyTypes) {
    if (k.proto == proto) return &k;
  }
  return nullptr;
}

// ParseBenchKeyType takes a key type's CLI name; INVALID_ARGUMENT for a name
// the CLI does not know, or a type with no baseline here (naming those that
// have one).
absl::StatusOr<const KeyTypeInfo*> ParseBenchKeyType(absl::string_view name) {
  absl::StatusOr<pb::KeyType> proto = cli::ParseKeyType(name);
  if (!proto.ok()) return proto.status();
  if (const KeyTypeInfo* k = FindKeyType(*proto)) return k;
  std::vector<std::string> names;
  for (const KeyTypeInfo& k : kKeyTypes) names.push_back(k.name());
  return absl::InvalidArgumentError(
      absl::StrCat("keyward-bench has no baseline for key type ", name,
                   "; one of: ", absl::StrJoin(names, ", ")));
}

const KeyTypeInfo& DefaultKeyType(Op op) {
  switch (op) {
    case Op::kEncrypt:
    case Op::kDecrypt:
      return *FindKeyType(pb::KEY_TYPE_AES256_GCM);
    case Op::kMac:
      return *FindKeyType(pb::KEY_TYPE_HMAC_SHA256);
    case Op::kJwtSign:
    case Op::kJwtVerify:
      return *FindKeyType(pb::KEY_TYPE_ECDSA_P256);
    default:
      return *FindKeyType(pb::KEY_TYPE_ED25519);
  }
}

// Whether `op` can use a key of type `k`; the message says why not.
absl::Status Fits(Op op, const KeyTypeInfo& k) {
  bool ok = false;
  switch (op) {
    case Op::kSign:
    case Op::kVerify:
    case Op::kSignBatch:
      ok = IsSigning(k);
      break;
    case Op::kEncrypt:
    case Op::kDecrypt:
      ok = k.type == crypto::KeyType::kAes256Gcm ||
           k.type == crypto::KeyType::kRsa2048;
      break;
    case Op::kMac:
      ok = k.type == crypto::KeyType::kHmacSha256;
      break;
    case Op::kJwtSign:
    case Op::kJwtVerify:
      ok = IsSigning(k) || k.type == crypto::KeyType::kHmacSha256;
      break;
    case Op::kNoop:
      ok = true;
      break;
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--op ", NameOf(op), " cannot use --key-type ", k.name()));
}

pb::KeyPurpose PurposeFor(Op op) {
  switch (op) {
    case Op::kEncrypt:
    case Op::kDecrypt:
      return pb::KEY_PURPOSE_ENCRYPT_DECRYPT;
    case Op::kMac:
      return pb::KEY_PURPOSE_MAC;
    case Op::kJwtSign:
    case Op::kJwtVerify:
      return pb::KEY_PURPOSE_JWT;
    default:
      return pb::KEY_PURPOSE_SIGN_VERIFY;
  }
}

// --- machine ----------------------------------------------------------------

int Cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "model name")) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string LoadAverage() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "unknown";
  return absl::StrFormat("%.2f %.2f %.2f", load[0], load[1], load[2]);
}

double SelfCpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

// utime + stime of `pid` in seconds, or -1 if it cannot be read.
double ProcessCpuSeconds(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  // Fields after the command: state(3) ppid pgrp session tty_nr tpgid flags
  // minflt cminflt majflt cmajflt utime(14) stime(15).
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::strtoull(f.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(f.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

// The pid of the process listening on the Unix socket `path`, or 0.
pid_t ListenerPid(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    close(fd);
    return 0;
  }
  std::copy(path.begin(), path.end(), addr.sun_path);
  pid_t pid = 0;
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) == 0) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) pid = cred.pid;
  }
  close(fd);
  return pid;
}

// FsyncProbe times 50 appends + fdatasync of an audit-sized line to a
// scratch file in `dir` (removed after) and returns "p50 X ms, p90 Y ms",
// or "" if `dir` is empty.
std::string FsyncProbe(const std::string& dir) {
  if (dir.empty()) return "";
  const std::string path = absl::StrCat(dir, "/.keyward-bench-fsync-probe.", getpid());
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return absl::StrCat("fsync probe: cannot create ", path);
  const std::string line(299, 'x');
  std::vector<double> ms;
  for (int i = 0; i < 50; ++i) {
    if (write(fd, (line + "\n").data(), line.size() + 1) < 0) break;
    const Clock::time_point t0 = Clock::now();
    if (fdatasync(fd) != 0) break;
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  close(fd);
  unlink(path.c_str());
  if (ms.empty()) return "fsync probe failed";
  std::sort(ms.begin(), ms.end());
  return absl::StrFormat("fdatasync p50 %.2f ms, p90 %.2f ms", ms[ms.size() / 2],
                         ms[ms.size() * 9 / 10]);
}

// --- one call's outcome, and the record of a run ---------------------------

struct Outcome {
  int items_ok = 0;
  // (code name, message) of each failure: the call's, or each failed item's.
  std::vector<std::pair<std::string, std::string>> errors;
};

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

Outcome Failed(const grpc::Status& s) {
  Outcome o;
  o.errors.emplace_back(CodeName(s.error_code()), s.error_message());
  return o;
}

Outcome Succeeded(int items) {
  Outcome o;
  o.items_ok = items;
  return o;
}

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
  std::string load;        // load average when the window began
  std::string fsync;       // --fsync-probe before the run, or ""

  double ops_per_s() const { return seconds > 0 ? items_ok / seconds : 0; }
  double calls_per_s() const { return seconds > 0 ? calls / seconds : 0; }
  double Percentile(double p) const {
    if (latency_us.empty()) return 0;
    size_t i = static_cast<size_t>(p / 100.0 * latency_us.size());
    return latency_us[std::min(i, latency_us.size() - 1)];
  }
};

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

// --- workloads: one kind of call against the daemon --------------------------

using Done = std::function<void(Outcome)>;

// Starts one callback-API call: `start(ctx, response, on_done)` issues it,
// `check(response)` turns a successful answer into an Outcome.
template <typename Response, typename Start, typename Check>
void IssueCall(absl::Duration deadline, const Start& start, const Check& check,
               Done done) {
  struct State {
    grpc::ClientContext ctx;
    Response response;
  };
  auto* state = new State;
  state->ctx.set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoNanoseconds(deadline));
  start(&state->ctx, &state->response,
        [state, &check, done = std::move(done)](grpc::Status s) {
          Outcome o = s.ok() ? check(state->response) : Failed(s);
          delete state;
          done(std::move(o));
        });
}

struct Stubs {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<pb::CryptoService::Stub>> crypto;
  std::vector<std::unique_ptr<pb::AccessService::Stub>> access;
  std::vector<std::unique_ptr<pb::SystemService::Stub>> system;
  std::vector<std::unique_ptr<pb::JwtService::Stub>> jwt;
  std::unique_ptr<pb::KeyService::Stub> keys;
  std::atomic<uint64_t> next{0};

  size_t Pick() { return next.fetch_add(1, std::memory_order_relaxed) % crypto.size(); }
};

class Workload {
 public:
  virtual ~Workload() = default;
  // Issue starts one call; `done` runs when it ends (on a gRPC thread, or
  // inline if the call failed at once).
  virtual void Issue(Done done) = 0;
};

class SignWorkload : public Workload {
 public:
  SignWorkload(Stubs* stubs, pb::SignRequest request, absl::Duration deadline)
      : stubs_(stubs), request_(std::move(request)), deadline_(deadline) {}
  void Issue(Done done) override {
    auto* stub = stubs_->crypto[stubs_->Pick()].get();
    IssueCall<pb::SignResponse>(
        deadline_,
        [&](grpc::ClientContext* ctx, pb::SignResponse* resp, auto cb) {
          stub->async()->Sign(ctx, &request_, resp, std::move(cb));
        },
        check_, std::move(done));
  }

 private:
  Stubs* stubs_;
  const pb::SignRequest request_;
  const absl::Duration deadline_;
  const std::function<Outcome(const pb::SignResponse&)> check_ =
      [](const pb::SignResponse& r) {
        if (r.raw_signature().empty()) {
          Outcome o;
          o.errors.emplace_back("BAD_RESULT", "empty signature");
          return o;
        }
        return Succeeded(1);
      };
};

class VerifyWorkload : public Workload {
 public:
  VerifyWorkload(Stubs* stubs, pb::VerifyRequest request, absl::Duration deadline)
      : stubs_(stubs), request_(std::move(request)), deadline_(deadline) {}
  void Issue(Done done) override {
    auto* stub = stubs_->crypto[stubs_->Pick()].get();
    IssueCall<pb::VerifyResponse>(
        deadline_,
        [&](grpc::ClientContext* ctx, pb::VerifyResponse* resp, auto cb) {
          stub->async()->Verify(ctx, &request_, resp, std::move(cb));
        },
        check_, std::move(done));
  }

 private:
  Stubs* stubs_;
  const pb::VerifyRequest request_;
  const absl::Duration deadline_;
  const std::function<Outcome(const pb::VerifyResponse&)> check_ =
      [](const pb::VerifyResponse& r) {
        if (!r.valid()) {
          Outcome o;
          o.errors.emplace_back("BAD_RESULT", "valid = false for a good signature");
          return o;
        }
        return Succeeded(1);
      };
};

class EncryptWorkload : public Workload {
 public:
  EncryptWorkload(Stubs* stubs, pb::EncryptRequest request, absl::Duration deadline)
      : stubs_(stubs), request_(std::move(request)), deadline_(deadline) {}
  void Issue(Done done) override {
    auto* stub = stubs_->crypto[stubs_->Pick()].get();
    IssueCall<pb::EncryptResponse>(
        deadline_,
        [&](grpc::ClientContext* ctx, pb::EncryptResponse* resp, auto cb) {
          stub->async()->Encrypt(ctx, &request_, resp, std::move(cb));
        },
        check_, std::move(done));
  }

 private:
  Stubs* stubs_;
  const pb::EncryptRequest request_;
  const absl::Duration deadline_;
  const std::function<Outcome(const pb::EncryptResponse&)> check_ =
      [](const pb::EncryptResponse& r) {
        if (r.ciphertext().empty()) {
          Outcome o;
          o.errors.emplace_back("BAD_RESULT", "empty ciphertext");
          return o;
        }
        return Succeeded(1);
      };
};

class DecryptWorkload : public Workload {
 public:
  DecryptWorkload(Stubs* stubs, pb::DecryptRequest request, size_t plaintext_size,
                  absl::Duration deadline)
      : stubs_(stubs),
        request_(std::move(request)),
        deadline_(deadline),
        check_([plaintext_size](const pb::DecryptResponse& r) {
          if (r.plaintext().size() != plaintext_size) {
            Outcome o;
            o.errors.emplace_back("BAD_RESULT", "plaintext of the wrong size");
            return o;
          }
          return Succeeded(1);
        }) {}
  void Issue(Done done) override {
    auto* stub = stubs_->crypto[stubs_->Pick()].get();
    IssueCall<pb::DecryptResponse>(
        deadline_,
        [&](grpc::ClientContext* ctx, pb::DecryptResponse* resp, auto cb) {
          stub->async()->Decrypt(ctx, &request_, resp, std::move(cb));
        },
        check_, std::move(done));
  }

 private:
  Stubs* stubs_;
  const pb::DecryptRequest request_;
  const absl::Duration deadline_;
  const std::function<Outcome(const pb::DecryptResponse&)> check_;
};

class MacWorkload : public Workload {
 public:
  MacWorkload(Stubs* stubs, pb::MacRequest request, absl::Duration deadline)
      : stubs_(stubs), request_(std::move(request)), deadline_(deadline) {}
  void Issue(Done done) override {
    auto* stub = stubs_->crypto[stubs_->Pick()].get();
    IssueCall<pb::MacResponse>(
        deadline_,
        [&](grpc::ClientContext* ctx, pb::MacResponse* resp, auto cb) {
          stub->async()->Mac(ctx, &request_, resp, std::move(cb));
        },
        check_, std::move(done));
  }

 private:
  Stubs* stubs_;
  const pb::MacRequest request_;
  const absl::Duration deadline_;
  const std::function<Outcome(const pb::MacResponse&)> check_ =
      [](const pb::MacResponse& r) {
        if (r.raw_mac().empty()) {
          Outcome o;
          o.errors.emplace_back("BAD_RESULT", "empty MAC");
          return o;
        }
        return Succeeded(1);
      };
};

class SignBatchWorkload : public Workload {
 public:
  SignBatchWorkload(Stubs* stubs, pb::BatchSignRequest request,
                    absl::Duration deadline)
      : stubs_(stubs), request_(std::move(request)), deadline_(deadline) {}
  void Issue(Done done) override {
    auto* stub = stubs_->crypto[stubs_->Pick()].get();
    IssueCall<pb::BatchSignResponse>(
        deadline_,
        [&](grpc::ClientContext* ctx, pb::BatchSignResponse* resp, auto cb) {
          stub->async()->BatchSign(ctx, &request_, resp, std::move(cb));
        },
        check_, std::move(done));
  }

 private:
  Stubs* stubs_;
  const pb::BatchSignRequest request_;
  const absl::Duration deadline_;
  const std::function<Outcome(const pb::BatchSignResponse&)> check_ =
      [n = request_.requests_size()](const pb::BatchSignResponse& r) {
        Outcome o;
        for (const auto& result : r.results()) {
          if (result.status().code() == 0 &&
              !result.response().raw_signature().empty()) {
            ++o.items_ok;
          } else {
            o.errors.emplace_back(
                result.status().code() == 0
                    ? "BAD_RESULT"
                    : absl::StatusCodeToString(
                          static_cast<absl::StatusCode>(result.status().code())),
                result.status().message());
          }
        }
        if (r.results_size() != n) {
          o.errors.emplace_back("BAD_RESULT", "fewer results than items");
        }
        return o;
      };
};

class NoopWorkload : public Workload {
 public:
  NoopWorkload(Stubs* stubs, bool status, absl::Duration deadline)
      : stubs_(stubs), status_(status), deadline_(deadline) {}
  void Issue(Done done) override {
    const size_t i = stubs_->Pick();
    if (status_) {
      auto* stub = stubs_->system[i].get();
      IssueCall<pb::GetStatusResponse>(
          deadline_,
          [&](grpc::ClientContext* ctx, pb::GetStatusResponse* resp, auto cb) {
            stub->async()->GetStatus(ctx, &status_request_, resp, std::move(cb));
          },
          check_status_, std::move(done));
    } else {
      auto* stub = stubs_->access[i].get();
      IssueCall<pb::WhoAmIResponse>(
          deadline_,
          [&](grpc::ClientContext* ctx, pb::WhoAmIResponse* resp, auto cb) {
            stub->async()->WhoAmI(ctx, &whoami_request_, resp, std::move(cb));
          },
          check_whoami_, std::move(done));
    }
  }

 private:
  Stubs* stubs_;
  const bool status_;
  const absl::Duration deadline_;
  const pb::GetStatusRequest status_request_;
  const pb::WhoAmIRequest whoami_request_;
  const std::function<Outcome(const pb::GetStatusResponse&)> check_status_ =
      [](const pb::GetStatusResponse&) { return Succeeded(1); };
  const std::function<Outcome(const pb::WhoAmIResponse&)> check_whoami_ =
      [](const pb::WhoAmIResponse& r) {
        if (r.principal().empty() || r.principal() == "anonymous") {
          Outcome o;
          o.errors.emplace_back("BAD_RESULT", "WhoAmI: not identified");
          return o;
        }
        return Succeeded(1);
      };
};

class JwtSignWorkload : public Workload {
 public:
  JwtSignWorkload(Stubs* stubs, pb::SignJwtRequest request, absl::Duration deadline)
      : stubs_(stubs), request_(std::move(request)), deadline_(deadline) {}
  void Issue(Done done) override {
    auto* stub = stubs_->jwt[stubs_->Pick()].get();
    IssueCall<pb::SignJwtResponse>(
        deadline_,
        [&](grpc::ClientContext* ctx, pb::SignJwtResponse* resp, auto cb) {
          stub->async()->SignJwt(ctx, &request_, resp, std::move(cb));
        },
        check_, std::move(done));
  }

 private:
  Stubs* stubs_;
  const pb::SignJwtRequest request_;
  const absl::Duration deadline_;
  const std::function<Outcome(const pb::SignJwtResponse&)> check_ =
      [](const pb::SignJwtResponse& r) {
        if (r.token().empty()) {
          Outcome o;
          o.errors.emplace_back("BAD_RESULT", "empty token");
          return o;
        }
        return Succeeded(1);
      };
};

class JwtVerifyWorkload : public Workload {
 public:
  JwtVerifyWorkload(Stubs* stubs, pb::VerifyJwtRequest request,
                    absl::Duration deadline)
      : stubs_(stubs), request_(std::move(request)), deadline_(deadline) {}
  void Issue(Done done) override {
    auto* stub = stubs_->jwt[stubs_->Pick()].get();
    IssueCall<pb::VerifyJwtResponse>(
        deadline_,
        [&](grpc::ClientContext* ctx, pb::VerifyJwtResponse* resp, auto cb) {
          stub->async()->VerifyJwt(ctx, &request_, resp, std::move(cb));
        },
        check_, std::move(done));
  }

 private:
  Stubs* stubs_;
  const pb::VerifyJwtRequest request_;
  const absl::Duration deadline_;
  const std::function<Outcome(const pb::VerifyJwtResponse&)> check_ =
      [](const pb::VerifyJwtResponse& r) {
        if (!r.valid()) {
          Outcome o;
          o.errors.emplace_back("BAD_RESULT",
                                absl::StrCat("token not valid: ", r.failure_detail()));
          return o;
        }
        return Succeeded(1);
      };
};

// --- the load drivers -------------------------------------------------------

struct LoadOptions {
  int inflight = 32;
  double rate = 0;
  int max_inflight = 2000;
  absl::Duration warmup;
  absl::Duration duration;
  absl::Duration deadline;
  pid_t daemon_pid = 0;
};

// Measures CPU and load at the window's edges while the load runs.
void MeasureWindow(Clock::time_point start, Clock::time_point end,
                   pid_t daemon_pid, RunResult* cpu) {
  std::this_thread::sleep_until(start);
  cpu->load = LoadAverage();
  const double client0 = SelfCpuSeconds();
  const double daemon0 = ProcessCpuSeconds(daemon_pid);
  std::this_thread::sleep_until(end);
  const double client1 = SelfCpuSeconds();
  const double daemon1 = ProcessCpuSeconds(daemon_pid);
  cpu->client_cpu = client1 - client0;
  cpu->daemon_cpu = daemon0 >= 0 && daemon1 >= 0 ? daemon1 - daemon0 : -1;
}

RunResult RunLoad(Workload& work, const LoadOptions& opt) {
  const std::string fsync = FsyncProbe(absl::GetFlag(FLAGS_fsync_probe));
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
  if (opt.rate <= 0) {
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
  result.load = cpu.load;
  result.fsync = fsync;
  return result;
}

// --- (a): the raw crypto layer in this process -----------------------------

// RawRate runs `op` on `threads` threads and returns completed ops/s over
// `duration` after `warmup`.
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

std::string Payload(size_t n) {
  std::string p(n, '\0');
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>('a' + i % 26);
  return p;
}

// The claims of jwt-sign: a JSON object of about `size` bytes.
std::string JwtClaims(size_t size) {
  return absl::StrCat("{\"sub\":\"keyward-bench\",\"data\":\"",
                      Payload(size > 40 ? size - 40 : 1), "\"}");
}

// The raw jwt-sign / jwt-verify of (a): keystore/jose issuing (parse the
// claims, add iat/nbf/exp/jti, sign, encode) or verifying (parse, check
// the signature and the claims) the same token, with the algorithm the
// daemon gives a JWT key of `type`.
absl::StatusOr<std::function<void()>> RawJwt(Op op, const KeyTypeInfo& type,
                                             size_t payload) {
  std::optional<jose::JwsSigningKey> signing;
  std::optional<jose::JwsVerificationKey> verification;
  if (type.type == crypto::KeyType::kHmacSha256) {
    std::shared_ptr<const crypto::Mac> mac;
    auto made = crypto::Hmac::Create(crypto::HashType::kSha256,
                                     crypto::SecretData::Random(32));
    if (!made.ok()) return made.status();
    mac = std::move(*made);
    const jose::JwsAlgorithm alg = jose::JwsAlgorithm::kHs256;
    auto s = jose::JwsSigningKey::ForMac(alg, mac);
    if (!s.ok()) return s.status();
    auto v = jose::JwsVerificationKey::ForMac(alg, mac);
    if (!v.ok()) return v.status();
    signing = *s;
    verification = *v;
  } else {
    crypto::SignatureAlgorithm alg =
        type.type == crypto::KeyType::kEd25519     ? crypto::SignatureAlgorithm::kEd25519
        : type.type == crypto::KeyType::kEcdsaP256 ? crypto::SignatureAlgorithm::kEcdsaP256Sha256P1363
                                                   : crypto::SignatureAlgorithm::kRsaPkcs1Sha256;
    auto jws_alg = jose::JwsAlgorithmForSignature(alg);
    if (!jws_alg) return absl::InternalError("no JWS algorithm");
    auto material = crypto::GenerateKeyMaterial(type.type);
    if (!material.ok()) return material.status();
    auto signer = crypto::NewSigner(alg, *material);
    if (!signer.ok()) return signer.status();
    auto spki = crypto::PublicKeyFromPrivate(type.type, *material);
    if (!spki.ok()) return spki.status();
    auto verifier = crypto::NewVerifier(alg, *spki);
    if (!verifier.ok()) return verifier.status();
    auto s = jose::JwsSigningKey::ForSigner(
        *jws_alg, std::shared_ptr<const crypto::Signer>(std::move(*signer)),
        "bench:v1");
    if (!s.ok()) return s.status();
    auto v = jose::JwsVerificationKey::ForVerifier(
        *jws_alg, std::shared_ptr<const crypto::Verifier>(std::move(*verifier)));
    if (!v.ok()) return v.status();
    signing = *s;
    verification = *v;
  }
  const std::string claims = JwtClaims(payload);
  auto sign = [signing = *signing, claims]() -> absl::StatusOr<std::string> {
    auto parsed = jose::ParseJsonObject(claims);
    if (!parsed.ok()) return parsed.status();
    jose::JwtSignOptions options;
    options.now = absl::Now();
    options.ttl = absl::Hours(1);
    auto jwt = jose::SignJwt(*parsed, signing, options);
    if (!jwt.ok()) return jwt.status();
    return jwt->token;
  };
  if (op == Op::kJwtSign) {
    return std::function<void()>([sign]() {
      if (!sign().ok()) Die("raw SignJwt failed");
    });
  }
  auto token = sign();
  if (!token.ok()) return token.status();
  return std::function<void()>([verification = *verification, token = *token]() {
    jose::JwtVerifyOptions options;
    options.now = absl::Now();
    if (!jose::VerifyJwt(token, verification, options).ok()) {
      Die("raw VerifyJwt failed");
    }
  });
}

// The raw operation (a) for `op` with a fresh key of `type`, or null if
// there is none to compare with (noop).
absl::StatusOr<std::function<void()>> RawOp(Op op, const KeyTypeInfo& type,
                                            const std::string& payload) {
  const std::string data = payload;
  switch (op) {
    case Op::kJwtSign:
    case Op::kJwtVerify:
      return RawJwt(op, type, payload.size());
    case Op::kSign:
    case Op::kSignBatch:
    case Op::kVerify: {
      if (!IsSigning(type)) {
        return absl::UnimplementedError(absl::StrCat(
            "no raw baseline for ", NameOf(op), " with ", type.name()));
      }
      auto material = crypto::GenerateKeyMaterial(type.type);
      if (!material.ok()) return material.status();
      const crypto::SignatureAlgorithm alg = type.algorithm;
      const std::string message = data;
      auto signer = crypto::NewSigner(alg, *material);
      if (!signer.ok()) return signer.status();
      std::shared_ptr<crypto::Signer> s(std::move(*signer));
      if (op == Op::kVerify) {
        auto spki = crypto::PublicKeyFromPrivate(type.type, *material);
        if (!spki.ok()) return spki.status();
        auto verifier = crypto::NewVerifier(alg, *spki);
        if (!verifier.ok()) return verifier.status();
        auto sig = s->Sign(message);
        if (!sig.ok()) return sig.status();
        std::shared_ptr<crypto::Verifier> v(std::move(*verifier));
        return std::function<void()>([v, message, sig = *sig]() {
          if (!v->Verify(sig, message).ok()) Die("raw verify failed");
        });
      }
      return std::function<void()>([s, message]() {
        if (!s->Sign(message).ok()) Die("raw sign failed");
      });
    }
    case Op::kEncrypt:
    case Op::kDecrypt: {
      if (type.type == crypto::KeyType::kRsa2048) {
        auto material = crypto::GenerateKeyMaterial(type.type);
        if (!material.ok()) return material.status();
        auto spki = crypto::PublicKeyFromPrivate(type.type, *material);
        if (!spki.ok()) return spki.status();
        auto enc = crypto::NewAsymmetricEncrypter(*spki);
        if (!enc.ok()) return enc.status();
        std::shared_ptr<crypto::AsymmetricEncrypter> e(std::move(*enc));
        if (op == Op::kEncrypt) {
          return std::function<void()>([e, data]() {
            if (!e->Encrypt(data, "").ok()) Die("raw RSA encrypt failed");
          });
        }
        auto dec = crypto::NewAsymmetricDecrypter(*material);
        if (!dec.ok()) return dec.status();
        auto ct = e->Encrypt(data, "");
        if (!ct.ok()) return ct.status();
        std::shared_ptr<crypto::AsymmetricDecrypter> d(std::move(*dec));
        return std::function<void()>([d, ct = *ct]() {
          if (!d->Decrypt(ct, "").ok()) Die("raw RSA decrypt failed");
        });
      }
      auto aead = crypto::AesGcm::Create(crypto::SecretData::Random(32));
      if (!aead.ok()) return aead.status();
      std::shared_ptr<crypto::Aead> a(std::move(*aead));
      if (op == Op::kEncrypt) {
        return std::function<void()>([a, data]() {
          if (!a->Encrypt(data, "").ok()) Die("raw encrypt failed");
        });
      }
      auto ct = a->Encrypt(data, "");
      if (!ct.ok()) return ct.status();
      return std::function<void()>([a, ct = *ct]() {
        if (!a->Decrypt(ct, "").ok()) Die("raw decrypt failed");
      });
    }
    case Op::kMac: {
      auto mac = crypto::Hmac::Create(crypto::HashType::kSha256,
                                      crypto::SecretData::Random(32));
      if (!mac.ok()) return mac.status();
      std::shared_ptr<crypto::Mac> m(std::move(*mac));
      return std::function<void()>([m, data]() {
        if (!m->ComputeMac(data).ok()) Die("raw MAC failed");
      });
    }
    case Op::kNoop:
      break;
  }
  return absl::UnimplementedError("noop has no raw baseline");
}

// --- the daemon side: connection, key, requests ------------------------------

std::string ResolveTarget() {
  std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    const char* env = std::getenv("KEYWARD_ADDR");
    if (env != nullptr) target = env;
  }
  if (target.empty()) Die("no --target (and $KEYWARD_ADDR is not set)");
  if (absl::StartsWith(target, "/")) target = "unix://" + target;
  return target;
}

// The socket path of a unix: target, or "".
std::string UnixPath(const std::string& target) {
  absl::string_view t = target;
  if (absl::ConsumePrefix(&t, "unix://") || absl::ConsumePrefix(&t, "unix:")) {
    return std::string(t);
  }
  return "";
}

std::unique_ptr<Stubs> Connect(const std::string& target, int channels) {
  auto stubs = std::make_unique<Stubs>();
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // own connection
    args.SetInt("keyward.bench.channel", i);
    args.SetMaxReceiveMessageSize(64 << 20);
    auto channel = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    stubs->channels.push_back(channel);
    stubs->crypto.push_back(pb::CryptoService::NewStub(channel));
    stubs->access.push_back(pb::AccessService::NewStub(channel));
    stubs->system.push_back(pb::SystemService::NewStub(channel));
    stubs->jwt.push_back(pb::JwtService::NewStub(channel));
  }
  stubs->keys = pb::KeyService::NewStub(stubs->channels[0]);
  return stubs;
}

void SetDeadline(grpc::ClientContext* ctx, absl::Duration d) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(d));
}

std::string Describe(const grpc::Status& s) {
  return absl::StrCat(CodeName(s.error_code()), ": ", s.error_message());
}

struct Machine {
  int cores = 0;
  std::string cpu;
  std::string flavor;          // from GetStatus
  std::string daemon_library;  // from GetStatus
  std::string bench_library;   // this process's libcrypto
  std::string daemon_version;
  pid_t daemon_pid = 0;
};

Machine Describe(Stubs& stubs, const std::string& target) {
  Machine m;
  m.cores = Cores();
  m.cpu = CpuModel();
  m.bench_library = OpenSSL_version(0);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, absl::Seconds(10));
  ctx.set_wait_for_ready(true);
  pb::GetStatusResponse status;
  grpc::Status s = stubs.system[0]->GetStatus(&ctx, pb::GetStatusRequest(), &status);
  if (!s.ok()) Die(absl::StrCat("GetStatus on ", target, ": ", Describe(s)));
  if (status.sealed()) Die("the daemon is sealed");
  m.flavor = status.build_flavor() == pb::BUILD_FLAVOR_BORINGSSL ? "boringssl"
                                                                   : "openssl";
  m.daemon_library = status.crypto_library();
  m.daemon_version = status.version();
  m.daemon_pid = absl::GetFlag(FLAGS_daemon_pid);
  if (m.daemon_pid == 0) {
    std::string path = UnixPath(target);
    if (!path.empty()) m.daemon_pid = ListenerPid(path);
  }
  return m;
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

std::string CreateKey(Stubs& stubs, Op op, const KeyTypeInfo& type) {
  std::string id = absl::StrFormat(
      "kwb-%s-%s-%d-%d", NameOf(op), type.name(), getpid(),
      absl::ToUnixMillis(absl::Now()));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, absl::Seconds(60));
  pb::CreateKeyRequest req;
  req.set_key_id(id);
  req.mutable_key()->set_key_type(type.proto);
  req.mutable_key()->set_purpose(PurposeFor(op));
  req.mutable_key()->set_description("made by keyward-bench");
  pb::CreateKeyResponse resp;
  grpc::Status s = stubs.keys->CreateKey(&ctx, req, &resp);
  if (!s.ok()) Die(absl::StrCat("CreateKey ", id, ": ", Describe(s)));
  return "keys/" + id;
}

// Probes a JWT RPC: true if the daemon serves it.
bool JwtServed(Stubs& stubs, Op op) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, absl::Seconds(10));
  grpc::Status s;
  if (op == Op::kJwtSign) {
    pb::SignJwtRequest req;
    req.set_name("keys/kwb-probe-no-such-key");
    req.set_claims_json("{}");
    pb::SignJwtResponse resp;
    s = stubs.jwt[0]->SignJwt(&ctx, req, &resp);
  } else {
    pb::VerifyJwtRequest req;
    req.set_token("e30.e30.AA");
    pb::VerifyJwtResponse resp;
    s = stubs.jwt[0]->VerifyJwt(&ctx, req, &resp);
  }
  return s.error_code() != grpc::StatusCode::UNIMPLEMENTED;
}

// StreamWorkload issues one item per operation over a StreamMux per
// channel (--mode=stream).
class StreamWorkload : public Workload {
 public:
  StreamWorkload(Stubs* stubs, pb::StreamItem item) : item_(std::move(item)) {
    for (const auto& channel : stubs->channels) {
      muxes_.push_back(std::make_unique<StreamMux>(channel));
    }
  }
  void Issue(Done done) override {
    StreamMux& mux =
        *muxes_[next_.fetch_add(1, std::memory_order_relaxed) % muxes_.size()];
    mux.Call(item_, [done = std::move(done)](
                        absl::StatusOr<pb::StreamResult> result) {
      Outcome o;
      if (!result.ok()) {
        o.errors.emplace_back(absl::StatusCodeToString(result.status().code()),
                              std::string(result.status().message()));
      } else if (result->status().code() != 0) {
        o.errors.emplace_back(
            absl::StatusCodeToString(
                static_cast<absl::StatusCode>(result->status().code())),
            result->status().message());
      } else if (result->response_case() ==
                 pb::StreamResult::RESPONSE_NOT_SET) {
        o.errors.emplace_back("BAD_RESULT", "no response");
      } else {
        o.items_ok = 1;
      }
      done(std::move(o));
    });
  }

 private:
  const pb::StreamItem item_;
  std::vector<std::unique_ptr<StreamMux>> muxes_;
  std::atomic<uint64_t> next_{0};
};

// Streamed: the stream workload for `set` (which fills an item's request)
// with --mode=stream, else null.
template <typename Set>
std::unique_ptr<Workload> Streamed(Stubs& stubs, Set set) {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "unary") return nullptr;
  if (mode != "stream") Die("--mode must be unary or stream");
  pb::StreamItem item;
  set(&item);
  return std::make_unique<StreamWorkload>(&stubs, std::move(item));
}

// MakeWorkload prepares the requests of `op` (creating the key unless
// --key names one) and returns the workload.
std::unique_ptr<Workload> MakeWorkload(Stubs& stubs, Op op,
                                       const KeyTypeInfo& type,
                                       const std::string& payload,
                                       std::string* key_name) {
  const absl::Duration deadline = absl::GetFlag(FLAGS_deadline);
  if (absl::GetFlag(FLAGS_mode) != "unary" &&
      (op == Op::kNoop || op == Op::kSignBatch)) {
    Die("--mode=stream carries sign, verify, encrypt, decrypt, mac, jwt-sign "
        "and jwt-verify");
  }
  if (op == Op::kNoop) {
    const std::string noop = absl::GetFlag(FLAGS_noop_call);
    if (noop != "whoami" && noop != "status") {
      Die("--noop-call must be whoami or status");
    }
    return std::make_unique<NoopWorkload>(&stubs, noop == "status", deadline);
  }
  std::string name = absl::GetFlag(FLAGS_key);
  if (!name.empty() && !absl::StartsWith(name, "keys/")) name = "keys/" + name;
  if (name.empty()) name = CreateKey(stubs, op, type);
  *key_name = name;

  auto once = [&](auto call) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, absl::Seconds(30));
    grpc::Status s = call(&ctx);
    if (!s.ok()) Die(absl::StrCat(NameOf(op), " setup on ", name, ": ", Describe(s)));
  };

  switch (op) {
    case Op::kSign: {
      pb::SignRequest req;
      req.set_name(name);
      req.set_data(payload);
      pb::SignResponse resp;
      once([&](grpc::ClientContext* c) { return stubs.crypto[0]->Sign(c, req, &resp); });
      if (auto w = Streamed(stubs, [&](pb::StreamItem* i) { *i->mutable_sign() = req; })) return w;
      return std::make_unique<SignWorkload>(&stubs, std::move(req), deadline);
    }
    case Op::kVerify: {
      pb::SignRequest sreq;
      sreq.set_name(name);
      sreq.set_data(payload);
      pb::SignResponse sresp;
      once([&](grpc::ClientContext* c) { return stubs.crypto[0]->Sign(c, sreq, &sresp); });
      pb::VerifyRequest req;
      req.set_name(name);
      req.set_data(payload);
      req.set_signature(sresp.signature());
      if (auto w = Streamed(stubs, [&](pb::StreamItem* i) { *i->mutable_verify() = req; })) return w;
      return std::make_unique<VerifyWorkload>(&stubs, std::move(req), deadline);
    }
    case Op::kEncrypt: {
      pb::EncryptRequest req;
      req.set_name(name);
      req.set_plaintext(payload);
      pb::EncryptResponse resp;
      once([&](grpc::ClientContext* c) { return stubs.crypto[0]->Encrypt(c, req, &resp); });
      if (auto w = Streamed(stubs, [&](pb::StreamItem* i) { *i->mutable_encrypt() = req; })) return w;
      return std::make_unique<EncryptWorkload>(&stubs, std::move(req), deadline);
    }
    case Op::kDecrypt: {
      pb::EncryptRequest ereq;
      ereq.set_name(name);
      ereq.set_plaintext(payload);
      pb::EncryptResponse eresp;
      once([&](grpc::ClientContext* c) { return stubs.crypto[0]->Encrypt(c, ereq, &eresp); });
      pb::DecryptRequest req;
      req.set_name(name);
      req.set_ciphertext(eresp.ciphertext());
      if (auto w = Streamed(stubs, [&](pb::StreamItem* i) { *i->mutable_decrypt() = req; })) return w;
      return std::make_unique<DecryptWorkload>(&stubs, std::move(req),
                                               payload.size(), deadline);
    }
    case Op::kMac: {
      pb::MacRequest req;
      req.set_name(name);
      req.set_data(payload);
      pb::MacResponse resp;
      once([&](grpc::ClientContext* c) { return stubs.crypto[0]->Mac(c, req, &resp); });
      if (auto w = Streamed(stubs, [&](pb::StreamItem* i) { *i->mutable_mac() = req; })) return w;
      return std::make_unique<MacWorkload>(&stubs, std::move(req), deadline);
    }
    case Op::kSignBatch: {
      const int n = absl::GetFlag(FLAGS_batch);
      if (n < 1) Die("--batch must be at least 1");
      pb::BatchSignRequest req;
      for (int i = 0; i < n; ++i) {
        pb::SignRequest* item = req.add_requests();
        item->set_name(name);
        item->set_data(payload);
      }
      pb::BatchSignResponse resp;
      once([&](grpc::ClientContext* c) { return stubs.crypto[0]->BatchSign(c, req, &resp); });
      return std::make_unique<SignBatchWorkload>(&stubs, std::move(req), deadline);
    }
    case Op::kJwtSign:
    case Op::kJwtVerify: {
      pb::SignJwtRequest req;
      req.set_name(name);
      req.set_claims_json(JwtClaims(payload.size()));  // about --payload bytes
      req.mutable_ttl()->set_seconds(3600);
      pb::SignJwtResponse resp;
      once([&](grpc::ClientContext* c) { return stubs.jwt[0]->SignJwt(c, req, &resp); });
      if (op == Op::kJwtSign) {
        if (auto w = Streamed(stubs, [&](pb::StreamItem* i) { *i->mutable_sign_jwt() = req; })) return w;
        return std::make_unique<JwtSignWorkload>(&stubs, std::move(req), deadline);
      }
      pb::VerifyJwtRequest vreq;
      vreq.set_token(resp.token());
      vreq.set_name(name);
      if (auto w = Streamed(stubs, [&](pb::StreamItem* i) { *i->mutable_verify_jwt() = vreq; })) return w;
      return std::make_unique<JwtVerifyWorkload>(&stubs, std::move(vreq), deadline);
    }
    case Op::kNoop:
      break;
  }
  return nullptr;
}

// --- reporting --------------------------------------------------------------

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

// --- main -------------------------------------------------------------------

// Abseil flags are spelled with '_'; accept the '-' spellings too
// (--key-type, --daemon-pid, --max-inflight).
std::vector<char*> NormalizeFlags(int argc, char** argv,
                                  std::vector<std::string>* storage) {
  storage->reserve(argc);
  std::vector<char*> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i > 0 && absl::StartsWith(a, "--") && a.size() > 2) {
      size_t eq = a.find('=');
      for (size_t j = 2; j < std::min(eq, a.size()); ++j) {
        if (a[j] == '-') a[j] = '_';
      }
    }
    storage->push_back(a);
  }
  for (std::string& s : *storage) out.push_back(s.data());
  return out;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "load generator for keywardd: keyward-bench --target unix:///path "
      "--op sign [--key-type ed25519] [--compare] ...");
  std::vector<std::string> storage;
  std::vector<char*> args = NormalizeFlags(argc, argv, &storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());

  const std::string op_name = absl::GetFlag(FLAGS_op);
  const OpName* found = nullptr;
  for (const OpName& o : kOps) {
    if (op_name == o.name) found = &o;
  }
  if (found == nullptr) Die(absl::StrCat("unknown --op '", op_name, "'"));
  const Op op = found->op;
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
  if (load.inflight < 1) Die("--inflight must be at least 1");
  if (load.duration <= absl::ZeroDuration()) Die("--duration must be positive");
  if (load.warmup < absl::ZeroDuration()) Die("--warmup must not be negative");

  const std::string target = ResolveTarget();
  auto stubs = Connect(target, std::max(1, absl::GetFlag(FLAGS_channels)));
  const Machine machine = Describe(*stubs, target);
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
  std::unique_ptr<Workload> work = MakeWorkload(*stubs, op, *type, payload, &key_name);
  if (!json && !key_name.empty()) std::printf("key: %s\n", key_name.c_str());

  if (!compare) {
    RunResult r = RunLoad(*work, load);
    if (json) {
      std::printf("{\"tool\":\"keyward-bench\",\"op\":%s,\"key_type\":%s,"
                  "\"key\":%s,\"payload\":%d,\"inflight\":%d,\"rate\":%s,"
                  "\"batch\":%d,\"noop\":%s,\"machine\":%s,\"result\":%s,"
                  "\"ops\":%lld,\"errors\":%lld,\"ops_per_s\":%s}\n",
                  JsonString(NameOf(op)).c_str(), JsonString(type->name()).c_str(),
                  JsonString(key_name).c_str(), payload_size, load.inflight,
                  JsonNumber(load.rate).c_str(), batch,
                  JsonString(absl::GetFlag(FLAGS_noop_call)).c_str(),
                  MachineJson(machine).c_str(), ResultJson(r).c_str(),
                  static_cast<long long>(r.items_ok),
                  static_cast<long long>(r.errors), JsonNumber(r.ops_per_s()).c_str());
    } else {
      PrintResultText(r, batch);
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
  NoopWorkload noop(stubs.get(), absl::GetFlag(FLAGS_noop_call) == "status",
                    load.deadline);

  std::vector<double> a, b, c;
  std::vector<RunResult> a_runs, b_runs, c_runs;
  for (int run = 1; run <= runs; ++run) {
    if (raw.ok()) {
      RunResult cpu;
      a.push_back(RawRate(*raw, threads, load.warmup, load.duration, &cpu));
      a_runs.push_back(std::move(cpu));
    }
    b_runs.push_back(RunLoad(noop, load));
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
  const bool aead_op = op == Op::kEncrypt || op == Op::kDecrypt;

  if (json) {
    auto list = [](const std::vector<double>& v) {
      std::vector<std::string> s;
      for (double x : v) s.push_back(JsonNumber(x));
      return absl::StrCat("[", absl::StrJoin(s, ","), "]");
    };
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
        "\"noop_runs\":[%s],\"op_runs\":[%s],\"ops\":%lld,\"errors\":%lld}\n",
        JsonString(NameOf(op)).c_str(), JsonString(type->name()).c_str(),
        JsonString(key_name).c_str(), payload_size, load.inflight, batch,
        JsonString(absl::GetFlag(FLAGS_noop_call)).c_str(), runs, threads,
        MachineJson(machine).c_str(), list(a).c_str(), list(b).c_str(),
        list(c).c_str(), JsonNumber(am).c_str(), JsonNumber(bm).c_str(),
        JsonNumber(cm).c_str(), ideal > 0 ? JsonNumber(ideal).c_str() : "null",
        ideal > 0 ? JsonNumber(cm / ideal).c_str() : "null",
        bm > 0 ? JsonNumber(cm / bm).c_str() : "null",
        am > 0 ? JsonNumber(cm / am).c_str() : "null",
        absl::StrJoin(b_json, ",").c_str(), absl::StrJoin(c_json, ",").c_str(),
        static_cast<long long>(cmed.items_ok), static_cast<long long>(errors));
    return errors == 0 ? 0 : 3;
  }

  std::printf("\nmedians of %d runs (%s, %s):\n", runs, what.c_str(), mode.c_str());
  if (raw.ok()) {
    std::printf("  (a) raw library, %d threads in process   %10.0f ops/s\n",
                threads, am);
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
