// A minimal DER writer: definite-length TLVs, enough for the SPKI, PKCS#8 and
// EncryptedPrivateKeyInfo structures this package builds (key_components.cc,
// pkcs8_encrypt.cc) and the hand-made ones its tests feed the parsers.
// Header-only; every function is pure and thread-safe.
#ifndef KEYSTORE_CRYPTO_INTERNAL_DER_WRITER_H_
#define KEYSTORE_CRYPTO_INTERNAL_DER_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace keyward::crypto::internal {

// Tlv returns tag || DER length || content.
inline std::string Tlv(uint8_t tag, absl::string_view content) {
  std::string out(1, static_cast<char>(tag));
  const size_t len = content.size();
  if (len < 0x80) {
    out.push_back(static_cast<char>(len));
  } else {
    std::string bytes;
    for (size_t v = len; v != 0; v >>= 8) {
      bytes.insert(bytes.begin(), static_cast<char>(v & 0xff));
    }
    out.push_back(static_cast<char>(0x80 | bytes.size()));
    out += bytes;
  }
  out.append(content.data(), content.size());
  return out;
}

inline std::string Seq(absl::string_view content) { return Tlv(0x30, content); }
inline std::string Octets(absl::string_view content) {
  return Tlv(0x04, content);
}
// Oid: an OBJECT IDENTIFIER from its encoded body (after tag and length).
inline std::string Oid(absl::string_view body) { return Tlv(0x06, body); }

// Uint encodes `v` as a DER INTEGER (minimal, non-negative).
inline std::string Uint(uint64_t v) {
  std::string bytes;
  for (uint64_t x = v; x > 0; x >>= 8) {
    bytes.insert(bytes.begin(), static_cast<char>(x & 0xff));
  }
  if (bytes.empty() || (static_cast<uint8_t>(bytes[0]) & 0x80) != 0) {
    bytes.insert(bytes.begin(), '\0');
  }
  return Tlv(0x02, bytes);
}

}  // namespace keyward::crypto::internal

#endif  // KEYSTORE_CRYPTO_INTERNAL_DER_WRITER_H_
