// JWE (RFC 7516/7518/8037): the algorithm tables, the key constructors and
// the compact codec. Over ~600 lines on purpose: all three use the private
// Family/Info tables below, which a split would have to publish in a header
// for no caller's benefit.
#include "keystore/jose/jwe.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/aes_cbc_hmac.h"
#include "keystore/crypto/aes_gcm_any.h"
#include "keystore/crypto/aes_key_wrap.h"
#include "keystore/crypto/key_components.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/nacl.h"
#include "keystore/crypto/rsa_oaep_sha1.h"
#include "keystore/jose/base64url.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/internal/compact.h"

namespace keyward::jose {
namespace {

using crypto::SecretData;

enum class Family { kRsa, kDir, kKw, kGcmKw, kEcdhEs, kEcdhEsKw };

struct AlgInfo {
  JweAlgorithm alg;
  absl::string_view name;
  Family family;
  size_t kek_size;  // KW / GCMKW / ECDH-ES+KW: the wrapping key's size.
};

constexpr AlgInfo kAlgs[] = {
    {JweAlgorithm::kRsaOaep, "RSA-OAEP", Family::kRsa, 0},
    {JweAlgorithm::kRsaOaep256, "RSA-OAEP-256", Family::kRsa, 0},
    {JweAlgorithm::kDir, "dir", Family::kDir, 0},
    {JweAlgorithm::kA128Kw, "A128KW", Family::kKw, 16},
    {JweAlgorithm::kA192Kw, "A192KW", Family::kKw, 24},
    {JweAlgorithm::kA256Kw, "A256KW", Family::kKw, 32},
    {JweAlgorithm::kA128GcmKw, "A128GCMKW", Family::kGcmKw, 16},
    {JweAlgorithm::kA192GcmKw, "A192GCMKW", Family::kGcmKw, 24},
    {JweAlgorithm::kA256GcmKw, "A256GCMKW", Family::kGcmKw, 32},
    {JweAlgorithm::kEcdhEs, "ECDH-ES", Family::kEcdhEs, 0},
    {JweAlgorithm::kEcdhEsA128Kw, "ECDH-ES+A128KW", Family::kEcdhEsKw, 16},
    {JweAlgorithm::kEcdhEsA192Kw, "ECDH-ES+A192KW", Family::kEcdhEsKw, 24},
    {JweAlgorithm::kEcdhEsA256Kw, "ECDH-ES+A256KW", Family::kEcdhEsKw, 32},
};

struct EncInfo {
  JweEncryption enc;
  absl::string_view name;
  size_t key_size;
  bool gcm;
};

constexpr EncInfo kEncs[] = {
    {JweEncryption::kA128CbcHs256, "A128CBC-HS256", 32, false},
    {JweEncryption::kA192CbcHs384, "A192CBC-HS384", 48, false},
    {JweEncryption::kA256CbcHs512, "A256CBC-HS512", 64, false},
    {JweEncryption::kA128Gcm, "A128GCM", 16, true},
    {JweEncryption::kA192Gcm, "A192GCM", 24, true},
    {JweEncryption::kA256Gcm, "A256GCM", 32, true},
};

const AlgInfo& Info(JweAlgorithm alg) {
  for (const AlgInfo& info : kAlgs) {
    if (info.alg == alg) return info;
  }
  return kAlgs[0];
}

const EncInfo& Info(JweEncryption enc) {
  for (const EncInfo& info : kEncs) {
    if (info.enc == enc) return info;
  }
  return kEncs[0];
}

// The content cipher's IV and tag sizes.
size_t IvSize(const EncInfo& e) { return e.gcm ? 12 : 16; }
size_t TagSize(const EncInfo& e) { return e.gcm ? 16 : e.key_size / 2; }

absl::StatusOr<std::unique_ptr<crypto::Aead>> ContentAead(
    const EncInfo& e, const SecretData& cek) {
  return e.gcm ? crypto::AesGcmAnyKeySize::Create(cek)
               : crypto::AesCbcHmacSha2::Create(cek);
}

absl::Status DecryptionFailed() {
  return TokenError(TokenFailure::kBadSignature, "JWE decryption failed");
}

absl::Status WrongFamily(JweAlgorithm alg, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(JweAlgorithmName(alg), " is not ", what));
}

std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

// EcdhEsKey derives the ECDH-ES key (RFC 7518 4.6.2): the CEK for direct
// agreement, the key-wrapping key for ECDH-ES+A*KW.
absl::StatusOr<SecretData> EcdhEsKey(const SecretData& z, const AlgInfo& a,
                                     const EncInfo& e, absl::string_view apu,
                                     absl::string_view apv) {
  const bool direct = a.family == Family::kEcdhEs;
  const absl::string_view algorithm_id = direct ? e.name : a.name;
  const size_t size = direct ? e.key_size : a.kek_size;
  const std::string other_info = absl::StrCat(
      Be32(algorithm_id.size()), algorithm_id, Be32(apu.size()), apu,
      Be32(apv.size()), apv, Be32(static_cast<uint32_t>(size * 8)));
  return crypto::ConcatKdfSha256(z, other_info, size);
}

}  // namespace

