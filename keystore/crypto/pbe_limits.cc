#include "keystore/crypto/pbe_limits.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <climits>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto {
namespace {

constexpr uint8_t kSequence = 0x30;
constexpr uint8_t kInteger = 0x02;
constexpr uint8_t kOctetString = 0x04;
constexpr uint8_t kOid = 0x06;

// ReadTlv takes one DER element (definite length, at most 4 length bytes)
// off the front of |in|. False if |in| does not start with one.
bool ReadTlv(absl::string_view* in, uint8_t* tag, absl::string_view* contents) {
  if (in->size() < 2) return false;
  *tag = static_cast<uint8_t>((*in)[0]);
  const uint8_t first = static_cast<uint8_t>((*in)[1]);
  size_t header = 2;
  uint64_t length = first;
  if (first & 0x80) {
    const size_t bytes = first & 0x7f;
    // 0x80 is BER's indefinite length: not DER, refused.
    if (bytes == 0 || bytes > 4 || in->size() < 2 + bytes) return false;
    length = 0;
    for (size_t i = 0; i < bytes; ++i) {
      length = (length << 8) | static_cast<uint8_t>((*in)[2 + i]);
    }
    header += bytes;
  }
  if (length > in->size() - header) return false;
  *contents = in->substr(header, length);
  in->remove_prefix(header + length);
  return true;
}

bool Read(absl::string_view* in, uint8_t want, absl::string_view* contents) {
  uint8_t tag = 0;
  return ReadTlv(in, &tag, contents) && tag == want;
}

// ReadUint reads a non-negative INTEGER; values over 2^64 - 1 saturate, so
// that the limit check names them instead of calling them malformed.
bool ReadUint(absl::string_view* in, uint64_t* value) {
  absl::string_view bytes;
  if (!Read(in, kInteger, &bytes) || bytes.empty() ||
      (static_cast<uint8_t>(bytes[0]) & 0x80)) {
    return false;
  }
  while (bytes.size() > 1 && bytes[0] == '\0') bytes.remove_prefix(1);
  if (bytes.size() > 8) {
    *value = UINT64_MAX;
    return true;
  }
  *value = 0;
  for (char c : bytes) *value = (*value << 8) | static_cast<uint8_t>(c);
  return true;
}

// OID bodies (after tag and length).
constexpr char kPkcs5[] = "\x2a\x86\x48\x86\xf7\x0d\x01\x05";  // 1.2.840.113549.1.5
constexpr char kPkcs12Pbe[] = "\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01";  // ...1.12.1
constexpr char kScryptOid[] = "\x2b\x06\x01\x04\x01\xda\x47\x04\x0b";  // 1.3.6.1.4.1.11591.4.11

bool IsPkcs5(absl::string_view oid, uint8_t last) {
  return oid.size() == 9 && absl::StartsWith(oid, kPkcs5) &&
         static_cast<uint8_t>(oid[8]) == last;
}

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(
      "the encrypted private key's ", what,
      " cannot be read (it must be DER); nothing was decrypted"));
}

// PBES1 and PKCS#12 parameters: SEQUENCE { salt OCTET STRING, iterations }.
absl::StatusOr<std::optional<PbeCost>> ReadLegacy(absl::string_view params) {
  absl::string_view seq, salt;
  PbeCost cost;
  cost.kdf = PbeCost::Kdf::kLegacyPbe;
  if (!Read(&params, kSequence, &seq) || !Read(&seq, kOctetString, &salt) ||
      !ReadUint(&seq, &cost.iterations)) {
    return Malformed("PBE parameters");
  }
  return cost;
}

// PBES2-params: SEQUENCE { keyDerivationFunc AlgorithmIdentifier,
// encryptionScheme AlgorithmIdentifier } (RFC 8018 A.4); PBKDF2-params
// (A.2) and scrypt-params (RFC 7914 section 7).
absl::StatusOr<std::optional<PbeCost>> ReadPbes2(absl::string_view params) {
  absl::string_view seq, kdf, kdf_oid, kdf_params;
  if (!Read(&params, kSequence, &seq) || !Read(&seq, kSequence, &kdf) ||
      !Read(&kdf, kOid, &kdf_oid) || !Read(&kdf, kSequence, &kdf_params)) {
    return Malformed("PBES2 parameters");
  }
  PbeCost cost;
  absl::string_view salt;
  uint8_t salt_tag = 0;
  if (IsPkcs5(kdf_oid, 0x0c)) {
    cost.kdf = PbeCost::Kdf::kPbkdf2;
    // The salt is an OCTET STRING or (never seen) an AlgorithmIdentifier.
    if (!ReadTlv(&kdf_params, &salt_tag, &salt) ||
        !ReadUint(&kdf_params, &cost.iterations)) {
      return Malformed("PBKDF2 parameters");
    }
    return cost;
  }
  if (kdf_oid == absl::string_view(kScryptOid, sizeof(kScryptOid) - 1)) {
    cost.kdf = PbeCost::Kdf::kScrypt;
    if (!Read(&kdf_params, kOctetString, &salt) ||
        !ReadUint(&kdf_params, &cost.n) || !ReadUint(&kdf_params, &cost.r) ||
        !ReadUint(&kdf_params, &cost.p)) {
      return Malformed("scrypt parameters");
    }
    return cost;
  }
  return absl::InvalidArgumentError(
      "the encrypted private key uses a key-derivation function other than "
      "PBKDF2 or scrypt; re-encrypt it with PBES2 (e.g. `openssl pkcs8 "
      "-topk8 -v2 aes-256-cbc`)");
}

