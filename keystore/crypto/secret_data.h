// SecretData: the one type that holds secret bytes (keys, derived keys,
// private keys in PKCS#8 DER) in keystore/crypto and its callers.
//
// Its memory is wiped with OPENSSL_cleanse when it dies or is assigned over.
// It is move-only, so a secret has one owner, and it cannot be printed: the
// only ways to the bytes are InsecureView() and InsecureMutableData(), named
// so that each use is easy to find with grep and to review.

#ifndef KEYSTORE_CRYPTO_SECRET_DATA_H_
#define KEYSTORE_CRYPTO_SECRET_DATA_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "absl/strings/string_view.h"

namespace keyward::crypto {

// SecretData owns a buffer of secret bytes and wipes it when it is destroyed,
// when it is the target of a move assignment, and leaves nothing behind when it
// is moved from (the buffer itself changes owner; the moved-from object is
// empty). Not thread-safe for mutation; concurrent const access is safe.
class SecretData {
 public:
  // SecretData() is empty.
  SecretData() = default;
  // SecretData(bytes) copies |bytes|. The caller still owns, and should wipe,
  // wherever |bytes| came from.
  explicit SecretData(absl::string_view bytes);
  // Random returns |size| bytes from the libcrypto CSPRNG. Aborts if the
  // CSPRNG fails (an impossible state on a working system).
  static SecretData Random(size_t size);
  // Pinned copies |bytes| into memory kept out of core dumps
  // (MADV_DONTDUMP) and, where the RLIMIT_MEMLOCK allows, out of swap
  // (mlock). Costs a page-sized mapping: for long-lived secrets such as
  // cached key material, not per-call data.
  static SecretData Pinned(absl::string_view bytes);
  // Zeroed returns |size| zero bytes, to be filled in place through
  // InsecureMutableData() (for example by a KDF), so that no secret passes
  // through an unwiped temporary.
  static SecretData Zeroed(size_t size);

  SecretData(SecretData&& other) noexcept;
  SecretData& operator=(SecretData&& other) noexcept;
  SecretData(const SecretData&) = delete;
  SecretData& operator=(const SecretData&) = delete;
  ~SecretData();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // InsecureView exposes the secret bytes. The view is valid while this object
  // lives and is not moved from or assigned to. Every call is a place where a
  // secret leaves its wrapper: do not log it, copy it into a std::string, or
  // keep it longer than the operation that needs it.
  absl::string_view InsecureView() const {
    return absl::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  // InsecureMutableData is InsecureView for writing, e.g. for a KDF's output.
  uint8_t* InsecureMutableData() { return data_; }

 private:
  void Wipe();

  uint8_t* data_ = nullptr;  // owned: new[] or, if pinned_, mmap
  size_t size_ = 0;
  bool pinned_ = false;
};

// operator<< prints only the size ("SecretData(32 bytes)"), never the bytes,
// so that a SecretData that reaches a log line by mistake leaks nothing.
std::ostream& operator<<(std::ostream& os, const SecretData& secret);

// WipeString overwrites every byte |s| holds, up to its capacity, with
// zeros (OPENSSL_cleanse) and leaves it empty, keeping its buffer. For a
// secret that must pass through a std::string it does not own the type of,
// such as a protobuf field. Buffers the string had before it last grew were
// freed unwiped: wipe strings that were filled once.
void WipeString(std::string* s);

// ConstantTimeEquals returns whether |a| and |b| hold the same bytes, in time
// that depends only on their lengths (CRYPTO_memcmp). Lengths are not secret:
// different lengths return false at once. Thread-safe.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_SECRET_DATA_H_
