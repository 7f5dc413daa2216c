#include "keystore/jose/jwk.h"

#include <functional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/key_components.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/nacl.h"
#include "keystore/jose/base64url.h"
#include "keystore/jose/internal/compact.h"

namespace keyward::jose {
namespace {

using crypto::KeyType;
using crypto::SecretData;

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("JWK: ", what));
}

// AlgUse returns "sig" for a JWS alg, "enc" for a JWE alg or enc, "" if
// |alg| is not offered.
absl::string_view AlgUse(absl::string_view alg) {
  if (JwsAlgorithmFromName(alg).has_value()) return "sig";
  if (JweAlgorithmFromName(alg).has_value()) return "enc";
  if (JweEncryptionFromName(alg).has_value()) return "enc";
  return "";
}

// AlgFits says whether |alg| can be used with a key of |kty| (and |type|
// for asymmetric keys, |size| bytes for "oct" keys).
bool AlgFits(absl::string_view alg, absl::string_view kty, KeyType type,
             size_t size) {
  if (auto jws = JwsAlgorithmFromName(alg)) {
    switch (*jws) {
      case JwsAlgorithm::kHs256: return kty == "oct" && size >= 32;
      case JwsAlgorithm::kHs384: return kty == "oct" && size >= 48;
      case JwsAlgorithm::kHs512: return kty == "oct" && size >= 64;
      case JwsAlgorithm::kEs256: return kty == "EC" && type == KeyType::kEcdsaP256;
      case JwsAlgorithm::kEs384: return kty == "EC" && type == KeyType::kEcdsaP384;
      case JwsAlgorithm::kEs512: return kty == "EC" && type == KeyType::kEcdsaP521;
      case JwsAlgorithm::kEdDsa: return kty == "OKP" && type == KeyType::kEd25519;
      default: return kty == "RSA";
    }
  }
  if (auto enc = JweEncryptionFromName(alg)) {
    return kty == "oct" && size == JweEncryptionKeySize(*enc);
  }
  if (auto jwe = JweAlgorithmFromName(alg)) {
    const absl::string_view name = alg;
    if (name.substr(0, 3) == "RSA") return kty == "RSA";
    if (name.substr(0, 4) == "ECDH") {
      return (kty == "EC" && type == KeyType::kEcdsaP256) ||
             (kty == "OKP" && type == KeyType::kX25519);  // RFC 8037
    }
    if (*jwe == JweAlgorithm::kDir) {
      return kty == "oct" && (size == 16 || size == 24 || size == 32 ||
                              size == 48 || size == 64);
    }
    const size_t want = name.substr(0, 4) == "A128" ? 16
                        : name.substr(0, 4) == "A192" ? 24 : 32;
    return kty == "oct" && size == want;
  }
  return false;
}

bool OpFitsUse(absl::string_view op, absl::string_view use) {
  const bool sig = op == "sign" || op == "verify";
  return use == "sig" ? sig : !sig;
}

// Field decodes the base64url member |name| of |jwk|; "" if absent and
// not |required|.
absl::StatusOr<std::string> Field(const JsonValue& jwk, absl::string_view name,
                                  bool required) {
  const JsonValue* v = jwk.Find(name);
  if (v == nullptr) {
    if (required) return Bad(absl::StrCat("member \"", name, "\" is missing"));
    return std::string();
  }
  if (!v->is_string()) return Bad(absl::StrCat("\"", name, "\" is not a string"));
  absl::StatusOr<std::string> bytes = Base64UrlDecode(v->string_value());
  if (!bytes.ok()) return Bad(absl::StrCat("\"", name, "\": non-canonical base64url"));
  return bytes;
}

absl::StatusOr<SecretData> SecretField(const JsonValue& jwk,
                                       absl::string_view name) {
  const JsonValue* v = jwk.Find(name);
  if (v == nullptr || !v->is_string()) {
    return Bad(absl::StrCat("member \"", name, "\" is missing"));
  }
  absl::StatusOr<SecretData> bytes = Base64UrlDecodeSecret(v->string_value());
  if (!bytes.ok()) return Bad(absl::StrCat("\"", name, "\": non-canonical base64url"));
  return bytes;
}

