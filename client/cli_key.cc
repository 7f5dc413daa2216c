// The "key" commands of the `keyward` CLI: create, list, show, rotate,
// update, versions, version state changes, import, export, public.
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/cli_command.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

// --- Shared by create and import ---

std::vector<FlagSpec> KeyTemplateFlags(bool import) {
  return {
      {"type", Kind::kValue, "TYPE",
       KeyTypeNames() +
           std::string(import ? " (default: from the material)" : "")},
      {"purpose", Kind::kValue, "PURPOSE",
       "sign, encrypt, mac, jwt or jwe (default by type; RSA needs it)"},
      {"label", Kind::kRepeated, "K=V", "label, repeatable"},
      {"description", Kind::kValue, "TEXT", "free text"},
      {"exportable", Kind::kBool, "", "allow `keyward key export` (immutable)"},
  };
}

// The flags of a new key's algorithms and JWT settings (create and import).
std::vector<FlagSpec> KeySettingFlags() {
  return {
      {"algorithm", Kind::kRepeated, "ALG",
       "signature algorithm, repeatable; the first is the key's default "
       "(e.g. rsa-pkcs1-sha512); JWT keys take one JWS name (RS512, PS256, "
       "ES384, EdDSA...). Default: the type's"},
      {"jwt-max-ttl", Kind::kValue, "DURATION",
       "JWT keys: longest token lifetime (default 24h)"},
      {"jwt-default-ttl", Kind::kValue, "DURATION",
       "JWT keys: lifetime of a token signed without --ttl (default 15m)"},
      {"jwt-issuer", Kind::kValue, "ISS",
       "JWT keys: \"iss\" filled into every token; other issuers refused"},
      {"rotation-period", Kind::kValue, "DURATION",
       "rotate automatically, e.g. 720h or 30d"},
  };
}

// SetDurationFlag parses --<flag> into `out` if it was given.
absl::Status SetDurationFlag(const Context& ctx, absl::string_view flag,
                             google::protobuf::Duration* out);

// FillKeySettings sets what KeySettingFlags ask for on a new key.
absl::Status FillKeySettings(const Context& ctx, v1::Key* key) {
  for (const std::string& text : ctx.args().GetAll("algorithm")) {
    absl::StatusOr<v1::SignatureAlgorithm> alg = ParseSignatureAlgorithm(text);
    if (!alg.ok()) return alg.status();
    key->add_signature_algorithms(*alg);
  }
  absl::Status s = SetDurationFlag(ctx, "rotation-period",
                                   key->mutable_rotation_period());
  if (s.ok()) s = SetDurationFlag(ctx, "jwt-max-ttl",
                                  key->mutable_jwt()->mutable_max_ttl());
  if (s.ok()) s = SetDurationFlag(ctx, "jwt-default-ttl",
                                  key->mutable_jwt()->mutable_default_ttl());
  if (s.ok() && ctx.Has("jwt-issuer")) {
    key->mutable_jwt()->set_issuer(ctx.Flag("jwt-issuer"));
  }
  return s;
}

// FillKeyTemplate sets the key template fields shared by create and import.
absl::Status FillKeyTemplate(const Context& ctx, v1::Key* key,
                             bool require_type) {
  if (ctx.Has("type")) {
    absl::StatusOr<v1::KeyType> type = ParseKeyType(ctx.Flag("type"));
    if (!type.ok()) return type.status();
    key->set_key_type(*type);
  } else if (require_type) {
    return absl::InvalidArgumentError(
        absl::StrCat("give --type (", KeyTypeNames(), ")"));
  }
  absl::StatusOr<v1::KeyPurpose> purpose =
      ctx.Has("purpose") ? ParsePurpose(ctx.Flag("purpose"))
      : key->key_type() != v1::KEY_TYPE_UNSPECIFIED
          ? DefaultPurpose(key->key_type())
          : absl::InvalidArgumentError(
                "give --purpose (sign, encrypt, mac, jwt, jwe) or --type");
  if (!purpose.ok()) return purpose.status();
  key->set_purpose(*purpose);
  absl::Status s = AddLabels(ctx.args().GetAll("label"), key->mutable_labels());
  if (!s.ok()) return s;
  key->set_description(ctx.Flag("description"));
  key->set_exportable(ctx.Has("exportable"));
  return absl::OkStatus();
}

