// Wiping secrets out of the protobuf messages of a call.
//
// A request's secret fields (private key material, passphrases, API key
// secrets, plaintexts) are copied into SecretData where they are used, then
// wiped in the request with WipeRequestField. What this cannot reach: gRPC
// receives and sends through its own buffers (grpc_slice, the HTTP/2
// frames, HPACK tables for metadata such as "authorization"), which it
// frees without wiping; those copies stay in freed heap memory until reused.
// See README, "Known limits".
#ifndef KEYWARD_DAEMON_WIPE_H_
#define KEYWARD_DAEMON_WIPE_H_

#include <string>

#include "keystore/crypto/secret_data.h"

namespace keyward::daemon {

// WipeRequestField zeroes and empties a string field of a request that
// gRPC handed the handler as const. The message is gRPC's, not const, and
// nothing reads it after the handler has taken what it needs; an unset field
// (protobuf's shared empty default) is left alone. Call it once the field's
// contents live in SecretData (or are no longer needed).
inline void WipeRequestField(const std::string& field) {
  if (field.empty()) return;  // possibly the shared default instance
  crypto::WipeString(const_cast<std::string*>(&field));
}

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_WIPE_H_