absl::Status ParseRsa(const JsonValue& jwk, ParsedJwk* out) {
  absl::StatusOr<std::string> n = Field(jwk, "n", true);
  absl::StatusOr<std::string> e = Field(jwk, "e", true);
  if (!n.ok()) return n.status();
  if (!e.ok()) return e.status();
  absl::StatusOr<std::string> spki = crypto::RsaPublicKeyFromComponents(*n, *e);
  if (!spki.ok()) return Bad(spki.status().message());
  absl::StatusOr<crypto::ParsedPublicKey> parsed = crypto::ParsePublicKey(*spki);
  if (!parsed.ok()) return Bad(parsed.status().message());
  out->type = parsed->type;
  out->spki_der = *std::move(spki);
  if (jwk.Find("oth") != nullptr) return Bad("multi-prime RSA (\"oth\") is not offered");
  if (jwk.Find("d") == nullptr) return absl::OkStatus();
  crypto::RsaPrivateComponents c;
  c.n = *n;
  c.e = *e;
  for (auto [name, field] : {std::pair<const char*, SecretData*>{"d", &c.d},
                             {"p", &c.p}, {"q", &c.q}, {"dp", &c.dp},
                             {"dq", &c.dq}, {"qi", &c.qi}}) {
    absl::StatusOr<SecretData> v = SecretField(jwk, name);
    if (!v.ok()) return v.status();
    *field = *std::move(v);
  }
  absl::StatusOr<SecretData> pkcs8 = crypto::RsaPrivateKeyFromComponents(c);
  if (!pkcs8.ok()) return Bad(pkcs8.status().message());
  out->kind = ParsedJwk::Kind::kPrivate;
  out->secret = *std::move(pkcs8);
  return absl::OkStatus();
}

// SetKeyPair puts the public key `spki` (a Bad JWK if it failed) in `out`
// and, if the JWK has a "d", the PKCS#8 private key `from_d(d, spki)` makes.
absl::Status SetKeyPair(
    const JsonValue& jwk, absl::StatusOr<std::string> spki,
    const std::function<absl::StatusOr<SecretData>(
        const SecretData& d, const std::string& spki)>& from_d,
    ParsedJwk* out) {
  if (!spki.ok()) return Bad(spki.status().message());
  out->spki_der = *std::move(spki);
  if (jwk.Find("d") == nullptr) return absl::OkStatus();
  absl::StatusOr<SecretData> d = SecretField(jwk, "d");
  if (!d.ok()) return d.status();
  absl::StatusOr<SecretData> pkcs8 = from_d(*d, out->spki_der);
  if (!pkcs8.ok()) return Bad(pkcs8.status().message());
  out->kind = ParsedJwk::Kind::kPrivate;
  out->secret = *std::move(pkcs8);
  return absl::OkStatus();
}

absl::Status ParseEc(const JsonValue& jwk, ParsedJwk* out) {
  const std::string crv = internal::StringMember(jwk, "crv");
  if (crv == "P-256") {
    out->type = KeyType::kEcdsaP256;
  } else if (crv == "P-384") {
    out->type = KeyType::kEcdsaP384;
  } else if (crv == "P-521") {
    out->type = KeyType::kEcdsaP521;
  } else {
    return Bad(absl::StrCat("EC curve \"", crv, "\" is not offered"));
  }
  absl::StatusOr<std::string> x = Field(jwk, "x", true);
  absl::StatusOr<std::string> y = Field(jwk, "y", true);
  if (!x.ok()) return x.status();
  if (!y.ok()) return y.status();
  const KeyType type = out->type;
  return SetKeyPair(
      jwk, crypto::EcPublicKeyFromCoordinates(type, *x, *y),
      [type](const SecretData& d, const std::string& spki) {
        return crypto::EcPrivateKeyFromScalar(type, d, spki);
      },
      out);
}