// SetDurationFlag parses --<flag> into `out` if it was given.
absl::Status SetDurationFlag(const Context& ctx, absl::string_view flag,
                             google::protobuf::Duration* out) {
  if (!ctx.Has(flag)) return absl::OkStatus();
  absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag(flag));
  if (!d.ok()) return d.status();
  SetDuration(*d, out);
  return absl::OkStatus();
}

std::string KeyText(const v1::Key& key) {
  std::vector<std::string> algs;
  for (int a : key.signature_algorithms()) {
    algs.push_back(SignatureAlgorithmName(static_cast<v1::SignatureAlgorithm>(a)));
  }
  std::vector<std::vector<std::string>> rows = {
      {"name:", key.name()},
      {"type:", KeyTypeName(key.key_type())},
      {"purpose:", PurposeName(key.purpose())},
      {"primary version:", absl::StrCat(key.primary_version())},
  };
  if (!algs.empty()) rows.push_back({"algorithms:", absl::StrJoin(algs, ", ")});
  if (key.purpose() == v1::KEY_PURPOSE_JWT) {
    rows.push_back({"jwt max ttl:", key.jwt().has_max_ttl()
                                        ? FormatDuration(key.jwt().max_ttl())
                                        : "24h (default)"});
    rows.push_back({"jwt default ttl:",
                    key.jwt().has_default_ttl()
                        ? FormatDuration(key.jwt().default_ttl())
                        : "15m (default)"});
    rows.push_back({"jwt issuer:",
                    key.jwt().issuer().empty() ? "-" : key.jwt().issuer()});
  }
  if (key.legacy_short_secret()) {
    rows.push_back({"legacy short secret:",
                    "yes (below RFC 7518's minimum, accepted at import)"});
  }
  if (key.jwe_algorithm() != v1::JWE_ALGORITHM_UNSPECIFIED) {
    rows.push_back({"jwe algorithm:", v1::JweAlgorithm_Name(key.jwe_algorithm())});
  }
  rows.push_back({"labels:", LabelsText(key.labels())});
  rows.push_back(
      {"description:", key.description().empty() ? "-" : key.description()});
  std::string rotation = FormatDuration(key.rotation_period());
  if (key.has_next_rotation_time()) {
    absl::StrAppend(&rotation, " (next ",
                    FormatTimestamp(key.next_rotation_time()), ")");
  }
  rows.push_back({"rotation period:", rotation});
  rows.push_back(
      {"min decrypt version:", absl::StrCat(key.min_decryption_version())});
  rows.push_back(
      {"min encrypt version:", absl::StrCat(key.min_encryption_version())});
  rows.push_back({"exportable:", YesNo(key.exportable())});
  rows.push_back({"public only:", YesNo(key.public_only())});
  rows.push_back({"created:", FormatTimestamp(key.create_time())});
  rows.push_back({"updated:", FormatTimestamp(key.update_time())});
  return Table(rows);
}

// KeyOf is the text of a response that holds one key.
template <typename Response>
std::string KeyOf(const Response& response) {
  return KeyText(response.key());
}

// --- key create ---

int RunKeyCreate(Context& ctx) {
  v1::CreateKeyRequest req;
  req.set_key_id(KeyIdOf(ctx.pos()[0]));
  absl::Status s = FillKeyTemplate(ctx, req.mutable_key(), /*require_type=*/true);
  if (s.ok()) s = FillKeySettings(ctx, req.mutable_key());
  if (!s.ok()) return ctx.Usage(s.message());
  return ctx.Reply(absl::StrCat("cannot create keys/", req.key_id()),
                   ctx.Call(&ClientInterface::CreateKey, req),
                   KeyOf<v1::CreateKeyResponse>);
}

Command KeyCreate() {
  std::vector<FlagSpec> flags = KeyTemplateFlags(/*import=*/false);
  for (FlagSpec& f : KeySettingFlags()) flags.push_back(std::move(f));
  return {"key create", "NAME --type TYPE", "create a key with a generated version 1",
          flags, 1, 1, RunKeyCreate, "", {}};
}

// --- key list, show, rotate ---

