// keyward-bench against the real keywardd: each run's --json output parses,
// counts operations, and reports no error. Nothing here asserts a speed.
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/daemon_process.h"

namespace keyward::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

struct BenchRun {
  int exit_code = -1;
  std::string stdout_text;
};

// Runs keyward-bench with `args`; stderr goes to the test log.
BenchRun RunBench(const std::vector<std::string>& args) {
  std::string command = "'" + Runfile("tools/keyward-bench") + "'";
  for (const std::string& a : args) absl::StrAppend(&command, " '", a, "'");
  BenchRun run;
  FILE* out = popen(command.c_str(), "r");
  if (out == nullptr) return run;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), out)) > 0) run.stdout_text.append(buf, n);
  int status = pclose(out);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// The JSON object keyward-bench printed (its last line).
Struct ParseJson(const std::string& text) {
  std::string line = text;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  size_t nl = line.rfind('\n');
  if (nl != std::string::npos) line = line.substr(nl + 1);
  Struct parsed;
  auto status = google::protobuf::util::JsonStringToMessage(line, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << text;
  return parsed;
}

const Value& Field(const Struct& s, const std::string& name) {
  static const Value* missing = new Value();
  auto it = s.fields().find(name);
  EXPECT_NE(it, s.fields().end()) << "no field " << name;
  return it == s.fields().end() ? *missing : it->second;
}

class BenchSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir();
    const std::string passphrase = dir_ + "/passphrase";
    std::ofstream(passphrase) << "bench smoke test passphrase\n";
    chmod(passphrase.c_str(), 0600);
    ProcessResult init = RunProcess({Runfile("daemon/keywardd"), "init",
                                     "--data_dir", dir_, "--passphrase_file",
                                     passphrase});
    ASSERT_EQ(init.exit_code, 0) << init.output;
    auto daemon = DaemonProcess::Start(
        dir_, {"--data_dir", dir_, "--passphrase_file", passphrase});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
  }

  std::vector<std::string> Common() const {
    return {"--target", "unix://" + daemon_->socket_path(), "--daemon-pid",
            absl::StrCat(daemon_->pid()), "--json"};
  }

  std::string dir_;
  std::unique_ptr<DaemonProcess> daemon_;
};

// --key-type takes the CLI's key type names (from the proto enum); a type
// the bench has no baseline for, or an unknown name, is refused with the
// list before any connection (exit 1).
TEST(BenchKeyTypeTest, RefusesTypesWithoutABaselineNamingThoseWithOne) {
  const std::vector<std::string> base = {Runfile("tools/keyward-bench"),
                                         "--target", "unix:///nonexistent.sock",
                                         "--op", "sign", "--key-type"};
  std::vector<std::string> args = base;
  args.push_back("ecdh-p256");
  ProcessResult r = RunProcess(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no baseline for key type ecdh-p256; one of: "
                          "ed25519, ecdsa-p256, rsa-2048, aes256-gcm, "
                          "hmac-sha256"),
            std::string::npos)
      << r.output;
  args = base;
  args.push_back("des");
  r = RunProcess(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("unknown key type \"des\"; one of: aes256-gcm"),
            std::string::npos)
      << r.output;
}

// --mode is unary, stream or coalesced; coalesced (synchronous callers) is
// closed loop only. Both refused before any connection (exit 1).
TEST(BenchModeTest, RefusesAnUnknownModeAndCoalescedOpenLoop) {
  const std::vector<std::string> base = {Runfile("tools/keyward-bench"),
                                         "--target", "unix:///nonexistent.sock",
                                         "--op", "sign", "--mode"};
  std::vector<std::string> args = base;
  args.push_back("batched");
  ProcessResult r = RunProcess(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--mode must be unary, stream or coalesced"),
            std::string::npos)
      << r.output;
  args = base;
  for (const char* a : {"coalesced", "--rate", "100"}) args.push_back(a);
  r = RunProcess(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--mode=coalesced is closed loop only"),
            std::string::npos)
      << r.output;
}

