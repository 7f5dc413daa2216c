// The "jwt" commands of the `keyward` CLI: jwt sign, verify, record,
// revoke, records; jwks; jwe encrypt, decrypt.
#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/cli_command.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

// The flags of a JWT to sign (jwt sign, and jwe encrypt --nested-key).
std::vector<FlagSpec> SignJwtFlags() {
  return {
      {"claims", Kind::kValue, "JSON", "claims object (default {})"},
      {"claims-file", Kind::kValue, "FILE", "claims object from a file"},
      {"ttl", Kind::kValue, "DURATION", "token lifetime (default: the key's)"},
      {"typ", Kind::kValue, "TYP", "header typ (default JWT)"},
      {"record", Kind::kBool, "", "keep a token record (for look-up and revocation)"},
      {"external-id", Kind::kValue, "ID", "record: your id for the token"},
      {"metadata", Kind::kRepeated, "K=V", "record: metadata, repeatable"},
      {"store-token", Kind::kBool, "", "record: keep the token itself"},
  };
}

absl::Status FillSignJwt(const Context& ctx, const std::string& key,
                         v1::SignJwtRequest* req) {
  absl::StatusOr<std::string> name = KeyOrVersionName(key);
  if (!name.ok()) return name.status();
  req->set_name(*name);
  if (ctx.Has("claims") && ctx.Has("claims-file")) {
    return absl::InvalidArgumentError("give --claims or --claims-file, not both");
  }
  if (ctx.Has("claims-file")) {
    absl::StatusOr<std::string> claims = ReadInput(ctx.Flag("claims-file"));
    if (!claims.ok()) return claims.status();
    req->set_claims_json(*claims);
  } else {
    req->set_claims_json(ctx.Flag("claims", "{}"));
  }
  if (ctx.Has("ttl")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("ttl"));
    if (!d.ok()) return d.status();
    SetDuration(*d, req->mutable_ttl());
  }
  req->set_typ(ctx.Flag("typ"));
  if (ctx.Has("record") || ctx.Has("external-id") || ctx.Has("store-token") ||
      ctx.Has("metadata")) {
    v1::TokenRecordOptions* record = req->mutable_record();
    record->set_external_id(ctx.Flag("external-id"));
    record->set_store_token(ctx.Has("store-token"));
    absl::Status s = AddLabels(ctx.args().GetAll("metadata"), record->mutable_metadata());
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// TokenLine prints a compact token, or the response as JSON.
template <typename Response>
int OutputToken(Context& ctx, absl::string_view what,
                const absl::StatusOr<Response>& resp) {
  if (!resp.ok()) return ctx.Fail(what, resp.status());
  return ctx.Output("cannot write the token",
                    ctx.json() ? ToJson(*resp) : absl::StrCat(resp->token(), "\n"), false);
}

int RunJwtSign(Context& ctx) {
  v1::SignJwtRequest req;
  absl::Status s = FillSignJwt(ctx, ctx.pos()[0], &req);
  if (!s.ok()) return ctx.Usage(s.message());
  return OutputToken(ctx, absl::StrCat("cannot sign a JWT with ", req.name()),
                     ctx.Call(&ClientInterface::SignJwt, req));
}

// SetVerifyOptions sets the key pinned by --<key_flag>, --issuer and
// --audience of a JWT to verify.
absl::Status SetVerifyOptions(const Context& ctx, absl::string_view key_flag,
                              v1::VerifyJwtRequest* req) {
  std::string key;
  absl::Status s = ParseFlagInto(ctx, key_flag, KeyName, &key);
  req->set_name(key);
  req->set_issuer(ctx.Flag("issuer"));
  req->set_audience(ctx.Flag("audience"));
  return s;
}

absl::Status FillVerifyJwt(const Context& ctx, v1::VerifyJwtRequest* req) {
  absl::Status s = SetVerifyOptions(ctx, "key", req);
  if (!s.ok()) return s;
  req->set_typ(ctx.Flag("typ"));
  if (ctx.Has("leeway")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("leeway"));
    if (!d.ok()) return d.status();
    SetDuration(*d, req->mutable_leeway());
  }
  req->set_allow_missing_exp(ctx.Has("allow-missing-exp"));
  if (ctx.Has("max-age-without-exp")) {
    if (!req->allow_missing_exp()) {
      return absl::InvalidArgumentError(
          "--max-age-without-exp needs --allow-missing-exp");
    }
    absl::StatusOr<absl::Duration> d =
        ParseDurationFlag(ctx.Flag("max-age-without-exp"));
    if (!d.ok()) return d.status();
    SetDuration(*d, req->mutable_max_age_without_exp());
  }
  absl::StatusOr<std::string> token = ReadToken(ctx);
  if (!token.ok()) return token.status();
  req->set_token(*token);
  return absl::OkStatus();
}