int RunKeyList(Context& ctx) {
  v1::ListKeysRequest req;
  if (ctx.Has("prefix")) {
    std::string p = ctx.Flag("prefix");
    req.set_name_prefix(absl::StartsWith(p, "keys/") ? p : absl::StrCat("keys/", p));
  }
  if (ctx.Has("purpose")) {
    absl::StatusOr<v1::KeyPurpose> purpose = ParsePurpose(ctx.Flag("purpose"));
    if (!purpose.ok()) return ctx.Usage(purpose.status().message());
    req.set_purpose(*purpose);
  }
  absl::Status s = AddLabels(ctx.args().GetAll("label"), req.mutable_labels());
  if (!s.ok()) return ctx.Usage(s.message());
  return ctx.Reply("cannot list keys", ctx.ListAll(&ClientInterface::ListKeys, req),
                   [](const v1::ListKeysResponse& all) {
                     std::vector<std::vector<std::string>> rows = {
                         {"NAME", "TYPE", "PURPOSE", "PRIMARY", "LABELS"}};
                     for (const v1::Key& k : all.keys()) {
                       rows.push_back({std::string(absl::StripPrefix(k.name(), "keys/")),
                                       KeyTypeName(k.key_type()),
                                       PurposeName(k.purpose()),
                                       absl::StrCat(k.primary_version()),
                                       LabelsText(k.labels())});
                     }
                     return Table(rows);
                   });
}

// RunOnKey makes one call on the key named by the first argument and
// prints `text` of the response.
template <typename Request, typename Response, typename Text>
int RunOnKey(Context& ctx, absl::string_view verb,
             absl::StatusOr<Response> (ClientInterface::*method)(const Request&),
             Text&& text) {
  Request req;
  absl::Status s = SetKeyName(ctx, /*versioned=*/false, &req);
  if (!s.ok()) return ctx.Usage(s.message());
  return ctx.Reply(absl::StrCat("cannot ", verb, " ", req.name()), ctx.Call(method, req),
                   text);
}

int RunKeyShow(Context& ctx) {
  return RunOnKey(ctx, "show", &ClientInterface::GetKey, KeyOf<v1::GetKeyResponse>);
}

int RunKeyRotate(Context& ctx) {
  return RunOnKey(ctx, "rotate", &ClientInterface::RotateKey,
                  [](const v1::RotateKeyResponse& r) {
                    return absl::StrCat(r.key().name(), ": version ", r.version().number(),
                                        " is now primary\n");
                  });
}

// --- key update ---

// FillKeyUpdate sets the fields and update mask the flags ask for.
absl::Status FillKeyUpdate(const Context& ctx, v1::UpdateKeyRequest* req) {
  v1::Key* key = req->mutable_key();
  if (ctx.Has("description")) {
    key->set_description(ctx.Flag("description"));
    req->add_update_mask("description");
  }
  if (ctx.Has("label") || ctx.Has("clear-labels")) {
    if (ctx.Has("label") && ctx.Has("clear-labels")) {
      return absl::InvalidArgumentError("give --label or --clear-labels, not both");
    }
    absl::Status s = AddLabels(ctx.args().GetAll("label"), key->mutable_labels());
    if (!s.ok()) return s;
    req->add_update_mask("labels");
  }
  absl::Status s = SetDurationFlag(ctx, "rotation-period",
                                   key->mutable_rotation_period());
  if (!s.ok()) return s;
  if (ctx.Has("rotation-period")) req->add_update_mask("rotation_period");
  if (ctx.Has("min-decrypt-version")) {
    uint64_t n = 0;
    absl::Status s = ParseCountFlags(ctx, {{"min-decrypt-version", &n}});
    if (!s.ok() || n > UINT32_MAX) {
      return absl::InvalidArgumentError("--min-decrypt-version must be a version number");
    }
    key->set_min_decryption_version(static_cast<uint32_t>(n));
    req->add_update_mask("min_decryption_version");
  }
  if (ctx.Has("min-encrypt-version")) {
    uint64_t n = 0;
    absl::Status s = ParseCountFlags(ctx, {{"min-encrypt-version", &n}});
    if (!s.ok() || n > UINT32_MAX) {
      return absl::InvalidArgumentError("--min-encrypt-version must be a version number");
    }
    key->set_min_encryption_version(static_cast<uint32_t>(n));
    req->add_update_mask("min_encryption_version");
  }
  s = SetDurationFlag(ctx, "jwt-max-ttl", key->mutable_jwt()->mutable_max_ttl());
  if (!s.ok()) return s;
  if (ctx.Has("jwt-max-ttl")) req->add_update_mask("jwt.max_ttl");
  s = SetDurationFlag(ctx, "jwt-default-ttl",
                      key->mutable_jwt()->mutable_default_ttl());
  if (!s.ok()) return s;
  if (ctx.Has("jwt-default-ttl")) req->add_update_mask("jwt.default_ttl");
  if (ctx.Has("jwt-issuer")) {
    key->mutable_jwt()->set_issuer(ctx.Flag("jwt-issuer"));
    req->add_update_mask("jwt.issuer");
  }
  if (req->update_mask().empty()) {
    return absl::InvalidArgumentError(
        "nothing to change: give --description, --label, --clear-labels, "
        "--rotation-period, --min-decrypt-version, --min-encrypt-version, "
        "--jwt-max-ttl, --jwt-default-ttl or --jwt-issuer");
  }
  return absl::OkStatus();
}

