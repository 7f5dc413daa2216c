// Crash test of the keystore (PRODUCT.md, "Reliability"): kill -9 at any
// point of key creation or rotation loses no acknowledged key and corrupts
// nothing.
//
// A child process (keystore_churn.cc) creates keys of mixed types and rotates
// them, appending "key_id version" to a side file (fsynced) after each call
// that returned OK. This test starts it, SIGKILLs it 5..150 ms after it
// reports the keystore open, and then, with the child dead:
//   - PRAGMA integrity_check is "ok" and foreign keys hold;
//   - every key's versions are exactly 1..latest_version, with the primary
//     among them (no half-applied rotation);
//   - Keystore::Open succeeds and every version of every key unwraps
//     (ExportKeyMaterial: the child makes keys exportable), its material
//     matches its stored public key, and the primary signs/encrypts/MACs
//     with a result that verifies and names it;
//   - every version the side file lists is among those verified.
//   - the child's audit log (every change audited inside its transaction,
//     as keywardd does) verifies, with at most a torn last record, and every
//     version in the keystore has its record: no change without its record.
//     A record without its change (a kill between the record and COMMIT)
//     is allowed, at most one per kill.
// The same keystore file is reused by every run of a generation (100 kills),
// so damage would accumulate; each generation starts a fresh keystore, so
// that the checks stay fast in a long soak.
// KEYWARD_CRASH_SEED=n replays a run's kill delays; KEYWARD_CRASH_KILLS=n
// sets the number of kills (60 by default; the soak in RELIABILITY.md runs
// 1,000).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/audit_log.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/keystore.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {
namespace {

constexpr int kDefaultKills = 60;
constexpr int kKillsPerGeneration = 100;
constexpr int kMinDelayMs = 5;
constexpr int kMaxDelayMs = 150;
constexpr char kPassphrase[] = "crash test passphrase, not a secret";

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string ChurnBinary() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".",
                      "/keyward/tests/crash/keystore_churn");
}

bool IsAsymmetric(KeyType type) {
  return type != KeyType::kAes256Gcm && type != KeyType::kHmacSha256 &&
         type != KeyType::kHmacSha384 && type != KeyType::kHmacSha512;
}

// Acknowledged maps key id -> the versions the child reported as made. A
// last line without its newline was never fully acknowledged and is skipped.
using Acknowledged = std::map<std::string, std::set<int32_t>>;

Acknowledged ReadSideFile(const std::string& path) {
  Acknowledged acked;
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos;
       start = end + 1) {
    std::istringstream fields(text.substr(start, end - start));
    std::string id;
    int32_t version = 0;
    if (fields >> id >> version) acked[id].insert(version);
  }
  return acked;
}

// Child is a running keystore_churn, its stdout on a pipe.
struct Child {
  pid_t pid = -1;
  int stdout_fd = -1;
};

Child StartChurn(const std::string& keystore, const std::string& passphrase_file,
                 const std::string& side_file, int run,
                 const std::string& audit_log) {
  const std::string binary = ChurnBinary();
  const std::string run_arg = std::to_string(run);
  std::vector<char*> argv = {const_cast<char*>(binary.c_str()),
                             const_cast<char*>(keystore.c_str()),
                             const_cast<char*>(passphrase_file.c_str()),
                             const_cast<char*>(side_file.c_str()),
                             const_cast<char*>(run_arg.c_str()),
                             const_cast<char*>(audit_log.c_str()), nullptr};
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the copy
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

// WaitReady waits until the child prints "ready" (the keystore is open).
bool WaitReady(const Child& child, absl::Duration timeout) {
  std::string got;
  const absl::Time deadline = absl::Now() + timeout;
  while (got.find('\n') == std::string::npos) {
    const int left = static_cast<int>(
        absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0) return false;
    pollfd p = {child.stdout_fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) return false;
    char buf[64];
    ssize_t n = read(child.stdout_fd, buf, sizeof(buf));
    if (n <= 0) return false;  // the child died before it was ready
    got.append(buf, n);
  }
  return got.rfind("ready\n", 0) == 0;
}

std::string Describe(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return absl::StrCat("exited with code ", WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(wait_status));
  }
  return absl::StrCat("wait status ", wait_status);
}

