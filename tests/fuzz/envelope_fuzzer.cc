// Fuzzes the keystore's envelope format, "kw:v<N>:" || payload
// (keystore/format.h), which prefixes every ciphertext, signature and MAC
// a client hands back.
// Asserts, beyond "no crash": a refusal is INVALID_ARGUMENT; a parsed
// envelope has a version in 1..999999999 and a payload that is the input's
// tail, and EncodeEnvelope gives back the input byte for byte (one
// encoding per envelope: no leading zeros, signs or spaces accepted).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "keystore/format.h"
#include "tests/fuzz/fuzz_util.h"

using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto envelope = keyward::keystore::ParseEnvelope(bytes, "ciphertext");
  RequireCode(envelope.status(), {absl::StatusCode::kInvalidArgument},
              "ParseEnvelope");
  if (!envelope.ok()) return 0;
  Require(envelope->version >= 1 && envelope->version <= 999999999,
          "version out of range");
  Require(envelope->payload.data() + envelope->payload.size() ==
              bytes.data() + bytes.size(),
          "the payload is not the input's tail");
  Require(keyward::keystore::EncodeEnvelope(envelope->version,
                                            envelope->payload) == bytes,
          "an envelope does not re-encode to itself");
  return 0;
}
