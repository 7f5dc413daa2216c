// End-to-end: the Unix-socket identity is the kernel's view of the caller's
// uid. The real `keyward` CLI, run as `nobody` with setpriv, is denied until
// a policy names unix:uid:65534. Needs root (to become nobody), as CI has.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon_process.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;

TEST(PeerUidTest, AnotherUidIsDeniedUntilGranted) {
  ASSERT_EQ(geteuid(), 0u) << "this test becomes `nobody` with setpriv: run it "
                              "as root (tools/test in CI does)";
  std::string dir = NewTempDir();
  chmod(dir.c_str(), 0755);  // nobody must reach the socket
  std::string data = dir + "/data";
  std::string pass = dir + "/passphrase";
  std::ofstream(pass) << "peer uid test\n";
  chmod(pass.c_str(), 0600);
  ASSERT_EQ(RunProcess({Runfile("daemon/keywardd"), "init", "--data-dir", data,
                        "--passphrase-file", pass})
                .exit_code,
            0);
  std::string config = dir + "/k.txtpb";
  std::ofstream(config) << "unix_socket { mode: 0666 }\n";
  auto daemon = DaemonProcess::Start(
      dir, {"--data-dir", data, "--passphrase-file", pass, "--config", config});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const std::string addr = "unix://" + (*daemon)->socket_path();

  // A copy of the CLI that nobody may run (runfiles live under /root).
  std::string cli = dir + "/keyward";
  {
    std::ifstream in(Runfile("client/keyward"), std::ios::binary);
    std::ofstream out(cli, std::ios::binary);
    out << in.rdbuf();
  }
  chmod(cli.c_str(), 0755);
  std::string input = dir + "/input";
  std::ofstream(input) << "hello";
  chmod(input.c_str(), 0644);

  const std::string keyward = Runfile("client/keyward");
  ASSERT_EQ(RunProcess({keyward, "--addr", addr, "key", "create", "shared",
                        "--type", "ed25519"})
                .exit_code,
            0);
  auto as_nobody = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=65534",
                                     "--regid=65534", "--clear-groups", cli,
                                     "--addr", addr};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  };
  ProcessResult r = as_nobody({"whoami"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("unix:uid:65534"));

  r = as_nobody({"sign", "shared", "--in", input});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unix:uid:65534 may not SIGN on keys/shared"));

  ASSERT_EQ(RunProcess({keyward, "--addr", addr, "policy", "grant",
                        "unix:uid:65534", "sign", "--key", "keys/shared"})
                .exit_code,
            0);
  r = as_nobody({"sign", "shared", "--in", input, "--out", "/dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Still nothing beyond the grant.
  r = as_nobody({"key", "rotate", "shared"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("may not ROTATE"));
}

}  // namespace
}  // namespace keyward::testing
