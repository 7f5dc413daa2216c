// keystore_bench: what the keystore costs (PRODUCT.md, "The bar").
//
// (a) Sign (Ed25519, ECDSA P-256, RSA-2048 PSS) and AES-256-GCM Encrypt
//     through Keystore with the key cached, against the crypto layer's own
//     primitive (crypto::NewSigner / crypto::AesGcm) on the same material, in
//     one run; prints keystore/raw from the two medians. (The crypto layer
//     against bare EVP is keystore/crypto:sign_benchmark.)
// (b) A keystore of --keys keys (default 100,000; 99% AES-256, 1% Ed25519),
//     measured in a fresh process: Keystore::Open time and VmRSS before and
//     after it, then the latency of the first use of 1,000 random keys (not
//     yet cached: load, unwrap, build the primitive) and of their second use.
//     The same figures for an empty keystore give the baseline: open time is
//     scrypt, and nothing in Open grows with the number of keys.
//
// The fixture is made by Keystore::CreateKey through the product's
// SqliteStorage, one key (and one fsync) at a time, so every row is genuine:
// wrapped under the root key with its own AAD. That took about 0.4 ms per key
// here (under a minute for 100,000); on a disk with slow fsync,
// --stage_on_tmpfs builds it on /dev/shm and copies it to disk. With
// --fixture_dir it is kept and reused by the next run.
//
//   bazel run -c opt //tools:keystore_bench
//   bazel run -c opt --config=boringssl //tools:keystore_bench
//   ... -- --fixture_dir=/tmp/kwb    # keep the 100k fixture for the next run
//   ... -- --benchmark_repetitions=9 --keys=10000 --open_bench=false

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"
#include "keystore/keystore.h"

ABSL_FLAG(int, keys, 100000, "keys in the open-time fixture");
ABSL_FLAG(std::string, fixture_dir, "",
          "keep the open-time fixture in this directory and reuse it if it "
          "holds --keys keys (default: a temporary directory, removed)");
ABSL_FLAG(bool, stage_on_tmpfs, false,
          "build the fixture on /dev/shm and copy it to disk");
ABSL_FLAG(bool, open_bench, true, "run (b), the open-time measurements");
ABSL_FLAG(int, sample, 1000, "keys used for the first-use latencies");
// Internal: run (b)'s measurements in this (fresh) process and exit.
ABSL_FLAG(std::string, probe_keystore, "", "internal");
ABSL_FLAG(std::string, probe_passphrase_file, "", "internal");

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using crypto::SignatureAlgorithm;
using Clock = std::chrono::steady_clock;

constexpr char kMessage[] =
    "a 64-byte message, about the size of a token to sign........";

[[noreturn]] void Die(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "keystore_bench: %s: %s\n", std::string(what).c_str(),
               status.ToString().c_str());
  std::exit(1);
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
double Us(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// VmRssKb returns this process's resident set size in KiB.
long VmRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

std::string MakeTempDir(const std::string& parent) {
  std::string templ = parent + "/keyward_bench.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    Die("mkdtemp", absl::InternalError(absl::StrCat("cannot create ", templ)));
  }
  return templ;
}

std::string TmpRoot() {
  const char* t = std::getenv("TMPDIR");
  return t != nullptr && *t != '\0' ? t : "/tmp";
}

// The passphrase file of a fixture directory, made (0600, random) if absent.
SecretData Passphrase(const std::string& file) {
  std::ifstream in(file);
  std::string text;
  if (!std::getline(in, text)) {
    text = absl::BytesToHexString(SecretData::Random(16).InsecureView());
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text.data(), text.size()) !=
                      static_cast<ssize_t>(text.size())) {
      Die("passphrase file", absl::InternalError(file));
    }
    close(fd);
  }
  SecretData passphrase(text);
  std::fill(text.begin(), text.end(), '\0');
  return passphrase;
}

// --- (a) Keystore vs the raw primitive -------------------------------------

