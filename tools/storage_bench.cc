// storage_bench: the keystore on SQLite beside the keystore on PostgreSQL, in
// one run (issue 13's bar): Sign on a cached key (must not touch the
// database: the same rate on both), and the latency of the calls that write
// (CreateKey, RotateKey) or load a key (first use after open).
//
// SQLite is a file in a temp dir; PostgreSQL is a real throwaway server
// (keystore/testing/postgres_server.h: initdb + pg_ctl, Unix socket, fsync
// on), both with the product's default durability (SQLite WAL +
// synchronous=FULL; PostgreSQL synchronous_commit=on). Each figure is the
// median (and p90 for latencies) over --rounds rounds; rounds alternate
// between the backends so that the machine's noise falls on both.
//
//   bazel run -c opt //tools:storage_bench
//   bazel run -c opt //tools:storage_bench -- --rounds=7 --writes=200
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "keystore/keystore.h"
#include "keystore/postgres_storage.h"
#include "keystore/testing/postgres_server.h"

ABSL_FLAG(int, rounds, 5, "rounds per figure (the median is printed)");
ABSL_FLAG(int, signs, 20000, "Sign calls per round on the cached key");
ABSL_FLAG(int, writes, 100, "CreateKey / RotateKey calls per round");

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "storage_bench: %s: %s\n", what.c_str(),
               status.ToString().c_str());
  std::exit(1);
}

double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1)))];
}

struct Backend {
  std::string name;
  StorageSpec spec;
  std::unique_ptr<Keystore> keystore;
  // Per-round figures.
  std::vector<double> sign_per_s;
  std::vector<double> create_us, rotate_us, first_use_us;
};

KeystoreOptions Options() {
  KeystoreOptions options;
  options.kdf = {1 << 15, 8, 1};
  return options;
}

const SecretData& Passphrase() {
  static const auto* p = new SecretData("storage bench passphrase");
  return *p;
}

void Round(Backend& b, int round) {
  Keystore& ks = *b.keystore;
  // Sign on a cached key.
  const int signs = absl::GetFlag(FLAGS_signs);
  auto start = Clock::now();
  for (int i = 0; i < signs; ++i) {
    auto sig = ks.Sign("ed", "a message of moderate length to sign");
    if (!sig.ok()) Die("sign", sig.status());
  }
  b.sign_per_s.push_back(signs / (Micros(Clock::now() - start) / 1e6));
  // CreateKey and RotateKey, one durable commit each.
  const int writes = absl::GetFlag(FLAGS_writes);
  CreateKeyParams params;
  params.type = KeyType::kAes256Gcm;
  for (int i = 0; i < writes; ++i) {
    params.id = absl::StrCat("r", round, "-k", i);
    start = Clock::now();
    auto key = ks.CreateKey(params);
    b.create_us.push_back(Micros(Clock::now() - start));
    if (!key.ok()) Die("create", key.status());
  }
  for (int i = 0; i < writes; ++i) {
    start = Clock::now();
    auto v = ks.RotateKey("rot");
    b.rotate_us.push_back(Micros(Clock::now() - start));
    if (!v.ok()) Die("rotate", v.status());
  }
  // First use after open: load the key and its versions, unwrap, build.
  auto reopened = Keystore::Open(b.spec, Passphrase(), Options());
  if (!reopened.ok()) Die("open", reopened.status());
  for (int i = 0; i < writes; ++i) {
    const std::string id = absl::StrCat("r", round, "-k", i);
    start = Clock::now();
    auto ct = (*reopened)->Encrypt(id, "x", "");
    b.first_use_us.push_back(Micros(Clock::now() - start));
    if (!ct.ok()) Die("first use", ct.status());
  }
}

void Setup(Backend& b) {
  auto ks = Keystore::Init(b.spec, Passphrase(), Options());
  if (!ks.ok()) Die("init " + b.name, ks.status());
  b.keystore = std::move(*ks);
  for (auto [id, type] : {std::pair{"ed", KeyType::kEd25519},
                          std::pair{"rot", KeyType::kAes256Gcm}}) {
    CreateKeyParams params;
    params.id = id;
    params.type = type;
    auto key = b.keystore->CreateKey(params);
    if (!key.ok()) Die("create", key.status());
  }
  auto warm = b.keystore->Sign("ed", "warm the cache");
  if (!warm.ok()) Die("sign", warm.status());
}

int Main() {
  if (!PostgresStorage::Available()) {
    std::fprintf(stderr, "storage_bench: this build has no PostgreSQL "
                         "(the BoringSSL flavor); build the default one\n");
    return 2;
  }
  auto server = testing::PostgresServer::Start({});
  if (!server.ok()) Die("postgres server", server.status());
  auto dsn = (*server)->CreateDatabase();
  if (!dsn.ok()) Die("createdb", dsn.status());
  char dir_template[] = "/tmp/storage-bench-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) Die("mkdtemp", absl::InternalError(""));

  std::vector<Backend> backends(2);
  backends[0].name = "SQLite";
  backends[0].spec.sqlite_path = absl::StrCat(dir_template, "/keystore.db");
  backends[1].name = "PostgreSQL";
  backends[1].spec.postgres = PostgresOptions{*dsn, "", 4};
  for (Backend& b : backends) Setup(b);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  for (int r = 0; r < rounds; ++r) {
    for (Backend& b : backends) Round(b, r);
  }

  std::printf("%-11s %14s %18s %18s %18s\n", "backend", "Sign/s cached",
              "CreateKey us p50/90", "RotateKey us p50/90",
              "first use us p50/90");
  for (const Backend& b : backends) {
    std::printf("%-11s %14.0f %18s %18s %18s\n", b.name.c_str(),
                Percentile(b.sign_per_s, 0.5),
                absl::StrFormat("%.0f / %.0f", Percentile(b.create_us, 0.5),
                                Percentile(b.create_us, 0.9))
                    .c_str(),
                absl::StrFormat("%.0f / %.0f", Percentile(b.rotate_us, 0.5),
                                Percentile(b.rotate_us, 0.9))
                    .c_str(),
                absl::StrFormat("%.0f / %.0f", Percentile(b.first_use_us, 0.5),
                                Percentile(b.first_use_us, 0.9))
                    .c_str());
  }
  std::printf("PostgreSQL/SQLite Sign rate on a cached key: %.2f\n",
              Percentile(backends[1].sign_per_s, 0.5) /
                  Percentile(backends[0].sign_per_s, 0.5));
  for (Backend& b : backends) b.keystore.reset();
  std::filesystem::remove_all(dir_template);
  return 0;
}

}  // namespace
}  // namespace keyward::keystore

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return keyward::keystore::Main();
}
