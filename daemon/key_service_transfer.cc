// KeyService's key material in and out: ImportKey and ExportKey
// (key_service.h). The rest of KeyService is key_service.cc.
#include "daemon/key_service.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "daemon/wipe.h"
#include "keystore/crypto/pkcs8_encrypt.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jwk.h"
#include "keystore/jose/jws.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;

// JwkAlgorithms: the signature algorithm a JWK's "alg" names (RS512 ->
// RSA_PKCS1_SHA512), for a sign/verify or JWT key; empty if it names none
// or one that is not a JWS algorithm. INVALID_ARGUMENT if `asked` (the
// template's) is given and differs.
absl::StatusOr<std::vector<crypto::SignatureAlgorithm>> JwkAlgorithms(
    const jose::JsonValue& jwk, keystore::KeyPurpose purpose,
    const std::vector<crypto::SignatureAlgorithm>& asked) {
  std::vector<crypto::SignatureAlgorithm> out;
  const jose::JsonValue* alg = jwk.Find("alg");
  if (alg == nullptr || !alg->is_string() ||
      (purpose != keystore::KeyPurpose::kSignVerify &&
       purpose != keystore::KeyPurpose::kJwt)) {
    return out;
  }
  const auto jws = jose::JwsAlgorithmFromName(alg->string_value());
  if (!jws) return out;
  for (crypto::SignatureAlgorithm a : crypto::kAllSignatureAlgorithms) {
    if (jose::JwsAlgorithmForSignature(a) == *jws) out.push_back(a);
  }
  if (!asked.empty() && !out.empty() && asked != out) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the JWK's \"alg\" is ", alg->string_value(), " (",
        keystore::SignatureAlgorithmsText(out),
        ") but signature_algorithms asks for ",
        keystore::SignatureAlgorithmsText(asked), "; give one or the same"));
  }
  return out;
}

}  // namespace

