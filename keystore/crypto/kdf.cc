#include "keystore/crypto/kdf.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_compat.h"

namespace keyward::crypto {

using internal::Bytes;
using internal::Error;

absl::StatusOr<SecretData> Scrypt(const SecretData& passphrase,
                                  absl::string_view salt, uint64_t n,
                                  uint32_t r, uint32_t p, size_t out_len) {
  if (n < 2 || n > (uint64_t{1} << 20) || (n & (n - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("scrypt N must be a power of two from 2 to 2^20, got ", n));
  }
  if (r < 1 || r > 32 || p < 1 || p > 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scrypt r must be 1..32 and p 1..16, got r=", r, " p=", p));
  }
  if (out_len < 1 || out_len > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("scrypt output must be 1..1024 bytes, got ", out_len));
  }
  // The memory both libraries reserve: 128 * r * (N + p + 2) bytes, at most
  // 128 * 32 * (2^20 + 18) = 4 GiB + a little; cap it at 1 GiB + 1 MiB.
  constexpr uint64_t kMaxMemory = (uint64_t{1} << 30) + (uint64_t{1} << 20);
  const uint64_t memory = uint64_t{128} * r * (n + p + 2);
  if (memory > kMaxMemory) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scrypt parameters need ", memory >> 20, " MiB; the limit is 1025 MiB"));
  }
  SecretData out = SecretData::Zeroed(out_len);
  static const char kEmpty[1] = {0};  // A valid pointer for an empty input.
  const absl::string_view pass = passphrase.InsecureView();
  if (EVP_PBE_scrypt(pass.empty() ? kEmpty : pass.data(), pass.size(),
                     salt.empty() ? Bytes(kEmpty) : Bytes(salt), salt.size(), n,
                     r, p, memory, out.InsecureMutableData(),
                     out_len) != 1) {
    return Error(absl::StatusCode::kResourceExhausted,
                 "scrypt failed: not enough memory for these parameters?");
  }
  return out;
}

absl::StatusOr<SecretData> HkdfSha256(const SecretData& ikm,
                                      absl::string_view salt,
                                      absl::string_view info, size_t out_len) {
  if (ikm.empty()) {
    return absl::InvalidArgumentError("HKDF input key material is empty");
  }
  if (out_len < 1 || out_len > 255 * 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HKDF-SHA-256 output must be 1..8160 bytes, got ", out_len));
  }
  if (info.size() > 1024) {
    return absl::InvalidArgumentError("HKDF info must be at most 1024 bytes");
  }
  SecretData out = SecretData::Zeroed(out_len);
  if (!internal::HkdfSha256(ikm.InsecureView(), salt, info,
                            out.InsecureMutableData(), out_len)) {
    return Error(absl::StatusCode::kInternal, "HKDF failed");
  }
  return out;
}

}  // namespace keyward::crypto
