#include "daemon/access.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace keyward::daemon {
namespace {

using keyward::v1::Operation;

bool ResourceMatches(absl::string_view pattern, absl::string_view resource) {
  if (pattern == "*") return true;
  if (absl::EndsWith(pattern, "*")) {
    pattern.remove_suffix(1);
    return absl::StartsWith(resource, pattern) && resource != "*";
  }
  return pattern == resource;
}

// Whether holding `granted` allows `wanted` (ADMIN: READ and ROTATE too;
// anything key-scoped: READ).
bool Implies(Operation granted, Operation wanted) {
  if (granted == wanted) return true;
  if (wanted == keyward::v1::OPERATION_READ) return true;
  return granted == keyward::v1::OPERATION_ADMIN &&
         wanted == keyward::v1::OPERATION_ROTATE;
}

}  // namespace

absl::StatusOr<Caller> Identify(const grpc::ServerContextBase& context,
                                const PeerTable& peers) {
  if (auto creds = peers.Find(context.peer())) {
    Caller caller;
    caller.principal = absl::StrCat("unix:uid:", creds->uid);
    caller.also_matches.push_back(absl::StrCat("unix:gid:", creds->gid));
    caller.unix_peer = true;
    caller.uid = creds->uid;
    return caller;
  }
  return absl::UnauthenticatedError(
      "this call carries no identity Keyward accepts; connect over the Unix "
      "socket (your uid is your identity)");
}

Authorizer::Authorizer(absl::flat_hash_set<uint32_t> bootstrap_admin_uids)
    : bootstrap_(std::move(bootstrap_admin_uids)),
      policies_(std::make_shared<const Snapshot>()) {}

void Authorizer::Reload(std::vector<keystore::PolicyRecord> policies) {
  auto next = std::make_shared<const Snapshot>(std::move(policies));
  absl::MutexLock lock(&mu_);
  policies_ = std::move(next);
}

absl::Status Authorizer::Check(const Caller& caller, Operation operation,
                               absl::string_view resource) const {
  if (caller.unix_peer && bootstrap_.contains(caller.uid)) {
    return absl::OkStatus();
  }
  std::shared_ptr<const Snapshot> policies;
  {
    absl::ReaderMutexLock lock(&mu_);
    policies = policies_;
  }
  for (const keystore::PolicyRecord& p : *policies) {
    bool principal_matches = p.principal == caller.principal;
    for (const std::string& other : caller.also_matches) {
      principal_matches = principal_matches || p.principal == other;
    }
    if (!principal_matches || !ResourceMatches(p.resource, resource)) continue;
    for (const std::string& name : p.operations) {
      Operation granted;
      if (ParseOperation(name, &granted) && Implies(granted, operation)) {
        return absl::OkStatus();
      }
    }
  }
  return absl::PermissionDeniedError(
      absl::StrCat(caller.principal, " may not ", OperationName(operation),
                   " on ", resource == "*" ? "the daemon" : resource,
                   "; an admin can grant it with `keyward policy grant`"));
}

std::vector<keystore::PolicyRecord> Authorizer::BuiltinPolicies() const {
  std::vector<keystore::PolicyRecord> out;
  for (uint32_t uid : bootstrap_) {
    keystore::PolicyRecord p;
    p.id = absl::StrCat("bootstrap-uid-", uid);
    p.principal = absl::StrCat("unix:uid:", uid);
    p.resource = "*";
    p.operations = {"ALL"};
    p.description = "bootstrap admin (built in)";
    p.created_by = "keywardd";
    out.push_back(std::move(p));
  }
  return out;
}

std::string OperationName(Operation operation) {
  absl::string_view name = keyward::v1::Operation_Name(operation);
  absl::ConsumePrefix(&name, "OPERATION_");
  return std::string(name);
}

bool ParseOperation(absl::string_view name, Operation* operation) {
  return keyward::v1::Operation_Parse(
             absl::StrCat("OPERATION_", absl::AsciiStrToUpper(name)),
             operation) &&
         *operation != keyward::v1::OPERATION_UNSPECIFIED;
}

absl::Status ValidateResource(absl::string_view resource) {
  if (resource == "*") return absl::OkStatus();
  absl::string_view rest = resource;
  if (absl::ConsumePrefix(&rest, "keys/") && !rest.empty()) {
    absl::ConsumeSuffix(&rest, "*");
    bool ok = true;
    for (char c : rest) {
      ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) ||
                  c == '.' || c == '_' || c == '-');
    }
    if (ok) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "policy resource '", resource,
      "' is not valid: use \"keys/NAME\", \"keys/PREFIX*\" or \"*\""));
}

}  // namespace keyward::daemon