std::string VerifyJwtText(const v1::VerifyJwtResponse& r) {
  if (r.valid()) return absl::StrCat("valid (", r.key_version(), ")\n", r.claims_json(), "\n");
  return absl::StrCat(
      "invalid: ", EnumWord(v1::JwtFailure_Name(r.failure()), "JWT_FAILURE_"),
      r.failure_detail().empty() ? "" : absl::StrCat(": ", r.failure_detail()), "\n");
}

int RunJwtVerify(Context& ctx) {
  v1::VerifyJwtRequest req;
  absl::Status s = FillVerifyJwt(ctx, &req);
  if (!s.ok()) return Refuse(ctx, "cannot read the token", s);
  absl::StatusOr<v1::VerifyJwtResponse> resp = ctx.Call(&ClientInterface::VerifyJwt, req);
  int rc = ctx.Reply("cannot verify the token", resp, VerifyJwtText);
  return rc == kExitOk ? ExitCodeForVerdict(resp->valid()) : rc;
}

Command JwtVerify() {
  return {"jwt verify", "", "verify a JWT from stdin (or --in)",
          {InFlag(), {"key", Kind::kValue, "NAME", "pin the key (default: by kid)"},
           {"issuer", Kind::kValue, "ISS", "required iss"},
           {"audience", Kind::kValue, "AUD", "required aud"},
           {"typ", Kind::kValue, "TYP", "required header typ"},
           {"leeway", Kind::kValue, "DURATION", "clock skew allowed"},
           {"allow-missing-exp", Kind::kBool, "", "accept a token without exp (legacy)"},
           {"max-age-without-exp", Kind::kValue, "DURATION",
            "with --allow-missing-exp: the oldest iat accepted"}},
          0, 0, RunJwtVerify, kVerdictExitCodes};
}

int RunJwks(Context& ctx) {
  v1::GetJwksRequest req;
  for (const std::string& n : ctx.pos()) {
    absl::StatusOr<std::string> name = KeyName(n);
    if (!name.ok()) return ctx.Usage(name.status().message());
    req.add_names(*name);
  }
  absl::StatusOr<v1::GetJwksResponse> resp = ctx.Call(&ClientInterface::GetJwks, req);
  if (!resp.ok()) return ctx.Fail("cannot get the JWK Set", resp.status());
  if (ctx.json()) return ctx.Output("cannot write", ToJson(*resp), false);
  return ctx.Output("cannot write the JWK Set", absl::StrCat(resp->jwks_json(), "\n"), false);
}

std::string TokenName(absl::string_view jti) {
  return absl::StrCat("tokens/", absl::StripPrefix(jti, "tokens/"));
}

int RunJwtRecord(Context& ctx) {
  v1::GetTokenRecordRequest req;
  absl::Status s = OnlyWith(ctx, "key", "external-id");
  if (!s.ok()) return ctx.Usage(s.message());
  if (ctx.Has("external-id")) {
    if (!ctx.pos().empty()) return ctx.Usage("give a JTI or --external-id, not both");
    req.set_external_id(ctx.Flag("external-id"));
    if (ctx.Has("key")) {
      absl::StatusOr<std::string> key = KeyName(ctx.Flag("key"));
      if (!key.ok()) return ctx.Usage(key.status().message());
      req.set_key(*key);
    }
  } else if (ctx.pos().size() == 1) {
    req.set_name(TokenName(ctx.pos()[0]));
  } else {
    return ctx.Usage("give a JTI or --external-id ID");
  }
  absl::StatusOr<v1::GetTokenRecordResponse> resp =
      ctx.Call(&ClientInterface::GetTokenRecord, req);
  if (!resp.ok()) return ctx.Fail("cannot get the token record", resp.status());
  ctx.PrintJson(*resp);  // a record is nested data: JSON is its table
  return kExitOk;
}

