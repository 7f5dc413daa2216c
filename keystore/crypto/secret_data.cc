#include "keystore/crypto/secret_data.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <sys/mman.h>
#include <unistd.h>

namespace keyward::crypto {

SecretData::SecretData(absl::string_view bytes) : SecretData(Zeroed(bytes.size())) {
  if (!bytes.empty()) std::memcpy(data_, bytes.data(), bytes.size());
}

SecretData SecretData::Zeroed(size_t size) {
  SecretData secret;
  if (size > 0) {
    secret.data_ = new uint8_t[size]();  // Value-initialized.
    secret.size_ = size;
  }
  return secret;
}

namespace {
size_t PageRound(size_t size) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (size + page - 1) / page * page;
}
}  // namespace

SecretData SecretData::Pinned(absl::string_view bytes) {
  if (bytes.empty()) return SecretData();
  const size_t length = PageRound(bytes.size());
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return SecretData(bytes);  // still wiped on death
  madvise(p, length, MADV_DONTDUMP);
  mlock(p, length);  // best effort: RLIMIT_MEMLOCK may refuse
  std::memcpy(p, bytes.data(), bytes.size());
  SecretData secret;
  secret.data_ = static_cast<uint8_t*>(p);
  secret.size_ = bytes.size();
  secret.pinned_ = true;
  return secret;
}

SecretData SecretData::Random(size_t size) {
  SecretData secret = Zeroed(size);
  if (size > 0 && RAND_bytes(secret.data_, size) != 1) {
    std::fputs("keyward: RAND_bytes failed; cannot continue safely\n", stderr);
    std::abort();
  }
  return secret;
}

SecretData::SecretData(SecretData&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      pinned_(std::exchange(other.pinned_, false)) {}

SecretData& SecretData::operator=(SecretData&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    pinned_ = std::exchange(other.pinned_, false);
  }
  return *this;
}

SecretData::~SecretData() { Wipe(); }

void SecretData::Wipe() {
  if (data_ != nullptr) {
    OPENSSL_cleanse(data_, size_);
    if (pinned_) {
      const size_t length = PageRound(size_);
      munlock(data_, length);
      munmap(data_, length);
    } else {
      delete[] data_;
    }
  }
  data_ = nullptr;
  size_ = 0;
  pinned_ = false;
}

std::ostream& operator<<(std::ostream& os, const SecretData& secret) {
  return os << "SecretData(" << secret.size() << " bytes)";
}

void WipeString(std::string* s) {
  s->resize(s->capacity());  // no reallocation: within the capacity
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace keyward::crypto