// ParseX25519 reads an OKP X25519 JWK (RFC 8037), public or private.
absl::Status ParseX25519(const JsonValue& jwk, ParsedJwk* out) {
  out->type = KeyType::kX25519;
  absl::StatusOr<std::string> x = Field(jwk, "x", true);
  if (!x.ok()) return x.status();
  // A key of small order (all-zero "x", ...) gives a public shared secret.
  absl::Status usable = crypto::CheckPeerPublicKey(*x);
  if (!usable.ok()) return Bad(usable.message());
  absl::StatusOr<std::string> spki = crypto::X25519PublicKeyFromRaw(*x);
  if (!spki.ok()) return Bad(spki.status().message());
  out->spki_der = *std::move(spki);
  if (jwk.Find("d") == nullptr) return absl::OkStatus();
  absl::StatusOr<SecretData> d = SecretField(jwk, "d");
  if (!d.ok()) return d.status();
  absl::StatusOr<SecretData> pkcs8 = crypto::X25519PrivateKeyFromRaw(*d);
  if (!pkcs8.ok()) return Bad(pkcs8.status().message());
  absl::StatusOr<std::string> derived =
      crypto::PublicKeyFromPrivate(KeyType::kX25519, *pkcs8);
  if (!derived.ok() || *derived != out->spki_der) {
    return Bad("the private key \"d\" does not match the public key \"x\"");
  }
  out->kind = ParsedJwk::Kind::kPrivate;
  out->secret = *std::move(pkcs8);
  return absl::OkStatus();
}

absl::Status ParseOkp(const JsonValue& jwk, ParsedJwk* out) {
  if (internal::StringMember(jwk, "crv") == "X25519") {
    return ParseX25519(jwk, out);
  }
  if (internal::StringMember(jwk, "crv") != "Ed25519") {
    return Bad("OKP keys are offered for Ed25519 and X25519 only");
  }
  out->type = KeyType::kEd25519;
  absl::StatusOr<std::string> x = Field(jwk, "x", true);
  if (!x.ok()) return x.status();
  return SetKeyPair(jwk, crypto::Ed25519PublicKeyFromRaw(*x),
                    crypto::Ed25519PrivateKeyFromSeed, out);
}

}  // namespace

absl::StatusOr<ParsedJwk> ParseJwk(const JsonValue& jwk) {
  if (!jwk.is_object()) return Bad("not a JSON object");
  for (absl::string_view name : {"kty", "kid", "alg", "use", "crv"}) {
    const JsonValue* v = jwk.Find(name);
    if (v != nullptr && !v->is_string()) {
      return Bad(absl::StrCat("\"", name, "\" is not a string"));
    }
  }
  ParsedJwk out;
  out.kty = internal::StringMember(jwk, "kty");
  out.kid = internal::StringMember(jwk, "kid");
  out.alg = internal::StringMember(jwk, "alg");
  out.use = internal::StringMember(jwk, "use");
  if (!out.use.empty() && out.use != "sig" && out.use != "enc") {
    return Bad(absl::StrCat("\"use\" \"", out.use, "\" is not sig or enc"));
  }
  if (const JsonValue* ops = jwk.Find("key_ops"); ops != nullptr) {
    static const auto* known = new std::set<std::string>{
        "sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey",
        "deriveKey", "deriveBits"};
    if (!ops->is_array()) return Bad("\"key_ops\" is not an array");
    for (const JsonValue& op : ops->elements()) {
      if (!op.is_string() || known->count(op.string_value()) == 0) {
        return Bad("\"key_ops\" has an unknown operation");
      }
      for (const std::string& seen : out.key_ops) {
        if (seen == op.string_value()) return Bad("\"key_ops\" repeats an operation");
      }
      out.key_ops.push_back(op.string_value());
    }
  }
  absl::Status status;
  if (out.kty == "oct") {
    absl::StatusOr<SecretData> k = SecretField(jwk, "k");
    if (!k.ok()) return k.status();
    if (k->empty()) return Bad("the key \"k\" is empty");
    for (absl::string_view name : {"n", "e", "d", "x", "y", "crv"}) {
      if (jwk.Find(name) != nullptr) return Bad("an oct key has only \"k\"");
    }
    out.kind = ParsedJwk::Kind::kSecret;
    out.secret = *std::move(k);
  } else if (out.kty == "RSA") {
    status = ParseRsa(jwk, &out);
  } else if (out.kty == "EC") {
    status = ParseEc(jwk, &out);
  } else if (out.kty == "OKP") {
    status = ParseOkp(jwk, &out);
  } else {
    return Bad(absl::StrCat("\"kty\" \"", out.kty, "\" is not offered"));
  }
  if (!status.ok()) return status;
  if (!out.alg.empty()) {
    const absl::string_view use = AlgUse(out.alg);
    if (use.empty()) return Bad(absl::StrCat("alg \"", out.alg, "\" is not offered"));
    if (!AlgFits(out.alg, out.kty, out.type, out.secret.size())) {
      return Bad(absl::StrCat("alg \"", out.alg, "\" does not fit this ",
                              out.kty, " key"));
    }
    if (!out.use.empty() && out.use != use) {
      return Bad(absl::StrCat("\"use\" \"", out.use, "\" contradicts alg \"",
                              out.alg, "\""));
    }
    for (const std::string& op : out.key_ops) {
      if (!OpFitsUse(op, use)) {
        return Bad(absl::StrCat("\"key_ops\" \"", op, "\" contradicts alg \"",
                                out.alg, "\""));
      }
    }
  }
  if (!out.use.empty()) {
    for (const std::string& op : out.key_ops) {
      if (!OpFitsUse(op, out.use)) return Bad("\"key_ops\" contradicts \"use\"");
    }
  }
  return out;
}