int RunKeyUpdate(Context& ctx) {
  absl::StatusOr<std::string> name = KeyName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::UpdateKeyRequest req;
  req.mutable_key()->set_name(*name);
  absl::Status s = FillKeyUpdate(ctx, &req);
  if (!s.ok()) return ctx.Usage(s.message());
  return ctx.Reply(absl::StrCat("cannot update ", *name),
                   ctx.Call(&ClientInterface::UpdateKey, req),
                   KeyOf<v1::UpdateKeyResponse>);
}

Command KeyUpdate() {
  return {"key update", "NAME", "change a key's mutable settings",
          {{"rotation-period", Kind::kValue, "DURATION", "0 stops automatic rotation"},
           {"min-decrypt-version", Kind::kValue, "N",
            "versions below N stop verifying/decrypting"},
           {"label", Kind::kRepeated, "K=V", "labels (replace all), repeatable"},
           {"clear-labels", Kind::kBool, "", "remove all labels"},
           {"description", Kind::kValue, "TEXT", "free text"},
           {"min-encrypt-version", Kind::kValue, "N",
            "versions below N cannot be named to sign/encrypt"},
           {"jwt-max-ttl", Kind::kValue, "DURATION", "JWT keys: longest token lifetime"},
           {"jwt-default-ttl", Kind::kValue, "DURATION",
            "JWT keys: lifetime of a token signed without --ttl"},
           {"jwt-issuer", Kind::kValue, "ISS",
            "JWT keys: \"iss\" of every token (\"\" removes it)"}},
          1, 1, RunKeyUpdate, "", {}};
}

// --- key versions and version state changes ---

int RunKeyVersions(Context& ctx) {
  absl::StatusOr<std::string> name = KeyName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::ListKeyVersionsRequest req;
  req.set_parent(*name);
  return ctx.Reply(absl::StrCat("cannot list the versions of ", *name),
                   ctx.ListAll(&ClientInterface::ListKeyVersions, req),
                   [](const v1::ListKeyVersionsResponse& all) {
                     std::vector<std::vector<std::string>> rows = {
                         {"VERSION", "STATE", "ORIGIN", "PRIMARY", "KID", "CREATED"}};
                     for (const v1::KeyVersion& v : all.versions()) {
                       rows.push_back({absl::StrCat(v.number()),
                                       VersionStateName(v.state()),
                                       OriginName(v.origin()), v.primary() ? "*" : "",
                                       v.kid(), FormatTimestamp(v.create_time())});
                     }
                     return Table(rows);
                   });
}

// VersionChange is the shape all version state changes share.
template <typename Request, typename Response>
int VersionChange(Context& ctx, absl::string_view verb,
                  absl::StatusOr<Response> (ClientInterface::*method)(const Request&)) {
  absl::StatusOr<uint32_t> v = ParsePositiveInt(ctx.pos()[1], "VERSION");
  if (!v.ok()) return ctx.Usage(v.status().message());
  absl::StatusOr<std::string> name = KeyOrVersionName(ctx.pos()[0], *v);
  if (!name.ok()) return ctx.Usage(name.status().message());
  Request req;
  req.set_name(*name);
  return ctx.Reply(absl::StrCat("cannot ", verb, " ", *name), ctx.Call(method, req),
                   [&](const Response& r) {
                     return absl::StrCat(*name, ": ",
                                         VersionStateName(r.version().state()), "\n");
                   });
}

int RunKeyDisable(Context& ctx) {
  return VersionChange(ctx, "disable", &ClientInterface::DisableKeyVersion);
}
int RunKeyEnable(Context& ctx) {
  return VersionChange(ctx, "enable", &ClientInterface::EnableKeyVersion);
}
int RunKeyDestroy(Context& ctx) {
  return VersionChange(ctx, "destroy", &ClientInterface::DestroyKeyVersion);
}

// --- key import, export, public ---

