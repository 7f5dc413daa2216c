#include "daemon/wipe.h"

#include "absl/strings/escaping.h"

namespace keyward::daemon {

std::string RandomSecret(absl::string_view prefix, size_t bytes) {
  const crypto::SecretData raw = crypto::SecretData::Random(bytes);
  std::string encoded;
  encoded.reserve((bytes * 4 + 2) / 3 + 4);
  absl::WebSafeBase64Escape(raw.InsecureView(), &encoded);
  std::string secret;
  secret.reserve(prefix.size() + encoded.size());
  secret.append(prefix.data(), prefix.size());
  secret.append(encoded);
  crypto::WipeString(&encoded);
  return secret;
}

}  // namespace keyward::daemon
