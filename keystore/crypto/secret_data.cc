#include "keystore/crypto/secret_data.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace keyward::crypto {

SecretData::SecretData(absl::string_view bytes) : SecretData(Zeroed(bytes.size())) {
  if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
}

SecretData SecretData::Zeroed(size_t size) {
  SecretData secret;
  if (size > 0) {
    secret.data_ = std::make_unique<uint8_t[]>(size);  // Value-initialized.
    secret.size_ = size;
  }
  return secret;
}

SecretData SecretData::Random(size_t size) {
  SecretData secret = Zeroed(size);
  if (size > 0 && RAND_bytes(secret.data_.get(), size) != 1) {
    std::fputs("keyward: RAND_bytes failed; cannot continue safely\n", stderr);
    std::abort();
  }
  return secret;
}

SecretData::SecretData(SecretData&& other) noexcept
    : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}

SecretData& SecretData::operator=(SecretData&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretData::~SecretData() { Wipe(); }

void SecretData::Wipe() {
  if (data_ != nullptr) OPENSSL_cleanse(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

std::ostream& operator<<(std::ostream& os, const SecretData& secret) {
  return os << "SecretData(" << secret.size() << " bytes)";
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace keyward::crypto