TEST_F(BenchSmokeTest, SignRunCountsOpsWithoutErrors) {
  std::vector<std::string> args = Common();
  for (const char* a : {"--op", "sign", "--duration", "1s", "--warmup", "0s"}) {
    args.push_back(a);
  }
  BenchRun run = RunBench(args);
  ASSERT_EQ(run.exit_code, 0) << run.stdout_text;
  Struct out = ParseJson(run.stdout_text);
  EXPECT_EQ(Field(out, "op").string_value(), "sign");
  EXPECT_GT(Field(out, "ops").number_value(), 0);
  EXPECT_EQ(Field(out, "errors").number_value(), 0);
  const Struct& result = Field(out, "result").struct_value();
  EXPECT_GT(Field(result, "calls").number_value(), 0);
  const Struct& latency = Field(result, "latency_us").struct_value();
  EXPECT_GT(Field(latency, "p50").number_value(), 0);
  EXPECT_GE(Field(latency, "p99.9").number_value(),
            Field(latency, "p50").number_value());
  EXPECT_GE(Field(result, "client_cpu_s").number_value(), 0);
  EXPECT_EQ(Field(result, "daemon_cpu_s").kind_case(), Value::kNumberValue);
  const Struct& machine = Field(out, "machine").struct_value();
  EXPECT_GE(Field(machine, "cores").number_value(), 1);
  EXPECT_FALSE(Field(machine, "flavor").string_value().empty());
}

TEST_F(BenchSmokeTest, NoopBatchAndStreamRuns) {
  for (const std::vector<std::string>& op :
       {std::vector<std::string>{"--op", "noop"},
        std::vector<std::string>{"--op", "sign-batch", "--batch", "8"},
        std::vector<std::string>{"--op", "decrypt", "--rate", "200"},
        std::vector<std::string>{"--op", "sign", "--mode", "stream"},
        std::vector<std::string>{"--op", "jwt-verify", "--key-type",
                                 "ecdsa-p256", "--mode", "stream"},
        std::vector<std::string>{"--op", "sign", "--mode", "coalesced"},
        std::vector<std::string>{"--op", "decrypt", "--mode", "coalesced"}}) {
    std::vector<std::string> args = Common();
    args.insert(args.end(), op.begin(), op.end());
    for (const char* a : {"--duration", "500ms", "--warmup", "0s"}) args.push_back(a);
    BenchRun run = RunBench(args);
    ASSERT_EQ(run.exit_code, 0) << absl::StrJoin(op, " ") << "\n" << run.stdout_text;
    Struct out = ParseJson(run.stdout_text);
    EXPECT_GT(Field(out, "ops").number_value(), 0) << absl::StrJoin(op, " ");
    EXPECT_EQ(Field(out, "errors").number_value(), 0) << absl::StrJoin(op, " ");
  }
}

TEST_F(BenchSmokeTest, CompareReportsTheRatios) {
  std::vector<std::string> args = Common();
  for (const char* a : {"--op", "encrypt", "--compare", "--runs", "1",
                        "--duration", "300ms", "--warmup", "0s"}) {
    args.push_back(a);
  }
  BenchRun run = RunBench(args);
  ASSERT_EQ(run.exit_code, 0) << run.stdout_text;
  Struct out = ParseJson(run.stdout_text);
  const Struct& median = Field(out, "median").struct_value();
  EXPECT_GT(Field(median, "raw").number_value(), 0);
  EXPECT_GT(Field(median, "noop").number_value(), 0);
  EXPECT_GT(Field(median, "op").number_value(), 0);
  EXPECT_GT(Field(out, "ratio_to_ideal").number_value(), 0);
  EXPECT_GT(Field(out, "ratio_to_noop").number_value(), 0);
  EXPECT_EQ(Field(out, "errors").number_value(), 0);
}

