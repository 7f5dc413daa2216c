// End-to-end: the real keywardd binary on a real Unix socket, driven through
// real gRPC channels.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/jwt_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "tests/daemon_process.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;

// A data dir with a keystore made by `keywardd init`.
struct DataDir {
  std::string dir;
  std::string passphrase_file;
};

DataDir InitDataDir() {
  DataDir d;
  d.dir = NewTempDir();
  d.passphrase_file = d.dir + "/passphrase";
  {
    std::ofstream(d.passphrase_file) << "test passphrase\n";
  }
  chmod(d.passphrase_file.c_str(), 0600);
  ProcessResult init = RunProcess({Runfile("daemon/keywardd"), "init",
                                   "--data_dir", d.dir, "--passphrase_file",
                                   d.passphrase_file});
  EXPECT_EQ(init.exit_code, 0) << init.output;
  return d;
}

std::vector<std::string> ServeArgs(const DataDir& d) {
  return {"--data_dir", d.dir, "--passphrase_file", d.passphrase_file};
}

TEST(DaemonTest, HealthIsServingAndSigtermExitsZero) {
  DataDir d = InitDataDir();
  auto daemon = DaemonProcess::Start(d.dir, ServeArgs(d));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  struct stat st;
  ASSERT_EQ(stat((*daemon)->socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660);

  auto stub = grpc::health::v1::Health::NewStub((*daemon)->NewChannel());
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  ProcessResult exit = (*daemon)->Signal(SIGTERM);
  EXPECT_EQ(exit.exit_code, 0) << exit.output;
  EXPECT_THAT(exit.output, HasSubstr("\"event\":\"stopped\""));
  EXPECT_NE(access((*daemon)->socket_path().c_str(), F_OK), 0)
      << "the socket file should be removed on exit";
}

// HasThread says whether process `pid` has a thread named `name`.
bool HasThread(pid_t pid, const std::string& name) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return false;
  bool found = false;
  while (dirent* entry = readdir(dir)) {
    std::string comm;
    std::getline(std::ifstream(tasks + "/" + entry->d_name + "/comm"), comm);
    found = found || comm == name;
  }
  closedir(dir);
  return found;
}