absl::string_view JweAlgorithmName(JweAlgorithm alg) { return Info(alg).name; }

std::optional<JweAlgorithm> JweAlgorithmFromName(absl::string_view name) {
  for (const AlgInfo& info : kAlgs) {
    if (info.name == name) return info.alg;
  }
  return std::nullopt;
}

absl::string_view JweEncryptionName(JweEncryption enc) { return Info(enc).name; }

std::optional<JweEncryption> JweEncryptionFromName(absl::string_view name) {
  for (const EncInfo& info : kEncs) {
    if (info.name == name) return info.enc;
  }
  return std::nullopt;
}

size_t JweEncryptionKeySize(JweEncryption enc) { return Info(enc).key_size; }

// --- keys ---------------------------------------------------------------------

namespace {

absl::Status CheckSymmetric(JweAlgorithm alg, size_t size) {
  const AlgInfo& a = Info(alg);
  if (a.family == Family::kDir) {
    for (const EncInfo& e : kEncs) {
      if (e.key_size == size) return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("a dir key of ", size, " bytes fits no content cipher"));
  }
  if (a.family != Family::kKw && a.family != Family::kGcmKw) {
    return WrongFamily(alg, "a symmetric key-management algorithm");
  }
  if (size != a.kek_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        a.name, " needs a ", a.kek_size, "-byte key, got ", size));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JweEncryptionKey> JweEncryptionKey::ForRsa(
    JweAlgorithm alg, absl::string_view spki_der, std::string kid) {
  if (Info(alg).family != Family::kRsa) return WrongFamily(alg, "RSA-OAEP");
  absl::Status status = crypto::CheckRsaPublicKey(spki_der);
  if (!status.ok()) return status;
  auto encrypter = alg == JweAlgorithm::kRsaOaep
                       ? crypto::NewRsaOaepSha1Encrypter(spki_der)
                       : crypto::NewAsymmetricEncrypter(spki_der);
  if (!encrypter.ok()) return encrypter.status();
  JweEncryptionKey key(alg, std::move(kid));
  key.rsa_ = *std::move(encrypter);
  return key;
}

absl::StatusOr<JweEncryptionKey> JweEncryptionKey::ForEcdhP256(
    JweAlgorithm alg, absl::string_view spki_der, std::string kid) {
  const Family f = Info(alg).family;
  if (f != Family::kEcdhEs && f != Family::kEcdhEsKw) {
    return WrongFamily(alg, "ECDH-ES");
  }
  std::string x, y;  // Checks it is a P-256 point.
  absl::Status status = crypto::EcCoordinatesFromPublicKey(
      crypto::KeyType::kEcdhP256, spki_der, &x, &y);
  if (!status.ok()) return status;
  JweEncryptionKey key(alg, std::move(kid));
  key.recipient_spki_ = std::string(spki_der);
  return key;
}

absl::StatusOr<JweEncryptionKey> JweEncryptionKey::ForX25519(
    JweAlgorithm alg, absl::string_view spki_der, std::string kid) {
  const Family f = Info(alg).family;
  if (f != Family::kEcdhEs && f != Family::kEcdhEsKw) {
    return WrongFamily(alg, "ECDH-ES");
  }
  absl::StatusOr<std::string> raw = crypto::X25519RawPublicKey(spki_der);
  if (!raw.ok()) return raw.status();
  absl::Status usable = crypto::CheckPeerPublicKey(*raw);
  if (!usable.ok()) return usable;
  JweEncryptionKey key(alg, std::move(kid));
  key.recipient_spki_ = std::string(spki_der);
  key.x25519_ = true;
  return key;
}

absl::StatusOr<JweEncryptionKey> JweEncryptionKey::ForSymmetric(
    JweAlgorithm alg, const SecretData& secret, std::string kid) {
  absl::Status status = CheckSymmetric(alg, secret.size());
  if (!status.ok()) return status;
  JweEncryptionKey key(alg, std::move(kid));
  key.secret_ = std::make_shared<const SecretData>(secret.InsecureView());
  return key;
}

absl::StatusOr<JweDecryptionKey> JweDecryptionKey::ForRsa(
    JweAlgorithm alg, const SecretData& pkcs8_der) {
  if (Info(alg).family != Family::kRsa) return WrongFamily(alg, "RSA-OAEP");
  auto decrypter = alg == JweAlgorithm::kRsaOaep
                       ? crypto::NewRsaOaepSha1Decrypter(pkcs8_der)
                       : crypto::NewAsymmetricDecrypter(pkcs8_der);
  if (!decrypter.ok()) return decrypter.status();
  return ForRsaDecrypter(alg, *std::move(decrypter));
}

absl::StatusOr<JweDecryptionKey> JweDecryptionKey::ForRsaDecrypter(
    JweAlgorithm alg,
    std::shared_ptr<const crypto::AsymmetricDecrypter> decrypter) {
  if (Info(alg).family != Family::kRsa) return WrongFamily(alg, "RSA-OAEP");
  if (decrypter == nullptr) return absl::InvalidArgumentError("null decrypter");
  JweDecryptionKey key(alg);
  key.rsa_ = std::move(decrypter);
  return key;
}

absl::StatusOr<JweDecryptionKey> JweDecryptionKey::ForEcdhP256(
    JweAlgorithm alg, const SecretData& pkcs8_der) {
  auto ecdh = crypto::NewEcdhP256PrivateKey(pkcs8_der);
  if (!ecdh.ok()) return ecdh.status();
  return ForEcdh(alg, *std::move(ecdh));
}

absl::StatusOr<JweDecryptionKey> JweDecryptionKey::ForX25519(
    JweAlgorithm alg, const SecretData& pkcs8_der) {
  auto ecdh = crypto::NewX25519EcdhPrivateKey(pkcs8_der);
  if (!ecdh.ok()) return ecdh.status();
  return ForEcdh(alg, *std::move(ecdh));
}

absl::StatusOr<JweDecryptionKey> JweDecryptionKey::ForEcdh(
    JweAlgorithm alg, std::shared_ptr<const crypto::EcdhPrivateKey> ecdh) {
  const Family f = Info(alg).family;
  if (f != Family::kEcdhEs && f != Family::kEcdhEsKw) {
    return WrongFamily(alg, "ECDH-ES");
  }
  if (ecdh == nullptr) return absl::InvalidArgumentError("null ECDH key");
  JweDecryptionKey key(alg);
  key.ecdh_ = std::move(ecdh);
  return key;
}

absl::StatusOr<JweDecryptionKey> JweDecryptionKey::ForSymmetric(
    JweAlgorithm alg, const SecretData& secret) {
  absl::Status status = CheckSymmetric(alg, secret.size());
  if (!status.ok()) return status;
  JweDecryptionKey key(alg);
  key.secret_ = std::make_shared<const SecretData>(secret.InsecureView());
  return key;
}

// --- the codec ----------------------------------------------------------------

// JweCodec holds the steps that need the keys' insides.
class JweCodec {
 public:
  static absl::StatusOr<std::string> Encrypt(absl::string_view plaintext,
                                             const JweEncryptionKey& key,
                                             JweEncryption enc,
                                             const JweEncryptOptions& options);
  static absl::StatusOr<DecryptedJwe> Decrypt(absl::string_view token,
                                              const JweDecryptionKey& key,
                                              const JweDecryptOptions& options);
};

absl::StatusOr<std::string> JweCodec::Encrypt(absl::string_view plaintext,
                                              const JweEncryptionKey& key,
                                              JweEncryption enc,
                                              const JweEncryptOptions& options) {
  const AlgInfo& a = Info(key.alg_);
  const EncInfo& e = Info(enc);
  JsonValue header = JsonValue::Object();
  header.Set("alg", JsonValue::String(std::string(a.name)));
  header.Set("enc", JsonValue::String(std::string(e.name)));
  if (!key.kid_.empty()) header.Set("kid", JsonValue::String(key.kid_));
  SecretData cek;
  std::string encrypted_key;
  switch (a.family) {
    case Family::kRsa: {
      cek = SecretData::Random(e.key_size);
      absl::StatusOr<std::string> wrapped = key.rsa_->Encrypt(cek.InsecureView(), "");
      if (!wrapped.ok()) return wrapped.status();
      encrypted_key = *std::move(wrapped);
      break;
    }
    case Family::kDir:
      if (key.secret_->size() != e.key_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dir: the key is ", key.secret_->size(), " bytes but ", e.name,
            " needs ", e.key_size));
      }
      cek = SecretData(key.secret_->InsecureView());
      break;
    case Family::kKw: {
      cek = SecretData::Random(e.key_size);
      absl::StatusOr<std::string> wrapped = crypto::AesKeyWrap(*key.secret_, cek);
      if (!wrapped.ok()) return wrapped.status();
      encrypted_key = *std::move(wrapped);
      break;
    }
    case Family::kGcmKw: {
      cek = SecretData::Random(e.key_size);
      auto gcm = crypto::AesGcmAnyKeySize::Create(*key.secret_);
      if (!gcm.ok()) return gcm.status();
      absl::StatusOr<std::string> sealed = (*gcm)->Encrypt(cek.InsecureView(), "");
      if (!sealed.ok()) return sealed.status();
      const absl::string_view s = *sealed;
      header.Set("iv", JsonValue::String(Base64UrlEncode(s.substr(0, 12))));
      header.Set("tag", JsonValue::String(Base64UrlEncode(s.substr(s.size() - 16))));
      encrypted_key = std::string(s.substr(12, s.size() - 28));
      break;
    }
    case Family::kEcdhEs:
    case Family::kEcdhEsKw: {
      absl::StatusOr<crypto::EcdhEphemeralResult> agreed =
          key.x25519_ ? crypto::X25519Ephemeral(key.recipient_spki_)
                      : crypto::EcdhP256Ephemeral(key.recipient_spki_);
      if (!agreed.ok()) return agreed.status();
      JsonValue epk = JsonValue::Object();
      if (key.x25519_) {  // RFC 8037: an OKP key
        absl::StatusOr<std::string> x =
            crypto::X25519RawPublicKey(agreed->ephemeral_spki_der);
        if (!x.ok()) return x.status();
        epk.Set("kty", JsonValue::String("OKP"));
        epk.Set("crv", JsonValue::String("X25519"));
        epk.Set("x", JsonValue::String(Base64UrlEncode(*x)));
      } else {
        std::string x, y;
        absl::Status status = crypto::EcCoordinatesFromPublicKey(
            crypto::KeyType::kEcdhP256, agreed->ephemeral_spki_der, &x, &y);
        if (!status.ok()) return status;
        epk.Set("kty", JsonValue::String("EC"));
        epk.Set("crv", JsonValue::String("P-256"));
        epk.Set("x", JsonValue::String(Base64UrlEncode(x)));
        epk.Set("y", JsonValue::String(Base64UrlEncode(y)));
      }
      header.Set("epk", std::move(epk));
      absl::StatusOr<SecretData> derived =
          EcdhEsKey(agreed->shared_secret, a, e, "", "");
      if (!derived.ok()) return derived.status();
      if (a.family == Family::kEcdhEs) {
        cek = *std::move(derived);
      } else {
        cek = SecretData::Random(e.key_size);
        absl::StatusOr<std::string> wrapped = crypto::AesKeyWrap(*derived, cek);
        if (!wrapped.ok()) return wrapped.status();
        encrypted_key = *std::move(wrapped);
      }
      break;
    }
  }
  if (!options.typ.empty()) header.Set("typ", JsonValue::String(options.typ));
  if (!options.cty.empty()) header.Set("cty", JsonValue::String(options.cty));
  const std::string encoded_header = Base64UrlEncode(header.Serialize());
  auto aead = ContentAead(e, cek);
  if (!aead.ok()) return aead.status();
  absl::StatusOr<std::string> sealed = (*aead)->Encrypt(plaintext, encoded_header);
  if (!sealed.ok()) return sealed.status();
  const absl::string_view s = *sealed;
  const size_t iv = IvSize(e), tag = TagSize(e);
  std::string token = absl::StrCat(
      encoded_header, ".", Base64UrlEncode(encrypted_key), ".",
      Base64UrlEncode(s.substr(0, iv)), ".",
      Base64UrlEncode(s.substr(iv, s.size() - iv - tag)), ".",
      Base64UrlEncode(s.substr(s.size() - tag)));
  if (token.size() > options.max_token_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the JWE would be longer than ", options.max_token_bytes, " bytes"));
  }
  return token;
}