TEST_F(BenchSmokeTest, JwtSignRunsWithoutErrors) {
  std::vector<std::string> args = Common();
  for (const char* a : {"--op", "jwt-sign", "--key-type", "ecdsa-p256",
                        "--duration", "300ms", "--warmup", "0s"}) {
    args.push_back(a);
  }
  BenchRun run = RunBench(args);
  ASSERT_EQ(run.exit_code, 0) << run.stdout_text;
  Struct out = ParseJson(run.stdout_text);
  EXPECT_EQ(out.fields().count("skipped"), 0) << run.stdout_text;
  EXPECT_EQ(Field(out, "op").string_value(), "jwt-sign");
  EXPECT_GT(Field(out, "ops").number_value(), 0);
  EXPECT_EQ(Field(out, "errors").number_value(), 0);
}

// keyward-bare (the same gRPC server with only the cryptography in its
// handlers) answers every operation BENCHMARKS.md compares it on.
TEST(BareServerBenchTest, CompareRunsAgainstTheBareServer) {
  const std::string dir = NewTempDir();
  auto bare = DaemonProcess::StartBinary("tools/keyward-bare", dir, {});
  ASSERT_TRUE(bare.ok()) << bare.status();
  for (const std::vector<std::string>& op :
       {std::vector<std::string>{"--op", "sign", "--key-type", "ecdsa-p256"},
        std::vector<std::string>{"--op", "decrypt", "--key-type", "aes256-gcm"},
        std::vector<std::string>{"--op", "sign-batch", "--batch", "8"},
        std::vector<std::string>{"--op", "jwt-sign", "--key-type", "ecdsa-p256"}}) {
    std::vector<std::string> args = {"--target",
                                     "unix://" + (*bare)->socket_path(),
                                     "--daemon-pid",
                                     absl::StrCat((*bare)->pid()), "--json",
                                     "--compare", "--runs", "1", "--duration",
                                     "300ms", "--warmup", "0s"};
    args.insert(args.end(), op.begin(), op.end());
    BenchRun run = RunBench(args);
    const std::string what = absl::StrJoin(op, " ");
    ASSERT_EQ(run.exit_code, 0) << what << "\n" << run.stdout_text;
    Struct out = ParseJson(run.stdout_text);
    const Struct& median = Field(out, "median").struct_value();
    EXPECT_GT(Field(median, "raw").number_value(), 0) << what;
    EXPECT_GT(Field(median, "noop").number_value(), 0) << what;
    EXPECT_GT(Field(median, "op").number_value(), 0) << what;
    EXPECT_EQ(Field(out, "errors").number_value(), 0) << what;
  }
  ProcessResult stopped = (*bare)->Signal(SIGTERM);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
}

// Its async-API variant (BENCHMARKS.md compares the two) serves the noop and
// Sign.
TEST(BareServerBenchTest, AsyncVariantServesNoopAndSign) {
  const std::string dir = NewTempDir();
  auto bare = DaemonProcess::StartBinary("tools/keyward-bare", dir,
                                         {"--async_threads", "2"});
  ASSERT_TRUE(bare.ok()) << bare.status();
  for (const char* op : {"noop", "sign"}) {
    BenchRun run = RunBench({"--target", "unix://" + (*bare)->socket_path(),
                             "--json", "--op", op, "--duration", "300ms",
                             "--warmup", "0s"});
    ASSERT_EQ(run.exit_code, 0) << op << "\n" << run.stdout_text;
    Struct out = ParseJson(run.stdout_text);
    EXPECT_GT(Field(out, "ops").number_value(), 0) << op;
    EXPECT_EQ(Field(out, "errors").number_value(), 0) << op;
  }
  // SIGTERM right after load: the queues shut down after the server.
  ProcessResult stopped = (*bare)->Signal(SIGTERM);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
}

}  // namespace
}  // namespace keyward::testing
