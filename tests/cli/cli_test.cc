// End-to-end: the real `keyward` CLI binary driving the real keywardd over
// its Unix socket. Data goes through stdin/stdout (via /bin/sh redirections)
// and files, as a user would run it.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "keyward/v1/crypto_service.pb.h"
#include "keyward/v1/jwt_service.pb.h"
#include "keyward/v1/key_service.pb.h"
#include "keyward/v1/access_service.pb.h"
#include "keyward/v1/system_service.pb.h"
#include "tests/daemon_process.h"
#include "tests/test_storage.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data,
               mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary) << data;
  chmod(path.c_str(), mode);
}

// Bytes that a text-mode pipeline would damage: NULs, CR/LF, high bytes.
std::string BinaryData(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>((i * 37 + 11) & 0xff));
  s[0] = '\0';
  s[1] = '\r';
  s[2] = '\n';
  return s;
}

template <typename Message>
Message ParseJson(const std::string& json) {
  Message m;
  auto status = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\nin: " << json;
  return m;
}

// An error must be exactly one line "keyward: ...".
void ExpectOneErrorLine(const ProcessResult& r) {
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, StartsWith("keyward: "));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The keystore's backend is the test target's (tests/test_storage.h).
    auto keystore = TestKeystore::Init("cli test passphrase");
    ASSERT_TRUE(keystore.ok()) << keystore.status();
    dir_ = new std::string(keystore->dir());
    auto daemon = DaemonProcess::Start(*dir_, keystore->Args());
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = daemon->release();
    kw_ = new std::string(Runfile("client/keyward"));
    setenv("KEYWARD_ADDR", ("unix://" + daemon_->socket_path()).c_str(), 1);
    setenv("KW", kw_->c_str(), 1);
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }

  // Kw runs keyward with `args` (the daemon address comes from KEYWARD_ADDR).
  static ProcessResult Kw(std::vector<std::string> args) {
    args.insert(args.begin(), *kw_);
    return RunProcess(args, absl::Seconds(120));
  }
  // Sh runs a shell script where "$KW" is the keyward binary; the output
  // holds whatever the script does not redirect.
  static ProcessResult Sh(const std::string& script) {
    return RunProcess({"/bin/sh", "-c", script}, absl::Seconds(120));
  }
  static std::string P(const std::string& name) { return *dir_ + "/" + name; }

  static void Create(const std::string& name, const std::string& type,
                     const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--timeout", "120s", "key", "create", name,
                                     "--type", type};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult r = Kw(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  static std::string* dir_;
  static std::string* kw_;
  static DaemonProcess* daemon_;
};

std::string* CliTest::dir_ = nullptr;
std::string* CliTest::kw_ = nullptr;
DaemonProcess* CliTest::daemon_ = nullptr;

