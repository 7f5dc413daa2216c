#include "keystore/jose/jws.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/key_components.h"
#include "keystore/jose/base64url.h"
#include "keystore/jose/internal/compact.h"

namespace keyward::jose {
namespace {

struct AlgInfo {
  JwsAlgorithm alg;
  absl::string_view name;
};

constexpr AlgInfo kAlgs[] = {
    {JwsAlgorithm::kHs256, "HS256"}, {JwsAlgorithm::kHs384, "HS384"},
    {JwsAlgorithm::kHs512, "HS512"}, {JwsAlgorithm::kRs256, "RS256"},
    {JwsAlgorithm::kRs384, "RS384"}, {JwsAlgorithm::kRs512, "RS512"},
    {JwsAlgorithm::kPs256, "PS256"}, {JwsAlgorithm::kPs384, "PS384"},
    {JwsAlgorithm::kPs512, "PS512"}, {JwsAlgorithm::kEs256, "ES256"},
    {JwsAlgorithm::kEs384, "ES384"}, {JwsAlgorithm::kEs512, "ES512"},
    {JwsAlgorithm::kEdDsa, "EdDSA"},
};

bool IsRsa(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kRs256: case JwsAlgorithm::kRs384:
    case JwsAlgorithm::kRs512: case JwsAlgorithm::kPs256:
    case JwsAlgorithm::kPs384: case JwsAlgorithm::kPs512:
      return true;
    default:
      return false;
  }
}

// HmacSize returns the tag size of an HMAC |alg|, else 0.
size_t HmacSize(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kHs256: return 32;
    case JwsAlgorithm::kHs384: return 48;
    case JwsAlgorithm::kHs512: return 64;
    default: return 0;
  }
}

// SignatureSizeOk says whether |size| fits |alg|'s signatures.
bool SignatureSizeOk(JwsAlgorithm alg, size_t size) {
  if (IsHmac(alg)) return size == HmacSize(alg);
  if (IsRsa(alg)) return size == 256 || size == 384 || size == 512;
  switch (alg) {
    case JwsAlgorithm::kEs256: return size == 64;
    case JwsAlgorithm::kEs384: return size == 96;
    case JwsAlgorithm::kEs512: return size == 132;
    case JwsAlgorithm::kEdDsa: return size == 64;
    default: return false;
  }
}

// What SignCompact reserves for the header JSON beside the kid.
constexpr size_t kHeaderJsonReserve = 64;

// MaxSignatureSize is the largest signature SignatureSizeOk takes for |alg|.
size_t MaxSignatureSize(JwsAlgorithm alg) {
  if (IsHmac(alg)) return HmacSize(alg);
  if (IsRsa(alg)) return 512;
  return alg == JwsAlgorithm::kEs512 ? 132 : alg == JwsAlgorithm::kEs384 ? 96 : 64;
}

// CryptoAlgorithm returns the crypto layer's algorithm for |alg|; nullopt
// for HMAC.
std::optional<crypto::SignatureAlgorithm> CryptoAlgorithm(JwsAlgorithm alg) {
  using SA = crypto::SignatureAlgorithm;
  switch (alg) {
    case JwsAlgorithm::kRs256: return SA::kRsaPkcs1Sha256;
    case JwsAlgorithm::kRs384: return SA::kRsaPkcs1Sha384;
    case JwsAlgorithm::kRs512: return SA::kRsaPkcs1Sha512;
    case JwsAlgorithm::kPs256: return SA::kRsaPssSha256;
    case JwsAlgorithm::kPs384: return SA::kRsaPssSha384;
    case JwsAlgorithm::kPs512: return SA::kRsaPssSha512;
    case JwsAlgorithm::kEs256: return SA::kEcdsaP256Sha256P1363;
    case JwsAlgorithm::kEs384: return SA::kEcdsaP384Sha384P1363;
    case JwsAlgorithm::kEs512: return SA::kEcdsaP521Sha512P1363;
    case JwsAlgorithm::kEdDsa: return SA::kEd25519;
    default: return std::nullopt;
  }
}

absl::Status NotHmac(JwsAlgorithm alg) {
  return absl::InvalidArgumentError(absl::StrCat(
      JwsAlgorithmName(alg), " is an HMAC algorithm: use a crypto::Mac"));
}

}  // namespace

