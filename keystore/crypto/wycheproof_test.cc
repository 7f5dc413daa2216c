// Runs Project Wycheproof's vectors through Keyward's own factories
// (NewVerifier, NewAsymmetricDecrypter, AesGcm::Create, Hmac::Create,
// HkdfSha256), one TEST_P per file, every vector.
//
// Expectations: "valid" must be accepted (with the expected output where there
// is one); "invalid" must be rejected with INVALID_ARGUMENT; "acceptable"
// follows kAcceptablePolicy below, one decision per flag, and a flag with no
// decision fails the test so that a new one gets looked at.
// Vectors are skipped only for parameters Keyward does not offer, counted per
// reason. Each file prints "run / passed / skipped by reason" to the test log,
// and a file that runs no vector fails.

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/kdf.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"
#include "keystore/testing/wycheproof.h"

namespace keyward::crypto {
namespace {

using google::protobuf::Struct;
using wycheproof::Get;
using wycheproof::Hex;
using wycheproof::Int;
using wycheproof::Str;

enum class Kind { kSignature, kOaep, kAesGcm, kHmac, kHkdf };

struct FileSpec {
  const char* name;
  Kind kind;
  SignatureAlgorithm algorithm;  // kSignature only.
  HashType hash;                 // kHmac only.
};

// PrintTo names a FileSpec in gtest's messages.
void PrintTo(const FileSpec& spec, std::ostream* os) { *os << spec.name; }

enum class Policy { kReject, kAccept };

// kAcceptablePolicy decides each "acceptable" flag.
const std::map<std::string, Policy>& AcceptablePolicy() {
  static const auto* policy = new std::map<std::string, Policy>{
      // RSASSA-PKCS1-v1_5 DigestInfo without the NULL parameter. RFC 8017
      // (9.2, note 2) lets verifiers take it; Keyward signs with the NULL and
      // accepts only that one encoding, as OpenSSL 3 and BoringSSL both do
      // (they rebuild the expected DigestInfo and compare bytes).
      {"MissingNull", Policy::kReject},
  };
  return *policy;
}

bool IsOfferedRsaSize(int bits) {
  return bits == 2048 || bits == 3072 || bits == 4096;
}

// HashBytes: the output size of a Wycheproof "sha" name ("SHA-384": 48).
int HashBytes(const std::string& sha) {
  if (sha == "SHA-256") return 32;
  if (sha == "SHA-384") return 48;
  if (sha == "SHA-512") return 64;
  return -1;
}

int FullHmacTagBits(HashType hash) {
  switch (hash) {
    case HashType::kSha256:
      return 256;
    case HashType::kSha384:
      return 384;
    case HashType::kSha512:
      return 512;
  }
  return 0;
}

// SkipReason says why Keyward does not offer what |test| needs, if it doesn't.
std::optional<std::string> SkipReason(const FileSpec& spec, const Struct& group,
                                      const Struct& test) {
  switch (spec.kind) {
    case Kind::kSignature:
    case Kind::kOaep:
      if (group.fields().count("keySize") &&
          !IsOfferedRsaSize(Int(group, "keySize"))) {
        return "RSA key size not 2048/3072/4096";
      }
      // RSA-PSS is offered with MGF1 on the message hash and a salt as
      // long as that hash (the JWS PS256/384/512 parameters).
      if (group.fields().count("mgfSha") &&
          Str(group, "mgfSha") != Str(group, "sha")) {
        return "MGF1 hash not the message hash";
      }
      if (group.fields().count("sLen") &&
          Int(group, "sLen") != HashBytes(Str(group, "sha"))) {
        return "PSS salt length not the hash length";
      }
      return std::nullopt;
    case Kind::kAesGcm:
      if (Int(group, "keySize") != 256) return "AES-128/192 key";
      if (Int(group, "ivSize") != 96) return "IV not 96 bits";
      if (Int(group, "tagSize") != 128) return "tag shorter than 128 bits";
      return std::nullopt;
    case Kind::kHmac:
      if (Int(group, "tagSize") != FullHmacTagBits(spec.hash)) {
        return "truncated HMAC tag";
      }
      if (Hex(test, "key").size() < Hmac::kMinKeySize) {
        return "HMAC key shorter than 16 bytes";
      }
      return std::nullopt;
    case Kind::kHkdf:
      return std::nullopt;
  }
  return std::nullopt;
}

// Outcome is what the product did with one vector: |status| is its verdict;
// |wrong_output| is set if it accepted but produced the wrong bytes.
struct Outcome {
  absl::Status status;
  std::string wrong_output;
};

// GroupRunner holds the objects the factories made from a group's key.
class GroupRunner {
 public:
  GroupRunner(const FileSpec& spec, const Struct& group) : spec_(spec) {
    if (spec.kind == Kind::kSignature) {
      auto verifier =
          NewVerifier(spec.algorithm, Hex(group, "publicKeyDer"));
      factory_status_ = verifier.status();
      if (verifier.ok()) verifier_ = *std::move(verifier);
    } else if (spec.kind == Kind::kOaep) {
      auto decrypter =
          NewAsymmetricDecrypter(SecretData(Hex(group, "privateKeyPkcs8")));
      factory_status_ = decrypter.status();
      if (decrypter.ok()) decrypter_ = *std::move(decrypter);
    }
  }