// ECDSA nonces made ahead (README): the OpenSSL flavor starts its
// "keyward-nonces" thread once a P-256 key signs; no_ecdsa_nonces_ahead
// is honoured (no thread, and signing still works), as is the BoringSSL
// flavor's lack of the API.
TEST(DaemonTest, EcdsaNoncesAheadAndItsSwitch) {
  namespace pb = keyward::v1;
  for (const bool off : {false, true}) {
    SCOPED_TRACE(off ? "no_ecdsa_nonces_ahead: true" : "default");
    DataDir d = InitDataDir();
    const std::string config = d.dir + "/keywardd.conf";
    std::ofstream(config) << (off ? "no_ecdsa_nonces_ahead: true\n" : "");
    std::vector<std::string> args = ServeArgs(d);
    args.insert(args.end(), {"--config", config});
    auto daemon = DaemonProcess::Start(d.dir, args);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    auto channel = (*daemon)->NewChannel();
    pb::GetStatusResponse status;
    {
      grpc::ClientContext ctx;
      ASSERT_TRUE(pb::SystemService::NewStub(channel)
                      ->GetStatus(&ctx, pb::GetStatusRequest(), &status)
                      .ok());
    }
    {
      grpc::ClientContext ctx;
      pb::CreateKeyRequest req;
      req.set_key_id("p256");
      req.mutable_key()->set_key_type(pb::KEY_TYPE_ECDSA_P256);
      req.mutable_key()->set_purpose(pb::KEY_PURPOSE_SIGN_VERIFY);
      pb::CreateKeyResponse resp;
      grpc::Status s = pb::KeyService::NewStub(channel)->CreateKey(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    auto crypto = pb::CryptoService::NewStub(channel);
    for (int i = 0; i < 3; ++i) {
      grpc::ClientContext ctx;
      pb::SignRequest req;
      req.set_name("keys/p256");
      req.set_data("message");
      pb::SignResponse resp;
      grpc::Status s = crypto->Sign(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_FALSE(resp.signature().empty());
    }
    const bool expected =
        !off && status.build_flavor() == pb::BUILD_FLAVOR_OPENSSL;
    bool seen = HasThread((*daemon)->pid(), "keyward-nonces");
    for (int i = 0; i < 100 && seen != expected; ++i) {
      usleep(20 * 1000);
      seen = HasThread((*daemon)->pid(), "keyward-nonces");
    }
    EXPECT_EQ(seen, expected);
    EXPECT_EQ((*daemon)->Signal(SIGTERM).exit_code, 0);
  }
}

TEST(DaemonTest, SigintAlsoDrainsAndExitsZero) {
  DataDir d = InitDataDir();
  // Flags may be spelled with dashes, as in the README.
  auto daemon = DaemonProcess::Start(
      d.dir, {"--data-dir", d.dir, "--passphrase-file", d.passphrase_file});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_EQ((*daemon)->Signal(SIGINT).exit_code, 0);
}

TEST(DaemonTest, UnknownMethodsSayUnimplementedClearly) {
  DataDir d = InitDataDir();
  auto daemon = DaemonProcess::Start(d.dir, ServeArgs(d));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  grpc::GenericStub generic((*daemon)->NewChannel());
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  grpc::ByteBuffer request, response;
  auto call = generic.PrepareUnaryCall(
      &ctx, "/keyward.v1.JwtService/NoSuchMethod", request, &cq);
  call->StartCall();
  grpc::Status s;
  call->Finish(&response, &s, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(s.error_message(),
              HasSubstr("no method /keyward.v1.JwtService/NoSuchMethod"));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST(DaemonTest, ReflectionListsServicesAndDescribesThem) {
  DataDir d = InitDataDir();
  auto daemon = DaemonProcess::Start(d.dir, ServeArgs(d));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  namespace rpb = grpc::reflection::v1alpha;
  auto stub = rpb::ServerReflection::NewStub((*daemon)->NewChannel());
  grpc::ClientContext ctx;
  auto stream = stub->ServerReflectionInfo(&ctx);
  rpb::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  rpb::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) {
    names.push_back(s.name());
  }
  EXPECT_THAT(names, ::testing::Contains("grpc.health.v1.Health"));
  req.set_file_containing_symbol("grpc.reflection.v1alpha.ServerReflection");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_GT(resp.file_descriptor_response().file_descriptor_proto_size(), 0);
  req.set_file_containing_symbol("no.such.Symbol");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(DaemonTest, LiveSocketIsNotTakenOverByASecondDaemon) {
  DataDir d = InitDataDir();
  auto daemon = DaemonProcess::Start(d.dir, ServeArgs(d));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  std::vector<std::string> argv = {Runfile("daemon/keywardd"), "--socket",
                                   (*daemon)->socket_path()};
  for (const auto& a : ServeArgs(d)) argv.push_back(a);
  ProcessResult second = RunProcess(argv, absl::Seconds(30));
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_THAT(second.output, HasSubstr("another server is listening"));
}

TEST(DaemonTest, StaleSocketFromAKilledDaemonIsReplaced) {
  DataDir d = InitDataDir();
  std::string socket;
  {
    auto daemon = DaemonProcess::Start(d.dir, ServeArgs(d));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    socket = (*daemon)->socket_path();
    EXPECT_EQ((*daemon)->Signal(SIGKILL).signal, SIGKILL);
  }
  ASSERT_EQ(access(socket.c_str(), F_OK), 0) << "kill -9 leaves the socket";
  auto again = DaemonProcess::Start(d.dir, ServeArgs(d));
  ASSERT_TRUE(again.ok()) << again.status();
}

TEST(DaemonTest, BadFlagsAndConfigExitNonZeroNamingTheValue) {
  const std::string keywardd = Runfile("daemon/keywardd");
  ProcessResult r = RunProcess({keywardd, "--key_cache_size=lots"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("lots"));

  r = RunProcess({keywardd, "--no_such_flag=1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("no_such_flag"));

  r = RunProcess({keywardd, "serve-now"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("serve-now"));

  std::string dir = NewTempDir();
  std::string config = dir + "/bad.txtpb";
  std::ofstream(config) << "data_dir: \"" << dir << "\"\nkey_cache_size: -5\n";
  r = RunProcess({keywardd, "--config", config});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr(config + ":2:"));

  std::ofstream(config) << "data_dir: \"" << dir << "\"\nunix_socket { mode: 04777 }\n";
  r = RunProcess({keywardd, "--config", config});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unix_socket.mode = 04777"));
}

TEST(DaemonTest, WrongPassphraseOrLoosePassphraseFileRefusesToStart) {
  DataDir d = InitDataDir();
  std::string wrong = d.dir + "/wrong";
  std::ofstream(wrong) << "not it\n";
  chmod(wrong.c_str(), 0600);
  ProcessResult r = RunProcess({Runfile("daemon/keywardd"), "--data_dir", d.dir,
                                "--passphrase_file", wrong});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("wrong passphrase"));
  chmod(wrong.c_str(), 0644);
  r = RunProcess({Runfile("daemon/keywardd"), "--data_dir", d.dir,
                  "--passphrase_file", wrong});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("chmod 600"));
}

TEST(DaemonTest, InitTwiceIsRefusedAndMissingKeystoreIsNamed) {
  DataDir d = InitDataDir();
  ProcessResult r = RunProcess({Runfile("daemon/keywardd"), "init", "--data_dir",
                                d.dir, "--passphrase_file", d.passphrase_file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("already exists"));
  std::string empty = NewTempDir();
  r = RunProcess({Runfile("daemon/keywardd"), "--data_dir", empty,
                  "--passphrase_file", d.passphrase_file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("keywardd init"));
}

}  // namespace
}  // namespace keyward::testing
