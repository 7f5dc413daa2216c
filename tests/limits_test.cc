// End-to-end: bounded work per request. An encrypted private key whose KDF
// cost is over the daemon's limit is refused at once with INVALID_ARGUMENT
// naming the limit; Keyward's own export (600,000 PBKDF2 rounds) imports;
// an import whose caller has given up by the time a costly slot is free
// answers DEADLINE_EXCEEDED without deriving (nothing is imported).
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/pkcs8_encrypt.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/test_storage.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using ::testing::HasSubstr;

// An EncryptedPrivateKeyInfo (PBES2, PBKDF2) naming `iterations`, with
// random-looking data that no derivation is needed to refuse.
std::string Tlv(uint8_t tag, const std::string& contents) {
  std::string out(1, static_cast<char>(tag));
  const size_t n = contents.size();
  if (n < 0x80) {
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(0x81 + (n > 0xff)));
    if (n > 0xff) out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  }
  return out + contents;
}
std::string HugeIterationPem(uint32_t iterations) {
  std::string count;
  for (uint32_t x = iterations; x > 0; x >>= 8) count.insert(count.begin(), static_cast<char>(x & 0xff));
  if (static_cast<uint8_t>(count[0]) & 0x80) count.insert(count.begin(), '\0');
  const std::string pbkdf2 =
      Tlv(0x30, Tlv(0x06, "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0c") +
                    Tlv(0x30, Tlv(0x04, std::string(16, 's')) + Tlv(0x02, count)));
  const std::string aes = Tlv(0x30, Tlv(0x06, "\x60\x86\x48\x01\x65\x03\x04\x01\x2a") +
                                        Tlv(0x04, std::string(16, 'i')));
  const std::string der = Tlv(
      0x30, Tlv(0x30, Tlv(0x06, "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0d") +
                          Tlv(0x30, pbkdf2 + aes)) +
                Tlv(0x04, std::string(64, 'x')));
  return absl::StrCat("-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
                      absl::Base64Escape(der),
                      "\n-----END ENCRYPTED PRIVATE KEY-----\n");
}

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keystore = TestKeystore::Init("limits test");
    ASSERT_TRUE(keystore.ok()) << keystore.status();
    dir_ = keystore->dir();
    // One costly call at a time, and room for a slow (~3 s) import.
    auto daemon = DaemonProcess::Start(
        keystore->dir(),
        keystore->Args("limits { pbkdf2_max_iterations: 10000000 "
                       "max_concurrent_costly_calls: 1 }\n"));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    keys_ = pb::KeyService::NewStub(daemon_->NewChannel());
  }

  grpc::Status Import(const std::string& id, const std::string& pem,
                      const std::string& passphrase,
                      absl::Duration deadline = absl::Seconds(60)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    pb::ImportKeyRequest req;
    req.set_key_id(id);
    req.set_format(pb::KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM);
    req.set_material(pem);
    req.set_passphrase(passphrase);
    pb::ImportKeyResponse resp;
    return keys_->ImportKey(&ctx, req, &resp);
  }

  std::string EncryptedPem(int iterations) {
    const crypto::SecretData key =
        *crypto::GenerateKeyMaterial(crypto::KeyType::kEd25519);
    return crypto::EncryptedPkcs8Pem(
        *crypto::EncryptPkcs8(key, crypto::SecretData(kPassphrase), iterations));
  }

  grpc::StatusCode KeyState(const std::string& id) {
    grpc::ClientContext ctx;
    pb::GetKeyRequest req;
    req.set_name("keys/" + id);
    pb::GetKeyResponse resp;
    return keys_->GetKey(&ctx, req, &resp).error_code();
  }

  std::string AuditLog() {
    std::ifstream in(dir_ + "/audit.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static constexpr char kPassphrase[] = "import passphrase";
  std::string dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<pb::KeyService::Stub> keys_;
};

TEST_F(LimitsTest, IterationCountOverTheLimitIsRefusedAtOnceNamingIt) {
  const absl::Time start = absl::Now();
  grpc::Status s = Import("huge", HugeIterationPem(2147483647), kPassphrase);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("pbkdf2_max_iterations"));
  EXPECT_THAT(s.error_message(), HasSubstr("2147483647"));
  // 2^31 - 1 rounds would be ~18 CPU-minutes; the refusal needs none.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(KeyState("huge"), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LimitsTest, KeywardsOwnExportAt600000RoundsImports) {
  grpc::Status s = Import("exported", EncryptedPem(600000), kPassphrase);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(KeyState("exported"), grpc::StatusCode::OK);
}

TEST_F(LimitsTest, ImportWhoseCallerGaveUpDoesNotDerive) {
  // The slow import holds the one costly slot for a few seconds.
  const std::string slow = EncryptedPem(6000000);
  grpc::Status slow_status;
  std::thread first([&] { slow_status = Import("slow", slow, kPassphrase); });
  absl::SleepFor(absl::Milliseconds(300));
  // This one waits for the slot; its deadline passes first.
  grpc::Status late = Import("late", EncryptedPem(20000), kPassphrase,
                             absl::Milliseconds(300));
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  first.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  // The daemon gave up too: nothing was derived or imported, and the audit
  // record says so.
  EXPECT_EQ(KeyState("late"), grpc::StatusCode::NOT_FOUND);
  const std::string audit = AuditLog();
  EXPECT_THAT(audit, HasSubstr(R"("resource":"keys/late","version":0,"code":"DEADLINE_EXCEEDED")"));
}

}  // namespace
}  // namespace keyward::testing