  Outcome Run(const Struct& test) const {
    if (!factory_status_.ok()) return {factory_status_, ""};
    const std::string msg = Hex(test, "msg");
    switch (spec_.kind) {
      case Kind::kSignature:
        return {verifier_->Verify(Hex(test, "sig"), msg), ""};
      case Kind::kOaep: {
        auto pt = decrypter_->Decrypt(Hex(test, "ct"), Hex(test, "label"));
        return Check(pt.status(), pt.ok() && *pt != msg);
      }
      case Kind::kAesGcm: {
        auto aead = AesGcm::Create(SecretData(Hex(test, "key")));
        if (!aead.ok()) return {aead.status(), ""};
        const std::string aad = Hex(test, "aad");
        auto pt = (*aead)->Decrypt(
            Hex(test, "iv") + Hex(test, "ct") + Hex(test, "tag"), aad);
        if (pt.ok() && *pt == msg) {  // Encrypt must round-trip too.
          auto ct = (*aead)->Encrypt(msg, aad);
          auto again = ct.ok() ? (*aead)->Decrypt(*ct, aad) : ct;
          if (!again.ok() || *again != msg) return {again.status(), "round trip"};
        }
        return Check(pt.status(), pt.ok() && *pt != msg);
      }
      case Kind::kHmac: {
        auto mac = Hmac::Create(spec_.hash, SecretData(Hex(test, "key")));
        if (!mac.ok()) return {mac.status(), ""};
        const absl::Status status = (*mac)->VerifyMac(Hex(test, "tag"), msg);
        auto tag = (*mac)->ComputeMac(msg);
        return Check(status, status.ok() && (!tag.ok() || *tag != Hex(test, "tag")));
      }
      case Kind::kHkdf: {
        auto okm = HkdfSha256(SecretData(Hex(test, "ikm")), Hex(test, "salt"),
                              Hex(test, "info"), Int(test, "size"));
        return Check(okm.status(),
                     okm.ok() && okm->InsecureView() != Hex(test, "okm"));
      }
    }
    return {absl::InternalError("unknown kind"), ""};
  }

 private:
  static Outcome Check(const absl::Status& status, bool wrong) {
    return {status, wrong ? "output differs from the vector" : ""};
  }

