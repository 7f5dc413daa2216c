#include "daemon/key_service.h"

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "daemon/wipe.h"
#include "keystore/crypto/pkcs8_encrypt.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jwk.h"
#include "keystore/jose/jws.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::StatusOr<std::optional<keystore::KeyPurpose>> PurposeFromProto(
    pb::KeyPurpose purpose) {
  switch (purpose) {
    case pb::KEY_PURPOSE_UNSPECIFIED:
      return std::nullopt;
    case pb::KEY_PURPOSE_ENCRYPT_DECRYPT:
      return keystore::KeyPurpose::kEncryptDecrypt;
    case pb::KEY_PURPOSE_SIGN_VERIFY:
      return keystore::KeyPurpose::kSignVerify;
    case pb::KEY_PURPOSE_MAC:
      return keystore::KeyPurpose::kMac;
    case pb::KEY_PURPOSE_JWT:
      return keystore::KeyPurpose::kJwt;
    case pb::KEY_PURPOSE_JWE:
      return keystore::KeyPurpose::kKeyAgreement;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "purpose ", static_cast<int>(purpose), " is not a KeyPurpose"));
  }
}

absl::Status ValidateLabels(const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > 64) {
    return absl::InvalidArgumentError("a key has at most 64 labels");
  }
  for (const auto& [k, v] : labels) {
    if (k.empty() || k.size() > 63 || v.size() > 255) {
      return absl::InvalidArgumentError(absl::StrCat(
          "label '", absl::CHexEscape(k.substr(0, 64)),
          "' is not valid: names are 1 to 63 bytes, values at most 255"));
    }
  }
  return absl::OkStatus();
}

absl::Status VersionNameRequired(const KeyName& name) {
  if (name.version != 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "name must be a version: keys/NAME/versions/N");
}

// AlgorithmsFromProto: a template's signature_algorithms as the keystore's
// (it checks them against the type and purpose).
absl::StatusOr<std::vector<crypto::SignatureAlgorithm>> AlgorithmsFromProto(
    const pb::Key& key) {
  std::vector<crypto::SignatureAlgorithm> out;
  for (int a : key.signature_algorithms()) {
    auto known = daemon::FromProto(static_cast<pb::SignatureAlgorithm>(a));
    if (!known.ok()) return known.status();
    if (!known->has_value()) {
      return absl::InvalidArgumentError(
          "signature_algorithms must not hold SIGNATURE_ALGORITHM_UNSPECIFIED");
    }
    out.push_back(**known);
  }
  return out;
}

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

// Page tokens are the last key id of the previous page.
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

}  // namespace