absl::string_view JwsAlgorithmName(JwsAlgorithm alg) {
  for (const AlgInfo& info : kAlgs) {
    if (info.alg == alg) return info.name;
  }
  return "UNKNOWN";
}

std::optional<JwsAlgorithm> JwsAlgorithmFromName(absl::string_view name) {
  for (const AlgInfo& info : kAlgs) {
    if (info.name == name) return info.alg;
  }
  return std::nullopt;
}

bool IsHmac(JwsAlgorithm alg) { return HmacSize(alg) != 0; }

std::optional<JwsAlgorithm> JwsAlgorithmForSignature(
    crypto::SignatureAlgorithm algorithm) {
  for (const AlgInfo& info : kAlgs) {
    if (CryptoAlgorithm(info.alg) == algorithm) return info.alg;
  }
  return std::nullopt;
}

JwsAlgorithm JwsAlgorithmForHmac(crypto::HashType hash) {
  switch (hash) {
    case crypto::HashType::kSha384: return JwsAlgorithm::kHs384;
    case crypto::HashType::kSha512: return JwsAlgorithm::kHs512;
    default: return JwsAlgorithm::kHs256;
  }
}

absl::StatusOr<std::unique_ptr<crypto::Signer>> NewJwsSigner(
    JwsAlgorithm alg, const crypto::SecretData& pkcs8_der) {
  if (IsHmac(alg)) return NotHmac(alg);
  return crypto::NewSigner(*CryptoAlgorithm(alg), pkcs8_der);
}

absl::StatusOr<std::unique_ptr<crypto::Verifier>> NewJwsVerifier(
    JwsAlgorithm alg, absl::string_view spki_der) {
  if (IsHmac(alg)) return NotHmac(alg);
  if (IsRsa(alg)) {
    absl::Status status = crypto::CheckRsaPublicKey(spki_der);
    if (!status.ok()) return status;
  }
  return crypto::NewVerifier(*CryptoAlgorithm(alg), spki_der);
}

absl::StatusOr<std::unique_ptr<crypto::Mac>> NewJwsMac(
    JwsAlgorithm alg, const crypto::SecretData& key) {
  const size_t size = HmacSize(alg);
  if (size == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(JwsAlgorithmName(alg), " is not an HMAC algorithm"));
  }
  if (key.size() < size) {
    return absl::InvalidArgumentError(absl::StrCat(
        JwsAlgorithmName(alg), " needs a key of at least ", size,
        " bytes (RFC 7518 3.2), got ", key.size()));
  }
  return crypto::Hmac::Create(
      size == 32 ? crypto::HashType::kSha256
                 : size == 48 ? crypto::HashType::kSha384
                              : crypto::HashType::kSha512,
      key);
}

// --- keys -------------------------------------------------------------------