// Rows returns the first column of every row of `sql`, as text.
std::vector<std::string> Rows(sqlite3* db, const char* sql) {
  std::vector<std::string> rows;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    rows.push_back(absl::StrCat("cannot prepare: ", sqlite3_errmsg(db)));
    return rows;
  }
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    rows.push_back(text != nullptr ? reinterpret_cast<const char*>(text)
                                   : "NULL");
  }
  if (rc != SQLITE_DONE) {
    rows.push_back(absl::StrCat("step failed: ", sqlite3_errmsg(db)));
  }
  sqlite3_finalize(stmt);
  return rows;
}

// CheckSqlite: integrity_check through SqliteStorage (which also recovers
// the WAL the way keywardd would), then foreign keys and the version
// invariants straight from SQL.
void CheckSqlite(const std::string& path) {
  {
    auto storage = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
    ASSERT_TRUE(storage.ok()) << storage.status();
    absl::Status integrity = (*storage)->IntegrityCheck();
    ASSERT_TRUE(integrity.ok()) << integrity;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  EXPECT_EQ(Rows(db, "PRAGMA integrity_check"),
            std::vector<std::string>{"ok"});
  EXPECT_EQ(Rows(db, "PRAGMA foreign_key_check"), std::vector<std::string>{});
  // Each key's versions are exactly 1..latest_version and hold the primary.
  EXPECT_EQ(Rows(db, R"sql(
      SELECT k.id FROM keys k
      WHERE k.latest_version !=
              (SELECT COUNT(*) FROM key_versions v WHERE v.key_id = k.id)
         OR k.latest_version !=
              (SELECT MAX(version) FROM key_versions v WHERE v.key_id = k.id)
         OR k.primary_version NOT BETWEEN 1 AND k.latest_version)sql"),
            std::vector<std::string>{});
  EXPECT_EQ(Rows(db, R"sql(
      SELECT key_id FROM key_versions
      WHERE key_id NOT IN (SELECT id FROM keys) OR length(wrapped_material) = 0)sql"),
            std::vector<std::string>{});
  sqlite3_close(db);
}

// What one check found.
struct Tally {
  int64_t acked = 0;     // side-file versions, each found and verified
  int64_t versions = 0;  // versions in the keystore, each unwrapped and checked
};

// UsePrimary runs the key's main operation with its primary version and
// checks that the output verifies and names that version.
void UsePrimary(Keystore& keystore, const KeyRecord& key) {
  const std::string data = absl::StrCat("crash test data for ", key.id);
  int32_t used = 0;
  if (key.purpose == KeyPurpose::kSignVerify) {
    auto sig = keystore.Sign(key.id, data);
    ASSERT_TRUE(sig.ok()) << key.id << ": " << sig.status();
    EXPECT_EQ(sig->version, key.primary_version) << key.id;
    absl::Status v = keystore.Verify(key.id, data, sig->Enveloped(),
                                     std::nullopt, std::nullopt, &used);
    EXPECT_TRUE(v.ok()) << key.id << ": " << v;
  } else if (key.purpose == KeyPurpose::kEncryptDecrypt) {
    auto sealed = keystore.Encrypt(key.id, data, "aad");
    ASSERT_TRUE(sealed.ok()) << key.id << ": " << sealed.status();
    auto opened = keystore.Decrypt(key.id, *sealed, "aad", &used);
    ASSERT_TRUE(opened.ok()) << key.id << ": " << opened.status();
    EXPECT_EQ(opened->InsecureView(), data) << key.id;
  } else {
    auto mac = keystore.Mac(key.id, data);
    ASSERT_TRUE(mac.ok()) << key.id << ": " << mac.status();
    absl::Status v = keystore.VerifyMac(key.id, data, mac->Enveloped(), &used);
    EXPECT_TRUE(v.ok()) << key.id << ": " << v;
  }
  EXPECT_EQ(used, key.primary_version) << key.id;
}

// CheckKeystore opens the keystore and verifies every version of every key,
// then that each acknowledged version is among them.
using Versions = std::map<std::string, std::set<int32_t>>;

void CheckKeystore(const std::string& path, const Acknowledged& acked,
                   Tally* tally, Versions* present) {
  auto keystore = Keystore::Open(path, crypto::SecretData(kPassphrase));
  ASSERT_TRUE(keystore.ok()) << keystore.status();
  Versions& verified = *present;
  std::map<std::string, int32_t> primary;
  std::string after;
  while (true) {
    auto keys = (*keystore)->ListKeys(after, 1000);
    ASSERT_TRUE(keys.ok()) << keys.status();
    if (keys->empty()) break;
    after = keys->back().id;
    for (const KeyRecord& key : *keys) {
      primary[key.id] = key.primary_version;
      auto versions = (*keystore)->ListVersions(key.id);
      ASSERT_TRUE(versions.ok()) << key.id << ": " << versions.status();
      for (const VersionRecord& v : *versions) {
        auto material = (*keystore)->ExportKeyMaterial(key.id, v.version);
        ASSERT_TRUE(material.ok())
            << key.id << " v" << v.version << ": " << material.status();
        if (IsAsymmetric(key.type)) {
          auto spki = crypto::PublicKeyFromPrivate(key.type, *material);
          ASSERT_TRUE(spki.ok()) << key.id << " v" << v.version << ": "
                                 << spki.status();
          EXPECT_EQ(*spki, v.public_key) << key.id << " v" << v.version;
        } else {
          EXPECT_EQ(material->size(), 32u) << key.id << " v" << v.version;
        }
        verified[key.id].insert(v.version);
        ++tally->versions;
      }
      UsePrimary(**keystore, key);
      if (testing::Test::HasFatalFailure()) return;
    }
  }
  for (const auto& [id, versions] : acked) {
    for (int32_t version : versions) {
      EXPECT_EQ(verified[id].count(version), 1u)
          << "acknowledged version " << version << " of key '" << id
          << "' was lost";
      ++tally->acked;
    }
    // The newest acknowledged version was made primary, and nothing since
    // may have moved the primary backwards.
    EXPECT_GE(primary[id], *versions.rbegin()) << id;
  }
}

// Field returns the value of `"name":` in an audit line (a string's
// contents, or a number's digits).
std::string Field(const std::string& line, const std::string& name) {
  const std::string key = absl::StrCat("\"", name, "\":");
  size_t at = line.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  if (line[at] == '"') {
    size_t end = line.find('"', at + 1);
    return line.substr(at + 1, end - at - 1);
  }
  size_t end = line.find_first_of(",}", at);
  return line.substr(at, end - at);
}

// CheckAudit checks the child's audit log: an intact chain, with at most a
// torn last record (the kill may cut a write; never acknowledged), and an OK
// record for every version in the keystore. Returns how many OK records
// name a version the keystore does not hold (a kill between the record and
// COMMIT).
int64_t CheckAudit(const std::string& path, const Versions& present) {
  auto verdict = daemon::AuditLog::Verify(path);
  EXPECT_TRUE(verdict.ok()) << verdict.status();
  if (!verdict.ok()) return 0;
  if (verdict->first_bad != 0) {
    EXPECT_GT(verdict->torn_bytes, 0u)
        << "the audit chain is broken: " << verdict->problem;
  }
  auto lines = daemon::AuditLog::Read(path, 1, SIZE_MAX);
  EXPECT_TRUE(lines.ok()) << lines.status();
  if (!lines.ok()) return 0;
  // A torn last record was never acknowledged (and the child's next open
  // sets it aside).
  if (verdict->torn_bytes > 0 && !lines->empty()) lines->pop_back();
  Versions recorded;
  for (const std::string& line : *lines) {
    if (Field(line, "code") != "OK") continue;
    std::string resource = Field(line, "resource");
    int32_t version = 0;
    if (resource.rfind("keys/", 0) != 0 ||
        !absl::SimpleAtoi(Field(line, "version"), &version)) {
      ADD_FAILURE() << "an audit record without key and version: " << line;
      continue;
    }
    recorded[resource.substr(5)].insert(version);
  }
  int64_t unrecorded = 0;
  for (const auto& [id, versions] : present) {
    for (int32_t v : versions) {
      if (recorded[id].count(v) == 0) {
        ADD_FAILURE() << "version " << v << " of key '" << id
                      << "' was made without its audit record";
        ++unrecorded;
      }
    }
  }
  int64_t orphans = 0;
  for (const auto& [id, versions] : recorded) {
    auto it = present.find(id);
    for (int32_t v : versions) {
      if (it == present.end() || it->second.count(v) == 0) ++orphans;
    }
  }
  return orphans;
}

int KillsWanted() {
  int kills = kDefaultKills;
  if (const char* s = std::getenv("KEYWARD_CRASH_KILLS")) {
    if (!absl::SimpleAtoi(s, &kills) || kills < 1) kills = kDefaultKills;
  }
  return kills;
}

TEST(KeystoreCrashTest, SigkillDuringCreateAndRotateLosesNothing) {
  const std::string dir = TempDir();
  const std::string passphrase_file = dir + "/passphrase";
  unlink(passphrase_file.c_str());
  {
    int fd = open(passphrase_file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, kPassphrase, sizeof(kPassphrase) - 1),
              static_cast<ssize_t>(sizeof(kPassphrase) - 1));
    close(fd);
  }
  // A generation's files: a fresh keystore every kKillsPerGeneration kills.
  std::string keystore, side_file, audit_log;
  auto new_generation = [&](int generation) {
    const std::string base = absl::StrCat(dir, "/gen", generation);
    keystore = base + "-crash.db";
    side_file = base + "-committed.txt";
    audit_log = base + "-audit.log";
    for (const std::string& f : {keystore, keystore + "-wal",
                                 keystore + "-shm", side_file, audit_log}) {
      unlink(f.c_str());
    }
  };
  new_generation(0);

  uint32_t seed = std::random_device{}();
  if (const char* s = std::getenv("KEYWARD_CRASH_SEED")) {
    seed = static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
  }
  std::printf("seed %u (KEYWARD_CRASH_SEED=%u replays the delays)\n", seed,
              seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(kMinDelayMs, kMaxDelayMs);

  const int kills_wanted = KillsWanted();
  int kills = 0;
  int64_t orphan_records = 0;     // in the current generation
  int64_t acked_verified = 0;     // summed over the checks
  int64_t versions_verified = 0;  // summed over the checks
  Tally last;
  const absl::Time start = absl::Now();
  for (int run = 0; run < kills_wanted; ++run) {
    if (run > 0 && run % kKillsPerGeneration == 0) {
      new_generation(run / kKillsPerGeneration);
      last = Tally();
      orphan_records = 0;
    }
    Child child =
        StartChurn(keystore, passphrase_file, side_file, run, audit_log);
    ASSERT_GT(child.pid, 0) << "cannot start " << ChurnBinary();
    const bool ready = WaitReady(child, absl::Seconds(60));
    const int delay = delay_ms(rng);
    if (ready) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    kill(child.pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
    close(child.stdout_fd);
    ASSERT_TRUE(ready) << "run " << run << ": the child never got the "
                       << "keystore open: " << Describe(status);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "run " << run << ": the child stopped by itself (it failed; see "
        << "its stderr above): " << Describe(status);
    ++kills;

    CheckSqlite(keystore);
    ASSERT_FALSE(HasFatalFailure()) << "after kill " << kills;
    Tally now;
    Versions present;
    CheckKeystore(keystore, ReadSideFile(side_file), &now, &present);
    ASSERT_FALSE(HasFatalFailure()) << "after kill " << kills;
    const int64_t orphans = CheckAudit(audit_log, present);
    // Each kill can cut at most one change between its record and COMMIT.
    EXPECT_LE(orphans, (run % kKillsPerGeneration) + 1) << "after kill " << kills;
    const int64_t new_orphans = orphans - orphan_records;
    orphan_records = orphans;
    // A kill between a commit and its side-file line leaves one change made
    // but never reported; there can be no more than one per kill.
    const int64_t unreported = (now.versions - now.acked) -
                               (last.versions - last.acked);
    EXPECT_LE(unreported, 1) << "after kill " << kills;
    if (HasFailure()) break;  // one run's report is enough to read
    std::printf("kill %2d after %3d ms: +%lld acknowledged versions, "
                "%lld made but not reported, %lld audited but not made\n",
                kills, delay, static_cast<long long>(now.acked - last.acked),
                static_cast<long long>(unreported),
                static_cast<long long>(new_orphans));
    acked_verified += now.acked;
    versions_verified += now.versions;
    last = now;
  }
  std::printf(
      "kills: %d in %.1f s. At the end the keystore holds %lld versions, "
      "%lld of them acknowledged; every one verified, and its audit record "
      "found in an intact chain, after every kill (%lld acknowledged and "
      "%lld in all, summed over the %d checks)\n",
      kills, absl::ToDoubleSeconds(absl::Now() - start),
      static_cast<long long>(last.versions), static_cast<long long>(last.acked),
      static_cast<long long>(acked_verified),
      static_cast<long long>(versions_verified), kills);
  EXPECT_EQ(kills, kills_wanted);
}

}  // namespace
}  // namespace keyward::keystore