TEST_F(CliTest, StatusAndWhoAmI) {
  ProcessResult r = Kw({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("sealed:"));
  r = Kw({"--json", "status"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::GetStatusResponse status = ParseJson<pb::GetStatusResponse>(r.output);
  EXPECT_FALSE(status.sealed());
  EXPECT_TRUE(status.initialized());
  EXPECT_FALSE(status.version().empty());

  r = Kw({"whoami", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::WhoAmIResponse me = ParseJson<pb::WhoAmIResponse>(r.output);
  EXPECT_EQ(me.principal(), absl::StrCat("unix:uid:", getuid()));
  EXPECT_TRUE(me.global_admin());
}

TEST_F(CliTest, ExplicitAddrWinsAndMissingDaemonIsOneClearLine) {
  ProcessResult r =
      Kw({"--addr", "unix://" + daemon_->socket_path(), "status"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"key", "list", "--addr", "unix://" + P("no-such.sock")});
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.output, HasSubstr("is keywardd running"));
  EXPECT_THAT(r.output, HasSubstr("KEYWARD_ADDR"));
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  ExpectOneErrorLine(Kw({"key", "create", "x"}));               // no --type
  ExpectOneErrorLine(Kw({"key", "create", "x", "--type", "des"}));
  ExpectOneErrorLine(Kw({"key", "create", "x", "--type", "rsa-2048"}));  // purpose
  ExpectOneErrorLine(Kw({"nonsense"}));
  ExpectOneErrorLine(Kw({"sign"}));
  ExpectOneErrorLine(Kw({"sign", "k", "--bogus"}));
  ExpectOneErrorLine(Kw({"--", "status"}));  // once an uncaught exception
  ExpectOneErrorLine(Kw({"jwt", "revoke", "-x", "--reason", "r"}));
  EXPECT_EQ(Kw({"key", "create", "--help"}).exit_code, 0);
  EXPECT_EQ(Kw({"help"}).exit_code, 0);
}

struct SignCase {
  const char* type;
  std::vector<std::string> extra;
};

TEST_F(CliTest, EverySigningTypeSignsAndVerifiesThroughStdinStdout) {
  const std::string data = BinaryData(5000);
  WriteFile(P("sign.in"), data);
  for (const SignCase& c : std::vector<SignCase>{{"ed25519", {}},
                                                 {"ecdsa-p256", {}},
                                                 {"ecdsa-p384", {}},
                                                 {"rsa-2048", {"--purpose", "sign"}},
                                                 {"rsa-3072", {"--purpose", "sign"}},
                                                 {"rsa-4096", {"--purpose", "sign"}}}) {
    SCOPED_TRACE(c.type);
    std::string key = absl::StrCat("sig-", c.type);
    Create(key, c.type, c.extra);
    std::string sig = P(key + ".sig");
    ProcessResult r = Sh(absl::StrCat("\"$KW\" --timeout 60s sign ", key, " < ",
                                      P("sign.in"), " > ", sig));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "");
    ASSERT_FALSE(ReadFile(sig).empty());

    r = Sh(absl::StrCat("\"$KW\" verify ", key, " --signature ", sig, " < ",
                        P("sign.in")));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, StartsWith("valid"));

    // Tampered signature: a verdict, exit 1.
    std::string bad = ReadFile(sig);
    bad.back() ^= 0x01;
    WriteFile(P(key + ".badsig"), bad);
    r = Kw({"verify", key, "--signature", P(key + ".badsig"), "--in", P("sign.in")});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, StartsWith("invalid"));

    // Tampered data, too.
    std::string other = data;
    other[100] ^= 0x20;
    WriteFile(P("sign.other"), other);
    r = Kw({"verify", key, "--signature", sig, "--in", P("sign.other")});
    EXPECT_EQ(r.exit_code, 1) << r.output;

    // The bare signature verifies with --raw --version.
    r = Kw({"sign", key, "--raw", "--in", P("sign.in"), "--out", P(key + ".raw")});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = Kw({"verify", key, "--raw", "--version", "1", "--signature", P(key + ".raw"),
            "--in", P("sign.in")});
    EXPECT_EQ(r.exit_code, 0) << r.output;

    // The public key as JWK.
    r = Kw({"key", "public", key, "--format", "jwk"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    google::protobuf::Struct jwk = ParseJson<google::protobuf::Struct>(r.output);
    ASSERT_EQ(jwk.fields().count("kty"), 1u) << r.output;
    std::string kty = jwk.fields().at("kty").string_value();
    EXPECT_TRUE(kty == "OKP" || kty == "EC" || kty == "RSA") << kty;
  }
}

TEST_F(CliTest, EncryptionTypesRoundTripBinaryData) {
  struct Case {
    const char* key;
    const char* type;
    std::vector<std::string> extra;
    size_t size;
    bool aad;
  };
  for (const Case& c : std::vector<Case>{
           {"enc-aes", "aes256-gcm", {}, 60000, true},
           {"enc-rsa2048", "rsa-2048", {"--purpose", "encrypt"}, 190, false},
           {"enc-rsa4096", "rsa-4096", {"--purpose", "encrypt"}, 446, false}}) {
    SCOPED_TRACE(c.key);
    Create(c.key, c.type, c.extra);
    std::string data = BinaryData(c.size);
    WriteFile(P("enc.in"), data);
    std::string aad = c.aad ? " --aad record-42" : "";
    ProcessResult r = Sh(absl::StrCat("\"$KW\" encrypt ", c.key, aad, " < ", P("enc.in"),
                                      " > ", P("enc.ct")));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = Sh(absl::StrCat("\"$KW\" --timeout 60s decrypt ", c.key, aad, " < ", P("enc.ct"),
                        " > ", P("enc.out")));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(ReadFile(P("enc.out")), data);
    if (c.aad) {
      // Wrong associated data: one line, exit 2.
      r = Sh(absl::StrCat("\"$KW\" decrypt ", c.key, " --aad record-43 < ", P("enc.ct"),
                          " > /dev/null"));
      ExpectOneErrorLine(r);
    }
  }
}

TEST_F(CliTest, MacKeysMacAndVerify) {
  WriteFile(P("mac.in"), BinaryData(3000));
  for (const char* type : {"hmac-sha256", "hmac-sha384", "hmac-sha512"}) {
    SCOPED_TRACE(type);
    std::string key = absl::StrCat("mac-", type);
    Create(key, type);
    ProcessResult r =
        Sh(absl::StrCat("\"$KW\" mac ", key, " < ", P("mac.in"), " > ", P("mac.tag")));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = Kw({"verify-mac", key, "--mac", P("mac.tag"), "--in", P("mac.in")});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::string bad = ReadFile(P("mac.tag"));
    bad.back() ^= 0x80;
    WriteFile(P("mac.bad"), bad);
    r = Kw({"verify-mac", key, "--mac", P("mac.bad"), "--in", P("mac.in")});
    EXPECT_EQ(r.exit_code, 1) << r.output;
  }
}

TEST_F(CliTest, RotationKeepsOldSignaturesAndCiphertextsUsable) {
  Create("rot-sign", "ed25519");
  Create("rot-enc", "aes256-gcm");
  WriteFile(P("rot.in"), BinaryData(777));
  ASSERT_EQ(Kw({"sign", "rot-sign", "--in", P("rot.in"), "--out", P("rot.sig1")}).exit_code, 0);
  ASSERT_EQ(Kw({"encrypt", "rot-enc", "--in", P("rot.in"), "--out", P("rot.ct1")}).exit_code, 0);

  ProcessResult r = Kw({"key", "rotate", "rot-sign"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("version 2 is now primary"));
  r = Kw({"--json", "key", "rotate", "rot-enc"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ParseJson<pb::RotateKeyResponse>(r.output).version().number(), 2u);

  // New outputs name version 2.
  r = Kw({"sign", "rot-sign", "--json", "--in", P("rot.in")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::SignResponse sig2 = ParseJson<pb::SignResponse>(r.output);
  EXPECT_EQ(sig2.key_version(), "keys/rot-sign/versions/2");
  r = Kw({"encrypt", "rot-enc", "--json", "--in", P("rot.in")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ParseJson<pb::EncryptResponse>(r.output).key_version(),
            "keys/rot-enc/versions/2");

  // Old ones still work.
  r = Kw({"verify", "rot-sign", "--signature", P("rot.sig1"), "--in", P("rot.in"), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  pb::VerifyResponse v = ParseJson<pb::VerifyResponse>(r.output);
  EXPECT_TRUE(v.valid());
  EXPECT_EQ(v.key_version(), "keys/rot-sign/versions/1");
  r = Sh(absl::StrCat("\"$KW\" decrypt rot-enc < ", P("rot.ct1"), " > ", P("rot.out")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadFile(P("rot.out")), ReadFile(P("rot.in")));

  // reencrypt moves the old ciphertext to version 2.
  r = Sh(absl::StrCat("\"$KW\" reencrypt rot-enc < ", P("rot.ct1"), " > ", P("rot.ct2")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"decrypt", "rot-enc", "--json", "--in", P("rot.ct2")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::DecryptResponse d = ParseJson<pb::DecryptResponse>(r.output);
  EXPECT_EQ(d.plaintext(), ReadFile(P("rot.in")));
  EXPECT_TRUE(d.used_primary());

  r = Kw({"key", "versions", "rot-enc", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ParseJson<pb::ListKeyVersionsResponse>(r.output).versions_size(), 2);
}

TEST_F(CliTest, DestroyedVersionFailsDecryptWithOneClearLine) {
  Create("doomed", "aes256-gcm");
  WriteFile(P("doomed.in"), "secret record");
  ASSERT_EQ(Kw({"encrypt", "doomed", "--in", P("doomed.in"), "--out", P("doomed.ct1")}).exit_code, 0);
  ASSERT_EQ(Kw({"key", "rotate", "doomed"}).exit_code, 0);
  ASSERT_EQ(Kw({"encrypt", "doomed", "--in", P("doomed.in"), "--out", P("doomed.ct2")}).exit_code, 0);

  // The primary cannot be disabled; version 1 can.
  ExpectOneErrorLine(Kw({"key", "disable-version", "doomed", "2"}));
  // Destroy needs disable first.
  ExpectOneErrorLine(Kw({"key", "destroy-version", "doomed", "1"}));
  ProcessResult r = Kw({"key", "disable-version", "doomed", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("disabled"));
  r = Kw({"key", "destroy-version", "doomed", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("destroyed"));

  r = Sh(absl::StrCat("\"$KW\" decrypt doomed < ", P("doomed.ct1"), " > ", P("doomed.out")));
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.output, HasSubstr("cannot decrypt with keys/doomed: "));
  EXPECT_THAT(r.output, HasSubstr("destroyed"));
  // Version 2 is untouched.
  r = Sh(absl::StrCat("\"$KW\" decrypt doomed < ", P("doomed.ct2")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "secret record");

  r = Kw({"key", "versions", "doomed"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("destroyed"));
}

TEST_F(CliTest, KeyMetadataListUpdateAndJson) {
  Create("meta-a", "ed25519",
         {"--label", "team=pay", "--label", "env=prod", "--description", "release signing",
          "--rotation-period", "720h"});
  Create("meta-b", "aes256-gcm", {"--label", "team=pay"});
  Create("other-c", "hmac-sha256");

  ProcessResult r = Kw({"key", "show", "meta-a", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::GetKeyResponse shown = ParseJson<pb::GetKeyResponse>(r.output);
  EXPECT_EQ(shown.key().name(), "keys/meta-a");
  EXPECT_EQ(shown.key().key_type(), pb::KEY_TYPE_ED25519);
  EXPECT_EQ(shown.key().labels().at("team"), "pay");
  EXPECT_EQ(shown.key().rotation_period().seconds(), 720 * 3600);

  r = Kw({"key", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::ListKeysResponse listed = ParseJson<pb::ListKeysResponse>(r.output);
  EXPECT_GE(listed.keys_size(), 3);

  r = Kw({"key", "list", "--label", "env=prod"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("meta-a"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("meta-b")));

  r = Kw({"key", "update", "meta-a", "--description", "new text", "--rotation-period", "0",
          "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::UpdateKeyResponse updated = ParseJson<pb::UpdateKeyResponse>(r.output);
  EXPECT_EQ(updated.key().description(), "new text");
  EXPECT_EQ(updated.key().rotation_period().seconds(), 0);

  r = Kw({"key", "show", "no-such-key"});
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.output, HasSubstr("cannot show keys/no-such-key"));
}

// ListKeysRequest.name_prefix is a name prefix, "keys/payments-"
// (key_service.proto); `key list --prefix P` sends "keys/P".
TEST_F(CliTest, KeyListPrefixFollowsTheContract) {
  Create("pfx-a", "ed25519");
  Create("pfx-b", "aes256-gcm");
  Create("pfy-c", "aes256-gcm");
  ProcessResult r = Kw({"key", "list", "--prefix", "pfx-", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::ListKeysResponse listed = ParseJson<pb::ListKeysResponse>(r.output);
  ASSERT_EQ(listed.keys_size(), 2) << r.output;
  EXPECT_EQ(listed.keys(0).name(), "keys/pfx-a");
  EXPECT_EQ(listed.keys(1).name(), "keys/pfx-b");
}

// The key settings flags reach the daemon and are kept: --algorithm (the
// first is the default), --jwt-issuer, --jwt-default-ttl,
// --min-encrypt-version; a bad one is refused and changes nothing.
TEST_F(CliTest, KeySettingFlagsAreKept) {
  Create("jwt-set", "rsa-2048", {"--purpose", "jwt", "--jwt-max-ttl", "2h",
                                 "--algorithm", "rs512", "--jwt-issuer",
                                 "https://issuer", "--jwt-default-ttl", "5m"});
  ProcessResult r = Kw({"--json", "key", "show", "jwt-set"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::GetKeyResponse key = ParseJson<pb::GetKeyResponse>(r.output);
  EXPECT_EQ(key.key().jwt().max_ttl().seconds(), 7200);
  EXPECT_EQ(key.key().jwt().default_ttl().seconds(), 300);
  EXPECT_EQ(key.key().jwt().issuer(), "https://issuer");
  ASSERT_EQ(key.key().signature_algorithms_size(), 1);
  EXPECT_EQ(key.key().signature_algorithms(0),
            pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512);
  r = Kw({"key", "update", "jwt-set", "--jwt-issuer", "https://other",
          "--jwt-default-ttl", "10m", "--min-encrypt-version", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Kw({"key", "show", "jwt-set"}).output, HasSubstr("https://other"));
  // Over the maximum: refused, and nothing changed.
  r = Kw({"key", "update", "jwt-set", "--jwt-default-ttl", "3h"});
  ExpectOneErrorLine(r);
  key = ParseJson<pb::GetKeyResponse>(Kw({"--json", "key", "show", "jwt-set"}).output);
  EXPECT_EQ(key.key().jwt().default_ttl().seconds(), 600);
  // An ECDSA algorithm on an RSA key is refused, the key not made.
  r = Kw({"key", "create", "jwt-set-2", "--type", "rsa-2048", "--purpose",
          "jwt", "--algorithm", "ES256"});
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.output, HasSubstr("ECDSA-P256-SHA256-P1363"));
  EXPECT_EQ(Kw({"key", "show", "jwt-set-2"}).exit_code, 2);  // not created
}

// The completion scripts come from the real binary and parse.
TEST_F(CliTest, CompletionScriptsPrint) {
  ProcessResult r = Sh("\"$KW\" completion bash | bash -n");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"completion", "zsh"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, StartsWith("#compdef keyward\n"));
  EXPECT_THAT(r.output, HasSubstr("\"key create\") echo"));
}

// ImportKeyRequest.key.key_type "may be UNSPECIFIED to infer it from
// asymmetric material" (key_service.proto).
TEST_F(CliTest, ImportInfersTheTypeFromAsymmetricMaterial) {
  Create("infer-src", "ecdsa-p256");
  ASSERT_EQ(Kw({"key", "public", "infer-src", "--out", P("infer.pub")}).exit_code, 0);
  ProcessResult r = Kw({"key", "import", "infer-dst", "--in", P("infer.pub"), "--purpose",
                        "sign", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ParseJson<pb::ImportKeyResponse>(r.output).key().key_type(),
            pb::KEY_TYPE_ECDSA_P256);
}

TEST_F(CliTest, DataKeyAndPublicKeyFormats) {
  Create("dk", "aes256-gcm");
  ProcessResult r = Kw({"datakey", "dk"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::GenerateDataKeyResponse dk = ParseJson<pb::GenerateDataKeyResponse>(r.output);
  EXPECT_EQ(dk.plaintext().size(), 32u);
  WriteFile(P("dk.ct"), dk.ciphertext());
  r = Sh(absl::StrCat("\"$KW\" decrypt dk < ", P("dk.ct"), " > ", P("dk.pt")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadFile(P("dk.pt")), dk.plaintext());

  r = Kw({"datakey", "dk", "--wrapped-only", "--length", "64", "--ciphertext-out",
          P("dk2.ct")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"decrypt", "dk", "--in", P("dk2.ct"), "--out", P("dk2.pt")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadFile(P("dk2.pt")).size(), 64u);
  struct stat st;
  ASSERT_EQ(stat(P("dk2.pt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600) << "plaintext files are private";

  Create("pubfmt", "ecdsa-p256");
  r = Kw({"key", "public", "pubfmt"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, StartsWith("-----BEGIN PUBLIC KEY-----"));
  r = Kw({"key", "public", "pubfmt", "--format", "der", "--out", P("pub.der")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadFile(P("pub.der"))[0], '\x30');
  ExpectOneErrorLine(Kw({"key", "public", "dk"}));  // symmetric
}

TEST_F(CliTest, ExportIsPrivateAndPublicKeysImportAsVerifyOnly) {
  Create("exp-src", "ed25519", {"--exportable"});
  ProcessResult r = Kw({"key", "export", "exp-src", "--out", P("exp.key")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  struct stat st;
  ASSERT_EQ(stat(P("exp.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_FALSE(ReadFile(P("exp.key")).empty());

  // Import the public half alone: a verify-only key.
  ASSERT_EQ(Kw({"key", "public", "exp-src", "--out", P("exp.pub")}).exit_code, 0);
  r = Kw({"key", "import", "exp-pub", "--in", P("exp.pub"), "--type", "ed25519",
          "--purpose", "sign"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("public only"));
  WriteFile(P("exp.in"), "hello");
  ASSERT_EQ(Kw({"sign", "exp-src", "--raw", "--in", P("exp.in"), "--out", P("exp.sig")}).exit_code, 0);
  r = Kw({"verify", "exp-pub", "--raw", "--version", "1", "--signature", P("exp.sig"), "--in",
          P("exp.in")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ExpectOneErrorLine(Kw({"sign", "exp-pub", "--in", P("exp.in"), "--out", P("x.sig")}));

  Create("not-exportable", "ed25519");
  ExpectOneErrorLine(Kw({"key", "export", "not-exportable", "--out", P("ne.pem")}));
  EXPECT_NE(access(P("ne.pem").c_str(), F_OK), 0) << "no partial output on failure";
}

// What ExportKey returns (PKCS#8, PEM by default per key_service.proto),
// ImportKey takes back.
TEST_F(CliTest, ExportedKeyImportsBackWithTheSamePublicKey) {
  Create("rt-src", "ed25519", {"--exportable"});
  ProcessResult r = Kw({"key", "export", "rt-src", "--out", P("rt.key")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"key", "import", "rt-dst", "--in", P("rt.key"), "--type", "ed25519"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("imported version 1"));
  EXPECT_EQ(Kw({"key", "public", "rt-src"}).output, Kw({"key", "public", "rt-dst"}).output);
}

// A passphrase-encrypted export is standard PKCS#8: the openssl CLI opens
// it, and it imports back with the same passphrase.
TEST_F(CliTest, EncryptedExportOpensInOpensslAndImportsBack) {
  Create("enc-src", "ecdsa-p256", {"--exportable"});
  WriteFile(P("export-pass"), "an export passphrase\n", 0600);
  ProcessResult r = Kw({"key", "export", "enc-src", "--passphrase-file",
                        P("export-pass"), "--out", P("enc.key")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(P("enc.key"));
  std::string pem((std::istreambuf_iterator<char>(in)), {});
  EXPECT_THAT(pem, StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  r = Sh("openssl pkey -in " + P("enc.key") + " -passin file:" +
         P("export-pass") + " -pubout");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, Kw({"key", "public", "enc-src"}).output);
  r = Sh("openssl asn1parse -in " + P("enc.key"));
  EXPECT_THAT(r.output, HasSubstr("PBES2"));
  EXPECT_THAT(r.output, HasSubstr("hmacWithSHA256"));
  EXPECT_THAT(r.output, HasSubstr("aes-256-cbc"));
  r = Kw({"key", "import", "enc-dst", "--in", P("enc.key"), "--type",
          "ecdsa-p256", "--passphrase-file", P("export-pass")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Kw({"key", "public", "enc-src"}).output,
            Kw({"key", "public", "enc-dst"}).output);
  WriteFile(P("short-pass"), "short\n", 0600);
  ExpectOneErrorLine(Kw({"key", "export", "enc-src", "--passphrase-file",
                         P("short-pass"), "--out", P("enc2.key")}));
}

TEST_F(CliTest, PolicyGrantListRevoke) {
  Create("pol-key", "ed25519");
  ProcessResult r = Kw({"policy", "grant", "unix:uid:4242", "sign", "verify", "--key",
                        "pol-key", "--id", "p-cli", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::CreatePolicyResponse created = ParseJson<pb::CreatePolicyResponse>(r.output);
  EXPECT_EQ(created.policy().name(), "policies/p-cli");
  EXPECT_EQ(created.policy().resource(), "keys/pol-key");
  EXPECT_EQ(created.policy().operations_size(), 2);

  r = Kw({"policy", "list", "--principal", "unix:uid:4242"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("p-cli"));
  EXPECT_THAT(r.output, HasSubstr("sign,verify"));

  r = Kw({"policy", "revoke", "p-cli"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"policy", "list", "--principal", "unix:uid:4242"});
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("p-cli")));
  ExpectOneErrorLine(Kw({"policy", "revoke", "p-cli"}));
  ExpectOneErrorLine(Kw({"policy", "grant", "unix:uid:1", "fly", "--key", "x"}));
}

TEST_F(CliTest, AuditVerifySaysIntact) {
  ProcessResult r = Kw({"audit", "verify"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, StartsWith("ok: "));
}

TEST_F(CliTest, JwtSignVerifyAndJwks) {
  Create("cli-jwt", "ecdsa-p256", {"--purpose", "jwt"});
  ProcessResult r = Sh("\"$KW\" jwt sign cli-jwt --claims "
                       "'{\"sub\":\"alice\",\"aud\":\"api\"}' --ttl 90s > " +
                       P("cli.jwt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"jwt", "verify", "--audience", "api", "--in", P("cli.jwt")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"jwt", "verify", "--audience", "web", "--in", P("cli.jwt")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("audience"));
  r = Kw({"jwks", "cli-jwt"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"kid\":\"cli-jwt:v1\""));
}

TEST_F(CliTest, JweEncryptDecrypt) {
  Create("cli-jwe", "rsa-2048", {"--purpose", "jwe"});
  ProcessResult r = Sh("printf 'card 4111' | \"$KW\" jwe encrypt cli-jwe --enc A128CBC-HS256 > " +
                       P("cli.jwe"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"jwe", "decrypt", "--in", P("cli.jwe")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("card 4111"));
}

TEST_F(CliTest, PassphraseChangeAndBack) {
  WriteFile(P("new-pass"), "a brand new passphrase\n", 0600);
  ProcessResult r = Kw({"passphrase", "change", "--old-file", P("passphrase"),
                        "--new-file", P("new-pass")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"passphrase", "change", "--old-file", P("passphrase"), "--new-file",
          P("new-pass")});
  EXPECT_EQ(r.exit_code, 2) << "the old passphrase no longer works";
  EXPECT_THAT(r.output, HasSubstr("wrong passphrase"));
  r = Kw({"passphrase", "change", "--old-file", P("new-pass"), "--new-file",
          P("passphrase")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(CliTest, ApiKeyLoginAndTokenFile) {
  Create("cli-ak-target", "ed25519");
  ProcessResult r = Kw({"apikey", "create", "cli-ak", "--out", P("cli-ak.key")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  chmod(P("cli-ak.key").c_str(), 0600);
  r = Kw({"login", "--api-key-file", P("cli-ak.key"), "--out", P("cli-ak.token")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  chmod(P("cli-ak.token").c_str(), 0600);
  r = Kw({"whoami", "--token-file", P("cli-ak.token")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("apikey:cli-ak"));
  r = Sh("echo x | \"$KW\" sign cli-ak-target --token-file " + P("cli-ak.token"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("apikey:cli-ak may not SIGN"));
  r = Kw({"apikey", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cli-ak"));
}

TEST_F(CliTest, AuditTailBackupSealAndUnseal) {
  Create("cli-seal", "ed25519");
  ProcessResult r = Kw({"audit", "tail", "--max", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Service/"));

  r = Kw({"backup", "--out", P("cli.backup")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream backup(P("cli.backup"), std::ios::binary);
  std::string magic(10, '\0');
  backup.read(magic.data(), 10);
  EXPECT_EQ(magic, "KWBACKUP2\n");

  r = Kw({"seal"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Sh("echo x | \"$KW\" sign cli-seal > /dev/null");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("sealed"));
  r = Kw({"unseal", "--passphrase-file", P("passphrase")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Sh("echo x | \"$KW\" sign cli-seal > /dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(CliTest, JwtRecordsRevokeAndList) {
  Create("cli-otp", "ed25519", {"--purpose", "jwt"});
  ProcessResult r = Sh("\"$KW\" --json jwt sign cli-otp --claims '{\"sub\":\"u9\"}' "
                       "--record --external-id txn-77 --metadata channel=sms "
                       "--store-token > " + P("otp.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(P("otp.json"));
  std::string json((std::istreambuf_iterator<char>(in)), {});
  auto signed_jwt = ParseJson<keyward::v1::SignJwtResponse>(json);
  ASSERT_FALSE(signed_jwt.jti().empty());
  EXPECT_EQ(signed_jwt.record_name(), "tokens/" + signed_jwt.jti());
  WriteFile(P("otp.jwt"), signed_jwt.token(), 0600);

  r = Kw({"--json", "jwt", "record", "--external-id", "txn-77"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto record = ParseJson<keyward::v1::GetTokenRecordResponse>(r.output).record();
  EXPECT_EQ(record.jti(), signed_jwt.jti());
  EXPECT_EQ(record.metadata().at("channel"), "sms");
  EXPECT_EQ(record.token(), signed_jwt.token());
  EXPECT_EQ(record.state(), keyward::v1::TOKEN_STATE_ACTIVE);

  r = Kw({"jwt", "verify", "--in", P("otp.jwt")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"jwt", "revoke", signed_jwt.jti(), "--reason", "user logged out"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("revoked"));
  r = Kw({"jwt", "verify", "--in", P("otp.jwt")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("revoked"));

  r = Kw({"jwt", "records", "--key", "cli-otp"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(signed_jwt.jti()));
  EXPECT_THAT(r.output, HasSubstr("revoked"));
  r = Kw({"--json", "jwt", "records", "--external-id", "txn-77"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ParseJson<keyward::v1::ListTokenRecordsResponse>(r.output).records_size(), 1);
  ExpectOneErrorLine(Kw({"jwt", "revoke", "no-such-jti"}));
  ExpectOneErrorLine(Kw({"jwt", "record", "--external-id", "txn-none"}));
}

TEST_F(CliTest, SignADigestVerifyTheMessage) {
  Create("cli-digest", "ecdsa-p256");
  ProcessResult r = Sh("printf 'big file' | openssl dgst -sha256 -binary | "
                       "\"$KW\" sign cli-digest --digest > " + P("digest.sig"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Sh("printf 'big file' | \"$KW\" verify cli-digest --signature " +
         P("digest.sig"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = Sh("printf 'other file' | \"$KW\" verify cli-digest --signature " +
         P("digest.sig"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

// Last: it puts the keystore back as it was when the backup was made.
TEST_F(CliTest, RestoreReplacesTheKeystoreOnline) {
  Create("cli-before-backup", "aes256-gcm");
  ProcessResult r = Sh("printf 'kept' | \"$KW\" encrypt cli-before-backup > " +
                       P("kept.ct"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"backup", P("restore.backup")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Create("cli-after-backup", "ed25519");

  r = Kw({"restore", "--in", P("restore.backup"), "--passphrase-file",
          P("passphrase")});
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.output, HasSubstr("--replace"));
  WriteFile(P("wrong-pass"), "not it\n", 0600);
  r = Kw({"restore", "--in", P("restore.backup"), "--passphrase-file",
          P("wrong-pass"), "--replace"});
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.output, HasSubstr("passphrase"));

  r = Kw({"restore", P("restore.backup"), "--passphrase-file", P("passphrase"),
          "--replace"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("sealed"));
  r = Kw({"status"});
  EXPECT_THAT(r.output, ::testing::ContainsRegex("sealed: *yes"));
  r = Kw({"unseal", "--passphrase-file", P("passphrase")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Kw({"decrypt", "cli-before-backup", "--in", P("kept.ct")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "kept");
  ExpectOneErrorLine(Kw({"key", "show", "cli-after-backup"}));
}

}  // namespace
}  // namespace keyward::testing
