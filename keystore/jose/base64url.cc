#include "keystore/jose/base64url.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"

namespace keyward::jose {
namespace {

constexpr absl::string_view kNonCanonical = "non-canonical base64url";

int Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// DecodeInto writes the bytes of |text| to |out|, which has room for
// DecodedSize(text.size()). Returns false for a non-canonical |text|.
bool DecodeInto(absl::string_view text, uint8_t* out) {
  if (text.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (const char c : text) {
    const int v = Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  // Left-over bits (2 or 4) must be zero: otherwise two spellings would
  // decode to the same bytes.
  return (acc & ((1u << bits) - 1)) == 0;
}

size_t DecodedSize(size_t chars) { return chars * 6 / 8; }

}  // namespace

std::string Base64UrlEncode(absl::string_view data) {
  std::string out;
  absl::WebSafeBase64Escape(data, &out);  // No padding.
  return out;
}

absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text) {
  std::string out(DecodedSize(text.size()), '\0');
  if (!DecodeInto(text, reinterpret_cast<uint8_t*>(out.data()))) {
    return absl::InvalidArgumentError(kNonCanonical);
  }
  return out;
}

absl::StatusOr<crypto::SecretData> Base64UrlDecodeSecret(
    absl::string_view text) {
  crypto::SecretData out = crypto::SecretData::Zeroed(DecodedSize(text.size()));
  if (!DecodeInto(text, out.InsecureMutableData())) {
    return absl::InvalidArgumentError(kNonCanonical);
  }
  return out;
}

}  // namespace keyward::jose
