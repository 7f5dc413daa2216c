// Runs every vector of Wycheproof's json_web_signature_test.json,
// json_web_encryption_test.json and json_web_key_test.json through the
// product's own code: each group's JWK (or JWK Set) is imported with
// ParseJwk/ParseJwkSet, bound with JwsVerificationKeyFromJwk /
// JweDecryptionKeyFromJwk (so "alg" comes from the key), and each token is
// verified or decrypted with VerifyCompact / DecryptCompact.
//
// "valid" must verify (and decrypt to "pt"); "invalid" must be refused with
// INVALID_ARGUMENT, UNAUTHENTICATED or (key set without the kid) NOT_FOUND. Skipped, counted and named: groups
// whose key uses an algorithm or curve Keyward does not offer (RSA1_5,
// ECDH on P-384 and P-521) and valid tokens that need a feature not
// offered ("zip"). kDeviations lists the few vectors whose result Keyward
// does not follow, each with its reason and exact expected behaviour, so a
// change of behaviour shows. Each file prints run / passed /
// skipped by reason / deviations.

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jwe.h"
#include "keystore/jose/jwk.h"
#include "keystore/jose/jws.h"
#include "keystore/testing/wycheproof.h"

namespace keyward::jose {
namespace {

using google::protobuf::Struct;
using wycheproof::Get;
using wycheproof::Has;
using wycheproof::Int;
using wycheproof::Str;

enum class Kind { kJws, kJwe, kJwkSet };

struct FileSpec {
  const char* name;
  Kind kind;
};
void PrintTo(const FileSpec& spec, std::ostream* os) { *os << spec.name; }

struct Deviation {
  const char* file;
  int tc_id;
  TokenFailure failure;  // How Keyward refuses it; kNone: accepted.
  const char* reason;
  int same_as = 0;       // For kNone: the valid vector it is identical to.
};

// Vectors whose result Keyward does not follow, on purpose or because the
// vector is defective; each is checked to behave exactly as listed.
const Deviation kDeviations[] = {
    {"json_web_signature_test.json", 367, TokenFailure::kNone,
     "\"invalid\" but byte-identical to valid tcId 357 (the vector lost the "
     "'=' padding it was meant to carry); accepted",
     357},
    {"json_web_signature_test.json", 370, TokenFailure::kNone,
     "as 367, for the payload", 357},
    {"json_web_signature_test.json", 346, TokenFailure::kAlgorithmMismatch,
     "RFC 7520 figure 20: the JWK says alg PS256, the token PS384; the "
     "algorithm comes from the key"},
    {"json_web_signature_test.json", 350, TokenFailure::kAlgorithmMismatch,
     "as 346, with key_ops"},
    {"json_web_signature_test.json", 372, TokenFailure::kMalformed,
     "'?' inside the header's base64url; strict base64url refuses it"},
    {"json_web_signature_test.json", 373, TokenFailure::kMalformed,
     "'?' inside the payload's base64url; strict base64url refuses it"},
};

const Deviation* FindDeviation(const std::string& file, int tc_id) {
  for (const Deviation& d : kDeviations) {
    if (file == d.file && tc_id == d.tc_id) return &d;
  }
  return nullptr;
}

// JsonOf re-serializes a Struct member and parses it with keystore/jose's
// own strict parser.
JsonValue JsonOf(const Struct& s, const std::string& key) {
  std::string text;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(
                  Get(s, key).struct_value(), &text).ok());
  absl::StatusOr<JsonValue> v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : JsonValue();
}

// KeySkipReason names what a group's JWK needs that Keyward does not
// offer, if anything.
std::optional<std::string> KeySkipReason(const JsonValue& jwk) {
  const std::string alg = jwk.Find("alg") ? jwk.Find("alg")->string_value() : "";
  const std::string crv = jwk.Find("crv") ? jwk.Find("crv")->string_value() : "";
  if (alg == "RSA1_5") return "RSA1_5 not offered (PKCS#1 v1.5 encryption)";
  // RFC 7520 figure 27's P-521 key names "ES521", a registered name of
  // nothing (its token says ES512); Keyward never guesses an algorithm.
  if (alg == "ES521") return "JWK alg \"ES521\" (unregistered; RFC 7520 fig. 27)";
  if ((crv == "P-384" || crv == "P-521") && alg.rfind("ECDH", 0) == 0) {
    return "ECDH on P-384/P-521 not offered";
  }
  return std::nullopt;
}

// HeaderOf decodes a token's first part leniently (for skip decisions only).
JsonValue HeaderOf(absl::string_view token) {
  std::string json;
  absl::WebSafeBase64Unescape(token.substr(0, token.find('.')), &json);
  absl::StatusOr<JsonValue> v = ParseJson(json);
  return v.ok() ? *v : JsonValue();
}

struct Outcome {
  absl::Status status;
  std::string problem_with_output;
};

Outcome RunJws(const Struct& group, const Struct& test) {
  const JsonValue jwk = JsonOf(group, Has(group, "public") ? "public" : "private");
  absl::StatusOr<ParsedJwk> parsed = ParseJwk(jwk);
  if (!parsed.ok()) return {parsed.status(), ""};
  absl::StatusOr<JwsVerificationKey> key = JwsVerificationKeyFromJwk(*parsed);
  if (!key.ok()) return {key.status(), ""};
  return {VerifyCompact(Str(test, "jws"), *key).status(), ""};
}

Outcome RunJwe(const Struct& group, const Struct& test) {
  absl::StatusOr<ParsedJwk> parsed = ParseJwk(JsonOf(group, "private"));
  if (!parsed.ok()) return {parsed.status(), ""};
  JweDecryptOptions options;
  absl::StatusOr<JweDecryptionKey> key = JweDecryptionKeyFromJwk(*parsed, &options);
  if (!key.ok()) return {key.status(), ""};
  absl::StatusOr<DecryptedJwe> out = DecryptCompact(Str(test, "jwe"), *key, options);
  if (!out.ok()) return {out.status(), ""};
  const bool wrong = Has(test, "pt") &&
                     out->plaintext != absl::HexStringToBytes(Str(test, "pt"));
  return {absl::OkStatus(), wrong ? "plaintext differs from \"pt\"" : ""};
}

Outcome RunJwkSet(const Struct& group, const Struct& test) {
  absl::StatusOr<std::vector<ParsedJwk>> set =
      ParseJwkSet(JsonOf(group, Has(group, "public") ? "public" : "private"));
  if (!set.ok()) return {set.status(), ""};
  JwsKeyResolver resolve = [&](const ParsedJws& jws)
      -> absl::StatusOr<std::vector<JwsVerificationKey>> {
    for (const ParsedJwk& jwk : *set) {
      if ((jws.kid.has_value() && jwk.kid == *jws.kid) ||
          (!jws.kid.has_value() && set->size() == 1)) {
        absl::StatusOr<JwsVerificationKey> key = JwsVerificationKeyFromJwk(jwk);
        if (!key.ok()) return key.status();
        return std::vector<JwsVerificationKey>{*std::move(key)};
      }
    }
    return TokenError(TokenFailure::kKeyNotFound, "no key with this kid");
  };
  return {VerifyCompact(Str(test, "jws"), resolve).status(), ""};
}

class JoseWycheproofTest : public testing::TestWithParam<FileSpec> {};

TEST_P(JoseWycheproofTest, EveryVector) {
  const FileSpec& spec = GetParam();
  const Struct root = wycheproof::Load(spec.name);
  int total = 0, run = 0, passed = 0;
  std::map<std::string, int> skipped;
  std::vector<std::string> deviations;
  std::map<int, std::string> tokens;
  int max_id = 0;
  for (const auto& gv : Get(root, "testGroups").list_value().values()) {
    const Struct& group = gv.struct_value();
    std::optional<std::string> group_skip;
    if (spec.kind != Kind::kJwkSet) {
      group_skip = KeySkipReason(JsonOf(group, "private"));
    }
    for (const auto& tv : Get(group, "tests").list_value().values()) {
      const Struct& test = tv.struct_value();
      ++total;
      const int id = Int(test, "tcId");
      max_id = std::max(max_id, id);
      const std::string result = Str(test, "result");
      const std::string token = Str(test, spec.kind == Kind::kJwe ? "jwe" : "jws");
      tokens[id] = token;
      if (group_skip.has_value()) {
        ++skipped[*group_skip];
        continue;
      }
      if (result == "valid" && HeaderOf(token).Find("zip") != nullptr) {
        ++skipped["\"zip\" (compression) not offered"];
        continue;
      }
      ++run;
      const Outcome outcome = spec.kind == Kind::kJws   ? RunJws(group, test)
                              : spec.kind == Kind::kJwe ? RunJwe(group, test)
                                                        : RunJwkSet(group, test);
      std::string problem;
      if (const Deviation* d = FindDeviation(spec.name, id)) {
        if (d->failure == TokenFailure::kNone) {
          if (!outcome.status.ok() || tokens[d->same_as] != token) {
            problem = "deviation no longer as listed: " + outcome.status.ToString();
          } else {
            deviations.push_back(absl::StrCat(id, " (", d->reason, ")"));
          }
        } else if (outcome.status.ok() || FailureOf(outcome.status) != d->failure) {
          problem = "deviation no longer refused as listed: " +
                    outcome.status.ToString();
        } else {
          deviations.push_back(absl::StrCat(id, " (", d->reason, ")"));
        }
      } else if (result == "valid") {
        if (!outcome.status.ok()) {
          problem = "refused: " + outcome.status.ToString();
        } else {
          problem = outcome.problem_with_output;
        }
      } else if (result == "invalid") {
        if (outcome.status.ok()) {
          problem = "accepted";
        } else if (outcome.status.code() != absl::StatusCode::kInvalidArgument &&
                   outcome.status.code() != absl::StatusCode::kUnauthenticated &&
                   outcome.status.code() != absl::StatusCode::kNotFound) {
          problem = "refused with the wrong code: " + outcome.status.ToString();
        }
      } else {
        problem = "no expectation for result " + result;
      }
      if (problem.empty()) {
        ++passed;
      } else {
        ADD_FAILURE() << spec.name << " tcId " << id << " (" << result << ", "
                      << Str(test, "comment") << "): " << problem;
      }
    }
  }
  wycheproof::PrintTally(spec.name, total, run, passed, skipped);
  for (const std::string& d : deviations) {
    std::cout << "[wycheproof]   deviation: tcId " << d << std::endl;
  }
  // json_web_encryption_test.json's "numberOfTests" (135) is stale: it has
  // tcIds 1..139. Every tcId must be seen once.
  EXPECT_EQ(total, max_id);
  EXPECT_EQ(tokens.size(), static_cast<size_t>(total));
  EXPECT_GT(run, 0);
  EXPECT_EQ(passed, run);
}

const FileSpec kFiles[] = {
    {"json_web_signature_test.json", Kind::kJws},
    {"json_web_encryption_test.json", Kind::kJwe},
    {"json_web_key_test.json", Kind::kJwkSet},
};

INSTANTIATE_TEST_SUITE_P(
    Files, JoseWycheproofTest, testing::ValuesIn(kFiles),
    [](const testing::TestParamInfo<FileSpec>& info) {
      return wycheproof::TestName(info.param.name);
    });

}  // namespace
}  // namespace keyward::jose
