// The "apikey" commands of the `keyward` CLI: apikey create, revoke, list,
// and login (an API key secret for a session token).
#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/cli_command.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

// OutputSecret writes a secret shown once (as a line, or the response as
// JSON) to --out with mode 0600 or stdout, then wipes every copy. When it
// went to a file, `note` is printed on stderr.
template <typename Response>
int OutputSecret(Context& ctx, absl::string_view what, Response* resp,
                 std::string* secret, absl::string_view note) {
  std::string out = ctx.json() ? ToJson(*resp) : absl::StrCat(*secret, "\n");
  int rc = ctx.Output(what, out, false, 0600);
  Wipe(&out);
  Wipe(secret);
  if (rc == kExitOk && ctx.Has("out") && ctx.Flag("out") != "-") {
    ctx.err() << note << std::endl;
  }
  return rc;
}

int RunApiKeyCreate(Context& ctx) {
  v1::CreateApiKeyRequest req;
  req.set_api_key_id(std::string(absl::StripPrefix(ctx.pos()[0], "apiKeys/")));
  req.mutable_api_key()->set_description(ctx.Flag("description"));
  if (ctx.Has("expires-in")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("expires-in"));
    if (!d.ok()) return ctx.Usage(d.status().message());
    SetTimestamp(absl::Now() + *d, req.mutable_api_key()->mutable_expire_time());
  }
  absl::StatusOr<v1::CreateApiKeyResponse> resp =
      ctx.Call(&ClientInterface::CreateApiKey, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot create apiKeys/", req.api_key_id()), resp.status());
  }
  return OutputSecret(
      ctx, "cannot write the API key secret", &*resp, resp->mutable_secret(),
      absl::StrCat(resp->api_key().name(), ": created; its secret (shown once) is in ",
                   ctx.Flag("out"), "; grant it access with `keyward policy grant ",
                   resp->api_key().principal(), " ...`"));
}

int RunApiKeyRevoke(Context& ctx) {
  return RunRevoke(ctx, "apiKeys", &ClientInterface::RevokeApiKey);
}

std::string ApiKeyTable(const v1::ListApiKeysResponse& all) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "EXPIRES", "LAST LOGIN", "DESCRIPTION"}};
  for (const v1::ApiKey& k : all.api_keys()) {
    rows.push_back({std::string(absl::StripPrefix(k.name(), "apiKeys/")),
                    EnumWord(v1::ApiKeyState_Name(k.state()), "API_KEY_STATE_"),
                    FormatTimestamp(k.expire_time()), FormatTimestamp(k.last_login_time()),
                    k.description()});
  }
  return Table(rows);
}

int RunApiKeyList(Context& ctx) {
  return ctx.Reply("cannot list API keys",
                   ctx.ListAll(&ClientInterface::ListApiKeys, v1::ListApiKeysRequest()),
                   ApiKeyTable);
}

int RunLogin(Context& ctx) {
  v1::LoginRequest req;
  if (ctx.Has("ttl")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("ttl"));
    if (!d.ok()) return ctx.Usage(d.status().message());
    SetDuration(*d, req.mutable_ttl());
  }
  absl::StatusOr<std::string> secret =
      ReadSecret(ctx.Flag("api-key-file"), "API key secret", "--api-key-file");
  if (!secret.ok()) return ctx.Fail("cannot read the API key secret", secret.status());
  req.set_api_key_secret(std::string(absl::StripAsciiWhitespace(*secret)));
  Wipe(&*secret);
  absl::StatusOr<v1::LoginResponse> resp = ctx.Call(&ClientInterface::Login, req);
  Wipe(req.mutable_api_key_secret());
  if (!resp.ok()) return ctx.Fail("cannot log in", resp.status());
  return OutputSecret(ctx, "cannot write the session token", &*resp,
                      resp->mutable_session_token(),
                      absl::StrCat("logged in as ", resp->principal(), " until ",
                                   FormatTimestamp(resp->expire_time()),
                                   "; pass --token-file ", ctx.Flag("out")));
}

}  // namespace

std::vector<Command> ApiKeyCommands() {
  return {
      {"apikey create", "ID", "make an API key; prints its secret once",
       {OutFlag(), {"description", Kind::kValue, "TEXT", "free text"},
        {"expires-in", Kind::kValue, "DURATION", "key stops working after this long"}},
       1, 1, RunApiKeyCreate},
      {"apikey revoke", "ID", "disable an API key for good", {}, 1, 1, RunApiKeyRevoke},
      {"apikey list", "", "list API keys", {}, 0, 0, RunApiKeyList},
      {"login", "", "exchange an API key secret for a session token",
       {OutFlag(),
        {"api-key-file", Kind::kValue, "FILE", "the secret (mode 0600; default: prompt)"},
        {"ttl", Kind::kValue, "DURATION", "session lifetime"}},
       0, 0, RunLogin, "Pass the token to later commands with --token-file."},
  };
}

}  // namespace keyward::cli