grpc::ServerUnaryReactor* KeyServiceImpl::CreateKey(
    grpc::CallbackServerContext* context, const pb::CreateKeyRequest* request,
    pb::CreateKeyResponse* response) {
  absl::StatusOr<std::string> resource = std::string("keys/") + request->key_id();
  if (absl::Status s = keystore::ValidateKeyId(request->key_id()); !s.ok()) {
    resource = s;
  }
  return Unary(env_, context, "KeyService/CreateKey", pb::OPERATION_ADMIN,
               resource, [&](Rpc& rpc, int32_t* version) -> absl::Status {
    const pb::Key& key = request->key();
    keystore::CreateKeyParams params;
    params.id = request->key_id();
    auto type = daemon::FromProto(key.key_type());
    if (!type.ok()) return type.status();
    params.type = *type;
    auto purpose = PurposeFromProto(key.purpose());
    if (!purpose.ok()) return purpose.status();
    params.purpose = *purpose;
    absl::Status s = ValidateLabels(key.labels());
    if (!s.ok()) return s;
    if (key.description().size() > 1024) {
      return TooLarge("description", key.description().size(), 1024);
    }
    params.description = key.description();
    params.labels.insert(key.labels().begin(), key.labels().end());
    params.exportable = key.exportable();
    params.rotation_period = FromProto(key.rotation_period());
    params.jwt_max_ttl = FromProto(key.jwt().max_ttl());
    params.jwt_default_ttl = FromProto(key.jwt().default_ttl());
    params.jwt_issuer = key.jwt().issuer();
    auto algorithms = AlgorithmsFromProto(key);
    if (!algorithms.ok()) return algorithms.status();
    params.signature_algorithms = std::move(*algorithms);
    auto jwe = ChooseJweAlgorithm(
        key.jwe_algorithm(), params.type,
        params.purpose.value_or(keystore::KeyPurpose::kEncryptDecrypt));
    if (!jwe.ok()) return jwe.status();
    params.jwe_algorithm = *jwe;
    // RSA key generation takes up to seconds (RSA-4096) in one libcrypto
    // call: start it only for a caller still waiting, in a costly slot.
    std::optional<CostlyWork::Slot> slot;
    if (keystore::KeyTypeInfoOf(params.type).rsa) {
      auto begun = costly_.Begin(*context);
      if (!begun.ok()) return begun.status();
      slot.emplace(std::move(*begun));
    }
    auto created = rpc.keystore().CreateKey(params);
    if (!created.ok()) return created.status();
    *version = 1;
    ToProto(*created, response->mutable_key());
    auto v = rpc.keystore().GetVersion(created->id, 1);
    if (v.ok()) ToProto(*v, created->primary_version, response->mutable_version());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* KeyServiceImpl::GetKey(
    grpc::CallbackServerContext* context, const pb::GetKeyRequest* request,
    pb::GetKeyResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "KeyService/GetKey", pb::OPERATION_READ,
               ResourceOf(name), [&](Rpc& rpc, int32_t*) -> absl::Status {
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    ToProto(*key, response->mutable_key());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* KeyServiceImpl::ListKeys(
    grpc::CallbackServerContext* context, const pb::ListKeysRequest* request,
    pb::ListKeysResponse* response) {
  // Any identified caller may list; it sees the keys on which it holds any
  // operation (key_service.proto), the others are left out.
  return Unary(env_, context, "KeyService/ListKeys", pb::OPERATION_READ,
               std::string("*"), [&](Rpc& rpc, int32_t*) -> absl::Status {
    if (request->page_size() < 0) {
      return absl::InvalidArgumentError("page_size must not be negative");
    }
    const int page_size =
        request->page_size() == 0 ? kDefaultPageSize
                                  : std::min(request->page_size(), kMaxPageSize);
    std::string after = request->page_token();
    // A page token is the last key id of a page (a cursor every backend
    // takes as text); anything else was not made here.
    if (!after.empty() && !keystore::ValidateKeyId(after).ok()) {
      return absl::InvalidArgumentError(
          "page_token is not one ListKeys returned: give the next_page_token "
          "of the previous page, or none for the first page");
    }
    absl::string_view name_prefix = request->name_prefix();
    if (!name_prefix.empty() && !absl::ConsumePrefix(&name_prefix, "keys/")) {
      return absl::InvalidArgumentError(
          "name_prefix must start with \"keys/\", e.g. \"keys/payments-\"");
    }
    const std::string prefix(name_prefix);
    // Every prefix of a valid id is a valid id: no key has another prefix.
    if (!prefix.empty() && !keystore::ValidateKeyId(prefix).ok()) {
      return absl::OkStatus();
    }
    if (after.empty() && !prefix.empty()) {
      // Start just after the greatest id below the prefix: the prefix with
      // its last character one lower, padded with 'z' (the greatest id
      // character) to the longest id. It stays within the ids' ASCII, a
      // cursor every backend takes (PostgreSQL refuses text that is not
      // UTF-8, e.g. a byte 0xff).
      after = prefix.substr(0, prefix.size() - 1);
      after.push_back(prefix.back() - 1);
      after.append(keystore::kMaxKeyIdLength - prefix.size(), 'z');
    }
    auto purpose = PurposeFromProto(request->purpose());
    while (response->keys_size() < page_size) {
      auto page = rpc.keystore().ListKeys(after, page_size);
      if (!page.ok()) return page.status();
      if (page->empty()) {
        after.clear();
        break;
      }
      bool past_prefix = false;
      for (const keystore::KeyRecord& key : *page) {
        after = key.id;
        if (!prefix.empty() && !absl::StartsWith(key.id, prefix)) {
          past_prefix = key.id > prefix;
          if (past_prefix) break;
          continue;
        }
        bool labels_match = true;
        for (const auto& [k, v] : request->labels()) {
          auto it = key.labels.find(k);
          labels_match = labels_match && it != key.labels.end() &&
                         (v.empty() || it->second == v);
        }
        if (!labels_match) continue;
        if (purpose.ok() && purpose->has_value() && key.purpose != **purpose) continue;
        if (!rpc.HoldsAny(absl::StrCat("keys/", key.id))) continue;
        ToProto(key, response->add_keys());
        if (response->keys_size() == page_size) break;
      }
      if (past_prefix) {
        after.clear();
        break;
      }
    }
    response->set_next_page_token(after);
    return absl::OkStatus();
  }, Rpc::Access::kInBody);
}

grpc::ServerUnaryReactor* KeyServiceImpl::UpdateKey(
    grpc::CallbackServerContext* context, const pb::UpdateKeyRequest* request,
    pb::UpdateKeyResponse* response) {
  auto name = ParseKeyName(request->key().name(), "key.name");
  return Unary(env_, context, "KeyService/UpdateKey", pb::OPERATION_ADMIN,
               ResourceOf(name), [&](Rpc& rpc, int32_t*) -> absl::Status {
    if (request->update_mask().empty()) {
      return absl::InvalidArgumentError(
          "update_mask is empty: list the fields to change, e.g. "
          "[\"rotation_period\", \"labels\"]");
    }
    const pb::Key& key = request->key();
    keystore::KeyUpdate update;
    for (const std::string& path : request->update_mask()) {
      if (path == "description") {
        update.description = key.description();
      } else if (path == "labels") {
        absl::Status s = ValidateLabels(key.labels());
        if (!s.ok()) return s;
        update.labels.emplace(key.labels().begin(), key.labels().end());
      } else if (path == "rotation_period") {
        update.rotation_period = FromProto(key.rotation_period());
      } else if (path == "min_decryption_version") {
        update.min_decrypt_version = key.min_decryption_version();
      } else if (path == "min_encryption_version") {
        update.min_encrypt_version = key.min_encryption_version();
      } else if (path == "jwt") {
        update.jwt_max_ttl = FromProto(key.jwt().max_ttl());
        update.jwt_default_ttl = FromProto(key.jwt().default_ttl());
        update.jwt_issuer = key.jwt().issuer();
      } else if (path == "jwt.max_ttl") {
        update.jwt_max_ttl = FromProto(key.jwt().max_ttl());
      } else if (path == "jwt.default_ttl") {
        update.jwt_default_ttl = FromProto(key.jwt().default_ttl());
      } else if (path == "jwt.issuer") {
        update.jwt_issuer = key.jwt().issuer();
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "update_mask path '", absl::CHexEscape(path),
            "' cannot be updated; use description, labels, rotation_period, "
            "min_decryption_version, min_encryption_version, jwt, "
            "jwt.max_ttl, jwt.default_ttl or jwt.issuer"));
      }
    }
    auto updated = rpc.keystore().UpdateKey(name->id, update);
    if (!updated.ok()) return updated.status();
    ToProto(*updated, response->mutable_key());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* KeyServiceImpl::RotateKey(
    grpc::CallbackServerContext* context, const pb::RotateKeyRequest* request,
    pb::RotateKeyResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "KeyService/RotateKey", pb::OPERATION_ROTATE,
               ResourceOf(name), [&](Rpc& rpc, int32_t* version) -> absl::Status {
    // As CreateKey: RSA generation is costly and uninterruptible.
    std::optional<CostlyWork::Slot> slot;
    if (auto current = rpc.keystore().GetKey(name->id);
        current.ok() && keystore::KeyTypeInfoOf(current->type).rsa) {
      auto begun = costly_.Begin(*context);
      if (!begun.ok()) return begun.status();
      slot.emplace(std::move(*begun));
    }
    auto rotated = rpc.keystore().RotateKey(name->id);
    if (!rotated.ok()) return rotated.status();
    *version = rotated->version;
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    ToProto(*key, response->mutable_key());
    ToProto(*rotated, key->primary_version, response->mutable_version());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* KeyServiceImpl::ListKeyVersions(
    grpc::CallbackServerContext* context,
    const pb::ListKeyVersionsRequest* request,
    pb::ListKeyVersionsResponse* response) {
  auto name = ParseKeyName(request->parent(), "parent");
  return Unary(env_, context, "KeyService/ListKeyVersions", pb::OPERATION_READ,
               ResourceOf(name), [&](Rpc& rpc, int32_t*) -> absl::Status {
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    auto versions = rpc.keystore().ListVersions(name->id);
    if (!versions.ok()) return versions.status();
    int32_t after = 0;
    if (!request->page_token().empty() &&
        !absl::SimpleAtoi(request->page_token(), &after)) {
      return absl::InvalidArgumentError("page_token is not one this server gave");
    }
    const int page_size =
        request->page_size() <= 0 ? kDefaultPageSize
                                  : std::min(request->page_size(), kMaxPageSize);
    for (const keystore::VersionRecord& v : *versions) {
      if (v.version <= after) continue;
      pb::KeyVersion out;
      ToProto(v, key->primary_version, &out);
      if (request->state() != pb::VERSION_STATE_UNSPECIFIED &&
          out.state() != request->state()) {
        continue;
      }
      if (response->versions_size() == page_size) {
        response->set_next_page_token(absl::StrCat(after));
        break;
      }
      *response->add_versions() = std::move(out);
      after = v.version;
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* KeyServiceImpl::GetKeyVersion(
    grpc::CallbackServerContext* context, const pb::GetKeyVersionRequest* request,
    pb::GetKeyVersionResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "KeyService/GetKeyVersion", pb::OPERATION_READ,
               ResourceOf(name), [&](Rpc& rpc, int32_t* version) -> absl::Status {
    absl::Status s = VersionNameRequired(*name);
    if (!s.ok()) return s;
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    auto v = rpc.keystore().GetVersion(name->id, name->version);
    if (!v.ok()) return v.status();
    *version = v->version;
    ToProto(*v, key->primary_version, response->mutable_version());
    return absl::OkStatus();
  });
}

namespace {

// Disable, Enable and Destroy differ only in the keystore call.
template <typename Response, typename Change>
grpc::ServerUnaryReactor* ChangeVersion(const ServiceEnv& env,
                                        grpc::CallbackServerContext* context,
                                        absl::string_view method,
                                        const std::string& request_name,
                                        Response* response, Change change) {
  auto name = ParseKeyName(request_name);
  return Unary(env, context, method, pb::OPERATION_ADMIN, ResourceOf(name),
               [&](Rpc& rpc, int32_t* version) -> absl::Status {
    absl::Status s = VersionNameRequired(*name);
    if (!s.ok()) return s;
    *version = name->version;
    s = change(rpc.keystore(), name->id, name->version);
    if (!s.ok()) return s;
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    auto v = rpc.keystore().GetVersion(name->id, name->version);
    if (!v.ok()) return v.status();
    ToProto(*v, key->primary_version, response->mutable_version());
    return absl::OkStatus();
  });
}

}  // namespace

grpc::ServerUnaryReactor* KeyServiceImpl::DisableKeyVersion(
    grpc::CallbackServerContext* context,
    const pb::DisableKeyVersionRequest* request,
    pb::DisableKeyVersionResponse* response) {
  return ChangeVersion(env_, context, "KeyService/DisableKeyVersion",
                       request->name(), response,
                       [](keystore::Keystore& ks, const std::string& id,
                          int32_t v) { return ks.DisableVersion(id, v); });
}

grpc::ServerUnaryReactor* KeyServiceImpl::EnableKeyVersion(
    grpc::CallbackServerContext* context,
    const pb::EnableKeyVersionRequest* request,
    pb::EnableKeyVersionResponse* response) {
  return ChangeVersion(env_, context, "KeyService/EnableKeyVersion",
                       request->name(), response,
                       [](keystore::Keystore& ks, const std::string& id,
                          int32_t v) { return ks.EnableVersion(id, v); });
}

grpc::ServerUnaryReactor* KeyServiceImpl::DestroyKeyVersion(
    grpc::CallbackServerContext* context,
    const pb::DestroyKeyVersionRequest* request,
    pb::DestroyKeyVersionResponse* response) {
  return ChangeVersion(env_, context, "KeyService/DestroyKeyVersion",
                       request->name(), response,
                       [](keystore::Keystore& ks, const std::string& id,
                          int32_t v) { return ks.DestroyVersion(id, v); });
}

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