struct SignCase {
  const char* name;
  KeyType type;
  SignatureAlgorithm algorithm;
};
constexpr SignCase kSignCases[] = {
    {"Ed25519", KeyType::kEd25519, SignatureAlgorithm::kEd25519},
    {"EcdsaP256", KeyType::kEcdsaP256, SignatureAlgorithm::kEcdsaP256Sha256Der},
    {"Rsa2048Pss", KeyType::kRsa2048, SignatureAlgorithm::kRsaPssSha256},
};

// The keystore and the raw primitives of (a), made before the benchmarks run.
struct SignFixture {
  std::string dir;
  std::unique_ptr<Keystore> keystore;
  std::map<std::string, std::unique_ptr<crypto::Signer>> signers;
  std::unique_ptr<crypto::Aead> aead;
};

std::unique_ptr<SignFixture> MakeSignFixture() {
  auto f = std::make_unique<SignFixture>();
  f->dir = MakeTempDir(TmpRoot());
  auto keystore =
      Keystore::Init(f->dir + "/sign.db", SecretData("bench passphrase"));
  if (!keystore.ok()) Die("init", keystore.status());
  f->keystore = std::move(*keystore);
  CreateKeyParams params;
  params.exportable = true;  // only so that the raw side gets the same bytes
  for (const SignCase& c : kSignCases) {
    params.id = absl::AsciiStrToLower(c.name);
    params.type = c.type;
    auto key = f->keystore->CreateKey(params);
    if (!key.ok()) Die("create", key.status());
    auto material = f->keystore->ExportKeyMaterial(params.id, 1);
    if (!material.ok()) Die("export", material.status());
    auto signer = crypto::NewSigner(c.algorithm, *material);
    if (!signer.ok()) Die("signer", signer.status());
    f->signers[c.name] = std::move(*signer);
  }
  params.id = "aes";
  params.type = KeyType::kAes256Gcm;
  if (auto key = f->keystore->CreateKey(params); !key.ok()) {
    Die("create", key.status());
  }
  auto material = f->keystore->ExportKeyMaterial("aes", 1);
  if (!material.ok()) Die("export", material.status());
  auto aead = crypto::AesGcm::Create(*material);
  if (!aead.ok()) Die("aead", aead.status());
  f->aead = std::move(*aead);
  return f;
}

SignFixture* g_fixture = nullptr;

void BM_KeystoreSign(benchmark::State& state, SignCase c) {
  const std::string id = absl::AsciiStrToLower(c.name);
  if (!g_fixture->keystore->Sign(id, kMessage).ok()) {  // fills the cache
    state.SkipWithError("Keystore::Sign failed");
  }
  for (auto _ : state) {
    auto sig = g_fixture->keystore->Sign(id, kMessage);
    if (!sig.ok()) state.SkipWithError("Keystore::Sign failed");
    benchmark::DoNotOptimize(sig);
  }
}

void BM_RawSign(benchmark::State& state, SignCase c) {
  const crypto::Signer& signer = *g_fixture->signers.at(c.name);
  for (auto _ : state) {
    auto sig = signer.Sign(kMessage);
    if (!sig.ok()) state.SkipWithError("Signer::Sign failed");
    benchmark::DoNotOptimize(sig);
  }
}

void BM_KeystoreEncrypt(benchmark::State& state) {
  for (auto _ : state) {
    auto sealed = g_fixture->keystore->Encrypt("aes", kMessage, "aad");
    if (!sealed.ok()) state.SkipWithError("Keystore::Encrypt failed");
    benchmark::DoNotOptimize(sealed);
  }
}

void BM_RawEncrypt(benchmark::State& state) {
  for (auto _ : state) {
    auto sealed = g_fixture->aead->Encrypt(kMessage, "aad");
    if (!sealed.ok()) state.SkipWithError("Aead::Encrypt failed");
    benchmark::DoNotOptimize(sealed);
  }
}