absl::StatusOr<ParsedJweHeader> ParseCompactJweHeader(
    absl::string_view token, const JweDecryptOptions& options) {
  absl::StatusOr<std::vector<absl::string_view>> parts =
      internal::SplitCompact(token, 5, options.max_token_bytes, "a JWE");
  if (!parts.ok()) return parts.status();
  absl::StatusOr<JsonValue> header = internal::DecodeHeader((*parts)[0]);
  if (!header.ok()) return header.status();
  absl::Status status = internal::CheckHeader(*header, options.understood_crit);
  if (!status.ok()) return status;
  const std::string alg_name = internal::StringMember(*header, "alg");
  const std::optional<JweAlgorithm> alg = JweAlgorithmFromName(alg_name);
  if (!alg.has_value()) {
    return TokenError(TokenFailure::kUnsupportedHeader,
                      absl::StrCat("JWE alg \"", alg_name, "\" is not offered"));
  }
  const JsonValue* enc_value = header->Find("enc");
  const std::optional<JweEncryption> enc =
      enc_value != nullptr && enc_value->is_string()
          ? JweEncryptionFromName(enc_value->string_value())
          : std::nullopt;
  if (!enc.has_value()) {
    return TokenError(TokenFailure::kUnsupportedHeader,
                      "JWE \"enc\" is missing or not offered");
  }
  ParsedJweHeader out;
  out.alg = *alg;
  out.enc = *enc;
  if (header->Find("kid") != nullptr) {
    out.kid = internal::StringMember(*header, "kid");
  }
  out.header_json = *Base64UrlDecode((*parts)[0]);
  out.header = *std::move(header);
  return out;
}