absl::StatusOr<std::vector<ParsedJwk>> ParseJwkSet(const JsonValue& set) {
  const JsonValue* keys = set.Find("keys");
  if (keys == nullptr || !keys->is_array()) {
    return Bad("a JWK Set is an object with a \"keys\" array");
  }
  std::vector<ParsedJwk> out;
  std::set<std::string> kids;
  bool has_public = false, has_private = false;
  for (const JsonValue& jwk : keys->elements()) {
    absl::StatusOr<ParsedJwk> key = ParseJwk(jwk);
    if (!key.ok()) return key.status();
    if (!key->kid.empty() && !kids.insert(key->kid).second) {
      return Bad(absl::StrCat("two keys in the set have kid \"", key->kid, "\""));
    }
    (key->kind == ParsedJwk::Kind::kPublic ? has_public : has_private) = true;
    out.push_back(*std::move(key));
  }
  if (has_public && has_private) {
    return Bad("the set mixes public keys with private or secret keys");
  }
  return out;
}

absl::StatusOr<JsonValue> PublicJwk(KeyType type, absl::string_view spki_der,
                                    absl::string_view kid,
                                    absl::string_view alg,
                                    absl::string_view use) {
  absl::StatusOr<std::string> base = crypto::SpkiToJwk(type, spki_der, "", "");
  if (!base.ok()) return base.status();
  absl::StatusOr<JsonValue> jwk = ParseJsonObject(*base);
  if (!jwk.ok()) return jwk.status();
  if (!alg.empty()) {
    const KeyType as = type == KeyType::kEcdhP256 ? KeyType::kEcdsaP256 : type;
    const std::string kty = internal::StringMember(*jwk, "kty");
    const absl::string_view alg_use = AlgUse(alg);
    const bool ecdh_alg = alg.substr(0, 4) == "ECDH";
    if (alg_use.empty() || JweEncryptionFromName(alg).has_value() ||
        !AlgFits(alg, kty, as, 0) || (!use.empty() && use != alg_use) ||
        (type == KeyType::kEcdhP256 || type == KeyType::kX25519) != ecdh_alg) {
      return absl::InvalidArgumentError(absl::StrCat(
          "alg \"", alg, "\" does not suit a ", crypto::KeyTypeName(type),
          " key used for \"", use, "\""));
    }
  }
  if (!use.empty() && use != "sig" && use != "enc") {
    return absl::InvalidArgumentError("\"use\" must be \"sig\" or \"enc\"");
  }
  if (!kid.empty()) jwk->Set("kid", JsonValue::String(std::string(kid)));
  if (!alg.empty()) jwk->Set("alg", JsonValue::String(std::string(alg)));
  if (!use.empty()) jwk->Set("use", JsonValue::String(std::string(use)));
  return jwk;
}

absl::StatusOr<std::string> JwkSetJson(const std::vector<JsonValue>& keys) {
  JsonValue array = JsonValue::Array();
  std::set<std::string> kids;
  for (const JsonValue& key : keys) {
    if (!key.is_object()) return Bad("not a JSON object");
    for (absl::string_view name : {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}) {
      if (key.Find(name) != nullptr) {
        return Bad(absl::StrCat("a published key carries private member \"",
                                name, "\""));
      }
    }
    const std::string kid = internal::StringMember(key, "kid");
    if (!kid.empty() && !kids.insert(kid).second) {
      return Bad(absl::StrCat("two keys have kid \"", kid, "\""));
    }
    array.Append(key);
  }
  JsonValue set = JsonValue::Object();
  set.Set("keys", std::move(array));
  return set.Serialize();
}