// FillImport sets everything of an import but the material.
absl::Status FillImport(const Context& ctx, v1::ImportKeyRequest* req) {
  std::string id = KeyIdOf(ctx.pos()[0]);
  if (ctx.Has("new-version")) {
    std::vector<FlagSpec> template_flags = KeyTemplateFlags(/*import=*/true);
    for (FlagSpec& f : KeySettingFlags()) template_flags.push_back(std::move(f));
    for (const FlagSpec& f : template_flags) {
      if (ctx.Has(f.name) || !ctx.args().GetAll(f.name).empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", f.name, " describes a new key; with --new-version the key "
            "keeps its settings"));
      }
    }
    req->set_name(absl::StrCat("keys/", id));
  } else {
    req->set_key_id(id);
    absl::Status s = FillKeyTemplate(ctx, req->mutable_key(), /*require_type=*/false);
    if (s.ok()) s = FillKeySettings(ctx, req->mutable_key());
    if (!s.ok()) return s;
  }
  req->set_allow_short_secret(ctx.Has("allow-short-secret"));
  v1::KeyMaterialFormat format = v1::KEY_MATERIAL_FORMAT_UNSPECIFIED;
  absl::Status s = ParseFlagInto(ctx, "format", ParseImportFormat, &format);
  if (!s.ok()) return s;
  req->set_format(format);
  req->set_kid(ctx.Flag("kid"));
  return absl::OkStatus();
}

int RunKeyImport(Context& ctx) {
  if (!ctx.Has("in") || ctx.Flag("in") == "-") {
    return ctx.Usage("give the key material with --in FILE");
  }
  v1::ImportKeyRequest req;
  absl::Status s = FillImport(ctx, &req);
  if (!s.ok()) return ctx.Usage(s.message());
  absl::StatusOr<std::string> material = ReadInput(ctx.Flag("in"));
  if (!material.ok()) return ctx.Fail("cannot read the key material", material.status());
  if (!ctx.Has("format")) req.set_format(GuessImportFormat(*material, req.key().key_type()));
  req.set_material(*material);
  Wipe(&*material);
  if (ctx.Has("passphrase-file")) {
    absl::StatusOr<std::string> pass =
        ReadSecret(ctx.Flag("passphrase-file"), "key passphrase", "--passphrase-file");
    if (!pass.ok()) {
      Wipe(req.mutable_material());
      return ctx.Fail("cannot read the key passphrase", pass.status());
    }
    req.set_passphrase(*pass);
    Wipe(&*pass);
  }
  absl::StatusOr<v1::ImportKeyResponse> resp = ctx.Call(&ClientInterface::ImportKey, req);
  Wipe(req.mutable_material());
  Wipe(req.mutable_passphrase());
  return ctx.Reply(absl::StrCat("cannot import into keys/", KeyIdOf(ctx.pos()[0])), resp,
                   [](const v1::ImportKeyResponse& r) {
                     return absl::StrCat(r.key().name(), ": imported version ",
                                         r.version().number(), " (",
                                         KeyTypeName(r.key().key_type()),
                                         r.key().public_only() ? ", public only" : "",
                                         ")\n");
                   });
}

Command KeyImport() {
  std::vector<FlagSpec> flags = KeyTemplateFlags(/*import=*/true);
  flags.push_back({"in", Kind::kValue, "FILE", "the key material (required)"});
  flags.push_back({"format", Kind::kValue, "FMT",
                   "pem, der, raw, public-pem, public-der, public-jwk (default: "
                   "guessed from the material)"});
  flags.push_back({"passphrase-file", Kind::kValue, "FILE",
                   "passphrase of an encrypted PKCS#8 (mode 0600)"});
  flags.push_back({"new-version", Kind::kBool, "", "add a version to existing key NAME"});
  flags.push_back({"kid", Kind::kValue, "KID", "JOSE kid for the new version"});
  flags.push_back({"allow-short-secret", Kind::kBool, "",
                   "accept an HMAC secret below RFC 7518's minimum (legacy "
                   "issuers; the key is marked)"});
  for (FlagSpec& f : KeySettingFlags()) flags.push_back(std::move(f));
  return {"key import", "NAME --in FILE", "import key material as a new key or version",
          flags, 1, 1, RunKeyImport, "", {}};
}