namespace {

// HeaderBytes decodes the base64url string member |name| of |header|, which
// must be |size| bytes (0: any size); kMalformed otherwise.
absl::StatusOr<std::string> HeaderBytes(const JsonValue& header,
                                        absl::string_view name, size_t size,
                                        bool required) {
  const JsonValue* v = header.Find(name);
  if (v == nullptr && !required) return std::string();
  absl::StatusOr<std::string> bytes =
      v != nullptr && v->is_string()
          ? Base64UrlDecode(v->string_value())
          : absl::StatusOr<std::string>(absl::InvalidArgumentError("missing"));
  if (!bytes.ok() || (size != 0 && bytes->size() != size)) {
    return TokenError(TokenFailure::kMalformed,
                      absl::StrCat("header \"", name, "\" is missing or malformed"));
  }
  return bytes;
}

// EpkSpki turns the header's "epk" into SPKI DER, refusing anything but a
// public P-256 point on the curve.
absl::StatusOr<std::string> EpkSpki(const JsonValue& header) {
  const JsonValue* epk = header.Find("epk");
  if (epk != nullptr && epk->is_object() &&
      internal::StringMember(*epk, "kty") == "OKP") {
    // RFC 8037: X25519 only; a key of small order is refused.
    if (internal::StringMember(*epk, "crv") != "X25519" ||
        epk->Find("d") != nullptr) {
      return TokenError(TokenFailure::kMalformed,
                        "header \"epk\" is not an X25519 public key");
    }
    absl::StatusOr<std::string> x = HeaderBytes(*epk, "x", 32, true);
    if (!x.ok()) return x.status();
    absl::StatusOr<std::string> spki = crypto::X25519PublicKeyFromRaw(*x);
    if (!spki.ok() || !crypto::CheckPeerPublicKey(*x).ok()) {
      return TokenError(TokenFailure::kMalformed,
                        "header \"epk\" is not a usable X25519 key");
    }
    return spki;
  }
  if (epk == nullptr || !epk->is_object() ||
      internal::StringMember(*epk, "kty") != "EC" ||
      internal::StringMember(*epk, "crv") != "P-256" ||
      epk->Find("d") != nullptr) {
    return TokenError(TokenFailure::kMalformed,
                      "header \"epk\" is not a P-256 EC public key");
  }
  absl::StatusOr<std::string> x = HeaderBytes(*epk, "x", 32, true);
  absl::StatusOr<std::string> y = HeaderBytes(*epk, "y", 32, true);
  if (!x.ok()) return x.status();
  if (!y.ok()) return y.status();
  absl::StatusOr<std::string> spki =
      crypto::EcPublicKeyFromCoordinates(crypto::KeyType::kEcdhP256, *x, *y);
  if (!spki.ok()) {
    return TokenError(TokenFailure::kMalformed,
                      "header \"epk\" is not a point on P-256");
  }
  return spki;
}

}  // namespace