// MedianReporter prints as the console reporter does and keeps each
// benchmark's median (or its only run, without repetitions).
class MedianReporter : public benchmark::ConsoleReporter {
 public:
  MedianReporter()
      : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string name = run.run_name.str();
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") {
        medians_[name] = run.GetAdjustedRealTime();
      } else if (run.run_type == Run::RT_Iteration && !medians_.count(name)) {
        singles_[name] = run.GetAdjustedRealTime();
      }
    }
  }
  // Median returns the median time per operation in us, or -1.
  double Median(const std::string& name) const {
    if (auto it = medians_.find(name); it != medians_.end()) return it->second;
    if (auto it = singles_.find(name); it != singles_.end()) return it->second;
    return -1;
  }

 private:
  std::map<std::string, double> medians_;
  std::map<std::string, double> singles_;
};

void ReportRatios(const MedianReporter& reporter) {
  std::printf("\n(a) keystore / raw primitive, from the medians (1.00 = no "
              "overhead):\n");
  auto line = [&](const std::string& what, const std::string& ks,
                  const std::string& raw) {
    const double k = reporter.Median(ks);
    const double r = reporter.Median(raw);
    if (k <= 0 || r <= 0) {
      std::printf("  %-26s not measured (filtered out or failed)\n", what.c_str());
      return;
    }
    std::printf("  %-26s keystore %9.2f us  raw %9.2f us  ratio %.3f  "
                "(%.0f vs %.0f ops/s)\n",
                what.c_str(), k, r, k / r, 1e6 / k, 1e6 / r);
  };
  for (const SignCase& c : kSignCases) {
    line(absl::StrCat("Sign ", c.name), absl::StrCat("BM_KeystoreSign/", c.name),
         absl::StrCat("BM_RawSign/", c.name));
  }
  line("Encrypt AES-256-GCM 64 B", "BM_KeystoreEncrypt", "BM_RawEncrypt");
}

// --- (b) A keystore of many keys --------------------------------------------

// The fixture's key i: every 100th is Ed25519, the rest AES-256-GCM.
bool IsSigningKey(int i) { return i % 100 == 99; }
std::string KeyId(int i) { return absl::StrFormat("k%07d", i); }

void BuildFixture(const std::string& dir, int keys) {
  const std::string target = dir + "/keystore.db";
  const bool staged = absl::GetFlag(FLAGS_stage_on_tmpfs) &&
                      access("/dev/shm", W_OK) == 0;
  const std::string stage_dir = staged ? MakeTempDir("/dev/shm") : dir;
  const std::string path = stage_dir + "/keystore.db";
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(target + suffix);
  }
  const SecretData passphrase = Passphrase(dir + "/passphrase");
  std::printf("(b) building a fixture of %d keys in %s%s...\n", keys,
              stage_dir.c_str(), staged ? " (tmpfs; copied to disk after)" : "");
  std::fflush(stdout);
  const auto start = Clock::now();
  {
    auto keystore = Keystore::Init(path, passphrase);
    if (!keystore.ok()) Die("init", keystore.status());
    CreateKeyParams params;
    auto last = Clock::now();
    int last_i = 0;
    for (int i = 0; i < keys; ++i) {
      params.id = KeyId(i);
      params.type = IsSigningKey(i) ? KeyType::kEd25519 : KeyType::kAes256Gcm;
      auto key = (*keystore)->CreateKey(params);
      if (!key.ok()) Die("create", key.status());
      if ((i + 1) % 10000 == 0 || i + 1 == 1000) {
        const auto now = Clock::now();
        std::printf("    %7d keys, %.0f us per CreateKey since the last line\n",
                    i + 1, Us(now - last) / (i + 1 - last_i));
        std::fflush(stdout);
        last = now;
        last_i = i + 1;
      }
    }
  }  // closing checkpoints the WAL into the file
  if (staged) {
    std::filesystem::copy_file(path, target);
    chmod(target.c_str(), 0600);
    std::filesystem::remove_all(stage_dir);
  }
  std::printf("    built in %.1f s\n", Ms(Clock::now() - start) / 1000);
}

