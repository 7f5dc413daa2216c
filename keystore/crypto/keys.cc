#include "keystore/crypto/keys.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "keystore/crypto/internal/evp_util.h"
#include "keystore/crypto/internal/ossl_compat.h"
#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto {
namespace {

using internal::BioPtr;
using internal::Error;
using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;

// KeySize: what making a key of `type` takes: the raw size of a symmetric
// key, the modulus of an RSA key, or the curve of an EC key. Types without a
// row here have none of these.
struct KeySize {
  KeyType type;
  size_t secret_bytes;
  int rsa_bits;
  int curve_nid;
};

constexpr KeySize kKeySizes[] = {
    {KeyType::kAes256Gcm, 32, 0, NID_undef},
    {KeyType::kHmacSha256, 32, 0, NID_undef},
    {KeyType::kXSalsa20Poly1305, 32, 0, NID_undef},
    {KeyType::kXChaCha20Poly1305, 32, 0, NID_undef},
    {KeyType::kHmacSha384, 48, 0, NID_undef},
    {KeyType::kHmacSha512, 64, 0, NID_undef},
    {KeyType::kRsa2048, 0, 2048, NID_undef},
    {KeyType::kRsa3072, 0, 3072, NID_undef},
    {KeyType::kRsa4096, 0, 4096, NID_undef},
    {KeyType::kEcdsaP256, 0, 0, NID_X9_62_prime256v1},
    {KeyType::kEcdhP256, 0, 0, NID_X9_62_prime256v1},
    {KeyType::kEcdsaP384, 0, 0, NID_secp384r1},
    {KeyType::kEcdsaP521, 0, 0, NID_secp521r1},
};

KeySize SizeOf(KeyType type) {
  for (const KeySize& row : kKeySizes) {
    if (row.type == type) return row;
  }
  return {type, 0, 0, NID_undef};
}

// SymmetricKeySize returns the raw key size of a symmetric |type|, else 0.
size_t SymmetricKeySize(KeyType type) { return SizeOf(type).secret_bytes; }
int RsaBits(KeyType type) { return SizeOf(type).rsa_bits; }
int CurveNid(KeyType type) { return SizeOf(type).curve_nid; }

// Classify returns the KeyType of |pkey| (P-256 as kEcdsaP256), or
// INVALID_ARGUMENT if Keyward does not offer that kind of key.
absl::StatusOr<KeyType> Classify(const EVP_PKEY* pkey) {
  switch (EVP_PKEY_id(pkey)) {
    case EVP_PKEY_ED25519:
      return KeyType::kEd25519;
    case EVP_PKEY_X25519:
      return KeyType::kX25519;
    case EVP_PKEY_EC: {
      const int nid = internal::EcCurveNid(pkey);
      if (nid == NID_X9_62_prime256v1) return KeyType::kEcdsaP256;
      if (nid == NID_secp384r1) return KeyType::kEcdsaP384;
      if (nid == NID_secp521r1) return KeyType::kEcdsaP521;
      break;
    }
    case EVP_PKEY_RSA:
      switch (EVP_PKEY_bits(pkey)) {
        case 2048:
          return KeyType::kRsa2048;
        case 3072:
          return KeyType::kRsa3072;
        case 4096:
          return KeyType::kRsa4096;
      }
      break;
  }
  return Error(absl::StatusCode::kInvalidArgument,
               absl::StrCat("unsupported key: ", internal::DescribeKey(pkey),
                            " (Keyward offers Ed25519, X25519, EC P-256, P-384 and "
                            "P-521, and RSA-2048/3072/4096)"));
}

// CheckType returns OK if |pkey| is a key of asymmetric |type|.
absl::Status CheckType(KeyType type, const EVP_PKEY* pkey) {
  if (SymmetricKeySize(type) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key type ", KeyTypeName(type), " is symmetric: it has no public key"));
  }
  absl::StatusOr<KeyType> actual = Classify(pkey);
  if (!actual.ok()) return actual.status();
  const bool match =
      *actual == type ||
      (type == KeyType::kEcdhP256 && *actual == KeyType::kEcdsaP256);
  if (!match) {
    return absl::InvalidArgumentError(
        absl::StrCat("key is ", internal::DescribeKey(pkey), ", not ",
                     KeyTypeName(type)));
  }
  return absl::OkStatus();
}

absl::StatusOr<EvpPkeyPtr> GenerateAsymmetric(KeyType type) {
  const int id = type == KeyType::kEd25519  ? EVP_PKEY_ED25519
                 : type == KeyType::kX25519 ? EVP_PKEY_X25519
                 : RsaBits(type) != 0       ? EVP_PKEY_RSA
                                            : EVP_PKEY_EC;
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(id, nullptr));
  bool ok = ctx != nullptr && EVP_PKEY_keygen_init(ctx.get()) == 1;
  if (ok && id == EVP_PKEY_RSA) {
    ok = EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), RsaBits(type)) == 1;
  } else if (ok && id == EVP_PKEY_EC) {
    ok = EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), CurveNid(type)) == 1;
  }
  EVP_PKEY* raw = nullptr;
  if (!ok || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return Error(absl::StatusCode::kInternal,
                 absl::StrCat("could not generate a ", KeyTypeName(type), " key"));
  }
  return EvpPkeyPtr(raw);
}