namespace {

// CheckMacSize makes sure |mac| computes |alg|'s hash (by tag length).
absl::Status CheckMacSize(JwsAlgorithm alg, const crypto::Mac* mac) {
  if (!IsHmac(alg)) {
    return absl::InvalidArgumentError(absl::StrCat(
        JwsAlgorithmName(alg), " is a signature algorithm, not an HMAC"));
  }
  if (mac == nullptr) return absl::InvalidArgumentError("null Mac");
  absl::StatusOr<std::string> tag = mac->ComputeMac("");
  if (!tag.ok()) return tag.status();
  if (tag->size() != HmacSize(alg)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the Mac's hash does not match ", JwsAlgorithmName(alg)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JwsSigningKey> JwsSigningKey::ForSigner(
    JwsAlgorithm alg, std::shared_ptr<const crypto::Signer> signer,
    std::string kid) {
  if (IsHmac(alg)) return NotHmac(alg);
  if (signer == nullptr) return absl::InvalidArgumentError("null Signer");
  JwsSigningKey key(alg, std::move(kid));
  key.signer_ = std::move(signer);
  return key;
}

absl::StatusOr<JwsSigningKey> JwsSigningKey::ForMac(
    JwsAlgorithm alg, std::shared_ptr<const crypto::Mac> mac, std::string kid) {
  absl::Status status = CheckMacSize(alg, mac.get());
  if (!status.ok()) return status;
  JwsSigningKey key(alg, std::move(kid));
  key.mac_ = std::move(mac);
  return key;
}

absl::StatusOr<JwsSigningKey> JwsSigningKey::ForFunction(JwsAlgorithm alg,
                                                         SignFunction sign,
                                                         std::string kid) {
  if (!sign) return absl::InvalidArgumentError("null sign function");
  JwsSigningKey key(alg, std::move(kid));
  key.function_ = std::move(sign);
  return key;
}

absl::StatusOr<std::string> JwsSigningKey::Sign(
    absl::string_view signing_input) const {
  absl::StatusOr<std::string> sig =
      function_    ? function_(signing_input)
      : signer_ != nullptr ? signer_->Sign(signing_input)
                           : mac_->ComputeMac(signing_input);
  if (sig.ok() && !SignatureSizeOk(alg_, sig->size())) {
    return absl::InternalError(
        absl::StrCat("the signing object made a ", sig->size(),
                     "-byte signature, which is not ", JwsAlgorithmName(alg_),
                     "'s form"));
  }
  return sig;
}

absl::StatusOr<JwsVerificationKey> JwsVerificationKey::ForVerifier(
    JwsAlgorithm alg, std::shared_ptr<const crypto::Verifier> verifier) {
  if (IsHmac(alg)) return NotHmac(alg);
  if (verifier == nullptr) return absl::InvalidArgumentError("null Verifier");
  JwsVerificationKey key(alg);
  key.verifier_ = std::move(verifier);
  return key;
}

absl::StatusOr<JwsVerificationKey> JwsVerificationKey::ForMac(
    JwsAlgorithm alg, std::shared_ptr<const crypto::Mac> mac) {
  absl::Status status = CheckMacSize(alg, mac.get());
  if (!status.ok()) return status;
  JwsVerificationKey key(alg);
  key.mac_ = std::move(mac);
  return key;
}

absl::StatusOr<JwsVerificationKey> JwsVerificationKey::ForFunction(
    JwsAlgorithm alg, VerifyFunction verify) {
  if (!verify) return absl::InvalidArgumentError("null verify function");
  JwsVerificationKey key(alg);
  key.function_ = std::move(verify);
  return key;
}

absl::Status JwsVerificationKey::Check(absl::string_view signature,
                                       absl::string_view signing_input) const {
  const absl::Status status =
      function_            ? function_(signature, signing_input)
      : verifier_ != nullptr ? verifier_->Verify(signature, signing_input)
                             : mac_->VerifyMac(signature, signing_input);
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  return TokenError(TokenFailure::kBadSignature, "signature is not valid");
}

// --- compact serialization ----------------------------------------------------

absl::StatusOr<std::string> SignCompact(const JsonValue& header,
                                        absl::string_view payload,
                                        const JwsSigningKey& key,
                                        const JwsSignOptions& options) {
  if (!header.is_object()) {
    return absl::InvalidArgumentError("the JWS header must be a JSON object");
  }
  for (const JsonMember& m : header.members()) {
    for (absl::string_view reserved :
         {"alg", "kid", "crit", "jwk", "jku", "x5u", "x5c", "zip", "b64"}) {
      if (m.name == reserved) {
        return absl::InvalidArgumentError(absl::StrCat(
            "header parameter \"", m.name, "\" cannot be set by the caller"));
      }
    }
  }
  // The protected header: "alg", "kid" (if any), then the caller's members
  // (none of them "alg" or "kid", and an object's names are unique).
  std::string full;
  full.reserve(kHeaderJsonReserve + key.kid().size());
  JsonObjectWriter writer(&full);
  writer.AddString("alg", JwsAlgorithmName(key.alg()));
  if (!key.kid().empty()) writer.AddString("kid", key.kid());
  writer.AddMembers(header);
  writer.Finish();
  // The token is written in place: the signing input, then '.' and the
  // signature after it is signed.
  std::string token;
  token.reserve(Base64UrlEncodedSize(full.size()) + 1 +
                Base64UrlEncodedSize(payload.size()) + 1 +
                Base64UrlEncodedSize(MaxSignatureSize(key.alg())));
  Base64UrlAppend(full, &token);
  token.push_back('.');
  Base64UrlAppend(payload, &token);
  // Refuse before signing what could not be returned anyway.
  if (token.size() > options.max_token_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the token would be longer than ", options.max_token_bytes, " bytes"));
  }
  absl::StatusOr<std::string> signature = key.Sign(token);
  if (!signature.ok()) return signature.status();
  token.push_back('.');
  Base64UrlAppend(*signature, &token);
  if (token.size() > options.max_token_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the token would be longer than ", options.max_token_bytes, " bytes"));
  }
  return token;
}

absl::StatusOr<ParsedJws> ParseCompactJws(absl::string_view token,
                                          const JwsVerifyOptions& options) {
  absl::StatusOr<std::vector<absl::string_view>> parts =
      internal::SplitCompact(token, 3, options.max_token_bytes, "a JWS");
  if (!parts.ok()) return parts.status();
  ParsedJws jws;
  absl::StatusOr<JsonValue> header =
      internal::DecodeHeader((*parts)[0], &jws.header_json);
  if (!header.ok()) return header.status();
  absl::StatusOr<std::string> payload =
      internal::DecodePart((*parts)[1], "payload");
  if (!payload.ok()) return payload.status();
  absl::StatusOr<std::string> signature =
      internal::DecodePart((*parts)[2], "signature");
  if (!signature.ok()) return signature.status();
  absl::Status status =
      internal::CheckHeader(*header, options.understood_crit);
  if (!status.ok()) return status;
  const std::string alg_name = internal::StringMember(*header, "alg");
  const std::optional<JwsAlgorithm> alg = JwsAlgorithmFromName(alg_name);
  if (!alg.has_value()) {
    return TokenError(TokenFailure::kUnsupportedHeader,
                      absl::StrCat("JWS alg \"", alg_name, "\" is not offered"));
  }
  if (header->Find("enc") != nullptr) {
    return TokenError(TokenFailure::kMalformed,
                      "a JWS header has no \"enc\" (is this a JWE?)");
  }
  jws.alg = *alg;
  if (header->Find("kid") != nullptr) {
    jws.kid = internal::StringMember(*header, "kid");
  }
  jws.header = *std::move(header);
  jws.payload = *std::move(payload);
  jws.signature = *std::move(signature);
  jws.signing_input =
      std::string(token.substr(0, (*parts)[0].size() + 1 + (*parts)[1].size()));
  return jws;
}

absl::Status VerifyParsedJws(const ParsedJws& jws,
                             const JwsVerificationKey& key) {
  if (jws.alg != key.alg()) {
    return TokenError(
        TokenFailure::kAlgorithmMismatch,
        absl::StrCat("token alg ", JwsAlgorithmName(jws.alg),
                     " is not the key's alg ", JwsAlgorithmName(key.alg())));
  }
  return key.Check(jws.signature, jws.signing_input);
}

namespace {

VerifiedJws ToVerified(ParsedJws jws, size_t index) {
  VerifiedJws out;
  out.header = std::move(jws.header);
  out.header_json = std::move(jws.header_json);
  out.payload = std::move(jws.payload);
  out.kid = std::move(jws.kid);
  out.key_index = index;
  return out;
}

}  // namespace

absl::StatusOr<VerifiedJws> VerifyCompact(absl::string_view token,
                                          const JwsVerificationKey& key,
                                          const JwsVerifyOptions& options) {
  absl::StatusOr<ParsedJws> jws = ParseCompactJws(token, options);
  if (!jws.ok()) return jws.status();
  absl::Status status = VerifyParsedJws(*jws, key);
  if (!status.ok()) return status;
  return ToVerified(*std::move(jws), 0);
}

absl::StatusOr<VerifiedJws> VerifyCompact(absl::string_view token,
                                          const JwsKeyResolver& resolve,
                                          const JwsVerifyOptions& options) {
  absl::StatusOr<ParsedJws> jws = ParseCompactJws(token, options);
  if (!jws.ok()) return jws.status();
  absl::StatusOr<std::vector<JwsVerificationKey>> keys = resolve(*jws);
  if (!keys.ok()) return keys.status();
  if (keys->empty()) {
    return TokenError(TokenFailure::kKeyNotFound, "no key for this token");
  }
  absl::Status last;
  for (size_t i = 0; i < keys->size(); ++i) {
    absl::Status status = VerifyParsedJws(*jws, (*keys)[i]);
    if (status.ok()) return ToVerified(*std::move(jws), i);
    if (status.code() == absl::StatusCode::kInternal) return status;
    // A signature failure outranks an algorithm mismatch: report it.
    if (last.ok() || FailureOf(status) == TokenFailure::kBadSignature) {
      last = status;
    }
  }
  return last;
}

}  // namespace keyward::jose
