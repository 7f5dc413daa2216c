#include "keystore/crypto/aes_key_wrap.h"

#include <openssl/aes.h>
#include <openssl/crypto.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"

namespace keyward::crypto {
namespace {

using internal::Bytes;
using internal::Error;

constexpr size_t kMaxKey = 4096;

absl::Status CheckKek(const SecretData& kek) {
  if (kek.size() == 16 || kek.size() == 24 || kek.size() == 32) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "AES key wrap needs a 16, 24 or 32-byte key, got ", kek.size()));
}

// KeySchedule holds an AES_KEY and wipes it when it dies. The low-level
// AES_wrap_key/AES_unwrap_key (in OpenSSL 3 and BoringSSL alike) are used
// because BoringSSL has no EVP wrap mode.
class KeySchedule {
 public:
  KeySchedule() = default;
  KeySchedule(const KeySchedule&) = delete;
  KeySchedule& operator=(const KeySchedule&) = delete;
  ~KeySchedule() { OPENSSL_cleanse(&key_, sizeof(key_)); }
  AES_KEY* get() { return &key_; }

 private:
  AES_KEY key_;
};

}  // namespace

absl::StatusOr<std::string> AesKeyWrap(const SecretData& kek,
                                       const SecretData& key) {
  absl::Status status = CheckKek(kek);
  if (!status.ok()) return status;
  if (key.size() < 16 || key.size() > kMaxKey || key.size() % 8 != 0) {
    return absl::InvalidArgumentError(
        "AES key wrap takes keys of 16 to 4096 bytes in multiples of 8");
  }
  KeySchedule schedule;
  if (AES_set_encrypt_key(Bytes(kek.InsecureView()),
                          static_cast<unsigned>(kek.size() * 8),
                          schedule.get()) != 0) {
    return Error(absl::StatusCode::kInternal, "AES key setup failed");
  }
  std::string out(key.size() + 8, '\0');
  // Null IV: RFC 3394's default A6A6A6A6A6A6A6A6.
  if (AES_wrap_key(schedule.get(), nullptr,
                   reinterpret_cast<uint8_t*>(out.data()),
                   Bytes(key.InsecureView()), key.size()) !=
      static_cast<int>(out.size())) {
    return Error(absl::StatusCode::kInternal, "AES key wrap failed");
  }
  return out;
}

absl::StatusOr<SecretData> AesKeyUnwrap(const SecretData& kek,
                                        absl::string_view wrapped) {
  absl::Status status = CheckKek(kek);
  if (!status.ok()) return status;
  if (wrapped.size() < 24 || wrapped.size() > kMaxKey + 8 ||
      wrapped.size() % 8 != 0) {
    return absl::InvalidArgumentError("wrapped key is not authentic");
  }
  KeySchedule schedule;
  if (AES_set_decrypt_key(Bytes(kek.InsecureView()),
                          static_cast<unsigned>(kek.size() * 8),
                          schedule.get()) != 0) {
    return Error(absl::StatusCode::kInternal, "AES key setup failed");
  }
  SecretData out = SecretData::Zeroed(wrapped.size() - 8);
  if (AES_unwrap_key(schedule.get(), nullptr, out.InsecureMutableData(),
                     Bytes(wrapped), wrapped.size()) !=
      static_cast<int>(out.size())) {
    // Both libraries wipe the output on an integrity failure; |out| is
    // wiped again when it dies.
    return Error(absl::StatusCode::kInvalidArgument,
                 "wrapped key is not authentic");
  }
  return out;
}

}  // namespace keyward::crypto