// Saturating product.
uint64_t Mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > UINT64_MAX / a) return UINT64_MAX;
  return a * b;
}

absl::Status OverLimit(absl::string_view what, uint64_t value,
                       absl::string_view limit_name, uint64_t limit) {
  return absl::InvalidArgumentError(absl::StrCat(
      "the encrypted private key asks for ", what, " ", value,
      ", over this daemon's limit of ", limit, " (", limit_name,
      "): re-encrypt it at a lower cost (e.g. `openssl pkcs8 -topk8 -v2 "
      "aes-256-cbc -iter 600000`) or raise the limit; nothing was "
      "decrypted"));
}

}  // namespace

absl::StatusOr<std::optional<PbeCost>> ReadPbeCost(absl::string_view der) {
  // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm
  //   AlgorithmIdentifier, encryptedData OCTET STRING }
  absl::string_view in = der, epki, algorithm, oid, data;
  if (!Read(&in, kSequence, &epki) || !in.empty() ||
      !Read(&epki, kSequence, &algorithm) || !Read(&algorithm, kOid, &oid)) {
    return std::nullopt;
  }
  absl::string_view params = algorithm;
  if (!Read(&epki, kOctetString, &data) || !epki.empty()) {
    // The shape of a PrivateKeyInfo starts SEQUENCE { INTEGER ...: not
    // this. An AlgorithmIdentifier that is not followed by the data is.
    return std::nullopt;
  }
  if (IsPkcs5(oid, 0x0d)) return ReadPbes2(params);
  for (uint8_t pbes1 : {0x01, 0x03, 0x04, 0x06, 0x0a, 0x0b}) {
    if (IsPkcs5(oid, pbes1)) return ReadLegacy(params);
  }
  if (oid.size() == 10 && absl::StartsWith(oid, kPkcs12Pbe)) {
    return ReadLegacy(params);
  }
  return absl::InvalidArgumentError(
      "the encrypted private key uses an encryption scheme Keyward does not "
      "read; re-encrypt it with PBES2 (e.g. `openssl pkcs8 -topk8 -v2 "
      "aes-256-cbc`)");
}

absl::Status CheckPbeCost(const PbeCost& cost, const KdfLimits& limits) {
  switch (cost.kdf) {
    case PbeCost::Kdf::kPbkdf2:
    case PbeCost::Kdf::kLegacyPbe:
      if (cost.iterations > limits.pbkdf2_max_iterations) {
        return OverLimit("a PBKDF2 iteration count of", cost.iterations,
                         "pbkdf2_max_iterations", limits.pbkdf2_max_iterations);
      }
      return absl::OkStatus();
    case PbeCost::Kdf::kScrypt:
      if (cost.n > limits.scrypt_max_n) {
        return OverLimit("scrypt N =", cost.n, "scrypt_max_n", limits.scrypt_max_n);
      }
      if (cost.r > limits.scrypt_max_r) {
        return OverLimit("scrypt r =", cost.r, "scrypt_max_r", limits.scrypt_max_r);
      }
      if (cost.p > limits.scrypt_max_p) {
        return OverLimit("scrypt p =", cost.p, "scrypt_max_p", limits.scrypt_max_p);
      }
      if (const uint64_t memory = Mul(Mul(128, cost.n), cost.r);
          memory > limits.scrypt_max_memory_bytes) {
        return OverLimit("scrypt memory (128 * N * r bytes) of", memory,
                         "scrypt_max_memory_bytes",
                         limits.scrypt_max_memory_bytes);
      }
      if (const uint64_t work = Mul(Mul(cost.n, cost.r), cost.p);
          work > limits.scrypt_max_work) {
        return OverLimit("scrypt work (N * r * p) of", work, "scrypt_max_work",
                         limits.scrypt_max_work);
      }
      return absl::OkStatus();
  }
  return absl::InternalError("unknown KDF");
}

absl::Status CheckEncryptedKeyCost(absl::string_view pem,
                                   const KdfLimits& limits) {
  if (pem.size() > INT_MAX) {
    return absl::InvalidArgumentError("the PEM text is too large");
  }
  internal::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
  absl::Status status = absl::OkStatus();
  while (status.ok()) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) break;
    const absl::string_view label(name);
    if (absl::EndsWith(label, "PRIVATE KEY")) {
      absl::StatusOr<std::optional<PbeCost>> cost =
          ReadPbeCost(absl::string_view(reinterpret_cast<char*>(data), len));
      if (!cost.ok()) {
        status = cost.status();
      } else if (cost->has_value()) {
        status = CheckPbeCost(**cost, limits);
      } else if (label == "ENCRYPTED PRIVATE KEY") {
        status = Malformed("encryption parameters");
      }
    }
    // The block may hold a plain private key: wipe it before freeing.
    if (data != nullptr) OPENSSL_cleanse(data, static_cast<size_t>(len));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  ERR_clear_error();  // PEM_read_bio's "no start line" at the end
  return status;
}

}  // namespace keyward::crypto
