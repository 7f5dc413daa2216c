// JwtService's JWE half: EncryptJwe and DecryptJwe (jwt_service.h).
#include "daemon/jwt_service.h"

#include "absl/strings/str_cat.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/jwe.h"
#include "keystore/jwt.h"

namespace keyward::daemon {

namespace pb = keyward::v1;
using keystore::ResolveKid;

namespace {

absl::StatusOr<jose::JweEncryption> FromProto(pb::JweEncryption e) {
  switch (e) {
    case pb::JWE_ENCRYPTION_UNSPECIFIED:
    case pb::JWE_ENCRYPTION_A256GCM: return jose::JweEncryption::kA256Gcm;
    case pb::JWE_ENCRYPTION_A128GCM: return jose::JweEncryption::kA128Gcm;
    case pb::JWE_ENCRYPTION_A128CBC_HS256: return jose::JweEncryption::kA128CbcHs256;
    case pb::JWE_ENCRYPTION_A256CBC_HS512: return jose::JweEncryption::kA256CbcHs512;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "encryption ", static_cast<int>(e), " is not a known JWE enc"));
  }
}

}  // namespace

grpc::ServerUnaryReactor* JwtServiceImpl::EncryptJwe(
    grpc::CallbackServerContext* context, const pb::EncryptJweRequest* request,
    pb::EncryptJweResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "JwtService/EncryptJwe",
               pb::OPERATION_JWE_ENCRYPT, ResourceOf(name),
               [&](Rpc& rpc, int32_t* version) -> absl::Status {
    if (name->version != 0) {
      return absl::InvalidArgumentError(
          "EncryptJwe uses the primary version: name the key, not a version");
    }
    // The plaintext: the payload, or a JWT signed first (nested).
    std::string nested_token;
    if (request->content_case() == pb::EncryptJweRequest::kNestedJwt) {
      if (!request->content_type().empty()) {
        return absl::InvalidArgumentError(
            "content_type must be empty with nested_jwt (the JWE says "
            "\"cty\": \"JWT\")");
      }
      auto nested = ParseKeyName(request->nested_jwt().name(), "nested_jwt.name");
      if (!nested.ok()) return nested.status();
      absl::Status allowed =
          rpc.Authorize(pb::OPERATION_JWT_SIGN, nested->Resource());
      if (!allowed.ok()) return allowed;
      int32_t signed_with = 0;
      absl::Status signed_ok = Sign(rpc, request->nested_jwt(),
                                    response->mutable_nested(), &signed_with);
      if (!signed_ok.ok()) {
        return absl::Status(signed_ok.code(),
                            absl::StrCat("nested_jwt: ", signed_ok.message()));
      }
      nested_token = response->nested().token();
    } else if (request->payload().empty()) {
      return absl::InvalidArgumentError(
          "give a payload (1 byte or more) or a nested_jwt to sign");
    }
    const std::string& plaintext =
        nested_token.empty() ? request->payload() : nested_token;
    if (plaintext.size() > max_token_bytes_) {
      return TooLarge("payload", plaintext.size(), max_token_bytes_);
    }
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    auto key_alg = JweAlgorithmOf(*key);
    if (!key_alg.ok()) return key_alg.status();
    auto asked = FromProto(request->algorithm());
    if (!asked.ok()) return asked.status();
    const jose::JweAlgorithm chosen = *key_alg;
    if (asked->has_value() && **asked != chosen) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key '", name->id, "' encrypts with ", jose::JweAlgorithmName(chosen),
          " only, not ", jose::JweAlgorithmName(**asked)));
    }
    auto enc = FromProto(request->encryption());
    if (!enc.ok()) return enc.status();
    if (chosen == jose::JweAlgorithm::kDir &&
        *enc != jose::JweEncryption::kA256Gcm) {
      // dir uses the 256-bit key itself as the content key.
      return absl::InvalidArgumentError(absl::StrCat(
          "key '", name->id, "' (dir) encrypts with A256GCM only"));
    }
    const int32_t v = key->primary_version;
    auto recipient = rpc.keystore().GetVersion(name->id, v);
    if (!recipient.ok()) return recipient.status();
    const std::string kid = KidOf(*recipient);
    absl::StatusOr<jose::JweEncryptionKey> jwe_key =
        absl::InternalError("unset");
    if (key->type == keystore::KeyType::kAes256Gcm) {
      auto secret = rpc.keystore().JweKeyMaterial(name->id, v, nullptr);
      if (!secret.ok()) return secret.status();
      jwe_key = jose::JweEncryptionKey::ForSymmetric(chosen, *secret, kid);
    } else {
      auto pub = rpc.keystore().GetPublicKey(name->id, v);
      if (!pub.ok()) return pub.status();
      jwe_key = key->type == keystore::KeyType::kEcdhP256
                    ? jose::JweEncryptionKey::ForEcdhP256(chosen, pub->spki_der, kid)
                : key->type == keystore::KeyType::kX25519
                    ? jose::JweEncryptionKey::ForX25519(chosen, pub->spki_der, kid)
                    : jose::JweEncryptionKey::ForRsa(chosen, pub->spki_der, kid);
    }
    if (!jwe_key.ok()) return jwe_key.status();
    jose::JweEncryptOptions options;
    options.typ = request->typ();
    options.cty = nested_token.empty() ? request->content_type() : "JWT";
    options.max_token_bytes = max_token_bytes_;
    auto token = jose::EncryptCompact(plaintext, *jwe_key, *enc, options);
    if (!token.ok()) return token.status();
    *version = v;
    response->set_token(*token);
    response->set_key_version(VersionName(name->id, v));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JwtServiceImpl::DecryptJwe(
    grpc::CallbackServerContext* context, const pb::DecryptJweRequest* request,
    pb::DecryptJweResponse* response) {
  jose::JweDecryptOptions options;
  options.max_token_bytes = max_token_bytes_;
  // One answer for every token that does not decrypt, no oracle.
  const absl::Status refused = absl::InvalidArgumentError(
      "the JWE cannot be decrypted with this key (malformed, altered, or "
      "made for another key or algorithm)");
  // The key: the pinned one, else the one the (unauthenticated) kid names.
  absl::StatusOr<KeyName> name = absl::InvalidArgumentError(
      "name the key, or send a token whose kid is NAME:vN");
  int32_t kid_version = 0;
  auto header = jose::ParseCompactJweHeader(request->token(), options);
  if (!request->name().empty()) {
    name = ParseKeyName(request->name());
  } else if (!header.ok()) {
    // Its kid (if any) is not looked at: refused as a pinned key would.
    name = refused;
  } else if (header->kid) {
    std::string id;
    if (ResolveKid(*env_.keystore, *header->kid, &id, &kid_version)) {
      name = KeyName{id, 0};
    }
  }
  return Unary(env_, context, "JwtService/DecryptJwe",
               pb::OPERATION_JWE_DECRYPT, ResourceOf(name),
               [&](Rpc& rpc, int32_t* version) -> absl::Status {
    if (request->has_verify_nested() && !request->verify_nested().token().empty()) {
      return absl::InvalidArgumentError(
          "verify_nested.token must be empty: the JWE's plaintext is verified");
    }
    if (!header.ok()) return refused;
    int32_t v = name->version != 0 ? name->version : kid_version;
    if (header->kid) {
      std::string id;
      int32_t kv = 0;
      if (ResolveKid(rpc.keystore(), *header->kid, &id, &kv) &&
          (id != name->id || (v != 0 && kv != v))) {
        return refused;
      }
      if (v == 0) v = kv;
    }
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    auto key_alg = JweAlgorithmOf(*key);
    if (!key_alg.ok()) return key_alg.status();
    if (header->alg != *key_alg) return refused;
    int32_t used = 0;
    auto material = rpc.keystore().JweKeyMaterial(
        name->id, v == 0 ? key->primary_version : v, &used);
    if (!material.ok()) return material.status();
    absl::StatusOr<jose::JweDecryptionKey> jwe_key =
        key->type == keystore::KeyType::kAes256Gcm
            ? jose::JweDecryptionKey::ForSymmetric(header->alg, *material)
        : key->type == keystore::KeyType::kEcdhP256
            ? jose::JweDecryptionKey::ForEcdhP256(header->alg, *material)
        : key->type == keystore::KeyType::kX25519
            ? jose::JweDecryptionKey::ForX25519(header->alg, *material)
            : jose::JweDecryptionKey::ForRsa(header->alg, *material);
    if (!jwe_key.ok()) return jwe_key.status();
    auto decrypted = jose::DecryptCompact(request->token(), *jwe_key, options);
    if (!decrypted.ok()) {
      if (jose::FailureOf(decrypted.status()) == jose::TokenFailure::kNone) {
        return decrypted.status();
      }
      return refused;
    }
    *version = used;
    response->set_header_json(decrypted->header_json);
    response->set_key_version(VersionName(name->id, used));
    if (request->has_verify_nested()) {
      int32_t verified_with = 0;
      absl::Status checked =
          Verify(rpc, request->verify_nested(), decrypted->plaintext,
                 /*authorize=*/true, response->mutable_nested(), &verified_with);
      if (!checked.ok()) {
        response->Clear();
        return absl::Status(checked.code(),
                            absl::StrCat("verify_nested: ", checked.message()));
      }
      if (!response->nested().valid()) return absl::OkStatus();
    }
    response->set_payload(decrypted->plaintext);
    return absl::OkStatus();
  });
}

}  // namespace keyward::daemon
