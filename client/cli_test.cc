#include "client/cli.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keyward::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// --- Exit codes and error lines ---

TEST(ExitCodeTest, StatusMapsToZeroOrTwo) {
  EXPECT_EQ(ExitCodeForStatus(absl::OkStatus()), 0);
  for (int code = 1; code <= 16; ++code) {
    EXPECT_EQ(ExitCodeForStatus(absl::Status(static_cast<absl::StatusCode>(code), "x")),
              2);
  }
}

TEST(ExitCodeTest, VerdictMapsValidInvalidError) {
  EXPECT_EQ(ExitCodeForVerdict(true), 0);
  EXPECT_EQ(ExitCodeForVerdict(false), 1);
  EXPECT_EQ(ExitCodeForVerdict(absl::NotFoundError("no key")), 2);
  EXPECT_EQ(ExitCodeForVerdict(absl::UnimplementedError("later")), 2);
  EXPECT_EQ(ExitCodeForVerdict(absl::InvalidArgumentError("bad")), 2);
}

TEST(ErrorLineTest, OneLineWithDaemonMessage) {
  std::string line = ErrorLine(
      "cannot decrypt with keys/a",
      absl::FailedPreconditionError("version 1 is destroyed\nsecond line"),
      "unix:/x.sock");
  EXPECT_EQ(line,
            "keyward: cannot decrypt with keys/a: version 1 is destroyed second "
            "line");
}

TEST(ErrorLineTest, ConnectionFailureHintsAtDaemonAndAddress) {
  std::string line = ErrorLine(
      "cannot list keys",
      absl::UnavailableError("failed to connect to all addresses"),
      "unix:///tmp/kw.sock");
  EXPECT_THAT(line, HasSubstr("failed to connect to all addresses"));
  EXPECT_THAT(line, HasSubstr("is keywardd running at unix:///tmp/kw.sock?"));
  EXPECT_THAT(line, HasSubstr("KEYWARD_ADDR"));
  EXPECT_THAT(line, Not(HasSubstr("\n")));
}

TEST(ErrorLineTest, HintsForSealedDeniedAndDeadline) {
  EXPECT_THAT(Hint(absl::UnavailableError("daemon is sealed"), "t"),
              HasSubstr("keyward unseal"));
  EXPECT_THAT(Hint(absl::PermissionDeniedError("no grant"), "t"),
              HasSubstr("whoami"));
  EXPECT_THAT(Hint(absl::DeadlineExceededError("Deadline Exceeded"), "t"),
              HasSubstr("--timeout"));
  EXPECT_EQ(Hint(absl::NotFoundError("no such key"), "t"), "");
  EXPECT_EQ(Hint(absl::UnimplementedError("not served"), "t"), "");
}

TEST(ErrorLineTest, EmptyMessageShowsTheCode) {
  EXPECT_EQ(ErrorLine("x", absl::InternalError(""), "t"), "keyward: x: INTERNAL");
}

// --- Argument parsing ---

std::vector<FlagSpec> Flags() {
  return {{"type", FlagSpec::Kind::kValue, "T", ""},
          {"label", FlagSpec::Kind::kRepeated, "K=V", ""},
          {"json", FlagSpec::Kind::kBool, "", ""},
          {"rotation-period", FlagSpec::Kind::kValue, "D", ""}};
}

TEST(ParseArgsTest, FlagsAndPositionalsInAnyOrder) {
  absl::StatusOr<ParsedArgs> a =
      ParseArgs(Flags(), {"k1", "--type", "ed25519", "--label=a=b", "--json",
                          "--label", "c=", "--rotation_period=720h", "-"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->positional(), ElementsAre("k1", "-"));
  EXPECT_EQ(a->Get("type"), "ed25519");
  EXPECT_THAT(a->GetAll("label"), ElementsAre("a=b", "c="));
  EXPECT_TRUE(a->Has("json"));
  EXPECT_EQ(a->Get("rotation-period"), "720h");
  EXPECT_FALSE(a->Has("missing"));
  EXPECT_EQ(a->Get("missing", "dflt"), "dflt");
}

TEST(ParseArgsTest, DoubleDashEndsFlags) {
  absl::StatusOr<ParsedArgs> a = ParseArgs(Flags(), {"--", "--json", "x"});
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->Has("json"));
  EXPECT_THAT(a->positional(), ElementsAre("--json", "x"));
}

