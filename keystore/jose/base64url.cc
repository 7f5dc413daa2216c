#include "keystore/jose/base64url.h"

#include <array>
#include <cstdint>

#include "absl/status/status.h"

namespace keyward::jose {
namespace {

constexpr absl::string_view kNonCanonical = "non-canonical base64url";

// kValue[c] is the 6-bit value of base64url character c, or -1.
constexpr std::array<int8_t, 256> kValue = [] {
  std::array<int8_t, 256> value{};
  for (int c = 0; c < 256; ++c) {
    value[c] = c >= 'A' && c <= 'Z'   ? c - 'A'
               : c >= 'a' && c <= 'z' ? c - 'a' + 26
               : c >= '0' && c <= '9' ? c - '0' + 52
               : c == '-'             ? 62
               : c == '_'             ? 63
                                      : -1;
  }
  return value;
}();

int Value(char c) { return kValue[static_cast<uint8_t>(c)]; }

// DecodeInto writes the bytes of |text| to |out|, which has room for
// DecodedSize(text.size()). Returns false for a non-canonical |text|.
bool DecodeInto(absl::string_view text, uint8_t* out) {
  if (text.size() % 4 == 1) return false;
  const char* p = text.data();
  size_t n = text.size();
  // Four characters to three bytes.
  for (; n >= 4; n -= 4, p += 4, out += 3) {
    const int a = Value(p[0]), b = Value(p[1]), c = Value(p[2]), d = Value(p[3]);
    if ((a | b | c | d) < 0) return false;
    const uint32_t v = static_cast<uint32_t>(a << 18 | b << 12 | c << 6 | d);
    out[0] = static_cast<uint8_t>(v >> 16);
    out[1] = static_cast<uint8_t>(v >> 8);
    out[2] = static_cast<uint8_t>(v);
  }
  if (n == 0) return true;
  // Two or three characters left: one or two bytes. The bits left over (4
  // or 2) must be zero: otherwise two spellings would decode to the same
  // bytes.
  const int a = Value(p[0]), b = Value(p[1]), c = n == 3 ? Value(p[2]) : 0;
  if ((a | b | c) < 0) return false;
  out[0] = static_cast<uint8_t>(a << 2 | b >> 4);
  if (n == 2) return (b & 0xf) == 0;
  out[1] = static_cast<uint8_t>((b & 0xf) << 4 | c >> 2);
  return (c & 0x3) == 0;
}

size_t DecodedSize(size_t chars) { return chars * 6 / 8; }

}  // namespace

std::string Base64UrlEncode(absl::string_view data) {
  std::string out;
  Base64UrlAppend(data, &out);
  return out;
}

void Base64UrlAppend(absl::string_view data, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t start = out->size();
  out->resize(start + Base64UrlEncodedSize(data.size()));
  char* o = out->data() + start;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  // Six bytes at a time (read as one big-endian word of eight, which
  // compilers make one load), then three at a time.
  for (; n >= 8; n -= 6, p += 6, o += 8) {
    const uint64_t v = uint64_t{p[0]} << 56 | uint64_t{p[1]} << 48 |
                       uint64_t{p[2]} << 40 | uint64_t{p[3]} << 32 |
                       uint64_t{p[4]} << 24 | uint64_t{p[5]} << 16 |
                       uint64_t{p[6]} << 8 | uint64_t{p[7]};
    o[0] = kAlphabet[v >> 58];
    o[1] = kAlphabet[(v >> 52) & 63];
    o[2] = kAlphabet[(v >> 46) & 63];
    o[3] = kAlphabet[(v >> 40) & 63];
    o[4] = kAlphabet[(v >> 34) & 63];
    o[5] = kAlphabet[(v >> 28) & 63];
    o[6] = kAlphabet[(v >> 22) & 63];
    o[7] = kAlphabet[(v >> 16) & 63];
  }
  for (; n >= 3; n -= 3, p += 3, o += 4) {
    const uint32_t v = uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2];
    o[0] = kAlphabet[v >> 18];
    o[1] = kAlphabet[(v >> 12) & 63];
    o[2] = kAlphabet[(v >> 6) & 63];
    o[3] = kAlphabet[v & 63];
  }
  if (n == 0) return;
  // One or two bytes left: two or three characters, no padding.
  const uint32_t v = uint32_t{p[0]} << 16 | (n == 2 ? uint32_t{p[1]} << 8 : 0);
  o[0] = kAlphabet[v >> 18];
  o[1] = kAlphabet[(v >> 12) & 63];
  if (n == 2) o[2] = kAlphabet[(v >> 6) & 63];
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
