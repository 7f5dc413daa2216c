// The "policy" commands of the `keyward` CLI: policy grant, revoke, list.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli_command.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

std::vector<std::string> OperationNames(
    const google::protobuf::RepeatedField<int>& operations) {
  std::vector<std::string> names;
  for (int o : operations) names.push_back(OperationName(static_cast<v1::Operation>(o)));
  return names;
}

// FillPolicy sets the policy from PRINCIPAL OPERATION... and the flags.
absl::Status FillPolicy(const Context& ctx, v1::CreatePolicyRequest* req) {
  v1::Policy* policy = req->mutable_policy();
  policy->set_principal(ctx.pos()[0]);
  for (size_t i = 1; i < ctx.pos().size(); ++i) {
    for (absl::string_view op : absl::StrSplit(ctx.pos()[i], ',', absl::SkipEmpty())) {
      absl::StatusOr<v1::Operation> o = ParseOperation(op);
      if (!o.ok()) return o.status();
      policy->add_operations(*o);
    }
  }
  std::string key = ctx.Flag("key");
  if (key.empty()) {
    return absl::InvalidArgumentError("give --key NAME, --key 'PREFIX*' or --key '*'");
  }
  policy->set_resource(key == "*" || absl::StartsWith(key, "keys/")
                           ? key
                           : absl::StrCat("keys/", key));
  req->set_policy_id(ctx.Flag("id"));
  policy->set_description(ctx.Flag("description"));
  if (ctx.Has("expires-in")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("expires-in"));
    if (!d.ok()) return d.status();
    SetTimestamp(absl::Now() + *d, policy->mutable_expire_time());
  }
  return absl::OkStatus();
}

int RunPolicyGrant(Context& ctx) {
  v1::CreatePolicyRequest req;
  absl::Status s = FillPolicy(ctx, &req);
  if (!s.ok()) return ctx.Usage(s.message());
  return ctx.Reply("cannot grant", ctx.Call(&ClientInterface::CreatePolicy, req),
                   [](const v1::CreatePolicyResponse& r) {
                     const v1::Policy& p = r.policy();
                     return absl::StrCat(p.name(), ": granted ",
                                         absl::StrJoin(OperationNames(p.operations()), ", "),
                                         " on ", p.resource(), " to ", p.principal(), "\n");
                   });
}

int RunPolicyRevoke(Context& ctx) {
  return RunRevoke(ctx, "policies", &ClientInterface::DeletePolicy);
}

std::string PolicyTable(const v1::ListPoliciesResponse& all) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "PRINCIPAL", "OPERATIONS", "RESOURCE", "EXPIRES", "BUILTIN"}};
  for (const v1::Policy& p : all.policies()) {
    rows.push_back({std::string(absl::StripPrefix(p.name(), "policies/")), p.principal(),
                    absl::StrJoin(OperationNames(p.operations()), ","), p.resource(),
                    FormatTimestamp(p.expire_time()), YesNo(p.builtin())});
  }
  return Table(rows);
}

int RunPolicyList(Context& ctx) {
  v1::ListPoliciesRequest req;
  req.set_principal(ctx.Flag("principal"));
  if (ctx.Has("key")) {
    absl::StatusOr<std::string> key = KeyName(ctx.Flag("key"));
    if (!key.ok()) return ctx.Usage(key.status().message());
    req.set_key(*key);
  }
  return ctx.Reply("cannot list policies",
                   ctx.ListAll(&ClientInterface::ListPolicies, req), PolicyTable);
}

}  // namespace

std::vector<Command> PolicyCommands() {
  return {
      {"policy grant", "PRINCIPAL OPERATION... --key NAME|PREFIX*|*",
       "grant a principal operations on keys",
       {{"key", Kind::kValue, "RESOURCE", "a key, 'PREFIX*', or '*' (required)"},
        {"id", Kind::kValue, "ID", "policy id (default: generated)"},
        {"description", Kind::kValue, "TEXT", "free text"},
        {"expires-in", Kind::kValue, "DURATION", "grant ends after this long"}},
       2, kManyArgs, RunPolicyGrant,
       "PRINCIPAL: unix:uid:N, unix:gid:N, spiffe://..., x509:..., apikey:ID.\n"
       "OPERATION: read sign verify encrypt decrypt mac mac-verify jwt-sign jwt-verify "
       "jwe-encrypt jwe-decrypt token-read token-revoke rotate admin audit-read."},
      {"policy revoke", "ID", "delete a policy", {}, 1, 1, RunPolicyRevoke},
      {"policy list", "", "list policies you administer",
       {{"principal", Kind::kValue, "P", "only this principal's"},
        {"key", Kind::kValue, "NAME", "only those covering this key"}},
       0, 0, RunPolicyList},
  };
}

}  // namespace keyward::cli
