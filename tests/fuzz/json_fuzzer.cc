// Fuzzes the strict JSON parser (keystore/jose/json.h), which reads every
// untrusted JOSE header, JWT claim set and JWK.
// Asserts, beyond "no crash": a refusal is INVALID_ARGUMENT; a value that
// parses serializes to text that parses again (limits lifted, since
// escapes may change the size) and serializes to the same text;
// ParseJsonObject agrees with ParseJson on whether the value is an object.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "keystore/jose/json.h"
#include "tests/fuzz/fuzz_util.h"

using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;
using keyward::jose::JsonLimits;
using keyward::jose::ParseJson;
using keyward::jose::ParseJsonObject;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto value = ParseJson(text);
  auto object = ParseJsonObject(text);
  RequireCode(value.status(), {absl::StatusCode::kInvalidArgument}, "ParseJson");
  RequireCode(object.status(), {absl::StatusCode::kInvalidArgument},
              "ParseJsonObject");
  Require(object.ok() == (value.ok() && value->is_object()),
          "ParseJsonObject disagrees with ParseJson");
  if (!value.ok()) return 0;

  const std::string once = value->Serialize();
  JsonLimits lifted;
  lifted.max_bytes = std::numeric_limits<size_t>::max();
  auto again = ParseJson(once, lifted);
  Require(again.ok(), "a serialized value does not parse again");
  Require(again->type() == value->type(), "the re-parsed value changed type");
  Require(again->Serialize() == once, "serialization is not stable");
  return 0;
}
