#include "keystore/crypto/key_components.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_compat.h"
#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto {
namespace {

using internal::BignumPtr;
using internal::Bytes;
using internal::Error;
using internal::EvpPkeyPtr;

// --- A minimal DER writer: enough for SPKI and PKCS#8. -----------------------

// Tlv returns tag || DER length || content.
std::string Tlv(uint8_t tag, absl::string_view content) {
  std::string out(1, static_cast<char>(tag));
  const size_t len = content.size();
  if (len < 0x80) {
    out.push_back(static_cast<char>(len));
  } else {
    std::string bytes;
    for (size_t v = len; v != 0; v >>= 8) {
      bytes.insert(bytes.begin(), static_cast<char>(v & 0xff));
    }
    out.push_back(static_cast<char>(0x80 | bytes.size()));
    out += bytes;
  }
  out.append(content.data(), content.size());
  return out;
}

std::string Seq(absl::string_view content) { return Tlv(0x30, content); }
std::string Octets(absl::string_view content) { return Tlv(0x04, content); }
std::string BitString(absl::string_view content) {
  return Tlv(0x03, absl::StrCat(std::string(1, '\0'), content));
}

// Integer encodes the unsigned big-endian |value| as a DER INTEGER.
std::string Integer(absl::string_view value) {
  while (!value.empty() && value.front() == '\0') value.remove_prefix(1);
  std::string content;
  if (value.empty() || (static_cast<uint8_t>(value.front()) & 0x80) != 0) {
    content.push_back('\0');
  }
  content.append(value.data(), value.size());
  return Tlv(0x02, content);
}

// DER-encoded OIDs, tag and length included (one holds a zero byte, hence
// the explicit lengths).
constexpr absl::string_view kOidRsa(
    "\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 11);
constexpr absl::string_view kOidEcPublicKey(
    "\x06\x07\x2a\x86\x48\xce\x3d\x02\x01", 9);
constexpr absl::string_view kOidP256(
    "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);
constexpr absl::string_view kOidP384("\x06\x05\x2b\x81\x04\x00\x22", 7);
constexpr absl::string_view kOidP521("\x06\x05\x2b\x81\x04\x00\x23", 7);
constexpr absl::string_view kOidEd25519("\x06\x03\x2b\x65\x70", 5);

std::string RsaAlgorithm() {
  return Seq(absl::StrCat(kOidRsa, absl::string_view("\x05\x00", 2)));
}
std::string EcAlgorithm(KeyType type) {
  const size_t width = EcFieldSize(type);
  return Seq(absl::StrCat(kOidEcPublicKey, width == 48   ? kOidP384
                                           : width == 66 ? kOidP521
                                                         : kOidP256));
}

// Secret moves a DER string that holds secrets into SecretData and wipes it.
SecretData Secret(std::string* der) {
  SecretData out(*der);
  OPENSSL_cleanse(der->data(), der->size());
  der->clear();
  return out;
}

bool SameFamily(KeyType want, KeyType got) {
  return want == got ||
         (want == KeyType::kEcdhP256 && got == KeyType::kEcdsaP256);
}

// CheckedPublicKey parses |spki_der| with the product's parser and returns
// its canonical DER if it is a key of |type|.
absl::StatusOr<std::string> CheckedPublicKey(KeyType type,
                                             absl::string_view spki_der) {
  absl::StatusOr<ParsedPublicKey> parsed = ParsePublicKey(spki_der);
  if (!parsed.ok()) return parsed.status();
  if (!SameFamily(type, parsed->type)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the key is ", KeyTypeName(parsed->type), ", not ", KeyTypeName(type)));
  }
  return parsed->spki_der;
}

// CheckedPrivateKey checks the PKCS#8 DER |pkcs8| is of |type| and, if
// |spki_der| is set, that its public half is that key.
absl::Status CheckedPrivateKey(KeyType type, const SecretData& pkcs8,
                               absl::string_view spki_der) {
  absl::StatusOr<std::string> derived = PublicKeyFromPrivate(type, pkcs8);
  if (!derived.ok()) return derived.status();
  if (spki_der.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> given = CheckedPublicKey(type, spki_der);
  if (!given.ok()) return given.status();
  if (*given != *derived) {
    return absl::InvalidArgumentError(
        "the private key does not match the public key given with it");
  }
  return absl::OkStatus();
}

// kRocaPrimes are the small primes of the ROCA fingerprint test (Nemec et
// al., CCS 2017): a modulus from the vulnerable generator is, modulo each of
// them, a power of 65537; a random modulus almost never is for all of them.
constexpr unsigned kRocaPrimes[] = {
    3,  5,  7,  11, 13, 17, 19, 23,  29,  31,  37,  41,  43,  47,  53,  59,  61,
    67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149,
    151, 157, 163, 167};

bool HasRocaFingerprint(const BIGNUM* n) {
  for (const unsigned p : kRocaPrimes) {
    const BN_ULONG r = BN_mod_word(n, p);
    if (r == static_cast<BN_ULONG>(-1)) return false;
    // The subgroup of (Z/p)* generated by 65537.
    std::set<unsigned> subgroup;
    unsigned g = 65537 % p, x = 1;
    do {
      subgroup.insert(x);
      x = (x * g) % p;
    } while (x != 1);
    if (subgroup.count(static_cast<unsigned>(r)) == 0) return false;
  }
  return true;
}

}  // namespace

size_t EcFieldSize(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
    case KeyType::kEcdhP256:
      return 32;
    case KeyType::kEcdsaP384:
      return 48;
    case KeyType::kEcdsaP521:
      return 66;
    default:
      return 0;
  }
}

absl::StatusOr<std::string> EcPublicKeyFromCoordinates(KeyType type,
                                                       absl::string_view x,
                                                       absl::string_view y) {
  const size_t width = EcFieldSize(type);
  if (width == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(KeyTypeName(type), " is not an EC key type"));
  }
  if (x.size() != width || y.size() != width) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EC coordinates must be ", width, " bytes each for ", KeyTypeName(type)));
  }
  const std::string spki = Seq(absl::StrCat(
      EcAlgorithm(type), BitString(absl::StrCat("\x04", x, y))));
  absl::StatusOr<std::string> checked = CheckedPublicKey(type, spki);
  if (!checked.ok()) {
    return absl::InvalidArgumentError(
        "the EC point is not on the curve or is not a valid public key");
  }
  return checked;
}

