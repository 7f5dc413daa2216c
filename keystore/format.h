// The self-describing envelope of Keyward's ciphertexts, signatures and MACs:
// a short ASCII prefix naming the key version that made them, then the raw
// bytes of the primitive. Documented in keystore/FORMAT.md.
//
//   "kw:v" <version, decimal, 1-999999999, no leading zero> ":" <payload>
//
// e.g. "kw:v3:" followed by an AES-256-GCM nonce||ciphertext||tag.
#ifndef KEYWARD_KEYSTORE_FORMAT_H_
#define KEYWARD_KEYSTORE_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keyward::keystore {

// Envelope is a parsed envelope; `payload` points into the parsed input.
struct Envelope {
  int32_t version = 0;
  absl::string_view payload;
};

// EncodeEnvelope returns the envelope of `payload` made by `version` (> 0).
std::string EncodeEnvelope(int32_t version, absl::string_view payload);

// ParseEnvelope splits `bytes`. INVALID_ARGUMENT, naming `what` ("ciphertext",
// "signature", "MAC"), if the prefix is missing or malformed.
absl::StatusOr<Envelope> ParseEnvelope(absl::string_view bytes,
                                       absl::string_view what);

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_FORMAT_H_