int RunJwtRevoke(Context& ctx) {
  v1::RevokeTokenRequest req;
  req.set_reason(ctx.Flag("reason"));
  return RunRevoke(ctx, "tokens", &ClientInterface::RevokeToken, std::move(req));
}

std::string TokenRecordTable(const v1::ListTokenRecordsResponse& all) {
  std::vector<std::vector<std::string>> rows = {
      {"JTI", "KEY VERSION", "SUBJECT", "EXTERNAL ID", "STATE", "EXPIRES"}};
  for (const v1::TokenRecord& r : all.records()) {
    rows.push_back({r.jti(), r.key_version(), r.subject(), r.external_id(),
                    EnumWord(v1::TokenState_Name(r.state()), "TOKEN_STATE_"),
                    FormatTimestamp(r.expire_time())});
  }
  return Table(rows);
}

int RunJwtRecords(Context& ctx) {
  v1::ListTokenRecordsRequest req;
  if (ctx.Has("key")) {
    absl::StatusOr<std::string> key = KeyName(ctx.Flag("key"));
    if (!key.ok()) return ctx.Usage(key.status().message());
    req.set_key(*key);
  }
  req.set_external_id(ctx.Flag("external-id"));
  return ctx.Reply("cannot list token records",
                   ctx.ListAll(&ClientInterface::ListTokenRecords, req), TokenRecordTable);
}