  const FileSpec& spec_;
  absl::Status factory_status_;
  std::unique_ptr<Verifier> verifier_;
  std::unique_ptr<AsymmetricDecrypter> decrypter_;
};

// Problem returns what is wrong with |outcome| for |test|, or "" if nothing.
std::string Problem(const Struct& test, const Outcome& outcome) {
  const std::string result = Str(test, "result");
  std::optional<Policy> want;
  if (result == "valid") want = Policy::kAccept;
  if (result == "invalid") want = Policy::kReject;
  if (result == "acceptable") {
    for (const auto& flag : Get(test, "flags").list_value().values()) {
      auto it = AcceptablePolicy().find(flag.string_value());
      if (it == AcceptablePolicy().end()) {
        return "no policy for acceptable flag " + flag.string_value();
      }
      want = it->second;
    }
  }
  if (!want.has_value()) return "no expectation for result " + result;
  if (*want == Policy::kAccept) {
    if (!outcome.status.ok()) return "rejected: " + outcome.status.ToString();
    return outcome.wrong_output;
  }
  if (outcome.status.ok()) return "accepted";
  if (outcome.status.code() != absl::StatusCode::kInvalidArgument) {
    return "rejected with the wrong code: " + outcome.status.ToString();
  }
  return "";
}

class WycheproofTest : public testing::TestWithParam<FileSpec> {};

TEST_P(WycheproofTest, EveryVector) {
  const FileSpec& spec = GetParam();
  const Struct root = wycheproof::Load(spec.name);
  int total = 0, run = 0, passed = 0;
  std::map<std::string, int> skipped;
  for (const auto& group_value : Get(root, "testGroups").list_value().values()) {
    const Struct& group = group_value.struct_value();
    std::optional<GroupRunner> runner;
    for (const auto& test_value : Get(group, "tests").list_value().values()) {
      const Struct& test = test_value.struct_value();
      ++total;
      if (auto reason = SkipReason(spec, group, test)) {
        ++skipped[*reason];
        continue;
      }
      if (!runner.has_value()) runner.emplace(spec, group);
      ++run;
      const std::string problem = Problem(test, runner->Run(test));
      if (problem.empty()) {
        ++passed;
      } else {
        ADD_FAILURE() << spec.name << " tcId " << Int(test, "tcId") << " ("
                      << Str(test, "result") << ", " << Str(test, "comment")
                      << "): " << problem;
      }
    }
  }
  wycheproof::PrintTally(spec.name, total, run, passed, skipped);
  EXPECT_EQ(total, Int(root, "numberOfTests")) << "vector count";
  EXPECT_GT(run, 0) << spec.name << " ran no vector";
  EXPECT_EQ(passed, run);
}

constexpr auto kSig = Kind::kSignature;
constexpr auto kAnyAlg = SignatureAlgorithm::kEd25519;  // Unused field.
constexpr auto kAnyHash = HashType::kSha256;            // Unused field.

const FileSpec kFiles[] = {
    {"ed25519_test.json", kSig, SignatureAlgorithm::kEd25519, kAnyHash},
    {"ecdsa_secp256r1_sha256_test.json", kSig,
     SignatureAlgorithm::kEcdsaP256Sha256Der, kAnyHash},
    {"ecdsa_secp256r1_sha256_p1363_test.json", kSig,
     SignatureAlgorithm::kEcdsaP256Sha256P1363, kAnyHash},
    {"ecdsa_secp384r1_sha384_test.json", kSig,
     SignatureAlgorithm::kEcdsaP384Sha384Der, kAnyHash},
    {"ecdsa_secp384r1_sha384_p1363_test.json", kSig,
     SignatureAlgorithm::kEcdsaP384Sha384P1363, kAnyHash},
    {"ecdsa_secp521r1_sha512_test.json", kSig,
     SignatureAlgorithm::kEcdsaP521Sha512Der, kAnyHash},
    {"ecdsa_secp521r1_sha512_p1363_test.json", kSig,
     SignatureAlgorithm::kEcdsaP521Sha512P1363, kAnyHash},
    {"rsa_signature_2048_sha256_test.json", kSig,
     SignatureAlgorithm::kRsaPkcs1Sha256, kAnyHash},
    {"rsa_signature_3072_sha256_test.json", kSig,
     SignatureAlgorithm::kRsaPkcs1Sha256, kAnyHash},
    {"rsa_signature_4096_sha256_test.json", kSig,
     SignatureAlgorithm::kRsaPkcs1Sha256, kAnyHash},
    {"rsa_signature_2048_sha384_test.json", kSig,
     SignatureAlgorithm::kRsaPkcs1Sha384, kAnyHash},
    {"rsa_signature_3072_sha384_test.json", kSig,
     SignatureAlgorithm::kRsaPkcs1Sha384, kAnyHash},
    {"rsa_signature_4096_sha384_test.json", kSig,
     SignatureAlgorithm::kRsaPkcs1Sha384, kAnyHash},
    {"rsa_signature_2048_sha512_test.json", kSig,
     SignatureAlgorithm::kRsaPkcs1Sha512, kAnyHash},
    {"rsa_signature_3072_sha512_test.json", kSig,
     SignatureAlgorithm::kRsaPkcs1Sha512, kAnyHash},
    {"rsa_signature_4096_sha512_test.json", kSig,
     SignatureAlgorithm::kRsaPkcs1Sha512, kAnyHash},
    {"rsa_pss_2048_sha384_mgf1_48_test.json", kSig,
     SignatureAlgorithm::kRsaPssSha384, kAnyHash},
    {"rsa_pss_4096_sha384_mgf1_48_test.json", kSig,
     SignatureAlgorithm::kRsaPssSha384, kAnyHash},
    {"rsa_pss_4096_sha512_mgf1_64_test.json", kSig,
     SignatureAlgorithm::kRsaPssSha512, kAnyHash},
    {"rsa_pss_2048_sha256_mgf1_32_test.json", kSig,
     SignatureAlgorithm::kRsaPssSha256, kAnyHash},
    {"rsa_pss_3072_sha256_mgf1_32_test.json", kSig,
     SignatureAlgorithm::kRsaPssSha256, kAnyHash},
    {"rsa_pss_4096_sha256_mgf1_32_test.json", kSig,
     SignatureAlgorithm::kRsaPssSha256, kAnyHash},
    {"rsa_oaep_2048_sha256_mgf1sha256_test.json", Kind::kOaep, kAnyAlg,
     kAnyHash},
    {"rsa_oaep_3072_sha256_mgf1sha256_test.json", Kind::kOaep, kAnyAlg,
     kAnyHash},
    {"rsa_oaep_4096_sha256_mgf1sha256_test.json", Kind::kOaep, kAnyAlg,
     kAnyHash},
    {"aes_gcm_test.json", Kind::kAesGcm, kAnyAlg, kAnyHash},
    {"hmac_sha256_test.json", Kind::kHmac, kAnyAlg, HashType::kSha256},
    {"hmac_sha384_test.json", Kind::kHmac, kAnyAlg, HashType::kSha384},
    {"hmac_sha512_test.json", Kind::kHmac, kAnyAlg, HashType::kSha512},
    {"hkdf_sha256_test.json", Kind::kHkdf, kAnyAlg, kAnyHash},
};

INSTANTIATE_TEST_SUITE_P(
    Files, WycheproofTest, testing::ValuesIn(kFiles),
    [](const testing::TestParamInfo<FileSpec>& info) {
      return wycheproof::TestName(info.param.name);
    });

}  // namespace
}  // namespace keyward::crypto