struct Percentiles {
  double median, p99;
};
Percentiles Of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return {0, 0};
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

// Probe runs in a fresh process (--probe_keystore): open time, RSS, first-
// and second-use latencies, printed for the parent's log.
int Probe(const std::string& path, const std::string& passphrase_file) {
  const long rss_start = VmRssKb();
  const SecretData passphrase = Passphrase(passphrase_file);
  KeystoreOptions options;  // the daemon's default cache of 1024 keys
  auto t0 = Clock::now();
  auto keystore = Keystore::Open(path, passphrase, options);
  const double first_open_ms = Ms(Clock::now() - t0);
  if (!keystore.ok()) Die("open", keystore.status());
  const long rss_open = VmRssKb();

  std::vector<double> opens;
  for (int i = 0; i < 4; ++i) {
    t0 = Clock::now();
    auto again = Keystore::Open(path, passphrase, options);
    opens.push_back(Ms(Clock::now() - t0));
    if (!again.ok()) Die("open", again.status());
  }
  opens.push_back(first_open_ms);
  auto count = (*keystore)->CountKeys();
  if (!count.ok()) Die("count", count.status());
  const int keys = static_cast<int>(*count);
  std::printf("  keys %d: Keystore::Open %.1f ms the first time, median of 5 "
              "%.1f ms; VmRSS %.1f MiB before open, %.1f MiB after (+%.2f MiB)\n",
              keys, first_open_ms, Of(opens).median, rss_start / 1024.0,
              rss_open / 1024.0, (rss_open - rss_start) / 1024.0);
  if (keys == 0) return 0;

  // 1000 random AES keys, and as many Ed25519 keys, each used twice.
  std::mt19937 rng(42);
  std::vector<int> aes, ed;
  for (int i = 0; i < keys; ++i) (IsSigningKey(i) ? ed : aes).push_back(i);
  std::shuffle(aes.begin(), aes.end(), rng);
  std::shuffle(ed.begin(), ed.end(), rng);
  const size_t sample = static_cast<size_t>(absl::GetFlag(FLAGS_sample));
  aes.resize(std::min(aes.size(), sample));
  ed.resize(std::min(ed.size(), sample));

  std::vector<double> enc_first, enc_second, sign_first, sign_second;
  for (int i : aes) {
    const std::string id = KeyId(i);
    for (std::vector<double>* out : {&enc_first, &enc_second}) {
      t0 = Clock::now();
      auto sealed = (*keystore)->Encrypt(id, kMessage, "aad");
      out->push_back(Us(Clock::now() - t0));
      if (!sealed.ok()) Die(absl::StrCat("encrypt ", id), sealed.status());
    }
  }
  for (int i : ed) {
    const std::string id = KeyId(i);
    for (std::vector<double>* out : {&sign_first, &sign_second}) {
      t0 = Clock::now();
      auto sig = (*keystore)->Sign(id, kMessage);
      out->push_back(Us(Clock::now() - t0));
      if (!sig.ok()) Die(absl::StrCat("sign ", id), sig.status());
    }
  }
  const long rss_used = VmRssKb();
  auto row = [](const char* what, size_t n, const std::vector<double>& first,
                const std::vector<double>& second) {
    const Percentiles a = Of(first), b = Of(second);
    std::printf("  %-22s first use of %zu keys: median %7.1f us, p99 %7.1f us;"
                " second use: median %6.1f us, p99 %6.1f us\n",
                what, n, a.median, a.p99, b.median, b.p99);
  };
  row("Encrypt (AES-256-GCM)", aes.size(), enc_first, enc_second);
  row("Sign (Ed25519)", ed.size(), sign_first, sign_second);
  std::printf("  VmRSS after using those %zu keys (cache of %zu): %.1f MiB\n",
              aes.size() + ed.size(), options.cache_size, rss_used / 1024.0);
  return 0;
}

