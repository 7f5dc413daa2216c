// End-to-end (BoringSSL flavor): a TLS listener in the config is refused at
// start, with a message naming the flavor that supports it.
#include <sys/stat.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon_process.h"

namespace keyward::testing {
namespace {

TEST(TlsTest, TlsListenerIsRefusedInTheBoringSslBuild) {
  std::string dir = NewTempDir();
  std::string pass = dir + "/passphrase";
  std::ofstream(pass) << "tls test\n";
  chmod(pass.c_str(), 0600);
  ASSERT_EQ(RunProcess({Runfile("daemon/keywardd"), "init", "--data_dir", dir,
                        "--passphrase_file", pass})
                .exit_code,
            0);
  std::string config = dir + "/k.txtpb";
  std::ofstream(config) << "tcp_listeners { address: \"127.0.0.1:7443\" tls { "
                           "cert_file: \"/x.pem\" key_file: \"/x.key\" } }\n";
  ProcessResult r = RunProcess({Runfile("daemon/keywardd"), "--data_dir", dir,
                                "--passphrase_file", pass, "--config", config});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, ::testing::HasSubstr("BoringSSL build"));
  EXPECT_THAT(r.output, ::testing::HasSubstr("default (OpenSSL) build"));
}

}  // namespace
}  // namespace keyward::testing