// PassphraseRequest is the state of the PEM passphrase callback.
struct PassphraseRequest {
  const SecretData* passphrase;
  bool asked = false;
};

// PassphraseCallback hands libcrypto the caller's passphrase. With none, it
// fails at once instead of letting libcrypto prompt on the terminal.
int PassphraseCallback(char* buf, int size, int rwflag, void* arg) {
  auto* request = static_cast<PassphraseRequest*>(arg);
  request->asked = true;
  if (request->passphrase == nullptr || size < 0 ||
      request->passphrase->size() > static_cast<size_t>(size)) {
    return -1;
  }
  const absl::string_view pass = request->passphrase->InsecureView();
  if (!pass.empty()) std::memcpy(buf, pass.data(), pass.size());
  return static_cast<int>(pass.size());
}

BioPtr MemoryBio(absl::string_view data) {
  if (data.size() > INT_MAX) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// JsonString returns |s| as a JSON string literal.
std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

bool AlgSuits(KeyType type, absl::string_view alg) {
  auto one_of = [alg](std::initializer_list<absl::string_view> names) {
    for (absl::string_view name : names) {
      if (alg == name) return true;
    }
    return false;
  };
  switch (type) {
    case KeyType::kEd25519:
      return one_of({"EdDSA"});
    case KeyType::kEcdsaP256:
      return one_of({"ES256"});
    case KeyType::kEcdsaP384:
      return one_of({"ES384"});
    case KeyType::kEcdsaP521:
      return one_of({"ES512"});
    case KeyType::kRsa2048:
    case KeyType::kRsa3072:
    case KeyType::kRsa4096:
      return one_of({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                     "RSA-OAEP-256"});
    case KeyType::kEcdhP256:
    case KeyType::kX25519:
      return one_of({"ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"});
    default:
      return false;
  }
}

}  // namespace

absl::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kAes256Gcm:
      return "AES256_GCM";
    case KeyType::kHmacSha256:
      return "HMAC_SHA256";
    case KeyType::kHmacSha384:
      return "HMAC_SHA384";
    case KeyType::kHmacSha512:
      return "HMAC_SHA512";
    case KeyType::kEd25519:
      return "ED25519";
    case KeyType::kEcdsaP256:
      return "ECDSA_P256";
    case KeyType::kEcdsaP384:
      return "ECDSA_P384";
    case KeyType::kRsa2048:
      return "RSA2048";
    case KeyType::kRsa3072:
      return "RSA3072";
    case KeyType::kRsa4096:
      return "RSA4096";
    case KeyType::kEcdhP256:
      return "ECDH_P256";
    case KeyType::kEcdsaP521:
      return "ECDSA_P521";
    case KeyType::kX25519:
      return "X25519";
    case KeyType::kXSalsa20Poly1305:
      return "XSALSA20_POLY1305";
    case KeyType::kXChaCha20Poly1305:
      return "XCHACHA20_POLY1305";
  }
  return "UNKNOWN";
}

absl::StatusOr<SecretData> GenerateKeyMaterial(KeyType type) {
  if (const size_t size = SymmetricKeySize(type); size != 0) {
    return SecretData::Random(size);
  }
  absl::StatusOr<EvpPkeyPtr> pkey = GenerateAsymmetric(type);
  if (!pkey.ok()) return pkey.status();
  return internal::MarshalPkcs8Der(pkey->get());
}

absl::StatusOr<std::string> PublicKeyFromPrivate(KeyType type,
                                                 const SecretData& pkcs8_der) {
  if (SymmetricKeySize(type) != 0) return CheckType(type, nullptr);
  absl::StatusOr<EvpPkeyPtr> pkey =
      internal::ParsePkcs8Der(pkcs8_der.InsecureView());
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckType(type, pkey->get());
  if (!status.ok()) return status;
  return internal::MarshalSpkiDer(pkey->get());
}

absl::StatusOr<ParsedPrivateKey> ParsePrivateKeyPem(
    absl::string_view pem, const SecretData* passphrase,
    const KdfLimits& limits) {
  // PEM_read_bio_PrivateKey derives the key in one call that cannot be
  // interrupted: its cost is bounded here, before it starts.
  absl::Status affordable = CheckEncryptedKeyCost(pem, limits);
  if (!affordable.ok()) return affordable;
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) {
    return Error(absl::StatusCode::kInvalidArgument, "the PEM text is too large");
  }
  PassphraseRequest request{passphrase};
  EvpPkeyPtr pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, PassphraseCallback, &request));
  if (pkey == nullptr) {
    if (request.asked && passphrase == nullptr) {
      return Error(absl::StatusCode::kInvalidArgument,
                   "the private key is encrypted: a passphrase is needed");
    }
    if (request.asked) {
      return Error(absl::StatusCode::kInvalidArgument,
                   "could not decrypt the private key: wrong passphrase or "
                   "damaged file");
    }
    return Error(absl::StatusCode::kInvalidArgument,
                 "no readable private key found: expected a PEM block \"PRIVATE "
                 "KEY\", \"ENCRYPTED PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC "
                 "PRIVATE KEY\"");
  }
  absl::StatusOr<KeyType> type = Classify(pkey.get());
  if (!type.ok()) return type.status();
  absl::StatusOr<SecretData> der = internal::MarshalPkcs8Der(pkey.get());
  if (!der.ok()) return der.status();
  return ParsedPrivateKey{*type, *std::move(der)};
}