namespace {

// CheckUse refuses a JWK whose "use"/"key_ops" do not allow |op| of |use|.
absl::Status CheckUse(const ParsedJwk& jwk, absl::string_view use,
                      std::initializer_list<absl::string_view> ops) {
  if (!jwk.use.empty() && jwk.use != use) {
    return Bad(absl::StrCat("the key's \"use\" is \"", jwk.use, "\", not \"",
                            use, "\""));
  }
  if (jwk.key_ops.empty()) return absl::OkStatus();
  for (const std::string& have : jwk.key_ops) {
    for (absl::string_view want : ops) {
      if (have == want) return absl::OkStatus();
    }
  }
  return Bad("the key's \"key_ops\" do not allow this operation");
}

}  // namespace

absl::StatusOr<JwsVerificationKey> JwsVerificationKeyFromJwk(
    const ParsedJwk& jwk) {
  absl::Status status = CheckUse(jwk, "sig", {"verify"});
  if (!status.ok()) return status;
  const std::optional<JwsAlgorithm> alg = JwsAlgorithmFromName(jwk.alg);
  if (!alg.has_value()) {
    return Bad("the key has no JWS \"alg\": the algorithm must come from the key");
  }
  if (IsHmac(*alg)) {
    absl::StatusOr<std::unique_ptr<crypto::Mac>> mac = NewJwsMac(*alg, jwk.secret);
    if (!mac.ok()) return mac.status();
    return JwsVerificationKey::ForMac(*alg, *std::move(mac));
  }
  absl::StatusOr<std::unique_ptr<crypto::Verifier>> verifier =
      NewJwsVerifier(*alg, jwk.spki_der);
  if (!verifier.ok()) return verifier.status();
  return JwsVerificationKey::ForVerifier(*alg, *std::move(verifier));
}

absl::StatusOr<JwsSigningKey> JwsSigningKeyFromJwk(const ParsedJwk& jwk) {
  absl::Status status = CheckUse(jwk, "sig", {"sign"});
  if (!status.ok()) return status;
  const std::optional<JwsAlgorithm> alg = JwsAlgorithmFromName(jwk.alg);
  if (!alg.has_value()) {
    return Bad("the key has no JWS \"alg\": the algorithm must come from the key");
  }
  if (jwk.kind == ParsedJwk::Kind::kPublic) return Bad("a public key cannot sign");
  if (IsHmac(*alg)) {
    absl::StatusOr<std::unique_ptr<crypto::Mac>> mac = NewJwsMac(*alg, jwk.secret);
    if (!mac.ok()) return mac.status();
    return JwsSigningKey::ForMac(*alg, *std::move(mac), jwk.kid);
  }
  absl::StatusOr<std::unique_ptr<crypto::Signer>> signer =
      NewJwsSigner(*alg, jwk.secret);
  if (!signer.ok()) return signer.status();
  return JwsSigningKey::ForSigner(*alg, *std::move(signer), jwk.kid);
}

absl::StatusOr<JweDecryptionKey> JweDecryptionKeyFromJwk(
    const ParsedJwk& jwk, JweDecryptOptions* options) {
  absl::Status status = CheckUse(
      jwk, "enc", {"decrypt", "unwrapKey", "deriveKey", "deriveBits"});
  if (!status.ok()) return status;
  if (jwk.kind == ParsedJwk::Kind::kPublic) return Bad("a public key cannot decrypt");
  if (const auto enc = JweEncryptionFromName(jwk.alg)) {
    options->allowed_encryptions = {*enc};
    return JweDecryptionKey::ForSymmetric(JweAlgorithm::kDir, jwk.secret);
  }
  const std::optional<JweAlgorithm> alg = JweAlgorithmFromName(jwk.alg);
  if (!alg.has_value()) {
    return Bad("the key has no JWE \"alg\": the algorithm must come from the key");
  }
  if (jwk.kty == "RSA") return JweDecryptionKey::ForRsa(*alg, jwk.secret);
  if (jwk.kty == "EC") return JweDecryptionKey::ForEcdhP256(*alg, jwk.secret);
  if (jwk.type == KeyType::kX25519) {
    return JweDecryptionKey::ForX25519(*alg, jwk.secret);
  }
  return JweDecryptionKey::ForSymmetric(*alg, jwk.secret);
}

}  // namespace keyward::jose