absl::Status EcCoordinatesFromPublicKey(KeyType type,
                                        absl::string_view spki_der,
                                        std::string* x, std::string* y) {
  absl::StatusOr<std::string> checked = CheckedPublicKey(type, spki_der);
  if (!checked.ok()) return checked.status();
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(*checked);
  if (!pkey.ok()) return pkey.status();
  if (!internal::EcPublicCoordinates(pkey->get(), EcFieldSize(type), x, y)) {
    return Error(absl::StatusCode::kInvalidArgument,
                 "could not read the EC public point");
  }
  return absl::OkStatus();
}

absl::StatusOr<SecretData> EcPrivateKeyFromScalar(KeyType type,
                                                  const SecretData& d,
                                                  absl::string_view spki_der) {
  const size_t width = EcFieldSize(type);
  if (width == 0 || d.size() != width) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the EC private scalar must be ", width, " bytes for ",
        KeyTypeName(type)));
  }
  // ECPrivateKey without the optional public key: the parser computes it
  // from d, so the comparison below checks d against the given point.
  std::string inner = Seq(absl::StrCat(Integer("\x01"), Octets(d.InsecureView())));
  std::string der = Seq(absl::StrCat(Integer(""), EcAlgorithm(type), Octets(inner)));
  OPENSSL_cleanse(inner.data(), inner.size());
  SecretData pkcs8 = Secret(&der);
  // EC_KEY_check_key refuses d = 0 (whose public point is infinity) and
  // d >= order, which the PKCS#8 parsers let through.
  absl::StatusOr<EvpPkeyPtr> pkey =
      internal::ParsePkcs8Der(pkcs8.InsecureView());
  if (!pkey.ok()) return pkey.status();
  const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(pkey->get());
  if (ec == nullptr || EC_KEY_check_key(ec) != 1) {
    return Error(absl::StatusCode::kInvalidArgument,
                 "the EC private scalar is not in [1, order - 1]");
  }
  absl::Status status = CheckedPrivateKey(type, pkcs8, spki_der);
  if (!status.ok()) return status;
  return pkcs8;
}

