// Unit tests of the crypto command handlers against a mock client.
#include "client/cli_test_util.h"

namespace keyward::cli::testing {
namespace {


using CryptoCommandTest = CommandTest;

std::string Binary() { return std::string("\0\r\n\xff data", 9); }

TEST_F(CryptoCommandTest, SignSendsTheBytesAndWritesTheSignature) {
  std::string in = WriteTemp("sign.in", Binary());
  std::string out = TempPath("sign.sig");
  EXPECT_CALL(client_, Sign(Truly([](const v1::SignRequest& req) {
                return req.name() == "keys/k/versions/3" && req.data() == Binary() &&
                       req.algorithm() == v1::SIGNATURE_ALGORITHM_ECDSA_SHA256_P1363;
              })))
      .WillOnce([](const v1::SignRequest&) {
        v1::SignResponse resp;
        resp.set_signature(std::string("sig\0nature", 10));
        resp.set_raw_signature("raw");
        return resp;
      });
  CliResult r = RunWith(client_, {"sign", "k", "--version", "3", "--in", in, "--out", out,
                                  "--algorithm", "ES256"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(ReadTemp(out), std::string("sig\0nature", 10));
}

TEST_F(CryptoCommandTest, SignDigestSendsADigest) {
  std::string in = WriteTemp("digest.in", std::string(32, 'd'));
  EXPECT_CALL(client_, Sign(Truly([](const v1::SignRequest& req) {
                return req.digest() == std::string(32, 'd') && req.data().empty();
              })))
      .WillOnce(Return(v1::SignResponse()));
  CliResult r = RunWith(client_, {"sign", "k", "--digest", "--in", in, "--json"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
}

TEST_F(CryptoCommandTest, VerifyVerdictsMapToExitCodes) {
  std::string in = WriteTemp("v.in", "data");
  std::string sig = WriteTemp("v.sig", "sig");
  for (bool valid : {true, false}) {
    v1::VerifyResponse resp;
    resp.set_valid(valid);
    resp.set_key_version("keys/k/versions/1");
    EXPECT_CALL(client_, Verify(Truly([](const v1::VerifyRequest& req) {
                  return req.signature() == "sig" && req.data() == "data";
                })))
        .WillOnce(Return(resp));
    CliResult r = RunWith(client_, {"verify", "k", "--signature", sig, "--in", in});
    EXPECT_EQ(r.exit_code, valid ? kExitOk : kExitInvalid) << r.err;
    EXPECT_EQ(r.out, absl::StrCat(valid ? "valid" : "invalid", " (keys/k/versions/1)\n"));
  }
}

TEST_F(CryptoCommandTest, RawNeedsAVersionAndDetachedInputsAFile) {
  std::string in = WriteTemp("raw.in", "data");
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"verify", "k", "--raw", "--signature", in, "--in", in}),
      "--raw needs the version that signed");
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"verify", "k"}), "give --signature FILE");
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"verify-mac", "k"}), "give --mac FILE");
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"decrypt", "k", "--raw", "--in", in}),
                             "--raw needs the key version");
}

TEST_F(CryptoCommandTest, EncryptSendsAssociatedDataFromAFile) {
  std::string in = WriteTemp("pt", Binary());
  std::string aad = WriteTemp("aad", "context");
  std::string out = TempPath("ct");
  EXPECT_CALL(client_, Encrypt(Truly([](const v1::EncryptRequest& req) {
                return req.plaintext() == Binary() && req.associated_data() == "context";
              })))
      .WillOnce([](const v1::EncryptRequest&) {
        v1::EncryptResponse resp;
        resp.set_ciphertext("ct-bytes");
        return resp;
      });
  CliResult r = RunWith(client_, {"encrypt", "k", "--in", in, "--aad-file", aad, "--out", out});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(ReadTemp(out), "ct-bytes");
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"encrypt", "k", "--in", in, "--aad", "a", "--aad-file", aad}),
      "not both");
}

TEST_F(CryptoCommandTest, DataKeyRefusesAPlaintextFileItWouldNotWrite) {
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"datakey", "k", "--wrapped-only", "--plaintext-out", "p",
                        "--ciphertext-out", "c"}),
      "drop --plaintext-out");
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"datakey", "k", "--plaintext-out", "p"}),
                             "give --ciphertext-out FILE too");
}

TEST_F(CryptoCommandTest, DataKeyWritesBothFiles) {
  std::string pt = TempPath("dk.pt");
  std::string ct = TempPath("dk.ct");
  EXPECT_CALL(client_, GenerateDataKey(Truly([](const v1::GenerateDataKeyRequest& req) {
                return req.length_bytes() == 64 && !req.wrapped_only();
              })))
      .WillOnce([](const v1::GenerateDataKeyRequest&) {
        v1::GenerateDataKeyResponse resp;
        resp.set_plaintext("plain");
        resp.set_ciphertext("wrapped");
        resp.set_key_version("keys/k/versions/1");
        return resp;
      });
  CliResult r = RunWith(client_, {"datakey", "k", "--length", "64", "--plaintext-out", pt,
                                  "--ciphertext-out", ct});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(ReadTemp(pt), "plain");
  EXPECT_EQ(ReadTemp(ct), "wrapped");
  struct stat st;
  ASSERT_EQ(stat(pt.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(r.out, "data key wrapped by keys/k/versions/1\n");
}

TEST_F(CryptoCommandTest, ReEncryptToAnotherKey) {
  std::string in = WriteTemp("re.in", "old-ct");
  EXPECT_CALL(client_, ReEncrypt(Truly([](const v1::ReEncryptRequest& req) {
                return req.name() == "keys/a" && req.destination_name() == "keys/b" &&
                       req.associated_data() == "x" &&
                       req.destination_associated_data() == "y" &&
                       req.ciphertext() == "old-ct";
              })))
      .WillOnce(Return(absl::FailedPreconditionError("version 1 of keys/a is disabled")));
  CliResult r = RunWith(client_, {"reencrypt", "a", "--to", "b", "--aad", "x", "--to-aad",
                                  "y", "--in", in});
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_EQ(r.err, "keyward: cannot re-encrypt with keys/a: version 1 of keys/a is disabled\n");
}

}  // namespace
}  // namespace keyward::cli::testing
