#include "daemon/access_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

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
    record.id = request->policy_id();
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
        response->set_authentication(pb::AUTHENTICATION_METHOD_UNIX_PEER);
        response->set_transport_principal(caller.principal);
        response->set_peer_address(context->peer());
        response->set_global_admin(
            caller.unix_peer &&
            rpc.env().authorizer->bootstrap_admin_uids().contains(caller.uid));
        return absl::OkStatus();
      },
      Rpc::Access::kAnyCaller);
}

grpc::ServerUnaryReactor* AccessServiceImpl::CreateApiKey(
    grpc::CallbackServerContext* context, const pb::CreateApiKeyRequest*,
    pb::CreateApiKeyResponse*) {
  return NotServed(context, "AccessService/CreateApiKey");
}
grpc::ServerUnaryReactor* AccessServiceImpl::RevokeApiKey(
    grpc::CallbackServerContext* context, const pb::RevokeApiKeyRequest*,
    pb::RevokeApiKeyResponse*) {
  return NotServed(context, "AccessService/RevokeApiKey");
}
grpc::ServerUnaryReactor* AccessServiceImpl::ListApiKeys(
    grpc::CallbackServerContext* context, const pb::ListApiKeysRequest*,
    pb::ListApiKeysResponse*) {
  return NotServed(context, "AccessService/ListApiKeys");
}
grpc::ServerUnaryReactor* AccessServiceImpl::Login(
    grpc::CallbackServerContext* context, const pb::LoginRequest*,
    pb::LoginResponse*) {
  return NotServed(context, "AccessService/Login");
}

}  // namespace keyward::daemon