absl::Status CheckRsaPublicKey(absl::string_view spki_der) {
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(spki_der);
  if (!pkey.ok()) return pkey.status();
  if (EVP_PKEY_id(pkey->get()) != EVP_PKEY_RSA ||
      !internal::IsOfferedRsaSize(EVP_PKEY_bits(pkey->get()))) {
    return Error(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("need an RSA key of 2048, 3072 or 4096 bits, got ",
                              internal::DescribeKey(pkey->get())));
  }
  std::string n, e;
  if (!internal::RsaPublicComponents(pkey->get(), &n, &e)) {
    return Error(absl::StatusCode::kInvalidArgument,
                 "could not read the RSA public key");
  }
  uint64_t exponent = 0;
  for (const char c : e) exponent = (exponent << 8) | static_cast<uint8_t>(c);
  if (e.size() > 4 || exponent < 3 || exponent % 2 == 0) {
    return absl::InvalidArgumentError(
        "the RSA public exponent must be odd, at least 3 and below 2^32");
  }
  BignumPtr modulus(BN_bin2bn(Bytes(n), n.size(), nullptr));
  if (modulus == nullptr) {
    return Error(absl::StatusCode::kInternal, "BN_bin2bn failed");
  }
  if (HasRocaFingerprint(modulus.get())) {
    return absl::InvalidArgumentError(
        "the RSA key has the ROCA fingerprint (CVE-2017-15361): its primes "
        "can be recovered; make a new key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RsaPublicKeyFromComponents(absl::string_view n,
                                                       absl::string_view e) {
  const std::string spki = Seq(absl::StrCat(
      RsaAlgorithm(), BitString(Seq(absl::StrCat(Integer(n), Integer(e))))));
  absl::Status status = CheckRsaPublicKey(spki);
  if (!status.ok()) return status;
  absl::StatusOr<ParsedPublicKey> parsed = ParsePublicKey(spki);
  if (!parsed.ok()) return parsed.status();
  return parsed->spki_der;
}

absl::StatusOr<SecretData> RsaPrivateKeyFromComponents(
    const RsaPrivateComponents& c) {
  absl::StatusOr<std::string> spki = RsaPublicKeyFromComponents(c.n, c.e);
  if (!spki.ok()) return spki.status();
  std::string inner = Seq(absl::StrCat(
      Integer(""), Integer(c.n), Integer(c.e), Integer(c.d.InsecureView()),
      Integer(c.p.InsecureView()), Integer(c.q.InsecureView()),
      Integer(c.dp.InsecureView()), Integer(c.dq.InsecureView()),
      Integer(c.qi.InsecureView())));
  std::string der = Seq(absl::StrCat(Integer(""), RsaAlgorithm(), Octets(inner)));
  OPENSSL_cleanse(inner.data(), inner.size());
  SecretData pkcs8 = Secret(&der);
  absl::StatusOr<EvpPkeyPtr> pkey =
      internal::ParsePkcs8Der(pkcs8.InsecureView());
  if (!pkey.ok()) return pkey.status();
  const RSA* rsa = EVP_PKEY_get0_RSA(pkey->get());
  if (rsa == nullptr || RSA_check_key(rsa) != 1) {
    return Error(absl::StatusCode::kInvalidArgument,
                 "the RSA private key components are inconsistent");
  }
  absl::StatusOr<ParsedPublicKey> parsed = ParsePublicKey(*spki);
  if (!parsed.ok()) return parsed.status();
  absl::Status status = CheckedPrivateKey(parsed->type, pkcs8, *spki);
  if (!status.ok()) return status;
  return pkcs8;
}

absl::StatusOr<std::string> Ed25519PublicKeyFromRaw(absl::string_view x) {
  if (x.size() != 32) {
    return absl::InvalidArgumentError("an Ed25519 public key is 32 bytes");
  }
  return CheckedPublicKey(KeyType::kEd25519,
                          Seq(absl::StrCat(Seq(kOidEd25519), BitString(x))));
}

absl::StatusOr<SecretData> Ed25519PrivateKeyFromSeed(
    const SecretData& d, absl::string_view spki_der) {
  if (d.size() != 32) {
    return absl::InvalidArgumentError("an Ed25519 private key is 32 bytes");
  }
  std::string der = Seq(absl::StrCat(Integer(""), Seq(kOidEd25519),
                                     Octets(Octets(d.InsecureView()))));
  SecretData pkcs8 = Secret(&der);
  absl::Status status = CheckedPrivateKey(KeyType::kEd25519, pkcs8, spki_der);
  if (!status.ok()) return status;
  return pkcs8;
}

}  // namespace keyward::crypto
