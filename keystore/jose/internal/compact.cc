#include "keystore/jose/internal/compact.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "keystore/jose/base64url.h"
#include "keystore/jose/failure.h"

namespace keyward::jose::internal {

absl::StatusOr<std::vector<absl::string_view>> SplitCompact(
    absl::string_view token, size_t parts, size_t max_bytes,
    absl::string_view what) {
  if (token.size() > max_bytes) {
    return TokenError(TokenFailure::kMalformed,
                      absl::StrCat(what, " is longer than ", max_bytes, " bytes"));
  }
  std::vector<absl::string_view> out = absl::StrSplit(token, '.');
  if (out.size() != parts) {
    return TokenError(
        TokenFailure::kMalformed,
        absl::StrCat(what, " must have ", parts,
                     " base64url parts separated by '.' (compact serialization)"));
  }
  return out;
}

absl::StatusOr<std::string> DecodePart(absl::string_view encoded,
                                       absl::string_view name) {
  absl::StatusOr<std::string> bytes = Base64UrlDecode(encoded);
  if (!bytes.ok()) {
    return TokenError(TokenFailure::kMalformed,
                      absl::StrCat(name, ": ", bytes.status().message()));
  }
  return bytes;
}

absl::StatusOr<JsonValue> DecodeHeader(absl::string_view encoded,
                                       std::string* json_out) {
  absl::StatusOr<std::string> json = DecodePart(encoded, "header");
  if (!json.ok()) return json.status();
  absl::StatusOr<JsonValue> header = ParseJsonObject(*json);
  if (json_out != nullptr) *json_out = *std::move(json);
  if (!header.ok()) {
    return TokenError(TokenFailure::kMalformed,
                      absl::StrCat("header: ", header.status().message()));
  }
  return header;
}

std::string StringMember(const JsonValue& object, absl::string_view name) {
  const JsonValue* v = object.Find(name);
  return v != nullptr ? v->string_value() : std::string();
}

absl::Status CheckHeader(const JsonValue& header,
                         const std::vector<std::string>& understood_crit) {
  const JsonValue* alg = header.Find("alg");
  if (alg == nullptr || !alg->is_string()) {
    return TokenError(TokenFailure::kUnsupportedHeader,
                      "header has no \"alg\" string");
  }
  if (absl::AsciiStrToLower(alg->string_value()) == "none") {
    return TokenError(TokenFailure::kUnsupportedHeader,
                      "\"alg\": \"none\" (unsecured tokens) is never accepted");
  }
  for (absl::string_view name : {"jwk", "jku", "x5u", "x5c"}) {
    if (header.Find(name) != nullptr) {
      return TokenError(
          TokenFailure::kUnsupportedHeader,
          absl::StrCat("header parameter \"", name,
                       "\" is refused: keys never come from the token"));
    }
  }
  for (absl::string_view name : {"zip", "b64"}) {
    if (header.Find(name) != nullptr) {
      return TokenError(TokenFailure::kUnsupportedHeader,
                        absl::StrCat("header parameter \"", name,
                                     "\" is not supported"));
    }
  }
  for (absl::string_view name : {"kid", "typ", "cty"}) {
    const JsonValue* v = header.Find(name);
    if (v != nullptr && !v->is_string()) {
      return TokenError(TokenFailure::kMalformed,
                        absl::StrCat("header \"", name, "\" is not a string"));
    }
  }
  const JsonValue* crit = header.Find("crit");
  if (crit == nullptr) return absl::OkStatus();
  static const auto* registered = new std::set<std::string>{
      "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ",
      "cty", "crit", "enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s",
      "p2c"};
  if (!crit->is_array() || crit->elements().empty()) {
    return TokenError(TokenFailure::kUnsupportedHeader,
                      "\"crit\" must be a non-empty array");
  }
  std::set<std::string> seen;
  for (const JsonValue& name : crit->elements()) {
    const std::string& n = name.string_value();
    bool understood = false;
    for (const std::string& u : understood_crit) understood |= (u == n);
    if (!name.is_string() || registered->count(n) != 0 ||
        !seen.insert(n).second || header.Find(n) == nullptr || !understood) {
      return TokenError(TokenFailure::kUnsupportedHeader,
                        absl::StrCat("critical header parameter \"", n,
                                     "\" is not understood"));
    }
  }
  return absl::OkStatus();
}

}  // namespace keyward::jose::internal
