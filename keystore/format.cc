#include "keystore/format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace keyward::keystore {
namespace {
constexpr absl::string_view kPrefix = "kw:v";
constexpr size_t kMaxDigits = 9;
}  // namespace

std::string EncodeEnvelope(int32_t version, absl::string_view payload) {
  return absl::StrCat(kPrefix, version, ":", payload);
}

absl::StatusOr<Envelope> ParseEnvelope(absl::string_view bytes,
                                       absl::string_view what) {
  auto malformed = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is not in Keyward's format (it must start with \"kw:v<N>:\"); "
              "pass the bytes exactly as Keyward returned them"));
  };
  if (!absl::StartsWith(bytes, kPrefix)) return malformed();
  absl::string_view rest = bytes.substr(kPrefix.size());
  size_t colon = rest.find(':');
  if (colon == absl::string_view::npos || colon == 0 || colon > kMaxDigits) {
    return malformed();
  }
  absl::string_view digits = rest.substr(0, colon);
  if (digits[0] == '0') return malformed();
  for (char c : digits) {
    if (!absl::ascii_isdigit(c)) return malformed();
  }
  Envelope envelope;
  if (!absl::SimpleAtoi(digits, &envelope.version)) return malformed();
  envelope.payload = rest.substr(colon + 1);
  return envelope;
}

}  // namespace keyward::keystore