grpc::ServerUnaryReactor* KeyServiceImpl::ImportKey(
    grpc::CallbackServerContext* context, const pb::ImportKeyRequest* request,
    pb::ImportKeyResponse* response) {
  const bool new_version = request->target_case() == pb::ImportKeyRequest::kName;
  absl::StatusOr<KeyName> target;
  if (new_version) {
    target = ParseKeyName(request->name());
  } else if (absl::Status s = keystore::ValidateKeyId(request->key_id()); !s.ok()) {
    target = s;
  } else {
    target = KeyName{request->key_id(), 0};
  }
  return Unary(env_, context, "KeyService/ImportKey", pb::OPERATION_ADMIN,
               ResourceOf(target), [&](Rpc& rpc, int32_t* version) -> absl::Status {
    if (request->material().size() > (64 << 10)) {
      return TooLarge("material", request->material().size(), 64 << 10);
    }
    keystore::ImportKeyParams params;
    params.create.id = target->id;
    params.new_version = new_version;
    pb::KeyType type_proto = request->key().key_type();
    if (new_version && type_proto == pb::KEY_TYPE_UNSPECIFIED) {
      auto existing = rpc.keystore().GetKey(target->id);
      if (!existing.ok()) return existing.status();
      type_proto = ToProto(existing->type);
    }
    if (type_proto == pb::KEY_TYPE_UNSPECIFIED &&
        request->format() != pb::KEY_MATERIAL_FORMAT_RAW_SECRET) {
      params.type_from_material = true;  // asymmetric material names it
    } else {
      auto type = daemon::FromProto(type_proto);
      if (!type.ok()) return type.status();
      params.create.type = *type;
    }
    auto purpose = PurposeFromProto(request->key().purpose());
    if (!purpose.ok()) return purpose.status();
    params.create.purpose = *purpose;
    params.create.description = request->key().description();
    if (absl::Status s = ValidateLabels(request->key().labels()); !s.ok()) {
      return s;
    }
    params.create.labels.insert(request->key().labels().begin(),
                                request->key().labels().end());
    params.create.exportable = request->key().exportable();
    params.create.rotation_period = FromProto(request->key().rotation_period());
    params.create.jwt_max_ttl = FromProto(request->key().jwt().max_ttl());
    params.create.jwt_default_ttl =
        FromProto(request->key().jwt().default_ttl());
    params.create.jwt_issuer = request->key().jwt().issuer();
    auto algorithms = AlgorithmsFromProto(request->key());
    if (!algorithms.ok()) return algorithms.status();
    params.create.signature_algorithms = std::move(*algorithms);
    params.allow_short_secret = request->allow_short_secret();
    params.kid = request->kid();
    if (!new_version && params.create.purpose ==
                            keystore::KeyPurpose::kKeyAgreement) {
      if (params.type_from_material &&
          request->key().jwe_algorithm() != pb::JWE_ALGORITHM_UNSPECIFIED) {
        return absl::InvalidArgumentError(
            "give key_type along with jwe_algorithm");
      }
      if (!params.type_from_material) {
        auto jwe = ChooseJweAlgorithm(request->key().jwe_algorithm(),
                                      params.create.type,
                                      *params.create.purpose);
        if (!jwe.ok()) return jwe.status();
        params.create.jwe_algorithm = *jwe;
      }
    } else if (request->key().jwe_algorithm() != pb::JWE_ALGORITHM_UNSPECIFIED &&
               !new_version) {
      return absl::InvalidArgumentError(
          "jwe_algorithm is for keys of purpose JWE only");
    }
    switch (request->format()) {
      case pb::KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM:
        params.format = keystore::ImportFormat::kPrivateKeyPem;
        break;
      case pb::KEY_MATERIAL_FORMAT_PRIVATE_KEY_DER:
        params.format = keystore::ImportFormat::kPrivateKeyDer;
        break;
      case pb::KEY_MATERIAL_FORMAT_RAW_SECRET:
        params.format = keystore::ImportFormat::kRawSecret;
        break;
      case pb::KEY_MATERIAL_FORMAT_PUBLIC_KEY_PEM:
      case pb::KEY_MATERIAL_FORMAT_PUBLIC_KEY_DER:
        params.format = keystore::ImportFormat::kPublicKey;
        break;
      case pb::KEY_MATERIAL_FORMAT_PUBLIC_KEY_JWK:
        params.format = keystore::ImportFormat::kPublicKey;
        break;
      default:
        return absl::InvalidArgumentError(
            "format must be PRIVATE_KEY_PEM, PRIVATE_KEY_DER, RAW_SECRET, "
            "PUBLIC_KEY_PEM or PUBLIC_KEY_DER");
    }
    params.material = crypto::SecretData(request->material());
    if (request->format() == pb::KEY_MATERIAL_FORMAT_PUBLIC_KEY_JWK) {
      // A partner's public JWK, with every check a verifier makes; its kid
      // comes along unless one is given (or it has Keyward's own form).
      auto object = jose::ParseJsonObject(request->material());
      if (!object.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("material is not a JWK: ", object.status().message()));
      }
      auto jwk = jose::ParseJwk(*object);
      if (!jwk.ok()) return jwk.status();
      if (jwk->kind != jose::ParsedJwk::Kind::kPublic) {
        return absl::InvalidArgumentError(
            "the JWK holds a private or secret key; PUBLIC_KEY_JWK imports "
            "public keys only (import private keys as PKCS#8 PEM or DER)");
      }
      params.material = crypto::SecretData(jwk->spki_der);
      if (params.kid.empty() && keystore::ValidateKid(jwk->kid).ok()) {
        params.kid = jwk->kid;
      }
      // The JWK's "alg" is the algorithm its tokens use: the new key takes
      // it; a new version must be for the key's.
      keystore::KeyPurpose purpose =
          params.create.purpose.value_or(keystore::KeyPurpose::kSignVerify);
      if (new_version) {
        auto existing = rpc.keystore().GetKey(target->id);
        if (!existing.ok()) return existing.status();
        purpose = existing->purpose;
      }
      auto from_jwk = JwkAlgorithms(*object, purpose,
                                    params.create.signature_algorithms);
      if (!from_jwk.ok()) return from_jwk.status();
      if (new_version) {
        params.expect_algorithms = std::move(*from_jwk);
      } else if (!from_jwk->empty()) {
        params.create.signature_algorithms = std::move(*from_jwk);
      }
    }
    if (!request->passphrase().empty()) {
      params.passphrase = crypto::SecretData(request->passphrase());
    }
    // Our copies are in SecretData now: wipe the request's (gRPC's own
    // receive buffers are freed unwiped; see README, "Known limits").
    WipeRequestField(request->material());
    WipeRequestField(request->passphrase());
    // The KDF of an encrypted key (bounded by the import limits) runs only
    // for a caller still waiting, in a costly slot held until it is done.
    std::optional<CostlyWork::Slot> slot;
    params.before_costly_work = [&]() -> absl::Status {
      auto begun = costly_.Begin(*context);
      if (!begun.ok()) return begun.status();
      slot.emplace(std::move(*begun));
      return absl::OkStatus();
    };
    if (params.allow_short_secret &&
        request->format() == pb::KEY_MATERIAL_FORMAT_RAW_SECRET &&
        params.material.size() <
            keystore::KeyTypeInfoOf(params.create.type).min_import_secret) {
      rpc.SetAuditNote(absl::StrCat(
          "legacy short secret accepted: ", params.material.size(),
          " bytes, below RFC 7518's minimum of ",
          keystore::KeyTypeInfoOf(params.create.type).min_import_secret,
          " for ", crypto::KeyTypeName(params.create.type)));
    }
    auto imported = rpc.keystore().ImportKey(std::move(params));
    if (!imported.ok()) return imported.status();
    *version = imported->primary_version;
    ToProto(*imported, response->mutable_key());
    auto v = rpc.keystore().GetVersion(imported->id, imported->primary_version);
    if (v.ok()) ToProto(*v, imported->primary_version, response->mutable_version());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* KeyServiceImpl::ExportKey(
    grpc::CallbackServerContext* context, const pb::ExportKeyRequest* request,
    pb::ExportKeyResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "KeyService/ExportKey", pb::OPERATION_ADMIN,
               ResourceOf(name), [&](Rpc& rpc, int32_t* version) -> absl::Status {
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    int32_t v = name->version == 0 ? key->primary_version : name->version;
    pb::KeyMaterialFormat format = request->format();
    const bool symmetric = !keystore::KeyTypeInfoOf(key->type).asymmetric;
    if (format == pb::KEY_MATERIAL_FORMAT_UNSPECIFIED) {
      format = symmetric ? pb::KEY_MATERIAL_FORMAT_RAW_SECRET
                         : pb::KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM;
    }
    const bool fits = symmetric
                          ? format == pb::KEY_MATERIAL_FORMAT_RAW_SECRET
                          : format == pb::KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM ||
                                format == pb::KEY_MATERIAL_FORMAT_PRIVATE_KEY_DER;
    if (!fits) {
      return absl::InvalidArgumentError(
          symmetric ? "a symmetric key exports as RAW_SECRET"
                    : "a private key exports as PRIVATE_KEY_PEM or "
                      "PRIVATE_KEY_DER (PKCS#8)");
    }
    const bool encrypt = !request->passphrase().empty();
    if (encrypt && (symmetric || request->passphrase().size() < 12 ||
                    request->passphrase().size() > 1024)) {
      return absl::InvalidArgumentError(
          symmetric ? "a raw secret cannot be passphrase-encrypted; export it "
                      "without a passphrase to a 0600 file"
                    : "the export passphrase must be 12 to 1024 bytes");
    }
    // PBKDF2 at 600,000 rounds is ~0.3 s of one uninterruptible call.
    std::optional<CostlyWork::Slot> slot;
    if (encrypt) {
      auto begun = costly_.Begin(*context);
      if (!begun.ok()) return begun.status();
      slot.emplace(std::move(*begun));
    }
    auto material = rpc.keystore().ExportKeyMaterial(name->id, v);
    if (!material.ok()) return material.status();
    if (encrypt) {
      // EncryptedPrivateKeyInfo (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC).
      auto der = crypto::EncryptPkcs8(*material,
                                      crypto::SecretData(request->passphrase()));
      WipeRequestField(request->passphrase());
      if (!der.ok()) return der.status();
      *version = v;
      response->set_material(format == pb::KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM
                                 ? crypto::EncryptedPkcs8Pem(*der)
                                 : *der);
      response->set_format(format);
      response->set_key_version(VersionName(name->id, v));
      return absl::OkStatus();
    }
    *version = v;
    response->set_material(
        format == pb::KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM
            ? keystore::PrivateKeyPem(*material)
            : std::string(material->InsecureView()));
    response->set_format(format);
    response->set_key_version(VersionName(name->id, v));
    return absl::OkStatus();
  });
}

}  // namespace keyward::daemon
