#include "keystore/crypto/kdf.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace keyward::crypto {
namespace {

std::string Hex(const SecretData& s) {
  return absl::BytesToHexString(s.InsecureView());
}

TEST(ScryptTest, Rfc7914Vector) {
  // RFC 7914, section 12, second vector.
  absl::StatusOr<SecretData> key =
      Scrypt(SecretData("password"), "NaCl", 1024, 8, 16, 64);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(Hex(*key),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
            "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

TEST(ScryptTest, EmptyPassphraseAndSalt) {
  // RFC 7914, section 12, first vector.
  absl::StatusOr<SecretData> key = Scrypt(SecretData(), "", 16, 1, 1, 64);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(Hex(*key),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
            "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
}

TEST(ScryptTest, ProductionCostWorks) {
  absl::StatusOr<SecretData> key =
      Scrypt(SecretData("correct horse"), "salt-salt-salt!!", 1 << 15, 8, 1, 32);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
}

TEST(ScryptTest, BadParametersAreRefused) {
  const SecretData pass("p");
  for (auto status : {Scrypt(pass, "s", 0, 8, 1, 32).status(),
                      Scrypt(pass, "s", 1000, 8, 1, 32).status(),
                      Scrypt(pass, "s", uint64_t{1} << 21, 8, 1, 32).status(),
                      Scrypt(pass, "s", 1 << 20, 16, 1, 32).status(),
                      Scrypt(pass, "s", 1024, 0, 1, 32).status(),
                      Scrypt(pass, "s", 1024, 8, 0, 32).status(),
                      Scrypt(pass, "s", 1024, 8, 1, 0).status(),
                      Scrypt(pass, "s", 1024, 8, 1, 1025).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  }
}

TEST(HkdfTest, Rfc5869Case1) {
  absl::StatusOr<SecretData> okm = HkdfSha256(
      SecretData(std::string(22, '\x0b')),
      absl::HexStringToBytes("000102030405060708090a0b0c"),
      absl::HexStringToBytes("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(Hex(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865");
}

TEST(HkdfTest, Rfc5869Case3EmptySaltAndInfo) {
  absl::StatusOr<SecretData> okm =
      HkdfSha256(SecretData(std::string(22, '\x0b')), "", "", 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(Hex(*okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
            "9d201395faa4b61a96c8");
}

TEST(HkdfTest, BadLengthsAreRefused) {
  const SecretData ikm("input key material");
  EXPECT_TRUE(HkdfSha256(ikm, "", "", 8160).ok());
  for (auto status : {HkdfSha256(ikm, "", "", 0).status(),
                      HkdfSha256(ikm, "", "", 8161).status(),
                      HkdfSha256(SecretData(), "", "", 32).status(),
                      HkdfSha256(ikm, "", std::string(1025, 'i'), 32).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  }
}

}  // namespace
}  // namespace keyward::crypto