// A JWT id is base64url and may start with '-': `keyward jwt revoke JTI`.
TEST(ParseArgsTest, AWordWithOneDashIsPositional) {
  absl::StatusOr<ParsedArgs> a =
      ParseArgs(Flags(), {"-jY9ebiXJwJmMHjtNl3nhA", "--type", "ed25519"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->positional(), ElementsAre("-jY9ebiXJwJmMHjtNl3nhA"));
  EXPECT_EQ(a->Get("type"), "ed25519");
}

TEST(ParseArgsTest, Errors) {
  EXPECT_EQ(ParseArgs(Flags(), {"--nope"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ParseArgs(Flags(), {"--type"}).status().message(),
              HasSubstr("needs a value"));
  EXPECT_EQ(ParseArgs(Flags(), {"--json=maybe"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseArgs(Flags(), {"-x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ParseArgs(Flags(), {"-json"}).status().message(),
              HasSubstr("--long-names"));
  EXPECT_EQ(ParseArgs(Flags(), {"-rotation_period=1h"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ParsedArgs> off = ParseArgs(Flags(), {"--json=false"});
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->Has("json"));
}

// --- Enum and value parsers ---

// Every KeyType value but UNSPECIFIED has a name the parser takes back, and
// KeyTypeNames (help texts) lists it.
TEST(EnumTest, EveryKeyTypeRoundTrips) {
  const google::protobuf::EnumDescriptor* d = v1::KeyType_descriptor();
  const std::string names = KeyTypeNames();
  for (int i = 0; i < d->value_count(); ++i) {
    const auto type = static_cast<v1::KeyType>(d->value(i)->number());
    if (type == v1::KEY_TYPE_UNSPECIFIED) continue;
    const std::string name = KeyTypeName(type);
    absl::StatusOr<v1::KeyType> parsed = ParseKeyType(name);
    ASSERT_TRUE(parsed.ok()) << name << ": " << parsed.status();
    EXPECT_EQ(*parsed, type) << name;
    EXPECT_THAT(names, HasSubstr(name));
  }
  EXPECT_EQ(KeyTypeName(v1::KEY_TYPE_ECDSA_P256), "ecdsa-p256");
  EXPECT_EQ(KeyTypeName(v1::KEY_TYPE_AES256_GCM), "aes256-gcm");
  EXPECT_THAT(names, ::testing::StartsWith("aes256-gcm, "));
  EXPECT_THAT(names, Not(HasSubstr("unspecified")));
}

TEST(EnumTest, KeyTypesParseAnyCaseAndUnderscores) {
  EXPECT_EQ(*ParseKeyType("RSA_2048"), v1::KEY_TYPE_RSA_2048);
  absl::StatusOr<v1::KeyType> bad = ParseKeyType("des");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("ed25519"));
  EXPECT_FALSE(ParseKeyType("unspecified").ok());
}

TEST(EnumTest, PurposesAndDefaults) {
  EXPECT_EQ(*ParsePurpose("sign"), v1::KEY_PURPOSE_SIGN_VERIFY);
  EXPECT_EQ(*ParsePurpose("encrypt"), v1::KEY_PURPOSE_ENCRYPT_DECRYPT);
  EXPECT_EQ(*ParsePurpose("encrypt-decrypt"), v1::KEY_PURPOSE_ENCRYPT_DECRYPT);
  EXPECT_EQ(*ParsePurpose("JWT"), v1::KEY_PURPOSE_JWT);
  EXPECT_FALSE(ParsePurpose("wrap").ok());
  EXPECT_EQ(PurposeName(v1::KEY_PURPOSE_SIGN_VERIFY), "sign");
  EXPECT_EQ(*DefaultPurpose(v1::KEY_TYPE_AES256_GCM), v1::KEY_PURPOSE_ENCRYPT_DECRYPT);
  EXPECT_EQ(*DefaultPurpose(v1::KEY_TYPE_HMAC_SHA384), v1::KEY_PURPOSE_MAC);
  EXPECT_EQ(*DefaultPurpose(v1::KEY_TYPE_ECDSA_P384), v1::KEY_PURPOSE_SIGN_VERIFY);
  EXPECT_THAT(DefaultPurpose(v1::KEY_TYPE_RSA_3072).status().message(),
              HasSubstr("--purpose"));
}

TEST(EnumTest, SignatureAlgorithmsByNameAndJwsName) {
  EXPECT_EQ(*ParseSignatureAlgorithm("rsa-pss-sha256"),
            v1::SIGNATURE_ALGORITHM_RSA_PSS_SHA256);
  EXPECT_EQ(*ParseSignatureAlgorithm("ES256"),
            v1::SIGNATURE_ALGORITHM_ECDSA_SHA256_P1363);
  EXPECT_EQ(*ParseSignatureAlgorithm("EdDSA"), v1::SIGNATURE_ALGORITHM_ED25519);
  EXPECT_EQ(*ParseSignatureAlgorithm("RS512"),
            v1::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512);
  EXPECT_EQ(SignatureAlgorithmName(v1::SIGNATURE_ALGORITHM_ECDSA_SHA384_DER),
            "ecdsa-sha384-der");
  EXPECT_FALSE(ParseSignatureAlgorithm("HS256").ok());
}

TEST(EnumTest, Operations) {
  EXPECT_EQ(*ParseOperation("mac-verify"), v1::OPERATION_MAC_VERIFY);
  EXPECT_EQ(*ParseOperation("audit_read"), v1::OPERATION_AUDIT_READ);
  EXPECT_EQ(OperationName(v1::OPERATION_JWT_SIGN), "jwt-sign");
  EXPECT_FALSE(ParseOperation("delete").ok());
}

TEST(EnumTest, FormatsAndGuesses) {
  EXPECT_EQ(*ParseImportFormat("public-der"), v1::KEY_MATERIAL_FORMAT_PUBLIC_KEY_DER);
  EXPECT_EQ(*ParsePublicKeyFormat("jwk"), v1::PUBLIC_KEY_FORMAT_JWK);
  EXPECT_FALSE(ParsePublicKeyFormat("ssh").ok());
  EXPECT_EQ(GuessImportFormat("-----BEGIN PUBLIC KEY-----\n", v1::KEY_TYPE_UNSPECIFIED),
            v1::KEY_MATERIAL_FORMAT_PUBLIC_KEY_PEM);
  EXPECT_EQ(GuessImportFormat("-----BEGIN EC PRIVATE KEY-----", v1::KEY_TYPE_UNSPECIFIED),
            v1::KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM);
  EXPECT_EQ(GuessImportFormat(std::string(32, '\x01'), v1::KEY_TYPE_AES256_GCM),
            v1::KEY_MATERIAL_FORMAT_RAW_SECRET);
  EXPECT_EQ(GuessImportFormat("{\"kty\":\"OKP\"}", v1::KEY_TYPE_ED25519),
            v1::KEY_MATERIAL_FORMAT_PUBLIC_KEY_JWK);
  EXPECT_EQ(GuessImportFormat("\x30\x82", v1::KEY_TYPE_UNSPECIFIED),
            v1::KEY_MATERIAL_FORMAT_PRIVATE_KEY_DER);
}

TEST(ValueTest, Durations) {
  EXPECT_EQ(*ParseDurationFlag("720h"), absl::Hours(720));
  EXPECT_EQ(*ParseDurationFlag("30d"), absl::Hours(720));
  EXPECT_EQ(*ParseDurationFlag("1d12h"), absl::Hours(36));
  EXPECT_EQ(*ParseDurationFlag("90s"), absl::Seconds(90));
  EXPECT_EQ(*ParseDurationFlag("0"), absl::ZeroDuration());
  EXPECT_FALSE(ParseDurationFlag("-1h").ok());
  EXPECT_FALSE(ParseDurationFlag("soon").ok());
  EXPECT_FALSE(ParseDurationFlag("xd").ok());
  EXPECT_FALSE(ParseDurationFlag("").ok());
}

TEST(ValueTest, LabelsAndNumbers) {
  EXPECT_EQ(*ParseLabel("env=prod"), std::make_pair(std::string("env"), std::string("prod")));
  EXPECT_EQ(*ParseLabel("env="), std::make_pair(std::string("env"), std::string()));
  EXPECT_EQ(*ParseLabel("a=b=c"), std::make_pair(std::string("a"), std::string("b=c")));
  EXPECT_FALSE(ParseLabel("=x").ok());
  EXPECT_FALSE(ParseLabel("novalue").ok());
  EXPECT_EQ(*ParsePositiveInt("3", "V"), 3u);
  EXPECT_FALSE(ParsePositiveInt("0", "V").ok());
  EXPECT_FALSE(ParsePositiveInt("x", "V").ok());
}

TEST(ValueTest, Names) {
  EXPECT_EQ(*KeyName("pay"), "keys/pay");
  EXPECT_EQ(*KeyName("keys/pay"), "keys/pay");
  EXPECT_FALSE(KeyName("").ok());
  EXPECT_FALSE(KeyName("keys/pay/versions/1").ok());
  EXPECT_EQ(*KeyOrVersionName("pay"), "keys/pay");
  EXPECT_EQ(*KeyOrVersionName("pay", 2), "keys/pay/versions/2");
  EXPECT_EQ(*KeyOrVersionName("keys/pay/versions/3"), "keys/pay/versions/3");
  EXPECT_EQ(*KeyOrVersionName("keys/pay/versions/3", 3), "keys/pay/versions/3");
  EXPECT_FALSE(KeyOrVersionName("keys/pay/versions/3", 4).ok());
  EXPECT_FALSE(KeyOrVersionName("keys/pay/versions/x").ok());
  EXPECT_FALSE(KeyOrVersionName("a/b").ok());
  EXPECT_EQ(KeyIdOf("keys/pay/versions/3"), "pay");
  EXPECT_EQ(KeyIdOf("pay"), "pay");
}

TEST(FormatTest, TableAlignsColumns) {
  EXPECT_EQ(Table({{"NAME", "TYPE"}, {"a-long-name", "ed25519"}, {"b", ""}}),
            "NAME         TYPE\n"
            "a-long-name  ed25519\n"
            "b\n");
}

TEST(FormatTest, JsonAlwaysPrintsPrimitives) {
  v1::Key key;
  key.set_name("keys/a");
  std::string json = ToJson(key);
  EXPECT_THAT(json, HasSubstr("\"name\": \"keys/a\""));
  EXPECT_THAT(json, HasSubstr("\"exportable\": false"));
}

// --- I/O ---

TEST(IoTest, WriteThenReadIsBinarySafeAndUsesMode) {
  std::string dir = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
  std::string path = dir + "/io_test.bin";
  std::string data("\x00\xff\n\r\x01 binary", 12);
  ASSERT_TRUE(WriteOutput(path, data, 0600).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  absl::StatusOr<std::string> back = ReadInput(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, data);
  EXPECT_EQ(ReadInput(dir + "/no-such-file").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(IoTest, SecretFilesMustBePrivateAndLoseOneNewline) {
  std::string dir = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
  std::string path = dir + "/secret";
  { std::ofstream(path) << "pass phrase\n\n"; }
  chmod(path.c_str(), 0644);
  EXPECT_EQ(ReadSecret(path, "passphrase", "--passphrase-file").status().code(),
            absl::StatusCode::kFailedPrecondition);
  chmod(path.c_str(), 0600);
  absl::StatusOr<std::string> s = ReadSecret(path, "passphrase", "--passphrase-file");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, "pass phrase\n");
  std::string wiped = *s;
  Wipe(&wiped);
  EXPECT_TRUE(wiped.empty());
}

}  // namespace
}  // namespace keyward::cli