int RunKeyExport(Context& ctx) {
  std::string out = ctx.Flag("out");
  if ((out.empty() || out == "-") && StdoutIsTerminal()) {
    return ctx.Usage("refusing to print key material on a terminal; give --out FILE");
  }
  v1::ExportKeyRequest req;
  v1::KeyMaterialFormat format = v1::KEY_MATERIAL_FORMAT_UNSPECIFIED;
  absl::Status s = SetKeyName(ctx, /*versioned=*/true, &req);
  if (s.ok()) s = ParseFlagInto(ctx, "format", ParseImportFormat, &format);
  if (!s.ok()) return ctx.Usage(s.message());
  req.set_format(format);
  if (ctx.Has("passphrase-file")) {
    absl::StatusOr<std::string> pass =
        ReadSecret(ctx.Flag("passphrase-file"), "export passphrase", "--passphrase-file");
    if (!pass.ok()) return ctx.Fail("cannot read the export passphrase", pass.status());
    req.set_passphrase(*pass);
    Wipe(&*pass);
  }
  absl::StatusOr<v1::ExportKeyResponse> resp = ctx.Call(&ClientInterface::ExportKey, req);
  Wipe(req.mutable_passphrase());
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot export ", req.name()), resp.status());
  int rc = ctx.json() ? ctx.Output("cannot write the key", ToJson(*resp), false, 0600)
                      : ctx.Output("cannot write the key", resp->material(), true, 0600);
  Wipe(resp->mutable_material());
  return rc;
}

absl::Status FillPublicKey(const Context& ctx, v1::GetPublicKeyRequest* req) {
  absl::Status s = SetKeyName(ctx, /*versioned=*/true, req);
  v1::PublicKeyFormat format = v1::PUBLIC_KEY_FORMAT_UNSPECIFIED;
  if (s.ok()) s = ParseFlagInto(ctx, "format", ParsePublicKeyFormat, &format);
  req->set_format(format);
  return s;
}

int RunKeyPublic(Context& ctx) {
  v1::GetPublicKeyRequest req;
  if (absl::Status s = FillPublicKey(ctx, &req); !s.ok()) return ctx.Usage(s.message());
  absl::StatusOr<v1::GetPublicKeyResponse> resp =
      ctx.Call(&ClientInterface::GetPublicKey, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot get the public key of ", req.name()), resp.status());
  }
  if (ctx.json()) return ctx.Output("cannot write", ToJson(*resp), false);
  std::string data = resp->public_key();
  bool binary = resp->format() == v1::PUBLIC_KEY_FORMAT_DER;
  if (resp->format() == v1::PUBLIC_KEY_FORMAT_JWK && !absl::EndsWith(data, "\n")) {
    data.push_back('\n');
  }
  return ctx.Output("cannot write the public key", data, binary);
}

}  // namespace

std::vector<Command> KeyCommands() {
  return {
      KeyCreate(),
      {"key list", "", "list keys you may use (all pages)",
       {{"prefix", Kind::kValue, "P", "only keys whose name starts with P"},
        {"label", Kind::kRepeated, "K=V", "only keys with this label, repeatable"},
        {"purpose", Kind::kValue, "PURPOSE", "only keys of this purpose"}},
       0, 0, RunKeyList},
      {"key show", "NAME", "show a key's metadata", {}, 1, 1, RunKeyShow},
      {"key rotate", "NAME", "add a new primary version", {}, 1, 1, RunKeyRotate},
      KeyUpdate(),
      {"key versions", "NAME", "list a key's versions", {}, 1, 1, RunKeyVersions},
      {"key disable-version", "NAME VERSION", "make a version unusable (reversible)",
       {}, 2, 2, RunKeyDisable},
      {"key enable-version", "NAME VERSION", "make a disabled version usable again",
       {}, 2, 2, RunKeyEnable},
      {"key destroy-version", "NAME VERSION",
       "wipe a disabled version's material, irreversibly", {}, 2, 2, RunKeyDestroy},
      KeyImport(),
      {"key export", "NAME --out FILE", "export an exportable key's private material",
       {VersionFlag(), OutFlag(),
        {"format", Kind::kValue, "FMT", "pem, der or raw (default by type)"},
        {"passphrase-file", Kind::kValue, "FILE", "encrypt the PKCS#8 with this passphrase"}},
       1, 1, RunKeyExport},
      {"key public", "NAME", "print a public key",
       {VersionFlag(), OutFlag(),
        {"format", Kind::kValue, "FMT", "pem (default), der or jwk"}},
       1, 1, RunKeyPublic},
  };
}

}  // namespace keyward::cli
