#include "daemon/access_service.h"

#include "daemon/wipe.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "keystore/crypto/digest.h"
#include "keystore/crypto/random.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;
using google::protobuf::util::TimeUtil;

absl::Status ValidatePrincipal(absl::string_view p) {
  for (absl::string_view prefix :
       {"unix:uid:", "unix:gid:", "spiffe://", "x509:", "apikey:"}) {
    if (absl::StartsWith(p, prefix) && p.size() > prefix.size() &&
        p.size() <= 512) {
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "principal '", absl::CHexEscape(p.substr(0, 100)),
      "' is not valid: use unix:uid:N, unix:gid:N, spiffe://..., x509:... or "
      "apikey:NAME"));
}

void ToProto(const keystore::PolicyRecord& p, bool builtin, pb::Policy* out) {
  out->set_name("policies/" + p.id);
  out->set_principal(p.principal);
  for (const std::string& op : p.operations) {
    pb::Operation parsed;
    if (ParseOperation(op, &parsed)) out->add_operations(parsed);
  }
  out->set_resource(p.resource);
  out->set_description(p.description);
  *out->mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(p.created_at));
  out->set_created_by(p.created_by);
  out->set_builtin(builtin);
}

absl::Status ReloadPolicies(Rpc& rpc) {
  auto policies = rpc.keystore().ListPolicies();
  if (!policies.ok()) return policies.status();
  rpc.env().authorizer->Reload(std::move(*policies));
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* AccessServiceImpl::CreatePolicy(
    grpc::CallbackServerContext* context, const pb::CreatePolicyRequest* request,
    pb::CreatePolicyResponse* response) {
  return Unary(env_, context, "AccessService/CreatePolicy", pb::OPERATION_ADMIN,
               std::string("*"), [&](Rpc& rpc, int32_t*) -> absl::Status {
    const pb::Policy& in = request->policy();
    absl::Status s = ValidatePrincipal(in.principal());
    if (!s.ok()) return s;
    s = ValidateResource(in.resource());
    if (!s.ok()) return s;
    if (in.operations().empty()) {
      return absl::InvalidArgumentError(
          "operations is empty: grant at least one, e.g. SIGN");
    }
    keystore::PolicyRecord record;
    record.id = request->policy_id().empty()
                    ? absl::StrCat("p-", absl::BytesToHexString(
                                             crypto::RandomBytes(6)))
                    : request->policy_id();
    record.principal = in.principal();
    record.resource = in.resource();
    for (int op : in.operations()) {
      if (op == pb::OPERATION_UNSPECIFIED || !pb::Operation_IsValid(op)) {
        return absl::InvalidArgumentError("operations holds an unknown value");
      }
      if (op == pb::OPERATION_AUDIT_READ && in.resource() != "*") {
        return absl::InvalidArgumentError("AUDIT_READ can only be granted on \"*\"");
      }
      record.operations.push_back(OperationName(static_cast<pb::Operation>(op)));
    }
    record.description = in.description();
    record.created_by = rpc.caller().principal;
    record.created_at = absl::Now();
    s = rpc.keystore().CreatePolicy(record);
    if (!s.ok()) return s;
    ToProto(record, false, response->mutable_policy());
    return ReloadPolicies(rpc);
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::DeletePolicy(
    grpc::CallbackServerContext* context, const pb::DeletePolicyRequest* request,
    pb::DeletePolicyResponse* response) {
  return Unary(env_, context, "AccessService/DeletePolicy", pb::OPERATION_ADMIN,
               std::string("*"), [&](Rpc& rpc, int32_t*) -> absl::Status {
    absl::string_view id = request->name();
    if (!absl::ConsumePrefix(&id, "policies/")) {
      return absl::InvalidArgumentError("name must be policies/ID");
    }
    if (absl::StartsWith(id, "bootstrap-")) {
      return absl::FailedPreconditionError(
          "built-in bootstrap policies cannot be deleted; change "
          "bootstrap_admin_uids in the config instead");
    }
    absl::Status s = rpc.keystore().DeletePolicy(std::string(id));
    if (!s.ok()) return s;
    return ReloadPolicies(rpc);
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::ListPolicies(
    grpc::CallbackServerContext* context, const pb::ListPoliciesRequest* request,
    pb::ListPoliciesResponse* response) {
  return Unary(env_, context, "AccessService/ListPolicies", pb::OPERATION_ADMIN,
               std::string("*"), [&](Rpc& rpc, int32_t*) -> absl::Status {
    auto stored = rpc.keystore().ListPolicies();
    if (!stored.ok()) return stored.status();
    auto add = [&](const keystore::PolicyRecord& p, bool builtin) {
      if (!request->principal().empty() && p.principal != request->principal()) {
        return;
      }
      if (!request->key().empty() && p.resource != "*" &&
          p.resource != request->key() &&
          !(absl::EndsWith(p.resource, "*") &&
            absl::StartsWith(request->key(),
                             p.resource.substr(0, p.resource.size() - 1)))) {
        return;
      }
      ToProto(p, builtin, response->add_policies());
    };
    for (const auto& p : rpc.env().authorizer->BuiltinPolicies()) add(p, true);
    for (const auto& p : *stored) add(p, false);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::WhoAmI(
    grpc::CallbackServerContext* context, const pb::WhoAmIRequest* request,
    pb::WhoAmIResponse* response) {
  return Unary(
      env_, context, "AccessService/WhoAmI", pb::OPERATION_READ,
      std::string(""),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        const Caller& caller = rpc.caller();
        response->set_principal(caller.principal);
        for (const auto& p : caller.also_matches) {
          response->add_additional_principals(p);
        }
        response->set_authentication(caller.method);
        if (caller.method == pb::AUTHENTICATION_METHOD_SESSION_TOKEN) {
          response->set_transport_principal(caller.transport_principal);
        }
        if (caller.session_expires != absl::InfiniteFuture()) {
          *response->mutable_session_expire_time() =
              TimeUtil::MicrosecondsToTimestamp(
                  absl::ToUnixMicros(caller.session_expires));
        }
        response->set_peer_address(caller.unix_peer ? "unix:"
                                                    : context->peer());
        response->set_global_admin(
            caller.unix_peer &&
            rpc.env().authorizer->bootstrap_admin_uids().contains(caller.uid));
        return absl::OkStatus();
      },
      Rpc::Access::kAnonymousToo);
}

namespace {

void ToProto(const keystore::ApiKeyRecord& k, pb::ApiKey* out) {
  auto ts = [](absl::Time t) {
    return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
  };
  out->set_name("apiKeys/" + k.id);
  out->set_principal("apikey:" + k.id);
  out->set_description(k.description);
  if (k.expire_at != absl::InfiniteFuture()) {
    *out->mutable_expire_time() = ts(k.expire_at);
  }
  const absl::Time now = absl::Now();
  out->set_state(k.revoked_at != absl::InfiniteFuture() ? pb::API_KEY_STATE_REVOKED
                 : k.expire_at <= now                 ? pb::API_KEY_STATE_EXPIRED
                                                      : pb::API_KEY_STATE_ACTIVE);
  *out->mutable_create_time() = ts(k.created_at);
  out->set_created_by(k.created_by);
  if (k.last_login_at != absl::UnixEpoch()) {
    *out->mutable_last_login_time() = ts(k.last_login_at);
  }
  if (k.revoked_at != absl::InfiniteFuture()) {
    *out->mutable_revoke_time() = ts(k.revoked_at);
  }
}

// Secrets are "kw_ak_{id}:{43 base64url chars}"; the id finds the record,
// the SHA-256 of the whole string must match its stored hash.
constexpr absl::string_view kSecretPrefix = "kw_ak_";

}  // namespace

grpc::ServerUnaryReactor* AccessServiceImpl::CreateApiKey(
    grpc::CallbackServerContext* context, const pb::CreateApiKeyRequest* request,
    pb::CreateApiKeyResponse* response) {
  return Unary(env_, context, "AccessService/CreateApiKey", pb::OPERATION_ADMIN,
               std::string("*"), [&](Rpc& rpc, int32_t*) -> absl::Status {
    const pb::ApiKey& in = request->api_key();
    if (in.description().size() > 1024) {
      return TooLarge("description", in.description().size(), 1024);
    }
    keystore::ApiKeyRecord record;
    record.id = request->api_key_id();
    record.description = in.description();
    record.created_by = rpc.caller().principal;
    record.created_at = absl::Now();
    if (in.has_expire_time()) {
      record.expire_at = absl::FromUnixMicros(
          TimeUtil::TimestampToMicroseconds(in.expire_time()));
      if (record.expire_at <= record.created_at) {
        return absl::InvalidArgumentError("expire_time is in the past");
      }
    }
    std::string secret =
        RandomSecret(absl::StrCat(kSecretPrefix, record.id, ":"), 32);
    record.secret_sha256 = crypto::Sha256(secret);
    absl::Status s = rpc.keystore().CreateApiKey(record);
    if (!s.ok()) return s;
    ToProto(record, response->mutable_api_key());
    response->set_secret(std::move(secret));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::RevokeApiKey(
    grpc::CallbackServerContext* context, const pb::RevokeApiKeyRequest* request,
    pb::RevokeApiKeyResponse* response) {
  return Unary(env_, context, "AccessService/RevokeApiKey", pb::OPERATION_ADMIN,
               std::string("*"), [&](Rpc& rpc, int32_t*) -> absl::Status {
    absl::string_view id = request->name();
    if (!absl::ConsumePrefix(&id, "apiKeys/")) {
      return absl::InvalidArgumentError("name must be apiKeys/ID");
    }
    absl::Status s = rpc.keystore().RevokeApiKey(std::string(id));
    if (!s.ok()) return s;
    rpc.env().sessions->Revoke(std::string(id));
    auto record = rpc.keystore().GetApiKey(std::string(id));
    if (!record.ok()) return record.status();
    ToProto(*record, response->mutable_api_key());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::ListApiKeys(
    grpc::CallbackServerContext* context, const pb::ListApiKeysRequest* request,
    pb::ListApiKeysResponse* response) {
  return Unary(env_, context, "AccessService/ListApiKeys", pb::OPERATION_ADMIN,
               std::string("*"), [&](Rpc& rpc, int32_t*) -> absl::Status {
    auto keys = rpc.keystore().ListApiKeys();
    if (!keys.ok()) return keys.status();
    for (const auto& k : *keys) {
      pb::ApiKey out;
      ToProto(k, &out);
      if (request->state() != pb::API_KEY_STATE_UNSPECIFIED &&
          out.state() != request->state()) {
        continue;
      }
      *response->add_api_keys() = std::move(out);
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::Login(
    grpc::CallbackServerContext* context, const pb::LoginRequest* request,
    pb::LoginResponse* response) {
  // Anyone may try, so the transport identity is optional here; failures
  // are counted per caller.
  Rpc rpc(env_, context, "AccessService/Login");
  rpc.Identify().IgnoreError();
  // Failures count under the peer (address without port, or uid), the
  // transport identity, and the API key id being tried (see FailureKeys).
  absl::string_view tried = request->api_key_secret();
  std::string key_id;
  if (absl::ConsumePrefix(&tried, kSecretPrefix)) {
    key_id = std::string(tried.substr(0, tried.find(':')));
  }
  // An id no key can have protects nothing; it must not grow the table.
  if (key_id.empty() || key_id.size() > 64) key_id.clear();
  const std::vector<std::string> who = FailureKeys(
      *context, *env_.peers,
      rpc.caller().principal == "anonymous" ? ""
                                            : rpc.caller().transport_principal,
      key_id.empty() ? "" : absl::StrCat("apikey:", key_id));
  absl::Status status = rpc.Run(
      pb::OPERATION_READ, std::string(""),
      [&](int32_t*) -> absl::Status {
        absl::Status limited = env_.failures->Check(who);
        if (!limited.ok()) return limited;
        if (env_.keystore->sealed()) {
          return absl::UnavailableError(
              "keywardd is sealed; unseal it before logging in");
        }
        absl::Duration ttl = absl::Seconds(request->ttl().seconds());
        if (ttl < absl::ZeroDuration()) {
          return absl::InvalidArgumentError("ttl must not be negative");
        }
        if (ttl == absl::ZeroDuration() || ttl > env_.session_ttl) {
          ttl = env_.session_ttl;
        }
        const absl::Status refused = absl::UnauthenticatedError(
            "the API key secret is unknown, wrong, expired or revoked");
        absl::string_view secret = request->api_key_secret();
        std::optional<std::string> parsed_id = ApiKeyIdOfSecret(secret);
        if (!parsed_id) {
          env_.failures->RecordFailure(who);
          return refused;
        }
        const std::string& id = *parsed_id;
        // Read before the key: a seal or restore from here on refuses the
        // session (SessionTable).
        const uint64_t epoch = env_.sessions->epoch();
        auto record = env_.keystore->GetApiKey(id);
        const absl::Time now = absl::Now();
        if (!record.ok() ||
            !crypto::ConstantTimeEquals(crypto::Sha256(secret),
                                        record->secret_sha256) ||
            record->revoked_at != absl::InfiniteFuture() ||
            record->expire_at <= now) {
          env_.failures->RecordFailure(who);
          return refused;
        }
        const absl::Time expires = std::min(now + ttl, record->expire_at);
        // nullopt: revoked, sealed or restored since it was read above.
        std::optional<std::string> token =
            env_.sessions->Create(id, expires, epoch);
        if (!token) {
          env_.failures->RecordFailure(who);
          return refused;
        }
        // Its commit writes the call's record (a failure refuses the call).
        env_.keystore->TouchApiKey(id).IgnoreError();
        response->set_session_token(std::move(*token));
        rpc.OnRefused([this, token = response->session_token()] {
          env_.sessions->End(token);
        });
        *response->mutable_expire_time() =
            TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(expires));
        response->set_principal("apikey:" + id);
        return absl::OkStatus();
      },
      Rpc::Access::kAnyone);
  WipeRequestField(request->api_key_secret());
  return rpc.Finish(status);
}

}  // namespace keyward::daemon