absl::StatusOr<DecryptedJwe> JweCodec::Decrypt(absl::string_view token,
                                               const JweDecryptionKey& key,
                                               const JweDecryptOptions& options) {
  absl::StatusOr<ParsedJweHeader> parsed = ParseCompactJweHeader(token, options);
  if (!parsed.ok()) return parsed.status();
  const AlgInfo& a = Info(key.alg_);
  const EncInfo& e = Info(parsed->enc);
  if (parsed->alg != key.alg_) {
    return TokenError(TokenFailure::kAlgorithmMismatch,
                      absl::StrCat("token alg ", JweAlgorithmName(parsed->alg),
                                   " is not the key's alg ", a.name));
  }
  bool allowed = options.allowed_encryptions.empty();
  for (JweEncryption ok : options.allowed_encryptions) allowed |= ok == e.enc;
  if (a.family == Family::kDir) allowed &= key.secret_->size() == e.key_size;
  if (!allowed) {
    return TokenError(TokenFailure::kAlgorithmMismatch,
                      absl::StrCat("enc ", e.name, " is not allowed with this key"));
  }
  const std::vector<absl::string_view> parts = *internal::SplitCompact(
      token, 5, options.max_token_bytes, "a JWE");
  absl::StatusOr<std::string> encrypted_key =
      internal::DecodePart(parts[1], "encrypted key");
  absl::StatusOr<std::string> iv = internal::DecodePart(parts[2], "iv");
  absl::StatusOr<std::string> ciphertext = internal::DecodePart(parts[3], "ciphertext");
  absl::StatusOr<std::string> tag = internal::DecodePart(parts[4], "tag");
  for (const auto* part : {&encrypted_key, &iv, &ciphertext, &tag}) {
    if (!part->ok()) return part->status();
  }
  const bool no_encrypted_key =
      a.family == Family::kDir || a.family == Family::kEcdhEs;
  if (no_encrypted_key && !encrypted_key->empty()) {
    return TokenError(TokenFailure::kMalformed,
                      absl::StrCat(a.name, " takes no encrypted key"));
  }

  // Recover the CEK; any failure continues with a random one.
  absl::StatusOr<SecretData> cek = absl::InternalError("unset");
  switch (a.family) {
    case Family::kRsa: {
      absl::StatusOr<std::string> plain = key.rsa_->Decrypt(*encrypted_key, "");
      if (plain.ok()) {
        cek = SecretData(*plain);
        std::fill(plain->begin(), plain->end(), '\0');
      }
      break;
    }
    case Family::kDir:
      cek = SecretData(key.secret_->InsecureView());
      break;
    case Family::kKw:
      cek = crypto::AesKeyUnwrap(*key.secret_, *encrypted_key);
      break;
    case Family::kGcmKw: {
      absl::StatusOr<std::string> kw_iv = HeaderBytes(parsed->header, "iv", 12, true);
      absl::StatusOr<std::string> kw_tag = HeaderBytes(parsed->header, "tag", 16, true);
      if (!kw_iv.ok()) return kw_iv.status();
      if (!kw_tag.ok()) return kw_tag.status();
      auto gcm = crypto::AesGcmAnyKeySize::Create(*key.secret_);
      if (!gcm.ok()) return gcm.status();
      absl::StatusOr<std::string> plain =
          (*gcm)->Decrypt(absl::StrCat(*kw_iv, *encrypted_key, *kw_tag), "");
      if (plain.ok()) {
        cek = SecretData(*plain);
        std::fill(plain->begin(), plain->end(), '\0');
      }
      break;
    }
    case Family::kEcdhEs:
    case Family::kEcdhEsKw: {
      absl::StatusOr<std::string> epk = EpkSpki(parsed->header);
      if (!epk.ok()) return epk.status();
      absl::StatusOr<std::string> apu = HeaderBytes(parsed->header, "apu", 0, false);
      absl::StatusOr<std::string> apv = HeaderBytes(parsed->header, "apv", 0, false);
      if (!apu.ok()) return apu.status();
      if (!apv.ok()) return apv.status();
      absl::StatusOr<SecretData> z = key.ecdh_->ComputeSharedSecret(*epk);
      if (!z.ok()) {
        return TokenError(TokenFailure::kMalformed,
                          absl::StrCat("header \"epk\": ", z.status().message()));
      }
      absl::StatusOr<SecretData> derived = EcdhEsKey(*z, a, e, *apu, *apv);
      if (!derived.ok()) return derived.status();
      if (a.family == Family::kEcdhEs) {
        cek = *std::move(derived);
      } else {
        cek = crypto::AesKeyUnwrap(*derived, *encrypted_key);
      }
      break;
    }
  }
  if (!cek.ok() || cek->size() != e.key_size) {
    cek = SecretData::Random(e.key_size);
  }
  if (iv->size() != IvSize(e) || tag->size() != TagSize(e)) {
    return DecryptionFailed();
  }
  auto aead = ContentAead(e, *cek);
  if (!aead.ok()) return DecryptionFailed();
  absl::StatusOr<std::string> plaintext =
      (*aead)->Decrypt(absl::StrCat(*iv, *ciphertext, *tag), parts[0]);
  if (!plaintext.ok()) return DecryptionFailed();
  DecryptedJwe out;
  out.header = std::move(parsed->header);
  out.header_json = std::move(parsed->header_json);
  out.kid = std::move(parsed->kid);
  out.plaintext = *std::move(plaintext);
  return out;
}