// RunProbe runs Probe in a fresh process (so RSS is that of an open, not of
// this process's history) and waits for it.
void RunProbe(const std::string& path, const std::string& passphrase_file) {
  std::fflush(stdout);
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) Die("readlink", absl::InternalError("/proc/self/exe"));
  self[n] = '\0';
  const std::string a1 = "--probe_keystore=" + path;
  const std::string a2 = "--probe_passphrase_file=" + passphrase_file;
  const std::string a3 = absl::StrCat("--sample=", absl::GetFlag(FLAGS_sample));
  std::vector<char*> argv = {self, const_cast<char*>(a1.c_str()),
                             const_cast<char*>(a2.c_str()),
                             const_cast<char*>(a3.c_str()), nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    execv(self, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Die("probe", absl::InternalError(absl::StrCat("wait status ", status)));
  }
}

void OpenBench() {
  const int keys = absl::GetFlag(FLAGS_keys);
  std::string dir = absl::GetFlag(FLAGS_fixture_dir);
  const bool keep = !dir.empty();
  if (keep) {
    std::filesystem::create_directories(dir);
  } else {
    dir = MakeTempDir(TmpRoot());
  }
  const std::string path = dir + "/keystore.db";
  bool reuse = false;
  if (access(path.c_str(), F_OK) == 0) {
    auto ks = Keystore::Open(path, Passphrase(dir + "/passphrase"));
    auto count = ks.ok() ? (*ks)->CountKeys() : ks.status();
    reuse = count.ok() && *count == keys;
    if (reuse) std::printf("(b) reusing the fixture of %d keys in %s\n", keys, dir.c_str());
  }
  if (!reuse) BuildFixture(dir, keys);

  const std::string empty_dir = MakeTempDir(TmpRoot());
  {
    auto empty = Keystore::Init(empty_dir + "/keystore.db",
                                Passphrase(empty_dir + "/passphrase"));
    if (!empty.ok()) Die("init", empty.status());
  }
  std::printf("\n(b) open and first use, each in a fresh process (keystore "
              "file in the page cache):\n");
  RunProbe(empty_dir + "/keystore.db", empty_dir + "/passphrase");
  RunProbe(path, dir + "/passphrase");
  std::filesystem::remove_all(empty_dir);
  if (!keep) std::filesystem::remove_all(dir);
}

int Main(int argc, char** argv) {
  // Repetitions by default, so that medians exist, interleaved at random so
  // that the machine's drift falls on both sides of each ratio. Flags given
  // on the command line come later and win.
  static char reps[] = "--benchmark_repetitions=10";
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  static char aggregates[] = "--benchmark_display_aggregates_only=true";
  std::vector<char*> args = {argv[0], reps, interleave, aggregates};
  args.insert(args.end(), argv + 1, argv + argc);
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  absl::ParseCommandLine(n, args.data());

  const std::string probe = absl::GetFlag(FLAGS_probe_keystore);
  if (!probe.empty()) {
    return Probe(probe, absl::GetFlag(FLAGS_probe_passphrase_file));
  }

  auto fixture = MakeSignFixture();
  g_fixture = fixture.get();
  for (const SignCase& c : kSignCases) {
    benchmark::RegisterBenchmark(absl::StrCat("BM_KeystoreSign/", c.name).c_str(),
                                 BM_KeystoreSign, c)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(absl::StrCat("BM_RawSign/", c.name).c_str(),
                                 BM_RawSign, c)
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("BM_KeystoreEncrypt", BM_KeystoreEncrypt)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_RawEncrypt", BM_RawEncrypt)
      ->Unit(benchmark::kMicrosecond);
  MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  ReportRatios(reporter);
  g_fixture = nullptr;
  const std::string sign_dir = fixture->dir;
  fixture.reset();
  std::filesystem::remove_all(sign_dir);

  if (absl::GetFlag(FLAGS_open_bench)) OpenBench();
  return 0;
}

}  // namespace
}  // namespace keyward::keystore

int main(int argc, char** argv) { return keyward::keystore::Main(argc, argv); }
