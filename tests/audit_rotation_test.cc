// End-to-end: the real keywardd rotating its audit log under load (issue 18,
// item 3). The bar: a load run that writes more than 10 rotations' worth of
// audit log ends with `keyward audit verify` ok across every file and
// bounded disk use. Also: SIGHUP and `keyward audit rotate` rotate on
// demand, `keywardd verify-audit` checks every file offline, and a
// follower (ReadAuditLog follow) goes on across rotations without a gap.
//
// The load is bounded by count and by time (a hang guard, not a timing
// assertion): it stops once the log has rotated kRotations times.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/test_storage.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using ::testing::HasSubstr;

constexpr uint64_t kRotateBytes = 65536;
constexpr int kKeepFiles = 4;
constexpr int kRotations = 12;  // more than 10 rotations' worth

// AuditFiles: the audit log's files in `dir` ("audit.log", "audit.log.<n>"
// and "audit.log.<n>.gz"), with their sizes, and the highest generation.
struct AuditFiles {
  uint64_t bytes = 0;
  int rotated = 0;
  int compressed = 0;
  uint64_t max_generation = 0;
};

AuditFiles ListAuditFiles(const std::string& dir) {
  AuditFiles files;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return files;
  while (struct dirent* entry = readdir(d)) {
    absl::string_view name(entry->d_name);
    if (!absl::ConsumePrefix(&name, "audit.log")) continue;
    struct stat st;
    if (stat(absl::StrCat(dir, "/", entry->d_name).c_str(), &st) != 0) continue;
    if (name.empty()) {
      files.bytes += st.st_size;
      continue;
    }
    if (!absl::ConsumePrefix(&name, ".")) continue;
    const bool gz = absl::ConsumeSuffix(&name, ".gz");
    uint64_t generation = 0;
    if (!absl::SimpleAtoi(name, &generation)) continue;  // .torn-*, ...
    files.bytes += st.st_size;
    ++files.rotated;
    if (gz) ++files.compressed;
    files.max_generation = std::max(files.max_generation, generation);
  }
  closedir(d);
  return files;
}

class AuditRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keystore = TestKeystore::Init("audit rotation test passphrase");
    ASSERT_TRUE(keystore.ok()) << keystore.status();
    keystore_ = std::make_unique<TestKeystore>(*std::move(keystore));
    dir_ = keystore_->dir();
  }

  void Start(const std::string& audit_config) {
    const std::vector<std::string> args =
        keystore_->Args(absl::StrCat("audit { ", audit_config, " }\n"));
    config_ = args.back();  // the --config file, for verify-audit
    auto daemon = DaemonProcess::Start(dir_, args);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    channel_ = daemon_->NewChannel();
    crypto_ = pb::CryptoService::NewStub(channel_);
    system_ = pb::SystemService::NewStub(channel_);
    auto keys = pb::KeyService::NewStub(channel_);
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id("ed");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_ED25519);
    pb::CreateKeyResponse resp;
    grpc::Status s = keys->CreateKey(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Load signs from `threads` threads until the log has rotated to
  // generation `generation` (or 200000 calls, or 120 s: hang guards), and
  // returns the calls made. Every call must succeed. Samples the audit
  // files' total size into max_bytes_.
  int Load(uint64_t generation, int threads = 4) {
    std::atomic<int> calls{0};
    std::atomic<bool> done{false};
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        auto crypto = pb::CryptoService::NewStub(daemon_->NewChannel());
        while (!done.load()) {
          grpc::ClientContext ctx;
          pb::SignRequest req;
          req.set_name("keys/ed");
          req.set_data("rotation load");
          pb::SignResponse resp;
          if (!crypto->Sign(&ctx, req, &resp).ok()) ++failures;
          if (++calls >= 200000) done = true;
        }
      });
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (!done.load()) {
      AuditFiles files = ListAuditFiles(dir_);
      max_bytes_ = std::max(max_bytes_, files.bytes);
      if (files.max_generation >= generation || absl::Now() > deadline) {
        done = true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    for (auto& worker : workers) worker.join();
    EXPECT_EQ(failures.load(), 0);
    return calls.load();
  }

  // WaitFor waits (up to 30 s, a hang guard) until `ready` holds.
  template <typename F>
  bool WaitFor(F ready) {
    for (int i = 0; i < 3000; ++i) {
      if (ready()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return ready();
  }

  ProcessResult Keyward(std::vector<std::string> args) {
    args.insert(args.begin(), {Runfile("client/keyward"), "--addr",
                               "unix://" + daemon_->socket_path()});
    return RunProcess(args);
  }

  std::unique_ptr<TestKeystore> keystore_;
  std::string dir_;
  std::string config_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::CryptoService::Stub> crypto_;
  std::unique_ptr<pb::SystemService::Stub> system_;
  uint64_t max_bytes_ = 0;
};

TEST_F(AuditRotationTest, ALoadPastTenRotationsVerifiesAcrossFilesInBoundedSpace) {
  Start(absl::StrCat("rotate_bytes: ", kRotateBytes, " keep_files: ", kKeepFiles,
                     " compress: true"));
  const absl::Time start = absl::Now();
  const int calls = Load(kRotations);
  const absl::Duration took = absl::Now() - start;
  AuditFiles files = ListAuditFiles(dir_);
  ASSERT_GE(files.max_generation, static_cast<uint64_t>(kRotations))
      << calls << " calls in " << took;
  // Retention catches up after each rotation (the housekeeping thread).
  ASSERT_TRUE(WaitFor([&] {
    files = ListAuditFiles(dir_);
    return files.rotated <= kKeepFiles && files.compressed == files.rotated;
  })) << files.rotated << " rotated files, " << files.compressed << " compressed";
  EXPECT_EQ(files.rotated, kKeepFiles);
  // Bounded: the live file (at most one batch past rotate_bytes) and
  // kKeepFiles compressed files; while the load ran, never more than a few
  // rotations' worth beyond that.
  const uint64_t bound = (kKeepFiles + 1) * (kRotateBytes + 8192);
  EXPECT_LE(files.bytes, bound);
  EXPECT_LE(max_bytes_, bound + 3 * (kRotateBytes + 8192));
  std::printf("load: %d Sign calls in %s, %llu rotations; audit files now %llu "
              "bytes, at most %llu during the load (bound %llu)\n",
              calls, absl::FormatDuration(took).c_str(),
              static_cast<unsigned long long>(files.max_generation),
              static_cast<unsigned long long>(files.bytes),
              static_cast<unsigned long long>(max_bytes_),
              static_cast<unsigned long long>(bound));

  // `keyward audit verify`: ok across every file kept.
  ProcessResult verify = Keyward({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr(absl::StrCat("across ", kKeepFiles + 1,
                                                    " files")));
  EXPECT_THAT(verify.output, HasSubstr("older files removed by retention"));
  {
    grpc::ClientContext ctx;
    pb::VerifyAuditLogResponse verdict;
    ASSERT_TRUE(system_->VerifyAuditLog(&ctx, pb::VerifyAuditLogRequest(),
                                        &verdict).ok());
    EXPECT_TRUE(verdict.ok()) << verdict.problem();
    EXPECT_EQ(verdict.files_checked(), static_cast<uint64_t>(kKeepFiles + 1));
    EXPECT_GT(verdict.first_sequence(), 1u);
    EXPECT_EQ(verdict.first_sequence() + verdict.records_checked() - 1,
              verdict.last_sequence());
  }

  // On demand: SIGHUP (in the background), then `keyward audit rotate`.
  const uint64_t before = files.max_generation;
  ASSERT_EQ(kill(daemon_->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor(
      [&] { return ListAuditFiles(dir_).max_generation == before + 1; }));
  // The new file holds only its header: nothing to rotate (a refusal, and
  // audited: its record is then in the file).
  ProcessResult nothing = Keyward({"audit", "rotate"});
  EXPECT_EQ(nothing.exit_code, 2) << nothing.output;
  EXPECT_THAT(nothing.output, HasSubstr("nothing to rotate"));
  ProcessResult rotate = Keyward({"audit", "rotate"});
  EXPECT_EQ(rotate.exit_code, 0) << rotate.output;
  EXPECT_THAT(rotate.output,
              HasSubstr(absl::StrCat("rotated: ", dir_, "/audit.log.",
                                     before + 2, " ends with record")));
  // The CLI call's own record is the first after the new header: another
  // rotation has that to rotate.
  grpc::ClientContext ctx;
  pb::RotateAuditLogResponse rotated;
  ASSERT_TRUE(system_->RotateAuditLog(&ctx, pb::RotateAuditLogRequest(),
                                      &rotated).ok());
  EXPECT_EQ(rotated.rotated_file(), absl::StrCat(dir_, "/audit.log.", before + 3));
  EXPECT_EQ(rotated.first_sequence(), rotated.last_sequence() + 1);

  ASSERT_TRUE(WaitFor([&] {
    files = ListAuditFiles(dir_);
    return files.max_generation == before + 3 && files.compressed == files.rotated &&
           files.rotated == kKeepFiles;
  }));

  // Offline, every file: exit 0, and the same chain.
  daemon_->Signal(SIGTERM);
  ProcessResult offline = RunProcess(
      {Runfile("daemon/keywardd"), "verify-audit", "--config", config_,
       "--data_dir", dir_});
  EXPECT_EQ(offline.exit_code, 0) << offline.output;
  EXPECT_THAT(offline.output, HasSubstr("chain intact"));
  EXPECT_THAT(offline.output, HasSubstr("older files removed by retention"));

  // A record altered in a compressed file is found, named by file and
  // offset.
  files = ListAuditFiles(dir_);
  const std::string victim = absl::StrCat(
      dir_, "/audit.log.", files.max_generation - kKeepFiles + 1, ".gz");
  ASSERT_EQ(RunProcess({"/bin/sh", "-c",
                        absl::StrCat("gzip -dc '", victim,
                                     "' | sed '2s/unix:uid:/unix:uix:/' | "
                                     "gzip -c > '", victim, ".new' && mv '",
                                     victim, ".new' '", victim, "'")})
                .exit_code,
            0);
  ProcessResult broken = RunProcess(
      {Runfile("daemon/keywardd"), "verify-audit", "--config", config_,
       "--data_dir", dir_});
  EXPECT_EQ(broken.exit_code, 1) << broken.output;
  EXPECT_THAT(broken.output, HasSubstr(absl::StrCat("'", victim, "', offset ")));
  EXPECT_THAT(broken.output, HasSubstr("altered"));
}

TEST_F(AuditRotationTest, AFollowerGoesOnAcrossRotationsWithoutAGap) {
  Start("rotate_bytes: 16384");
  std::atomic<uint64_t> last{0};
  std::atomic<bool> gap{false};
  std::atomic<bool> stop{false};
  grpc::ClientContext follow_ctx;
  std::thread follower([&] {
    pb::ReadAuditLogRequest req;
    req.set_start_sequence(1);
    req.set_follow(true);
    auto reader = system_->ReadAuditLog(&follow_ctx, req);
    pb::ReadAuditLogResponse batch;
    while (!stop.load() && reader->Read(&batch)) {
      for (const auto& record : batch.records()) {
        if (record.sequence() != last.load() + 1) gap = true;
        last = record.sequence();
      }
    }
  });
  Load(4, 2);
  // The follower catches up with the last record (a hang guard).
  grpc::ClientContext ctx;
  pb::GetStatusResponse status;
  ASSERT_TRUE(system_->GetStatus(&ctx, pb::GetStatusRequest(), &status).ok());
  EXPECT_TRUE(WaitFor([&] { return last.load() >= status.audit_last_sequence(); }))
      << last.load() << " of " << status.audit_last_sequence();
  stop = true;
  follow_ctx.TryCancel();
  follower.join();
  EXPECT_FALSE(gap.load());
  EXPECT_GE(ListAuditFiles(dir_).max_generation, 4u);
}

}  // namespace
}  // namespace keyward::testing
