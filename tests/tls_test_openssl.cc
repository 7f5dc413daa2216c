// End-to-end (default flavor): a TCP listener with mutual TLS; the caller's
// identity is the client certificate's SPIFFE ID.
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/free_port.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TlsTest, MutualTlsIdentifiesTheClientBySpiffeId) {
  std::string dir = NewTempDir();
  ProcessResult certs = RunProcess({Runfile("tests/tls_certs.sh"), dir});
  ASSERT_EQ(certs.exit_code, 0) << certs.output;
  std::string pass = dir + "/passphrase";
  std::ofstream(pass) << "tls test\n";
  chmod(pass.c_str(), 0600);
  ASSERT_EQ(RunProcess({Runfile("daemon/keywardd"), "init", "--data_dir", dir,
                        "--passphrase_file", pass})
                .exit_code,
            0);
  int port = FreePort();
  std::string config = dir + "/k.txtpb";
  std::ofstream(config) << "tcp_listeners { address: \"127.0.0.1:" << port
                        << "\" tls { cert_file: \"" << dir
                        << "/server.pem\" key_file: \"" << dir
                        << "/server.key\" client_ca_file: \"" << dir
                        << "/ca.pem\" require_client_cert: true } }\n";
  auto daemon = DaemonProcess::Start(
      dir, {"--data_dir", dir, "--passphrase_file", pass, "--config", config});
  ASSERT_TRUE(daemon.ok()) << daemon.status();

  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = Read(dir + "/ca.pem");
  tls.pem_private_key = Read(dir + "/client.key");
  tls.pem_cert_chain = Read(dir + "/client.pem");
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::SslCredentials(tls));
  auto access = pb::AccessService::NewStub(channel);
  grpc::ClientContext ctx;
  pb::WhoAmIResponse who;
  grpc::Status s = access->WhoAmI(&ctx, pb::WhoAmIRequest(), &who);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(who.principal(), "spiffe://example.org/ci/release");
  EXPECT_EQ(who.authentication(), pb::AUTHENTICATION_METHOD_MTLS);

  // Default deny for the remote caller.
  auto crypto = pb::CryptoService::NewStub(channel);
  grpc::ClientContext sctx;
  pb::SignRequest req;
  req.set_name("keys/any");
  req.set_data("x");
  pb::SignResponse resp;
  s = crypto->Sign(&sctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("spiffe://example.org/ci/release"));

  // Once a policy grants the SPIFFE ID, the same remote caller may sign.
  {
    auto admin_keys = pb::KeyService::NewStub((*daemon)->NewChannel());
    grpc::ClientContext c1;
    pb::CreateKeyRequest kreq;
    kreq.set_key_id("any");
    kreq.mutable_key()->set_key_type(pb::KEY_TYPE_ED25519);
    pb::CreateKeyResponse kresp;
    ASSERT_TRUE(admin_keys->CreateKey(&c1, kreq, &kresp).ok());
    auto admin_access = pb::AccessService::NewStub((*daemon)->NewChannel());
    grpc::ClientContext c2;
    pb::CreatePolicyRequest preq;
    preq.mutable_policy()->set_principal("spiffe://example.org/ci/release");
    preq.mutable_policy()->set_resource("keys/any");
    preq.mutable_policy()->add_operations(pb::OPERATION_SIGN);
    pb::CreatePolicyResponse presp;
    ASSERT_TRUE(admin_access->CreatePolicy(&c2, preq, &presp).ok());
    grpc::ClientContext c3;
    s = crypto->Sign(&c3, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(resp.signature().empty());
  }

  // The CLI over mutual TLS.
  ProcessResult cli = RunProcess(
      {Runfile("client/keyward"), "whoami", "--addr",
       absl::StrCat("127.0.0.1:", port), "--tls-ca", dir + "/ca.pem",
       "--tls-cert", dir + "/client.pem", "--tls-key", dir + "/client.key"});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_THAT(cli.output, HasSubstr("spiffe://example.org/ci/release"));

  // Renewed certificate files take effect for new connections without a
  // restart, while the existing connection keeps working.
  auto server_cn = [&](const std::shared_ptr<grpc::Channel>& ch) {
    grpc::ClientContext c;
    pb::WhoAmIResponse w;
    EXPECT_TRUE(pb::AccessService::NewStub(ch)->WhoAmI(&c, pb::WhoAmIRequest(), &w).ok());
    auto cn = c.auth_context()->FindPropertyValues("x509_common_name");
    return cn.empty() ? std::string() : std::string(cn[0].data(), cn[0].size());
  };
  EXPECT_EQ(server_cn(channel), "keywardd");
  ASSERT_EQ(rename((dir + "/server2.key").c_str(), (dir + "/server.key").c_str()), 0);
  ASSERT_EQ(rename((dir + "/server2.pem").c_str(), (dir + "/server.pem").c_str()), 0);
  std::string renewed;
  for (int i = 0; i < 30 && renewed != "keywardd-renewed"; ++i) {
    absl::SleepFor(absl::Milliseconds(500));
    grpc::ChannelArguments fresh;
    fresh.SetInt("keyward-test-fresh-connection", i);  // a new subchannel
    renewed = server_cn(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(tls), fresh));
  }
  EXPECT_EQ(renewed, "keywardd-renewed");
  EXPECT_EQ(server_cn(channel), "keywardd") << "the old connection stays up";

  // A client without a certificate does not get through the handshake.
  grpc::SslCredentialsOptions anonymous;
  anonymous.pem_root_certs = Read(dir + "/ca.pem");
  auto bare = pb::AccessService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(anonymous)));
  grpc::ClientContext bctx;
  bctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  EXPECT_EQ(bare->WhoAmI(&bctx, pb::WhoAmIRequest(), &who).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // Nor does one whose certificate comes from another CA.
  grpc::SslCredentialsOptions intruder;
  intruder.pem_root_certs = Read(dir + "/ca.pem");
  intruder.pem_private_key = Read(dir + "/other.key");
  intruder.pem_cert_chain = Read(dir + "/other.pem");
  auto other = pb::AccessService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(intruder)));
  grpc::ClientContext octx;
  octx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  EXPECT_EQ(other->WhoAmI(&octx, pb::WhoAmIRequest(), &who).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace keyward::testing