absl::StatusOr<std::string> EncryptCompact(absl::string_view plaintext,
                                           const JweEncryptionKey& key,
                                           JweEncryption enc,
                                           const JweEncryptOptions& options) {
  return JweCodec::Encrypt(plaintext, key, enc, options);
}

absl::StatusOr<DecryptedJwe> DecryptCompact(absl::string_view token,
                                            const JweDecryptionKey& key,
                                            const JweDecryptOptions& options) {
  return JweCodec::Decrypt(token, key, options);
}

absl::StatusOr<std::string> EncryptNestedJwt(absl::string_view jws,
                                             const JweEncryptionKey& key,
                                             JweEncryption enc,
                                             const JweEncryptOptions& options) {
  if (!options.cty.empty()) {
    return absl::InvalidArgumentError("a nested JWT's cty is always \"JWT\"");
  }
  // The inner token must at least be a well-formed compact JWS.
  JwsVerifyOptions parse;
  parse.max_token_bytes = options.max_token_bytes;
  absl::StatusOr<ParsedJws> parsed = ParseCompactJws(jws, parse);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the nested token is not a JWS: ", parsed.status().message()));
  }
  JweEncryptOptions nested = options;
  nested.cty = "JWT";
  return EncryptCompact(jws, key, enc, nested);
}

absl::StatusOr<VerifiedJwt> DecryptNestedJwt(absl::string_view token,
                                             const JweDecryptionKey& key,
                                             const JwsKeyResolver& resolve,
                                             const JweDecryptOptions& decrypt,
                                             const JwtVerifyOptions& verify) {
  absl::StatusOr<DecryptedJwe> jwe = DecryptCompact(token, key, decrypt);
  if (!jwe.ok()) return jwe.status();
  const JsonValue* cty = jwe->header.Find("cty");
  if (cty == nullptr || !TypMatches(cty->string_value(), "JWT")) {
    return TokenError(TokenFailure::kMalformed,
                      "the JWE does not carry a nested JWT (cty is not \"JWT\")");
  }
  return VerifyJwt(jwe->plaintext, resolve, verify);
}

}  // namespace keyward::jose
