// KeyService: key admin and versions (key_service.h). ImportKey and
// ExportKey are key_service_transfer.cc.
#include "daemon/key_service.h"

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;

absl::Status VersionNameRequired(const KeyName& name) {
  if (name.version != 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "name must be a version: keys/NAME/versions/N");
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

}  // namespace keyward::daemon
