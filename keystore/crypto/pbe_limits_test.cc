#include "keystore/crypto/pbe_limits.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/crypto/internal/der_writer.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/pkcs8_encrypt.h"

namespace keyward::crypto {
namespace {

using ::testing::HasSubstr;

// Hand-made EncryptedPrivateKeyInfo structures (internal/der_writer.h).
using internal::Octets;
using internal::Oid;
using internal::Seq;
using internal::Tlv;
std::string Int(uint64_t v) { return internal::Uint(v); }

const std::string kPbes2 = "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0d";
const std::string kPbkdf2 = "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0c";
const std::string kScrypt = "\x2b\x06\x01\x04\x01\xda\x47\x04\x0b";
const std::string kAes256Cbc = "\x60\x86\x48\x01\x65\x03\x04\x01\x2a";
const std::string kPbeSha1Des = std::string("\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0a");

std::string Epki(const std::string& algorithm) {
  return Seq(Seq(algorithm) + Octets(std::string(48, 'x')));
}
std::string Pbkdf2Epki(const std::string& iterations_der) {
  const std::string kdf =
      Seq(Oid(kPbkdf2) + Seq(Octets(std::string(16, 's')) + iterations_der));
  const std::string enc = Seq(Oid(kAes256Cbc) + Octets(std::string(16, 'i')));
  return Epki(Oid(kPbes2) + Seq(kdf + enc));
}
std::string ScryptEpki(uint64_t n, uint64_t r, uint64_t p) {
  const std::string kdf = Seq(
      Oid(kScrypt) + Seq(Octets(std::string(16, 's')) + Int(n) + Int(r) + Int(p)));
  const std::string enc = Seq(Oid(kAes256Cbc) + Octets(std::string(16, 'i')));
  return Epki(Oid(kPbes2) + Seq(kdf + enc));
}
std::string Pem(const std::string& label, const std::string& der) {
  return absl::StrCat("-----BEGIN ", label, "-----\n", absl::Base64Escape(der),
                      "\n-----END ", label, "-----\n");
}

TEST(PbeLimitsTest, KeywardExportAt600000RoundsIsReadAndImports) {
  const SecretData key = *GenerateKeyMaterial(KeyType::kEd25519);
  const SecretData pass("correct horse battery staple");
  const std::string der = *EncryptPkcs8(key, pass);
  auto cost = ReadPbeCost(der);
  ASSERT_TRUE(cost.ok()) << cost.status();
  ASSERT_TRUE(cost->has_value());
  EXPECT_EQ((*cost)->kdf, PbeCost::Kdf::kPbkdf2);
  EXPECT_EQ((*cost)->iterations, 600000u);
  EXPECT_TRUE(CheckPbeCost(**cost, KdfLimits()).ok());
  auto parsed = ParsePrivateKeyPem(EncryptedPkcs8Pem(der), &pass);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, KeyType::kEd25519);
}

TEST(PbeLimitsTest, HugeIterationCountIsRefusedBeforeAnyDerivation) {
  const SecretData pass("pass");
  const absl::Time start = absl::Now();
  auto parsed = ParsePrivateKeyPem(
      Pem("ENCRYPTED PRIVATE KEY", Pbkdf2Epki(Int(2147483647))), &pass);
  ASSERT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("2147483647"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("pbkdf2_max_iterations"));
  // 2^31 - 1 rounds would take about 18 minutes.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // A count too large for 64 bits saturates and is refused the same way.
  EXPECT_EQ(ParsePrivateKeyPem(
                Pem("ENCRYPTED PRIVATE KEY",
                    Pbkdf2Epki(Tlv(0x02, "\x01" + std::string(9, '\0')))),
                &pass)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A lower limit applies.
  KdfLimits strict;
  strict.pbkdf2_max_iterations = 1000;
  auto cost = ReadPbeCost(Pbkdf2Epki(Int(2048)));
  ASSERT_TRUE(cost.ok() && cost->has_value());
  EXPECT_EQ(CheckPbeCost(**cost, strict).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckPbeCost(**cost, KdfLimits()).ok());  // OpenSSL's default
}

TEST(PbeLimitsTest, ScryptParametersAreBounded) {
  struct Case {
    uint64_t n, r, p;
    const char* refused_by;  // nullptr: accepted
  };
  const Case cases[] = {
      {1 << 14, 8, 1, nullptr},  // OpenSSL -scrypt and pycryptodome defaults
      {1 << 17, 8, 1, nullptr},
      {1 << 20, 1, 1, nullptr},
      {uint64_t{1} << 21, 1, 1, "scrypt_max_n"},
      {1 << 14, 33, 1, "scrypt_max_r"},
      {1 << 14, 8, 17, "scrypt_max_p"},
      {1 << 20, 8, 1, "scrypt_max_memory_bytes"},
      {1 << 17, 8, 2, "scrypt_max_work"},
  };
  for (const Case& c : cases) {
    auto cost = ReadPbeCost(ScryptEpki(c.n, c.r, c.p));
    ASSERT_TRUE(cost.ok() && cost->has_value()) << c.n;
    EXPECT_EQ((*cost)->kdf, PbeCost::Kdf::kScrypt);
    absl::Status s = CheckPbeCost(**cost, KdfLimits());
    if (c.refused_by == nullptr) {
      EXPECT_TRUE(s.ok()) << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.refused_by;
      EXPECT_THAT(s.message(), HasSubstr(c.refused_by));
    }
  }
  const SecretData pass("pass");
  EXPECT_EQ(ParsePrivateKeyPem(Pem("ENCRYPTED PRIVATE KEY",
                                   ScryptEpki(uint64_t{1} << 30, 8, 1)),
                               &pass)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PbeLimitsTest, LegacySchemesAndOddShapesFailClosed) {
  const SecretData pass("pass");
  // PBES1 (pbeWithSHA1AndDES-CBC) carries its own iteration count.
  const std::string pbes1 =
      Epki(Oid(kPbeSha1Des) + Seq(Octets(std::string(8, 's')) + Int(1u << 30)));
  EXPECT_THAT(ParsePrivateKeyPem(Pem("ENCRYPTED PRIVATE KEY", pbes1), &pass)
                  .status()
                  .message(),
              HasSubstr("pbkdf2_max_iterations"));
  // An unknown KDF under PBES2 cannot be bounded: refused.
  const std::string unknown_kdf = Epki(
      Oid(kPbes2) + Seq(Seq(Oid("\x2a\x03") + Seq(Int(1))) +
                        Seq(Oid(kAes256Cbc) + Octets(std::string(16, 'i')))));
  EXPECT_EQ(CheckEncryptedKeyCost(Pem("ENCRYPTED PRIVATE KEY", unknown_kdf),
                                  KdfLimits())
                .code(),
            absl::StatusCode::kInvalidArgument);
  // BER's indefinite length is not DER: refused rather than skipped.
  const std::string ber = "\x30\x80" + Pbkdf2Epki(Int(1u << 30)).substr(2) +
                          std::string(2, '\0');
  EXPECT_EQ(CheckEncryptedKeyCost(Pem("ENCRYPTED PRIVATE KEY", ber), KdfLimits())
                .code(),
            absl::StatusCode::kInvalidArgument);
  // The same structure under another "...PRIVATE KEY" label is checked too,
  // and a later block as well as the first.
  EXPECT_EQ(CheckEncryptedKeyCost(
                absl::StrCat(Pem("EC PRIVATE KEY", "\x30\x03\x02\x01\x01"),
                             Pem("PRIVATE KEY", Pbkdf2Epki(Int(1u << 30)))),
                KdfLimits())
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Text without PEM passes the check (the parser refuses it).
  EXPECT_TRUE(CheckEncryptedKeyCost("not pem", KdfLimits()).ok());
}

TEST(PbeLimitsTest, PlainKeysAreNotEncryptedPrivateKeyInfo) {
  const SecretData key = *GenerateKeyMaterial(KeyType::kEcdsaP256);
  auto cost = ReadPbeCost(key.InsecureView());
  ASSERT_TRUE(cost.ok()) << cost.status();
  EXPECT_FALSE(cost->has_value());
  EXPECT_FALSE(ReadPbeCost("").value().has_value());
  EXPECT_FALSE(ReadPbeCost("\x30\x00").value().has_value());
}

}  // namespace
}  // namespace keyward::crypto