// FillJwe sets an EncryptJweRequest from the flags; the payload is a nested
// JWT with --nested-key, else the input.
absl::Status FillJwe(const Context& ctx, v1::EncryptJweRequest* req) {
  if (ctx.Has("enc")) {
    std::string e = absl::AsciiStrToUpper(ctx.Flag("enc"));
    std::replace(e.begin(), e.end(), '-', '_');
    v1::JweEncryption enc;
    if (!v1::JweEncryption_Parse(absl::StrCat("JWE_ENCRYPTION_", e), &enc)) {
      return absl::InvalidArgumentError(
          "--enc is one of A256GCM, A128GCM, A128CBC-HS256, A256CBC-HS512");
    }
    req->set_encryption(enc);
  }
  req->set_typ(ctx.Flag("typ"));
  req->set_content_type(ctx.Flag("content-type"));
  if (ctx.Has("nested-key")) {
    return FillSignJwt(ctx, ctx.Flag("nested-key"), req->mutable_nested_jwt());
  }
  for (const FlagSpec& f : SignJwtFlags()) {
    if (f.name == "typ") continue;  // the JWE header's typ
    absl::Status s = OnlyWith(ctx, f.name, "nested-key");
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::string> payload = ctx.Input();
  if (!payload.ok()) return payload.status();
  req->set_payload(*std::move(payload));
  return absl::OkStatus();
}

int RunJweEncrypt(Context& ctx) {
  absl::StatusOr<std::string> name = KeyOrVersionName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::EncryptJweRequest req;
  req.set_name(*name);
  absl::Status s = FillJwe(ctx, &req);
  if (!s.ok()) return Refuse(ctx, "cannot read the payload", s);
  absl::StatusOr<v1::EncryptJweResponse> resp = ctx.Call(&ClientInterface::EncryptJwe, req);
  Wipe(req.mutable_payload());
  return OutputToken(ctx, absl::StrCat("cannot encrypt a JWE to ", *name), resp);
}

absl::Status FillJweDecrypt(const Context& ctx, v1::DecryptJweRequest* req) {
  for (const char* flag : {"nested-key", "issuer", "audience"}) {
    absl::Status s = OnlyWith(ctx, flag, "verify-nested");
    if (!s.ok()) return s;
  }
  if (ctx.Has("key")) {
    absl::StatusOr<std::string> key = KeyName(ctx.Flag("key"));
    if (!key.ok()) return key.status();
    req->set_name(*key);
  }
  if (!ctx.Has("verify-nested")) return absl::OkStatus();
  return SetVerifyOptions(ctx, "nested-key", req->mutable_verify_nested());
}

// ReadJwe fills the request from the flags, then the token from the input.
absl::Status ReadJwe(const Context& ctx, v1::DecryptJweRequest* req) {
  absl::Status s = FillJweDecrypt(ctx, req);
  if (!s.ok()) return s;
  absl::StatusOr<std::string> token = ReadToken(ctx);
  if (!token.ok()) return token.status();
  *req->mutable_token() = *std::move(token);
  return absl::OkStatus();
}

int RunJweDecrypt(Context& ctx) {
  v1::DecryptJweRequest req;
  if (absl::Status s = ReadJwe(ctx, &req); !s.ok()) {
    return Refuse(ctx, "cannot read the token", s);
  }
  absl::StatusOr<v1::DecryptJweResponse> resp = ctx.Call(&ClientInterface::DecryptJwe, req);
  if (!resp.ok()) return ctx.Fail("cannot decrypt the JWE", resp.status());
  int rc = ctx.Output("cannot write the payload",
                      ctx.json() ? ToJson(*resp) : resp->payload(), false, 0600);
  Wipe(resp->mutable_payload());
  if (rc == kExitOk && resp->has_nested()) return ExitCodeForVerdict(resp->nested().valid());
  return rc;
}

Command JweEncrypt() {
  std::vector<FlagSpec> flags = SignJwtFlags();
  for (FlagSpec& f : flags) {
    if (f.name != "typ") f.help = absl::StrCat("with --nested-key: ", f.help);
  }
  flags.push_back(InFlag());
  flags.push_back(OutFlag());
  flags.push_back({"enc", Kind::kValue, "ENC",
                   "A256GCM (default), A128GCM, A128CBC-HS256, A256CBC-HS512"});
  flags.push_back({"content-type", Kind::kValue, "CTY", "header cty of a raw payload"});
  flags.push_back({"nested-key", Kind::kValue, "KEY", "sign a JWT with KEY and encrypt it"});
  return {"jwe encrypt", "NAME", "encrypt stdin (or a nested JWT) into a compact JWE",
          flags, 1, 1, RunJweEncrypt};
}

}  // namespace

std::vector<Command> JwtCommands() {
  return {
      {"jwt sign", "NAME", "issue a signed JWT", SignJwtFlags(), 1, 1, RunJwtSign},
      JwtVerify(),
      {"jwt record", "[JTI]", "show a token record",
       {{"external-id", Kind::kValue, "ID", "look up by your id"},
        {"key", Kind::kValue, "NAME", "with --external-id: only this key's"}},
       0, 1, RunJwtRecord},
      {"jwt revoke", "JTI", "revoke a recorded token",
       {{"reason", Kind::kValue, "TEXT", "why"}}, 1, 1, RunJwtRevoke},
      {"jwt records", "", "list token records",
       {{"key", Kind::kValue, "NAME", "only this key's"},
        {"external-id", Kind::kValue, "ID", "only this external id"}},
       0, 0, RunJwtRecords},
      {"jwks", "NAME...", "print the JWK Set of JWT/JWE keys", {OutFlag()}, 1, kManyArgs,
       RunJwks},
      JweEncrypt(),
      {"jwe decrypt", "", "decrypt a compact JWE from stdin (or --in)",
       {InFlag(), OutFlag(), {"key", Kind::kValue, "NAME", "pin the key (default: by kid)"},
        {"verify-nested", Kind::kBool, "", "verify the nested JWT (exit 1 if invalid)"},
        {"nested-key", Kind::kValue, "NAME", "with --verify-nested: pin the nested JWT's key"},
        {"issuer", Kind::kValue, "ISS", "with --verify-nested: required iss"},
        {"audience", Kind::kValue, "AUD", "with --verify-nested: required aud"}},
       0, 0, RunJweDecrypt},
  };
}

}  // namespace keyward::cli