absl::StatusOr<ParsedPublicKey> ParsePublicKey(absl::string_view pem_or_der) {
  EvpPkeyPtr pkey;
  if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(pem_or_der),
                       "-----BEGIN")) {
    BioPtr bio = MemoryBio(pem_or_der);
    if (bio != nullptr) {
      pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    }
    if (pkey == nullptr) {
      return Error(absl::StatusCode::kInvalidArgument,
                   "no readable public key found: expected a PEM block "
                   "\"PUBLIC KEY\" (SubjectPublicKeyInfo)");
    }
  } else {
    absl::StatusOr<EvpPkeyPtr> parsed = internal::ParseSpkiDer(pem_or_der);
    if (!parsed.ok()) return parsed.status();
    pkey = *std::move(parsed);
  }
  absl::StatusOr<KeyType> type = Classify(pkey.get());
  if (!type.ok()) return type.status();
  absl::StatusOr<std::string> der = internal::MarshalSpkiDer(pkey.get());
  if (!der.ok()) return der.status();
  return ParsedPublicKey{*type, *std::move(der)};
}

absl::StatusOr<std::string> SpkiToPem(absl::string_view spki_der) {
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(spki_der);
  if (!pkey.ok()) return pkey.status();
  absl::StatusOr<std::string> der = internal::MarshalSpkiDer(pkey->get());
  if (!der.ok()) return der.status();
  const std::string base64 = absl::Base64Escape(*der);
  std::string pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) {
    absl::StrAppend(&pem, absl::string_view(base64).substr(i, 64), "\n");
  }
  absl::StrAppend(&pem, "-----END PUBLIC KEY-----\n");
  return pem;
}

absl::StatusOr<std::string> SpkiToJwk(KeyType type, absl::string_view spki_der,
                                      absl::string_view kid,
                                      absl::string_view alg) {
  absl::StatusOr<EvpPkeyPtr> pkey = internal::ParseSpkiDer(spki_der);
  if (!pkey.ok()) return pkey.status();
  absl::Status status = CheckType(type, pkey->get());
  if (!status.ok()) return status;
  if (!alg.empty() && !AlgSuits(type, alg)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JWK alg ", JsonString(alg), " does not suit a ", KeyTypeName(type),
        " key"));
  }
  auto b64 = [](absl::string_view s) { return absl::WebSafeBase64Escape(s); };
  std::string jwk;
  bool ok = true;
  if (type == KeyType::kEd25519 || type == KeyType::kX25519) {
    uint8_t raw[32];
    size_t len = sizeof(raw);
    ok = EVP_PKEY_get_raw_public_key(pkey->get(), raw, &len) == 1 &&
         len == sizeof(raw);
    jwk = absl::StrCat(R"({"kty":"OKP","crv":")",
                       type == KeyType::kEd25519 ? "Ed25519" : "X25519",
                       R"(","x":")",
                       b64(absl::string_view(reinterpret_cast<char*>(raw), len)),
                       "\"");
  } else if (RsaBits(type) != 0) {
    std::string n, e;
    ok = internal::RsaPublicComponents(pkey->get(), &n, &e);
    jwk = absl::StrCat(R"({"kty":"RSA","n":")", b64(n), R"(","e":")", b64(e),
                       "\"");
  } else {
    const int nid = CurveNid(type);
    const size_t width = nid == NID_X9_62_prime256v1 ? 32
                         : nid == NID_secp384r1      ? 48
                                                     : 66;
    std::string x, y;
    ok = internal::EcPublicCoordinates(pkey->get(), width, &x, &y);
    jwk = absl::StrCat(R"({"kty":"EC","crv":")",
                       width == 32 ? "P-256" : width == 48 ? "P-384" : "P-521",
                       R"(","x":")", b64(x), R"(","y":")", b64(y), "\"");
  }
  if (!ok) {
    return Error(absl::StatusCode::kInternal,
                 "could not read the public key's components");
  }
  if (!kid.empty()) absl::StrAppend(&jwk, ",\"kid\":", JsonString(kid));
  if (!alg.empty()) absl::StrAppend(&jwk, ",\"alg\":", JsonString(alg));
  jwk.push_back('}');
  return jwk;
}

}  // namespace keyward::crypto
