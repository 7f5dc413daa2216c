// keyward: the command-line tool of Keyward, built on keyward::Client.
//
//   keyward [--addr A] [--json] [--timeout D] [--token-file F] COMMAND ...
//
// Every command and flag is declared in kCommands below (this file holds
// main(), so it alone declares flags); `keyward help` lists them and
// `keyward COMMAND --help` explains one. Data comes from stdin and output
// bytes go to stdout unless --in/--out name files; secrets (passphrases,
// API key secrets, private keys) come from files or a terminal prompt,
// never from argv.
//
// Exit codes: 0 success; 1 a verification said "invalid" (verify,
// verify-mac, jwt verify, audit verify); 2 anything else went wrong, after
// one line "keyward: <what went wrong>: <daemon message>" on stderr.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli.h"
#include "client/cli_doctor.h"
#include "client/client.h"
#include "google/protobuf/util/json_util.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

// ---------------------------------------------------------------------------
// Command table
// ---------------------------------------------------------------------------

class Ctx;
using Handler = int (*)(Ctx&);

struct Command {
  const char* path;      // "key create"
  const char* synopsis;  // positional arguments and main flags
  const char* summary;   // one line
  std::vector<FlagSpec> flags;
  size_t min_args;
  size_t max_args;  // kMany: no limit
  Handler run;
  const char* details = "";  // extra help text
};

constexpr size_t kMany = static_cast<size_t>(-1);

// Global flags, accepted by every command, before or after its name.
const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"addr", Kind::kValue, "TARGET",
       "daemon address: unix:///path, unix:/path or host:port (default "
       "$KEYWARD_ADDR, else $XDG_RUNTIME_DIR/keyward/keyward.sock, else "
       "/run/keyward/keyward.sock)"},
      {"json", Kind::kBool, "", "print the response message as JSON"},
      {"timeout", Kind::kValue, "DURATION",
       "deadline of each call, retries included (default 10s)"},
      {"token-file", Kind::kValue, "FILE",
       "session token from `keyward login` (mode 0600); default "
       "$KEYWARD_TOKEN_FILE"},
      {"tls-ca", Kind::kValue, "FILE",
       "PEM CA for a host:port target's certificate (turns on TLS)"},
      {"tls-cert", Kind::kValue, "FILE",
       "PEM client certificate, for mutual TLS (with --tls-key)"},
      {"tls-key", Kind::kValue, "FILE", "PEM key of --tls-cert (mode 0600)"},
      {"tls-server-name", Kind::kValue, "NAME",
       "name to check the daemon's certificate against (default: the host)"},
      {"help", Kind::kBool, "", "show help"},
  };
  return *flags;
}

// ---------------------------------------------------------------------------
// Per-invocation context
// ---------------------------------------------------------------------------

class Ctx {
 public:
  Ctx(const Command* command, ParsedArgs args)
      : command_(command), args_(std::move(args)) {}

  const ParsedArgs& args() const { return args_; }
  const std::vector<std::string>& pos() const { return args_.positional(); }
  bool json() const { return args_.Has("json"); }
  std::string Flag(absl::string_view name, absl::string_view fallback = "") {
    return args_.Get(name, fallback);
  }
  bool Has(absl::string_view name) const { return args_.Has(name); }

  // Connect returns the client, creating it on first use; on failure it
  // prints the error and returns null.
  Client* Connect() {
    if (client_ != nullptr) return client_.get();
    ClientOptions options;
    options.target = args_.Get("addr");
    if (args_.Has("timeout")) {
      absl::StatusOr<absl::Duration> d = ParseDurationFlag(args_.Get("timeout"));
      if (!d.ok()) {
        Fail("bad --timeout", d.status());
        return nullptr;
      }
      options.timeout = *d;
    }
    if (args_.Has("tls-ca") || args_.Has("tls-cert")) {
      TlsOptions tls;
      tls.ca_file = args_.Get("tls-ca");
      tls.cert_file = args_.Get("tls-cert");
      tls.key_file = args_.Get("tls-key");
      tls.server_name = args_.Get("tls-server-name");
      options.tls = tls;
    }
    std::string token_file = args_.Get("token-file");
    if (token_file.empty()) {
      const char* env = std::getenv("KEYWARD_TOKEN_FILE");
      if (env != nullptr) token_file = env;
    }
    if (!token_file.empty()) {
      absl::StatusOr<std::string> token =
          ReadSecret(token_file, "session token", "--token-file");
      if (!token.ok()) {
        Fail("cannot read the session token", token.status());
        return nullptr;
      }
      options.session_token = std::string(absl::StripAsciiWhitespace(*token));
      Wipe(&*token);
    }
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
    if (!client.ok()) {
      Fail("cannot use the daemon address", client.status());
      return nullptr;
    }
    client_ = *std::move(client);
    target_ = client_->options().target;
    return client_.get();
  }

  // Fail prints one error line and returns the exit code (2).
  int Fail(absl::string_view what, const absl::Status& status) {
    std::cerr << ErrorLine(what, status, target_) << std::endl;
    return ExitCodeForStatus(status);
  }

  // Usage prints a usage error naming the command's help.
  int Usage(absl::string_view problem) {
    std::cerr << "keyward: " << command_->path << ": " << problem
              << " (see `keyward " << command_->path << " --help`)"
              << std::endl;
    return kExitError;
  }

  // Print writes text to stdout.
  void Print(absl::string_view text) { std::cout << text << std::flush; }

  // PrintJson prints `message` as JSON to stdout.
  void PrintJson(const google::protobuf::Message& message) {
    Print(ToJson(message));
  }

  // Output writes bytes to --out (or stdout). Binary output is refused on a
  // terminal.
  int Output(absl::string_view what, absl::string_view data, bool binary,
             mode_t mode = 0644) {
    std::string out = args_.Get("out");
    if (binary && (out.empty() || out == "-") && StdoutIsTerminal()) {
      return Fail(what, absl::InvalidArgumentError(
                            "refusing to write binary output to a terminal; "
                            "use --out FILE, redirect stdout, or --json"));
    }
    absl::Status s = WriteOutput(out, data, mode);
    if (!s.ok()) return Fail(what, s);
    return kExitOk;
  }

  // Input reads --in (or stdin).
  absl::StatusOr<std::string> Input() { return ReadInput(args_.Get("in")); }

 private:
  const Command* command_;
  ParsedArgs args_;
  std::unique_ptr<Client> client_;
  std::string target_;
};

// Names of the positional key argument, with an optional --version.
absl::StatusOr<std::string> NameWithVersion(Ctx& ctx, const std::string& text) {
  uint32_t version = 0;
  if (ctx.Has("version")) {
    absl::StatusOr<uint32_t> v = ParsePositiveInt(ctx.Flag("version"), "--version");
    if (!v.ok()) return v.status();
    version = *v;
  }
  return KeyOrVersionName(text, version);
}

// Aad returns --aad or the bytes of --aad-file.
absl::StatusOr<std::string> Aad(Ctx& ctx, absl::string_view flag = "aad") {
  std::string file_flag = absl::StrCat(flag, "-file");
  if (ctx.Has(flag) && ctx.Has(file_flag)) {
    return absl::InvalidArgumentError(
        absl::StrCat("give --", flag, " or --", file_flag, ", not both"));
  }
  if (ctx.Has(file_flag)) return ReadInput(ctx.Flag(file_flag));
  return ctx.Flag(flag);
}

absl::Status AddLabels(const std::vector<std::string>& labels,
                       google::protobuf::Map<std::string, std::string>* out) {
  for (const std::string& l : labels) {
    absl::StatusOr<std::pair<std::string, std::string>> kv = ParseLabel(l);
    if (!kv.ok()) return kv.status();
    (*out)[kv->first] = kv->second;
  }
  return absl::OkStatus();
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

std::string LabelsText(const google::protobuf::Map<std::string, std::string>& m) {
  std::vector<std::string> sorted;
  for (const auto& [k, v] : m) sorted.push_back(absl::StrCat(k, "=", v));
  std::sort(sorted.begin(), sorted.end());
  return sorted.empty() ? "-" : absl::StrJoin(sorted, ",");
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
  if (key.jwe_algorithm() != v1::JWE_ALGORITHM_UNSPECIFIED) {
    rows.push_back({"jwe algorithm:", v1::JweAlgorithm_Name(key.jwe_algorithm())});
  }
  rows.push_back({"labels:", LabelsText(key.labels())});
  rows.push_back({"description:", key.description().empty() ? "-" : key.description()});
  std::string rotation = FormatDuration(key.rotation_period());
  if (key.has_next_rotation_time()) {
    absl::StrAppend(&rotation, " (next ", FormatTimestamp(key.next_rotation_time()), ")");
  }
  rows.push_back({"rotation period:", rotation});
  rows.push_back({"min decrypt version:", absl::StrCat(key.min_decryption_version())});
  rows.push_back({"min encrypt version:", absl::StrCat(key.min_encryption_version())});
  rows.push_back({"exportable:", YesNo(key.exportable())});
  rows.push_back({"public only:", YesNo(key.public_only())});
  rows.push_back({"created:", FormatTimestamp(key.create_time())});
  rows.push_back({"updated:", FormatTimestamp(key.update_time())});
  return Table(rows);
}

std::vector<std::string> VersionRow(const v1::KeyVersion& v) {
  return {absl::StrCat(v.number()), VersionStateName(v.state()),
          OriginName(v.origin()),  v.primary() ? "*" : "",
          v.kid(),                 FormatTimestamp(v.create_time())};
}

// ---------------------------------------------------------------------------
// status, whoami
// ---------------------------------------------------------------------------

// AuditLogStateLine: "writable", or what the outage is, for `status`.
std::string AuditLogStateLine(const v1::AuditLogState& audit) {
  std::string line;
  if (audit.writable() && !audit.has_failing_since()) {
    line = "writable";
  } else {
    line = absl::StrCat(
        audit.writable() ? "writable again, resuming" : "NOT WRITABLE",
        audit.has_failing_since()
            ? absl::StrCat(" since ", FormatTimestamp(audit.failing_since()))
            : "",
        audit.error().empty() ? "" : absl::StrCat(" (", audit.error(), ")"),
        "; ", audit.refused_calls(),
        " calls refused; every call is refused until it can be written "
        "(check its disk)");
  }
  if (audit.outages() > 0) {
    absl::StrAppend(&line, "; outages since start: ", audit.outages());
  }
  return line;
}

int RunStatus(Ctx& ctx) {
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::GetStatusResponse> status = client->GetStatus();
  if (status.ok()) {
    if (ctx.json()) {
      ctx.PrintJson(*status);
      return kExitOk;
    }
    const char* flavor =
        status->build_flavor() == v1::BUILD_FLAVOR_BORINGSSL ? "boringssl" : "openssl";
    ctx.Print(Table({
        {"version:", status->version()},
        {"flavor:", flavor},
        {"crypto library:", status->crypto_library()},
        {"sealed:", YesNo(status->sealed())},
        {"initialized:", YesNo(status->initialized())},
        {"keys:", absl::StrCat(status->key_count())},
        {"uptime:", FormatDuration(status->uptime())},
        {"started:", FormatTimestamp(status->start_time())},
        {"audit sequence:", absl::StrCat(status->audit_last_sequence())},
        {"audit log:", AuditLogStateLine(status->audit())},
    }));
    return kExitOk;
  }
  if (status.status().code() != absl::StatusCode::kUnimplemented) {
    return ctx.Fail("cannot get the daemon status", status.status());
  }
  // An older daemon: fall back to the standard health check.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> health = client->CheckHealth();
  if (!health.ok()) return ctx.Fail("cannot check the daemon's health", health.status());
  if (ctx.json()) {
    ctx.PrintJson(*health);
  } else {
    ctx.Print(absl::StrCat(
        grpc::health::v1::HealthCheckResponse::ServingStatus_Name(health->status()),
        "\n"));
  }
  return health->status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? kExitOk
             : kExitError;
}

int RunWhoAmI(Ctx& ctx) {
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::WhoAmIResponse> me = client->WhoAmI();
  if (!me.ok()) return ctx.Fail("cannot ask who you are", me.status());
  if (ctx.json()) {
    ctx.PrintJson(*me);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"principal:", me->principal()},
      {"also matches:", me->additional_principals().empty()
                            ? "-"
                            : absl::StrJoin(me->additional_principals(), ", ")},
      {"authentication:", absl::AsciiStrToLower(absl::StripPrefix(
                              v1::AuthenticationMethod_Name(me->authentication()),
                              "AUTHENTICATION_METHOD_"))},
      {"peer:", me->peer_address()},
      {"global admin:", YesNo(me->global_admin())},
  };
  if (!me->transport_principal().empty()) {
    rows.push_back({"transport principal:", me->transport_principal()});
  }
  if (me->has_session_expire_time()) {
    rows.push_back({"session expires:", FormatTimestamp(me->session_expire_time())});
  }
  ctx.Print(Table(rows));
  return kExitOk;
}

// ---------------------------------------------------------------------------
// key ...
// ---------------------------------------------------------------------------

// FillKeyTemplate sets the key template fields shared by create and import.
absl::Status FillKeyTemplate(Ctx& ctx, v1::Key* key, bool require_type) {
  if (ctx.Has("type")) {
    absl::StatusOr<v1::KeyType> type = ParseKeyType(ctx.Flag("type"));
    if (!type.ok()) return type.status();
    key->set_key_type(*type);
  } else if (require_type) {
    return absl::InvalidArgumentError(
        "give --type (aes256-gcm, hmac-sha256, hmac-sha384, hmac-sha512, "
        "ed25519, ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096)");
  }
  if (ctx.Has("purpose")) {
    absl::StatusOr<v1::KeyPurpose> purpose = ParsePurpose(ctx.Flag("purpose"));
    if (!purpose.ok()) return purpose.status();
    key->set_purpose(*purpose);
  } else if (key->key_type() != v1::KEY_TYPE_UNSPECIFIED) {
    absl::StatusOr<v1::KeyPurpose> purpose = DefaultPurpose(key->key_type());
    if (!purpose.ok()) return purpose.status();
    key->set_purpose(*purpose);
  } else {
    return absl::InvalidArgumentError(
        "give --purpose (sign, encrypt, mac, jwt, jwe) or --type");
  }
  for (const std::string& a : ctx.args().GetAll("algorithm")) {
    absl::StatusOr<v1::SignatureAlgorithm> alg = ParseSignatureAlgorithm(a);
    if (!alg.ok()) return alg.status();
    key->add_signature_algorithms(*alg);
  }
  if (ctx.Has("rotation-period")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("rotation-period"));
    if (!d.ok()) return d.status();
    SetDuration(*d, key->mutable_rotation_period());
  }
  absl::Status s = AddLabels(ctx.args().GetAll("label"), key->mutable_labels());
  if (!s.ok()) return s;
  key->set_description(ctx.Flag("description"));
  key->set_exportable(ctx.Has("exportable"));
  if (ctx.Has("jwt-issuer")) key->mutable_jwt()->set_issuer(ctx.Flag("jwt-issuer"));
  if (ctx.Has("jwt-max-ttl")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("jwt-max-ttl"));
    if (!d.ok()) return d.status();
    SetDuration(*d, key->mutable_jwt()->mutable_max_ttl());
  }
  if (ctx.Has("jwt-default-ttl")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("jwt-default-ttl"));
    if (!d.ok()) return d.status();
    SetDuration(*d, key->mutable_jwt()->mutable_default_ttl());
  }
  return absl::OkStatus();
}

int RunKeyCreate(Ctx& ctx) {
  v1::CreateKeyRequest req;
  req.set_key_id(KeyIdOf(ctx.pos()[0]));
  absl::Status s = FillKeyTemplate(ctx, req.mutable_key(), /*require_type=*/true);
  if (!s.ok()) return ctx.Usage(s.message());
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::CreateKeyResponse> resp = client->CreateKey(req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot create keys/", req.key_id()), resp.status());
  }
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(KeyText(resp->key()));
  }
  return kExitOk;
}

int RunKeyList(Ctx& ctx) {
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
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  v1::ListKeysResponse all;
  for (int page = 0;; ++page) {
    absl::StatusOr<v1::ListKeysResponse> resp = client->ListKeys(req);
    if (!resp.ok()) return ctx.Fail("cannot list keys", resp.status());
    for (v1::Key& k : *resp->mutable_keys()) *all.add_keys() = std::move(k);
    if (resp->next_page_token().empty()) break;
    if (resp->next_page_token() == req.page_token() || page > 100000) {
      return ctx.Fail("cannot list keys",
                      absl::InternalError("the daemon repeated a page token"));
    }
    req.set_page_token(resp->next_page_token());
  }
  if (ctx.json()) {
    ctx.PrintJson(all);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "TYPE", "PURPOSE", "PRIMARY", "LABELS"}};
  for (const v1::Key& k : all.keys()) {
    rows.push_back({std::string(absl::StripPrefix(k.name(), "keys/")),
                    KeyTypeName(k.key_type()), PurposeName(k.purpose()),
                    absl::StrCat(k.primary_version()), LabelsText(k.labels())});
  }
  ctx.Print(Table(rows));
  return kExitOk;
}

int RunKeyShow(Ctx& ctx) {
  absl::StatusOr<std::string> name = KeyName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  v1::GetKeyRequest req;
  req.set_name(*name);
  absl::StatusOr<v1::GetKeyResponse> resp = client->GetKey(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot show ", *name), resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(KeyText(resp->key()));
  }
  return kExitOk;
}

int RunKeyRotate(Ctx& ctx) {
  absl::StatusOr<std::string> name = KeyName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  v1::RotateKeyRequest req;
  req.set_name(*name);
  absl::StatusOr<v1::RotateKeyResponse> resp = client->RotateKey(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot rotate ", *name), resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(absl::StrCat(*name, ": version ", resp->version().number(),
                           " is now primary\n"));
  }
  return kExitOk;
}

int RunKeyUpdate(Ctx& ctx) {
  absl::StatusOr<std::string> name = KeyName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::UpdateKeyRequest req;
  v1::Key* key = req.mutable_key();
  key->set_name(*name);
  if (ctx.Has("description")) {
    key->set_description(ctx.Flag("description"));
    req.add_update_mask("description");
  }
  if (ctx.Has("label") || ctx.Has("clear-labels")) {
    absl::Status s = AddLabels(ctx.args().GetAll("label"), key->mutable_labels());
    if (!s.ok()) return ctx.Usage(s.message());
    req.add_update_mask("labels");
  }
  if (ctx.Has("rotation-period")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("rotation-period"));
    if (!d.ok()) return ctx.Usage(d.status().message());
    SetDuration(*d, key->mutable_rotation_period());
    req.add_update_mask("rotation_period");
  }
  for (const char* f : {"min-decrypt-version", "min-encrypt-version"}) {
    if (!ctx.Has(f)) continue;
    uint32_t n = 0;
    if (!absl::SimpleAtoi(ctx.Flag(f), &n)) {
      return ctx.Usage(absl::StrCat("--", f, " must be a version number"));
    }
    if (absl::string_view(f) == "min-decrypt-version") {
      key->set_min_decryption_version(n);
      req.add_update_mask("min_decryption_version");
    } else {
      key->set_min_encryption_version(n);
      req.add_update_mask("min_encryption_version");
    }
  }
  if (ctx.Has("jwt-issuer")) {
    key->mutable_jwt()->set_issuer(ctx.Flag("jwt-issuer"));
    req.add_update_mask("jwt.issuer");
  }
  for (const char* f : {"jwt-max-ttl", "jwt-default-ttl"}) {
    if (!ctx.Has(f)) continue;
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag(f));
    if (!d.ok()) return ctx.Usage(d.status().message());
    bool max = absl::string_view(f) == "jwt-max-ttl";
    SetDuration(*d, max ? key->mutable_jwt()->mutable_max_ttl()
                        : key->mutable_jwt()->mutable_default_ttl());
    req.add_update_mask(max ? "jwt.max_ttl" : "jwt.default_ttl");
  }
  if (req.update_mask().empty()) {
    return ctx.Usage("nothing to change: give --description, --label, "
                     "--clear-labels, --rotation-period, --min-decrypt-version, "
                     "--min-encrypt-version or --jwt-*");
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::UpdateKeyResponse> resp = client->UpdateKey(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot update ", *name), resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(KeyText(resp->key()));
  }
  return kExitOk;
}

int RunKeyVersions(Ctx& ctx) {
  absl::StatusOr<std::string> name = KeyName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  v1::ListKeyVersionsRequest req;
  req.set_parent(*name);
  v1::ListKeyVersionsResponse all;
  for (int page = 0;; ++page) {
    absl::StatusOr<v1::ListKeyVersionsResponse> resp = client->ListKeyVersions(req);
    if (!resp.ok()) {
      return ctx.Fail(absl::StrCat("cannot list the versions of ", *name), resp.status());
    }
    for (v1::KeyVersion& v : *resp->mutable_versions()) *all.add_versions() = std::move(v);
    if (resp->next_page_token().empty()) break;
    if (resp->next_page_token() == req.page_token() || page > 100000) {
      return ctx.Fail("cannot list versions",
                      absl::InternalError("the daemon repeated a page token"));
    }
    req.set_page_token(resp->next_page_token());
  }
  if (ctx.json()) {
    ctx.PrintJson(all);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"VERSION", "STATE", "ORIGIN", "PRIMARY", "KID", "CREATED"}};
  for (const v1::KeyVersion& v : all.versions()) rows.push_back(VersionRow(v));
  ctx.Print(Table(rows));
  return kExitOk;
}

// Version state changes share one shape.
template <typename Request, typename Response>
int VersionChange(Ctx& ctx, absl::string_view verb,
                  absl::StatusOr<Response> (Client::*method)(const Request&)) {
  absl::StatusOr<uint32_t> v = ParsePositiveInt(ctx.pos()[1], "VERSION");
  if (!v.ok()) return ctx.Usage(v.status().message());
  absl::StatusOr<std::string> name = KeyOrVersionName(ctx.pos()[0], *v);
  if (!name.ok()) return ctx.Usage(name.status().message());
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  Request req;
  req.set_name(*name);
  absl::StatusOr<Response> resp = (client->*method)(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot ", verb, " ", *name), resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(absl::StrCat(*name, ": ", VersionStateName(resp->version().state()), "\n"));
  }
  return kExitOk;
}

int RunKeyDisable(Ctx& ctx) {
  return VersionChange(ctx, "disable", &Client::DisableKeyVersion);
}
int RunKeyEnable(Ctx& ctx) {
  return VersionChange(ctx, "enable", &Client::EnableKeyVersion);
}
int RunKeyDestroy(Ctx& ctx) {
  return VersionChange(ctx, "destroy", &Client::DestroyKeyVersion);
}

int RunKeyImport(Ctx& ctx) {
  if (!ctx.Has("in") || ctx.Flag("in") == "-") {
    return ctx.Usage("give the key material with --in FILE");
  }
  v1::ImportKeyRequest req;
  std::string id = KeyIdOf(ctx.pos()[0]);
  if (ctx.Has("new-version")) {
    req.set_name(absl::StrCat("keys/", id));
  } else {
    req.set_key_id(id);
    absl::Status s = FillKeyTemplate(ctx, req.mutable_key(), /*require_type=*/false);
    if (!s.ok()) return ctx.Usage(s.message());
  }
  absl::StatusOr<std::string> material = ReadInput(ctx.Flag("in"));
  if (!material.ok()) return ctx.Fail("cannot read the key material", material.status());
  v1::KeyType type = req.key().key_type();
  if (ctx.Has("format")) {
    absl::StatusOr<v1::KeyMaterialFormat> f = ParseImportFormat(ctx.Flag("format"));
    if (!f.ok()) {
      Wipe(&*material);
      return ctx.Usage(f.status().message());
    }
    req.set_format(*f);
  } else {
    req.set_format(GuessImportFormat(*material, type));
  }
  if (ctx.Has("passphrase-file")) {
    absl::StatusOr<std::string> pass =
        ReadSecret(ctx.Flag("passphrase-file"), "key passphrase", "--passphrase-file");
    if (!pass.ok()) {
      Wipe(&*material);
      return ctx.Fail("cannot read the key passphrase", pass.status());
    }
    req.set_passphrase(*pass);
    Wipe(&*pass);
  }
  req.set_kid(ctx.Flag("kid"));
  req.set_material(*material);
  Wipe(&*material);
  Client* client = ctx.Connect();
  absl::StatusOr<v1::ImportKeyResponse> resp =
      client == nullptr ? absl::StatusOr<v1::ImportKeyResponse>(absl::CancelledError())
                        : client->ImportKey(req);
  Wipe(req.mutable_material());
  Wipe(req.mutable_passphrase());
  if (client == nullptr) return kExitError;
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot import into keys/", id), resp.status());
  }
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(absl::StrCat(resp->key().name(), ": imported version ",
                           resp->version().number(), " (",
                           KeyTypeName(resp->key().key_type()),
                           resp->key().public_only() ? ", public only" : "", ")\n"));
  }
  return kExitOk;
}

int RunKeyExport(Ctx& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::ExportKeyRequest req;
  req.set_name(*name);
  if (ctx.Has("format")) {
    absl::StatusOr<v1::KeyMaterialFormat> f = ParseImportFormat(ctx.Flag("format"));
    if (!f.ok()) return ctx.Usage(f.status().message());
    req.set_format(*f);
  }
  if (ctx.Has("passphrase-file")) {
    absl::StatusOr<std::string> pass =
        ReadSecret(ctx.Flag("passphrase-file"), "export passphrase", "--passphrase-file");
    if (!pass.ok()) return ctx.Fail("cannot read the export passphrase", pass.status());
    req.set_passphrase(*pass);
    Wipe(&*pass);
  }
  std::string out = ctx.Flag("out");
  if ((out.empty() || out == "-") && StdoutIsTerminal()) {
    Wipe(req.mutable_passphrase());
    return ctx.Usage("refusing to print key material on a terminal; give --out FILE");
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::ExportKeyResponse> resp = client->ExportKey(req);
  Wipe(req.mutable_passphrase());
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot export ", *name), resp.status());
  int rc = ctx.json() ? ctx.Output("cannot write the key", ToJson(*resp), false, 0600)
                      : ctx.Output("cannot write the key", resp->material(), true, 0600);
  Wipe(resp->mutable_material());
  return rc;
}

int RunKeyPublic(Ctx& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::GetPublicKeyRequest req;
  req.set_name(*name);
  if (ctx.Has("format")) {
    absl::StatusOr<v1::PublicKeyFormat> f = ParsePublicKeyFormat(ctx.Flag("format"));
    if (!f.ok()) return ctx.Usage(f.status().message());
    req.set_format(*f);
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::GetPublicKeyResponse> resp = client->GetPublicKey(req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot get the public key of ", *name), resp.status());
  }
  if (ctx.json()) return ctx.Output("cannot write", ToJson(*resp), false);
  std::string data = resp->public_key();
  bool binary = resp->format() == v1::PUBLIC_KEY_FORMAT_DER;
  if (resp->format() == v1::PUBLIC_KEY_FORMAT_JWK && !absl::EndsWith(data, "\n")) {
    data.push_back('\n');
  }
  return ctx.Output("cannot write the public key", data, binary);
}

// ---------------------------------------------------------------------------
// Data plane
// ---------------------------------------------------------------------------

int RunSign(Ctx& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::SignRequest req;
  req.set_name(*name);
  if (ctx.Has("algorithm")) {
    absl::StatusOr<v1::SignatureAlgorithm> a = ParseSignatureAlgorithm(ctx.Flag("algorithm"));
    if (!a.ok()) return ctx.Usage(a.status().message());
    req.set_algorithm(*a);
  }
  absl::StatusOr<std::string> data = ctx.Input();
  if (!data.ok()) return ctx.Fail("cannot read the data to sign", data.status());
  if (ctx.Has("digest")) {
    req.set_digest(*std::move(data));
  } else {
    req.set_data(*std::move(data));
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::SignResponse> resp = client->Sign(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot sign with ", *name), resp.status());
  if (ctx.json()) return ctx.Output("cannot write the signature", ToJson(*resp), false);
  return ctx.Output("cannot write the signature",
                    ctx.Has("raw") ? resp->raw_signature() : resp->signature(), true);
}

// PrintVerdict prints a verification outcome and returns its exit code.
int PrintVerdict(Ctx& ctx, const google::protobuf::Message& resp, bool valid,
                 absl::string_view detail) {
  if (ctx.json()) {
    ctx.PrintJson(resp);
  } else {
    ctx.Print(absl::StrCat(valid ? "valid" : "invalid",
                           detail.empty() ? "" : absl::StrCat(" (", detail, ")"), "\n"));
  }
  return ExitCodeForVerdict(valid);
}

int RunVerify(Ctx& ctx) {
  bool raw = ctx.Has("raw");
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  if (raw && !absl::StrContains(*name, "/versions/")) {
    return ctx.Usage("--raw needs the version that signed: --version N");
  }
  std::string sig_file = ctx.Flag("signature");
  std::string in = ctx.Flag("in");
  if ((sig_file.empty() || sig_file == "-") && (in.empty() || in == "-")) {
    return ctx.Usage("give --signature FILE (the data comes from --in or stdin)");
  }
  v1::VerifyRequest req;
  req.set_name(*name);
  if (ctx.Has("algorithm")) {
    absl::StatusOr<v1::SignatureAlgorithm> a = ParseSignatureAlgorithm(ctx.Flag("algorithm"));
    if (!a.ok()) return ctx.Usage(a.status().message());
    req.set_algorithm(*a);
  }
  absl::StatusOr<std::string> sig = ReadInput(sig_file);
  if (!sig.ok()) return ctx.Fail("cannot read the signature", sig.status());
  if (raw) {
    req.set_raw_signature(*std::move(sig));
  } else {
    req.set_signature(*std::move(sig));
  }
  absl::StatusOr<std::string> data = ctx.Input();
  if (!data.ok()) return ctx.Fail("cannot read the signed data", data.status());
  if (ctx.Has("digest")) {
    req.set_digest(*std::move(data));
  } else {
    req.set_data(*std::move(data));
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::VerifyResponse> resp = client->Verify(req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot verify with ", *name), resp.status());
  }
  std::string detail = resp->key_version();
  if (resp->algorithm() != v1::SIGNATURE_ALGORITHM_UNSPECIFIED) {
    absl::StrAppend(&detail, detail.empty() ? "" : ", ",
                    SignatureAlgorithmName(resp->algorithm()));
  }
  return PrintVerdict(ctx, *resp, resp->valid(), detail);
}

int RunEncrypt(Ctx& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return ctx.Fail("cannot read the associated data", aad.status());
  absl::StatusOr<std::string> plaintext = ctx.Input();
  if (!plaintext.ok()) return ctx.Fail("cannot read the plaintext", plaintext.status());
  v1::EncryptRequest req;
  req.set_name(*name);
  req.set_associated_data(*aad);
  req.set_plaintext(*plaintext);
  Wipe(&*plaintext);
  Client* client = ctx.Connect();
  absl::StatusOr<v1::EncryptResponse> resp =
      client == nullptr ? absl::StatusOr<v1::EncryptResponse>(absl::CancelledError())
                        : client->Encrypt(req);
  Wipe(req.mutable_plaintext());
  if (client == nullptr) return kExitError;
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot encrypt with ", *name), resp.status());
  if (ctx.json()) return ctx.Output("cannot write the ciphertext", ToJson(*resp), false);
  return ctx.Output("cannot write the ciphertext", resp->ciphertext(), true);
}

int RunDecrypt(Ctx& ctx) {
  bool raw = ctx.Has("raw");
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  if (raw && !absl::StrContains(*name, "/versions/")) {
    return ctx.Usage("--raw needs the RSA key version: --version N");
  }
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return ctx.Fail("cannot read the associated data", aad.status());
  absl::StatusOr<std::string> ciphertext = ctx.Input();
  if (!ciphertext.ok()) return ctx.Fail("cannot read the ciphertext", ciphertext.status());
  v1::DecryptRequest req;
  req.set_name(*name);
  req.set_associated_data(*aad);
  if (raw) {
    req.set_raw_ciphertext(*std::move(ciphertext));
  } else {
    req.set_ciphertext(*std::move(ciphertext));
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::DecryptResponse> resp = client->Decrypt(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot decrypt with ", *name), resp.status());
  int rc = ctx.json() ? ctx.Output("cannot write the plaintext", ToJson(*resp), false, 0600)
                      : ctx.Output("cannot write the plaintext", resp->plaintext(), false, 0600);
  Wipe(resp->mutable_plaintext());
  return rc;
}

int RunMac(Ctx& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  absl::StatusOr<std::string> data = ctx.Input();
  if (!data.ok()) return ctx.Fail("cannot read the data", data.status());
  v1::MacRequest req;
  req.set_name(*name);
  req.set_data(*std::move(data));
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::MacResponse> resp = client->Mac(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot MAC with ", *name), resp.status());
  if (ctx.json()) return ctx.Output("cannot write the MAC", ToJson(*resp), false);
  return ctx.Output("cannot write the MAC", ctx.Has("raw") ? resp->raw_mac() : resp->mac(),
                    true);
}

int RunVerifyMac(Ctx& ctx) {
  bool raw = ctx.Has("raw");
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  if (raw && !absl::StrContains(*name, "/versions/")) {
    return ctx.Usage("--raw needs the version: --version N");
  }
  std::string mac_file = ctx.Flag("mac");
  std::string in = ctx.Flag("in");
  if ((mac_file.empty() || mac_file == "-") && (in.empty() || in == "-")) {
    return ctx.Usage("give --mac FILE (the data comes from --in or stdin)");
  }
  absl::StatusOr<std::string> mac = ReadInput(mac_file);
  if (!mac.ok()) return ctx.Fail("cannot read the MAC", mac.status());
  absl::StatusOr<std::string> data = ctx.Input();
  if (!data.ok()) return ctx.Fail("cannot read the data", data.status());
  v1::VerifyMacRequest req;
  req.set_name(*name);
  req.set_data(*std::move(data));
  if (raw) {
    req.set_raw_mac(*std::move(mac));
  } else {
    req.set_mac(*std::move(mac));
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::VerifyMacResponse> resp = client->VerifyMac(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot verify the MAC with ", *name), resp.status());
  return PrintVerdict(ctx, *resp, resp->valid(), resp->key_version());
}

int RunDataKey(Ctx& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::GenerateDataKeyRequest req;
  req.set_name(*name);
  if (ctx.Has("length")) {
    absl::StatusOr<uint32_t> n = ParsePositiveInt(ctx.Flag("length"), "--length");
    if (!n.ok()) return ctx.Usage(n.status().message());
    req.set_length_bytes(*n);
  }
  req.set_wrapped_only(ctx.Has("wrapped-only"));
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return ctx.Fail("cannot read the associated data", aad.status());
  req.set_associated_data(*aad);
  std::string pt_out = ctx.Flag("plaintext-out");
  std::string ct_out = ctx.Flag("ciphertext-out");
  bool to_files = !pt_out.empty() || !ct_out.empty();
  if (to_files && ct_out.empty()) return ctx.Usage("give --ciphertext-out FILE too");
  if (to_files && pt_out.empty() && !req.wrapped_only()) {
    return ctx.Usage("give --plaintext-out FILE too, or --wrapped-only");
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::GenerateDataKeyResponse> resp = client->GenerateDataKey(req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot make a data key with ", *name), resp.status());
  }
  int rc = kExitOk;
  if (!to_files) {
    std::string json = ToJson(*resp);
    ctx.Print(json);
    Wipe(&json);
  } else {
    absl::Status s = WriteOutput(ct_out, resp->ciphertext(), 0644);
    if (s.ok() && !req.wrapped_only()) s = WriteOutput(pt_out, resp->plaintext(), 0600);
    if (!s.ok()) {
      rc = ctx.Fail("cannot write the data key", s);
    } else if (!ctx.json()) {
      ctx.Print(absl::StrCat("data key wrapped by ", resp->key_version(), "\n"));
    }
  }
  Wipe(resp->mutable_plaintext());
  return rc;
}

int RunReEncrypt(Ctx& ctx) {
  absl::StatusOr<std::string> name = KeyName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::ReEncryptRequest req;
  req.set_name(*name);
  if (ctx.Has("to")) {
    absl::StatusOr<std::string> to = KeyName(ctx.Flag("to"));
    if (!to.ok()) return ctx.Usage(to.status().message());
    req.set_destination_name(*to);
  }
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return ctx.Fail("cannot read the associated data", aad.status());
  req.set_associated_data(*aad);
  if (ctx.Has("to-aad") || ctx.Has("to-aad-file")) {
    absl::StatusOr<std::string> to_aad = Aad(ctx, "to-aad");
    if (!to_aad.ok()) return ctx.Fail("cannot read the new associated data", to_aad.status());
    req.set_destination_associated_data(*to_aad);
  }
  absl::StatusOr<std::string> ciphertext = ctx.Input();
  if (!ciphertext.ok()) return ctx.Fail("cannot read the ciphertext", ciphertext.status());
  req.set_ciphertext(*std::move(ciphertext));
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::ReEncryptResponse> resp = client->ReEncrypt(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot re-encrypt with ", *name), resp.status());
  if (ctx.json()) return ctx.Output("cannot write the ciphertext", ToJson(*resp), false);
  return ctx.Output("cannot write the ciphertext", resp->ciphertext(), true);
}

// ---------------------------------------------------------------------------
// Access: policies, API keys, login
// ---------------------------------------------------------------------------

int RunPolicyGrant(Ctx& ctx) {
  v1::CreatePolicyRequest req;
  v1::Policy* policy = req.mutable_policy();
  policy->set_principal(ctx.pos()[0]);
  for (size_t i = 1; i < ctx.pos().size(); ++i) {
    for (absl::string_view op : absl::StrSplit(ctx.pos()[i], ',', absl::SkipEmpty())) {
      absl::StatusOr<v1::Operation> o = ParseOperation(op);
      if (!o.ok()) return ctx.Usage(o.status().message());
      policy->add_operations(*o);
    }
  }
  std::string key = ctx.Flag("key");
  if (key.empty()) return ctx.Usage("give --key NAME, --key 'PREFIX*' or --key '*'");
  policy->set_resource(key == "*" ? key
                                  : absl::StartsWith(key, "keys/") ? key
                                                                   : absl::StrCat("keys/", key));
  req.set_policy_id(ctx.Flag("id"));
  policy->set_description(ctx.Flag("description"));
  if (ctx.Has("expires-in")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("expires-in"));
    if (!d.ok()) return ctx.Usage(d.status().message());
    SetTimestamp(absl::Now() + *d, policy->mutable_expire_time());
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::CreatePolicyResponse> resp = client->CreatePolicy(req);
  if (!resp.ok()) return ctx.Fail("cannot grant", resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
    return kExitOk;
  }
  std::vector<std::string> ops;
  for (int o : resp->policy().operations()) {
    ops.push_back(OperationName(static_cast<v1::Operation>(o)));
  }
  ctx.Print(absl::StrCat(resp->policy().name(), ": granted ", absl::StrJoin(ops, ", "),
                         " on ", resp->policy().resource(), " to ",
                         resp->policy().principal(), "\n"));
  return kExitOk;
}

int RunPolicyRevoke(Ctx& ctx) {
  std::string id(absl::StripPrefix(ctx.pos()[0], "policies/"));
  v1::DeletePolicyRequest req;
  req.set_name(absl::StrCat("policies/", id));
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::DeletePolicyResponse> resp = client->DeletePolicy(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot revoke ", req.name()), resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(absl::StrCat(req.name(), ": revoked\n"));
  }
  return kExitOk;
}

int RunPolicyList(Ctx& ctx) {
  v1::ListPoliciesRequest req;
  req.set_principal(ctx.Flag("principal"));
  if (ctx.Has("key")) {
    absl::StatusOr<std::string> key = KeyName(ctx.Flag("key"));
    if (!key.ok()) return ctx.Usage(key.status().message());
    req.set_key(*key);
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  v1::ListPoliciesResponse all;
  for (int page = 0;; ++page) {
    absl::StatusOr<v1::ListPoliciesResponse> resp = client->ListPolicies(req);
    if (!resp.ok()) return ctx.Fail("cannot list policies", resp.status());
    for (v1::Policy& p : *resp->mutable_policies()) *all.add_policies() = std::move(p);
    if (resp->next_page_token().empty()) break;
    if (resp->next_page_token() == req.page_token() || page > 100000) {
      return ctx.Fail("cannot list policies",
                      absl::InternalError("the daemon repeated a page token"));
    }
    req.set_page_token(resp->next_page_token());
  }
  if (ctx.json()) {
    ctx.PrintJson(all);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "PRINCIPAL", "OPERATIONS", "RESOURCE", "EXPIRES", "BUILTIN"}};
  for (const v1::Policy& p : all.policies()) {
    std::vector<std::string> ops;
    for (int o : p.operations()) ops.push_back(OperationName(static_cast<v1::Operation>(o)));
    rows.push_back({std::string(absl::StripPrefix(p.name(), "policies/")), p.principal(),
                    absl::StrJoin(ops, ","), p.resource(),
                    FormatTimestamp(p.expire_time()), YesNo(p.builtin())});
  }
  ctx.Print(Table(rows));
  return kExitOk;
}

int RunApiKeyCreate(Ctx& ctx) {
  v1::CreateApiKeyRequest req;
  req.set_api_key_id(std::string(absl::StripPrefix(ctx.pos()[0], "apiKeys/")));
  req.mutable_api_key()->set_description(ctx.Flag("description"));
  if (ctx.Has("expires-in")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("expires-in"));
    if (!d.ok()) return ctx.Usage(d.status().message());
    SetTimestamp(absl::Now() + *d, req.mutable_api_key()->mutable_expire_time());
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::CreateApiKeyResponse> resp = client->CreateApiKey(req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot create apiKeys/", req.api_key_id()), resp.status());
  }
  std::string out = ctx.json() ? ToJson(*resp) : absl::StrCat(resp->secret(), "\n");
  int rc = ctx.Output("cannot write the API key secret", out, false, 0600);
  Wipe(&out);
  Wipe(resp->mutable_secret());
  if (rc == kExitOk && ctx.Has("out") && ctx.Flag("out") != "-") {
    std::cerr << resp->api_key().name() << ": created; its secret (shown once) is in "
              << ctx.Flag("out") << "; grant it access with `keyward policy grant "
              << resp->api_key().principal() << " ...`" << std::endl;
  }
  return rc;
}

int RunApiKeyRevoke(Ctx& ctx) {
  v1::RevokeApiKeyRequest req;
  req.set_name(absl::StrCat("apiKeys/", absl::StripPrefix(ctx.pos()[0], "apiKeys/")));
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::RevokeApiKeyResponse> resp = client->RevokeApiKey(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot revoke ", req.name()), resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(absl::StrCat(req.name(), ": revoked\n"));
  }
  return kExitOk;
}

int RunApiKeyList(Ctx& ctx) {
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  v1::ListApiKeysRequest req;
  v1::ListApiKeysResponse all;
  for (int page = 0;; ++page) {
    absl::StatusOr<v1::ListApiKeysResponse> resp = client->ListApiKeys(req);
    if (!resp.ok()) return ctx.Fail("cannot list API keys", resp.status());
    for (v1::ApiKey& k : *resp->mutable_api_keys()) *all.add_api_keys() = std::move(k);
    if (resp->next_page_token().empty()) break;
    if (resp->next_page_token() == req.page_token() || page > 100000) {
      return ctx.Fail("cannot list API keys",
                      absl::InternalError("the daemon repeated a page token"));
    }
    req.set_page_token(resp->next_page_token());
  }
  if (ctx.json()) {
    ctx.PrintJson(all);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "EXPIRES", "LAST LOGIN", "DESCRIPTION"}};
  for (const v1::ApiKey& k : all.api_keys()) {
    rows.push_back({std::string(absl::StripPrefix(k.name(), "apiKeys/")),
                    absl::AsciiStrToLower(absl::StripPrefix(
                        v1::ApiKeyState_Name(k.state()), "API_KEY_STATE_")),
                    FormatTimestamp(k.expire_time()), FormatTimestamp(k.last_login_time()),
                    k.description()});
  }
  ctx.Print(Table(rows));
  return kExitOk;
}

int RunLogin(Ctx& ctx) {
  absl::StatusOr<std::string> secret =
      ReadSecret(ctx.Flag("api-key-file"), "API key secret", "--api-key-file");
  if (!secret.ok()) return ctx.Fail("cannot read the API key secret", secret.status());
  v1::LoginRequest req;
  req.set_api_key_secret(std::string(absl::StripAsciiWhitespace(*secret)));
  Wipe(&*secret);
  if (ctx.Has("ttl")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("ttl"));
    if (!d.ok()) {
      Wipe(req.mutable_api_key_secret());
      return ctx.Usage(d.status().message());
    }
    SetDuration(*d, req.mutable_ttl());
  }
  Client* client = ctx.Connect();
  absl::StatusOr<v1::LoginResponse> resp =
      client == nullptr ? absl::StatusOr<v1::LoginResponse>(absl::CancelledError())
                        : client->Login(req);
  Wipe(req.mutable_api_key_secret());
  if (client == nullptr) return kExitError;
  if (!resp.ok()) return ctx.Fail("cannot log in", resp.status());
  std::string out = ctx.json() ? ToJson(*resp) : absl::StrCat(resp->session_token(), "\n");
  int rc = ctx.Output("cannot write the session token", out, false, 0600);
  Wipe(&out);
  Wipe(resp->mutable_session_token());
  if (rc == kExitOk && ctx.Has("out") && ctx.Flag("out") != "-") {
    std::cerr << "logged in as " << resp->principal() << " until "
              << FormatTimestamp(resp->expire_time()) << "; pass --token-file "
              << ctx.Flag("out") << std::endl;
  }
  return rc;
}

// ---------------------------------------------------------------------------
// JWT and JWE
// ---------------------------------------------------------------------------

absl::Status FillSignJwt(Ctx& ctx, const std::string& key, v1::SignJwtRequest* req) {
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

int RunJwtSign(Ctx& ctx) {
  v1::SignJwtRequest req;
  absl::Status s = FillSignJwt(ctx, ctx.pos()[0], &req);
  if (!s.ok()) return ctx.Usage(s.message());
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::SignJwtResponse> resp = client->SignJwt(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot sign a JWT with ", req.name()), resp.status());
  return ctx.Output("cannot write the token",
                    ctx.json() ? ToJson(*resp) : absl::StrCat(resp->token(), "\n"), false);
}

absl::Status FillVerifyJwt(Ctx& ctx, v1::VerifyJwtRequest* req) {
  if (ctx.Has("key")) {
    absl::StatusOr<std::string> key = KeyName(ctx.Flag("key"));
    if (!key.ok()) return key.status();
    req->set_name(*key);
  }
  req->set_issuer(ctx.Flag("issuer"));
  req->set_audience(ctx.Flag("audience"));
  req->set_typ(ctx.Flag("typ"));
  if (ctx.Has("leeway")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(ctx.Flag("leeway"));
    if (!d.ok()) return d.status();
    SetDuration(*d, req->mutable_leeway());
  }
  return absl::OkStatus();
}

int RunJwtVerify(Ctx& ctx) {
  v1::VerifyJwtRequest req;
  absl::Status s = FillVerifyJwt(ctx, &req);
  if (!s.ok()) return ctx.Usage(s.message());
  absl::StatusOr<std::string> token = ctx.Input();
  if (!token.ok()) return ctx.Fail("cannot read the token", token.status());
  req.set_token(std::string(absl::StripAsciiWhitespace(*token)));
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::VerifyJwtResponse> resp = client->VerifyJwt(req);
  if (!resp.ok()) return ctx.Fail("cannot verify the token", resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else if (resp->valid()) {
    ctx.Print(absl::StrCat("valid (", resp->key_version(), ")\n", resp->claims_json(), "\n"));
  } else {
    ctx.Print(absl::StrCat(
        "invalid: ",
        absl::AsciiStrToLower(absl::StripPrefix(v1::JwtFailure_Name(resp->failure()),
                                                "JWT_FAILURE_")),
        resp->failure_detail().empty() ? "" : absl::StrCat(": ", resp->failure_detail()),
        "\n"));
  }
  return ExitCodeForVerdict(resp->valid());
}

int RunJwks(Ctx& ctx) {
  v1::GetJwksRequest req;
  for (const std::string& n : ctx.pos()) {
    absl::StatusOr<std::string> name = KeyName(n);
    if (!name.ok()) return ctx.Usage(name.status().message());
    req.add_names(*name);
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::GetJwksResponse> resp = client->GetJwks(req);
  if (!resp.ok()) return ctx.Fail("cannot get the JWK Set", resp.status());
  if (ctx.json()) return ctx.Output("cannot write", ToJson(*resp), false);
  return ctx.Output("cannot write the JWK Set", absl::StrCat(resp->jwks_json(), "\n"), false);
}

int RunJwtRecord(Ctx& ctx) {
  v1::GetTokenRecordRequest req;
  if (ctx.Has("external-id")) {
    if (!ctx.pos().empty()) return ctx.Usage("give a JTI or --external-id, not both");
    req.set_external_id(ctx.Flag("external-id"));
    if (ctx.Has("key")) {
      absl::StatusOr<std::string> key = KeyName(ctx.Flag("key"));
      if (!key.ok()) return ctx.Usage(key.status().message());
      req.set_key(*key);
    }
  } else if (ctx.pos().size() == 1) {
    req.set_name(absl::StrCat("tokens/", absl::StripPrefix(ctx.pos()[0], "tokens/")));
  } else {
    return ctx.Usage("give a JTI or --external-id ID");
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::GetTokenRecordResponse> resp = client->GetTokenRecord(req);
  if (!resp.ok()) return ctx.Fail("cannot get the token record", resp.status());
  ctx.PrintJson(*resp);  // a record is nested data: JSON is its table
  return kExitOk;
}

int RunJwtRevoke(Ctx& ctx) {
  v1::RevokeTokenRequest req;
  req.set_name(absl::StrCat("tokens/", absl::StripPrefix(ctx.pos()[0], "tokens/")));
  req.set_reason(ctx.Flag("reason"));
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::RevokeTokenResponse> resp = client->RevokeToken(req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot revoke ", req.name()), resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(absl::StrCat(req.name(), ": revoked\n"));
  }
  return kExitOk;
}

int RunJwtRecords(Ctx& ctx) {
  v1::ListTokenRecordsRequest req;
  if (ctx.Has("key")) {
    absl::StatusOr<std::string> key = KeyName(ctx.Flag("key"));
    if (!key.ok()) return ctx.Usage(key.status().message());
    req.set_key(*key);
  }
  req.set_external_id(ctx.Flag("external-id"));
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  v1::ListTokenRecordsResponse all;
  for (int page = 0;; ++page) {
    absl::StatusOr<v1::ListTokenRecordsResponse> resp = client->ListTokenRecords(req);
    if (!resp.ok()) return ctx.Fail("cannot list token records", resp.status());
    for (v1::TokenRecord& r : *resp->mutable_records()) *all.add_records() = std::move(r);
    if (resp->next_page_token().empty()) break;
    if (resp->next_page_token() == req.page_token() || page > 100000) {
      return ctx.Fail("cannot list token records",
                      absl::InternalError("the daemon repeated a page token"));
    }
    req.set_page_token(resp->next_page_token());
  }
  if (ctx.json()) {
    ctx.PrintJson(all);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"JTI", "KEY VERSION", "SUBJECT", "EXTERNAL ID", "STATE", "EXPIRES"}};
  for (const v1::TokenRecord& r : all.records()) {
    rows.push_back({r.jti(), r.key_version(), r.subject(), r.external_id(),
                    absl::AsciiStrToLower(absl::StripPrefix(
                        v1::TokenState_Name(r.state()), "TOKEN_STATE_")),
                    FormatTimestamp(r.expire_time())});
  }
  ctx.Print(Table(rows));
  return kExitOk;
}

int RunJweEncrypt(Ctx& ctx) {
  absl::StatusOr<std::string> name = KeyOrVersionName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::EncryptJweRequest req;
  req.set_name(*name);
  if (ctx.Has("enc")) {
    std::string e = absl::AsciiStrToUpper(ctx.Flag("enc"));
    std::replace(e.begin(), e.end(), '-', '_');
    v1::JweEncryption enc;
    if (!v1::JweEncryption_Parse(absl::StrCat("JWE_ENCRYPTION_", e), &enc)) {
      return ctx.Usage("--enc is one of A256GCM, A128GCM, A128CBC-HS256, A256CBC-HS512");
    }
    req.set_encryption(enc);
  }
  req.set_typ(ctx.Flag("typ"));
  req.set_content_type(ctx.Flag("content-type"));
  if (ctx.Has("nested-key")) {
    absl::Status s = FillSignJwt(ctx, ctx.Flag("nested-key"), req.mutable_nested_jwt());
    if (!s.ok()) return ctx.Usage(s.message());
  } else {
    absl::StatusOr<std::string> payload = ctx.Input();
    if (!payload.ok()) return ctx.Fail("cannot read the payload", payload.status());
    req.set_payload(*std::move(payload));
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::EncryptJweResponse> resp = client->EncryptJwe(req);
  Wipe(req.mutable_payload());
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot encrypt a JWE to ", *name), resp.status());
  return ctx.Output("cannot write the token",
                    ctx.json() ? ToJson(*resp) : absl::StrCat(resp->token(), "\n"), false);
}

int RunJweDecrypt(Ctx& ctx) {
  v1::DecryptJweRequest req;
  if (ctx.Has("key")) {
    absl::StatusOr<std::string> key = KeyName(ctx.Flag("key"));
    if (!key.ok()) return ctx.Usage(key.status().message());
    req.set_name(*key);
  }
  if (ctx.Has("verify-nested")) {
    v1::VerifyJwtRequest* nested = req.mutable_verify_nested();
    if (ctx.Has("nested-key")) {
      absl::StatusOr<std::string> key = KeyName(ctx.Flag("nested-key"));
      if (!key.ok()) return ctx.Usage(key.status().message());
      nested->set_name(*key);
    }
    nested->set_issuer(ctx.Flag("issuer"));
    nested->set_audience(ctx.Flag("audience"));
  }
  absl::StatusOr<std::string> token = ctx.Input();
  if (!token.ok()) return ctx.Fail("cannot read the token", token.status());
  req.set_token(std::string(absl::StripAsciiWhitespace(*token)));
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::DecryptJweResponse> resp = client->DecryptJwe(req);
  if (!resp.ok()) return ctx.Fail("cannot decrypt the JWE", resp.status());
  int rc = ctx.json() ? ctx.Output("cannot write", ToJson(*resp), false, 0600)
                      : ctx.Output("cannot write the payload", resp->payload(), false, 0600);
  Wipe(resp->mutable_payload());
  if (rc == kExitOk && resp->has_nested()) {
    return ExitCodeForVerdict(resp->nested().valid());
  }
  return rc;
}

// ---------------------------------------------------------------------------
// System: seal, unseal, passphrase, backup, restore, audit
// ---------------------------------------------------------------------------

int RunSeal(Ctx& ctx) {
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::SealResponse> resp = client->Seal();
  if (!resp.ok()) return ctx.Fail("cannot seal the daemon", resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print("sealed\n");
  }
  return kExitOk;
}

int RunUnseal(Ctx& ctx) {
  absl::StatusOr<std::string> pass =
      ReadSecret(ctx.Flag("passphrase-file"), "passphrase", "--passphrase-file");
  if (!pass.ok()) return ctx.Fail("cannot read the passphrase", pass.status());
  v1::UnsealRequest req;
  req.set_passphrase(*pass);
  Wipe(&*pass);
  req.set_initialize(ctx.Has("initialize"));
  Client* client = ctx.Connect();
  absl::StatusOr<v1::UnsealResponse> resp =
      client == nullptr ? absl::StatusOr<v1::UnsealResponse>(absl::CancelledError())
                        : client->Unseal(req);
  Wipe(req.mutable_passphrase());
  if (client == nullptr) return kExitError;
  if (!resp.ok()) return ctx.Fail("cannot unseal the daemon", resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(resp->created()            ? "keystore created; unsealed\n"
              : resp->already_unsealed() ? "already unsealed (passphrase correct)\n"
                                         : "unsealed\n");
  }
  return kExitOk;
}

int RunPassphraseChange(Ctx& ctx) {
  absl::StatusOr<std::string> old_pass =
      ReadSecret(ctx.Flag("old-file"), "current passphrase", "--old-file");
  if (!old_pass.ok()) return ctx.Fail("cannot read the current passphrase", old_pass.status());
  absl::StatusOr<std::string> new_pass =
      ReadSecret(ctx.Flag("new-file"), "new passphrase", "--new-file");
  if (!new_pass.ok()) {
    Wipe(&*old_pass);
    return ctx.Fail("cannot read the new passphrase", new_pass.status());
  }
  if (!ctx.Has("new-file")) {
    absl::StatusOr<std::string> again = ReadSecret("", "new passphrase again", "--new-file");
    bool same = again.ok() && *again == *new_pass;
    if (again.ok()) Wipe(&*again);
    if (!same) {
      Wipe(&*old_pass);
      Wipe(&*new_pass);
      return ctx.Fail("cannot change the passphrase",
                      absl::InvalidArgumentError("the two new passphrases differ"));
    }
  }
  v1::ChangePassphraseRequest req;
  req.set_old_passphrase(*old_pass);
  req.set_new_passphrase(*new_pass);
  Wipe(&*old_pass);
  Wipe(&*new_pass);
  Client* client = ctx.Connect();
  absl::StatusOr<v1::ChangePassphraseResponse> resp =
      client == nullptr
          ? absl::StatusOr<v1::ChangePassphraseResponse>(absl::CancelledError())
          : client->ChangePassphrase(req);
  Wipe(req.mutable_old_passphrase());
  Wipe(req.mutable_new_passphrase());
  if (client == nullptr) return kExitError;
  if (!resp.ok()) return ctx.Fail("cannot change the passphrase", resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print("passphrase changed; update the daemon's passphrase file before its "
              "next restart\n");
  }
  return kExitOk;
}

// The file a command names positionally or with `flag` (not both).
absl::StatusOr<std::string> FileArg(Ctx& ctx, absl::string_view flag) {
  std::string file = ctx.Flag(flag);
  if (!ctx.pos().empty()) {
    if (!file.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("give the file once: FILE or --", flag, " FILE"));
    }
    file = ctx.pos()[0];
  }
  return file;
}

int RunBackup(Ctx& ctx) {
  absl::StatusOr<std::string> out_arg = FileArg(ctx, "out");
  if (!out_arg.ok()) return ctx.Usage(out_arg.status().message());
  std::string out = *out_arg;
  if (out.empty() || out == "-") {
    if (StdoutIsTerminal()) {
      return ctx.Usage("refusing to write a backup to a terminal; give --out FILE");
    }
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  // Stream to memory-bounded chunks: a file is staged beside --out and
  // renamed when complete, so a failed backup leaves no partial file.
  std::string staged = out.empty() || out == "-" ? "" : absl::StrCat(out, ".partial");
  FILE* file = staged.empty() ? stdout : fopen(staged.c_str(), "wbx");
  if (file == nullptr) {
    return ctx.Fail(absl::StrCat("cannot create ", staged),
                    absl::FailedPreconditionError(absl::StrCat(
                        strerror(errno), " (remove a stale ", staged, "?)")));
  }
  if (!staged.empty()) fchmod(fileno(file), 0600);
  absl::StatusOr<v1::BackupInfo> info =
      client->CreateBackup([&](absl::string_view chunk) -> absl::Status {
        if (fwrite(chunk.data(), 1, chunk.size(), file) != chunk.size()) {
          return absl::InternalError(absl::StrCat("cannot write: ", strerror(errno)));
        }
        return absl::OkStatus();
      });
  bool ok = info.ok() && fflush(file) == 0 && fsync(fileno(file)) == 0;
  if (!staged.empty()) {
    ok = (fclose(file) == 0) && ok;
    if (ok && rename(staged.c_str(), out.c_str()) != 0) ok = false;
    if (!ok) unlink(staged.c_str());
  }
  if (!info.ok()) return ctx.Fail("cannot back up", info.status());
  if (!ok) return ctx.Fail("cannot back up", absl::InternalError(strerror(errno)));
  if (!staged.empty()) {
    if (ctx.json()) {
      ctx.PrintJson(*info);
    } else {
      ctx.Print(absl::StrCat("backup ", info->backup_id(), " of ", info->key_count(),
                             " keys written to ", out, "\n"));
    }
  }
  return kExitOk;
}

int RunRestore(Ctx& ctx) {
  absl::StatusOr<std::string> in_arg = FileArg(ctx, "in");
  if (!in_arg.ok()) return ctx.Usage(in_arg.status().message());
  std::string in = *in_arg;
  if (in.empty() || in == "-") return ctx.Usage("give the backup file: keyward restore FILE");
  absl::StatusOr<std::string> pass = ReadSecret(
      ctx.Flag("passphrase-file"), "passphrase of the backup", "--passphrase-file");
  if (!pass.ok()) return ctx.Fail("cannot read the passphrase", pass.status());
  FILE* file = fopen(in.c_str(), "rb");
  if (file == nullptr) {
    Wipe(&*pass);
    return ctx.Fail(absl::StrCat("cannot open ", in),
                    absl::NotFoundError(strerror(errno)));
  }
  Client* client = ctx.Connect();
  if (client == nullptr) {
    Wipe(&*pass);
    fclose(file);
    return kExitError;
  }
  absl::StatusOr<v1::RestoreBackupResponse> resp = client->RestoreBackup(
      *pass, ctx.Has("replace"), [&]() -> absl::StatusOr<std::string> {
        std::string chunk(1 << 20, '\0');
        size_t n = fread(chunk.data(), 1, chunk.size(), file);
        if (n == 0 && ferror(file)) {
          return absl::InternalError(absl::StrCat("cannot read ", in));
        }
        chunk.resize(n);
        return chunk;
      });
  Wipe(&*pass);
  fclose(file);
  if (!resp.ok()) return ctx.Fail("cannot restore", resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(absl::StrCat("restored the backup (", resp->info().key_count(),
                           " keys); the daemon is sealed: run `keyward unseal` with "
                           "the backup's passphrase\n"));
  }
  return kExitOk;
}

int RunAuditTail(Ctx& ctx) {
  v1::ReadAuditLogRequest req;
  req.set_follow(ctx.Has("follow"));
  for (const char* f : {"from", "max"}) {
    if (!ctx.Has(f)) continue;
    uint64_t n = 0;
    if (!absl::SimpleAtoi(ctx.Flag(f), &n)) {
      return ctx.Usage(absl::StrCat("--", f, " must be a number"));
    }
    if (absl::string_view(f) == "from") {
      req.set_start_sequence(n);
    } else {
      req.set_max_records(n);
    }
  }
  req.set_principal(ctx.Flag("principal"));
  req.set_resource_prefix(ctx.Flag("resource-prefix"));
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  google::protobuf::util::JsonPrintOptions one_line;
  one_line.always_print_primitive_fields = true;
  absl::Status s = client->ReadAuditLog(req, [&](const v1::ReadAuditLogResponse& batch) {
    std::string out;
    for (const v1::AuditRecord& r : batch.records()) {
      if (ctx.json()) {
        std::string line;
        (void)google::protobuf::util::MessageToJsonString(r, &line, one_line);
        absl::StrAppend(&out, line, "\n");
      } else {
        absl::StrAppend(&out, r.sequence(), "  ", FormatTimestamp(r.time()), "  ",
                        r.principal(), "  ", r.method(), "  ",
                        r.resource().empty() ? "-" : r.resource(), "  ",
                        r.code() == 0 ? "OK"
                                      : absl::StatusCodeToString(
                                            static_cast<absl::StatusCode>(r.code())),
                        r.message().empty() ? "" : absl::StrCat("  ", r.message()), "\n");
      }
    }
    std::cout << out << std::flush;
    return static_cast<bool>(std::cout);
  });
  if (!s.ok()) return ctx.Fail("cannot read the audit log", s);
  return kExitOk;
}

int RunAuditVerify(Ctx& ctx) {
  v1::VerifyAuditLogRequest req;
  for (const char* f : {"from", "to"}) {
    if (!ctx.Has(f)) continue;
    uint64_t n = 0;
    if (!absl::SimpleAtoi(ctx.Flag(f), &n)) {
      return ctx.Usage(absl::StrCat("--", f, " must be a number"));
    }
    if (absl::string_view(f) == "from") {
      req.set_start_sequence(n);
    } else {
      req.set_end_sequence(n);
    }
  }
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::VerifyAuditLogResponse> resp = client->VerifyAuditLog(req);
  if (!resp.ok()) return ctx.Fail("cannot verify the audit log", resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else if (resp->ok()) {
    ctx.Print(absl::StrCat(
        "ok: ", resp->records_checked(), " records intact up to ",
        resp->last_sequence(), " across ", resp->files_checked(), " file",
        resp->files_checked() == 1 ? "" : "s",
        resp->first_sequence() > 1
            ? absl::StrCat(", from record ", resp->first_sequence(),
                           " (older files removed by retention)")
            : "",
        "\n"));
  } else {
    ctx.Print(absl::StrCat("BROKEN at record ", resp->first_bad_sequence(), ": ",
                           resp->problem(), "\n"));
  }
  return ExitCodeForVerdict(resp->ok());
}

int RunAuditRotate(Ctx& ctx) {
  Client* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  absl::StatusOr<v1::RotateAuditLogResponse> resp = client->RotateAuditLog();
  if (!resp.ok()) return ctx.Fail("cannot rotate the audit log", resp.status());
  if (ctx.json()) {
    ctx.PrintJson(*resp);
  } else {
    ctx.Print(absl::StrCat("rotated: ", resp->rotated_file(), " ends with record ",
                           resp->last_sequence(), "; the live log goes on from record ",
                           resp->first_sequence(), "\n"));
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

FlagSpec In() { return {"in", Kind::kValue, "FILE", "read input from FILE (default stdin)"}; }
FlagSpec Out() { return {"out", Kind::kValue, "FILE", "write output to FILE (default stdout)"}; }
FlagSpec Version() {
  return {"version", Kind::kValue, "N", "use key version N (default: the primary)"};
}
FlagSpec AadFlag() {
  return {"aad", Kind::kValue, "TEXT", "associated data (must match at decrypt)"};
}
FlagSpec AadFile() {
  return {"aad-file", Kind::kValue, "FILE", "associated data from a file"};
}
std::vector<FlagSpec> KeyTemplateFlags(bool import) {
  std::vector<FlagSpec> f = {
      {"type", Kind::kValue, "TYPE",
       "aes256-gcm, hmac-sha256, hmac-sha384, hmac-sha512, ed25519, ecdsa-p256, "
       "ecdsa-p384, rsa-2048, rsa-3072, rsa-4096, ecdh-p256" +
           std::string(import ? " (default: from the material)" : "")},
      {"purpose", Kind::kValue, "PURPOSE",
       "sign, encrypt, mac, jwt or jwe (default by type; RSA needs it)"},
      {"algorithm", Kind::kRepeated, "ALG",
       "allowed signature algorithm, repeatable, first = default (e.g. "
       "rsa-pss-sha256, RS256, ecdsa-sha256-p1363)"},
      {"rotation-period", Kind::kValue, "DURATION", "rotate automatically, e.g. 720h or 30d"},
      {"label", Kind::kRepeated, "K=V", "label, repeatable"},
      {"description", Kind::kValue, "TEXT", "free text"},
      {"exportable", Kind::kBool, "", "allow `keyward key export` (immutable)"},
      {"jwt-issuer", Kind::kValue, "ISS", "JWT keys: the fixed \"iss\""},
      {"jwt-max-ttl", Kind::kValue, "DURATION", "JWT keys: longest token lifetime"},
      {"jwt-default-ttl", Kind::kValue, "DURATION", "JWT keys: default token lifetime"},
  };
  return f;
}
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

// doctor: the checks live in cli_doctor.{h,cc}; this wires the daemon's
// status in through keyward::Client.
int RunDoctor(Ctx& ctx) {
  DoctorOptions options;
  options.config_path = ctx.Flag("config");
  options.target = ctx.Flag("addr");
  options.get_status = [](const std::string& target)
      -> absl::StatusOr<v1::GetStatusResponse> {
    ClientOptions client_options;
    client_options.target = target;
    client_options.timeout = absl::Seconds(3);
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(client_options);
    if (!client.ok()) return client.status();
    return (*client)->GetStatus();
  };
  return PrintDoctorReport(RunDoctorChecks(options), ctx.json(), std::cout);
}

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"status", "", "show the daemon's version, flavor, seal state and counters", {}, 0, 0,
       RunStatus},
      {"whoami", "", "show your identity as the daemon sees it", {}, 0, 0, RunWhoAmI},

      {"key create", "NAME --type TYPE", "create a key with a generated version 1",
       KeyTemplateFlags(false), 1, 1, RunKeyCreate},
      {"key list", "", "list keys you may use (all pages)",
       {{"prefix", Kind::kValue, "P", "only keys whose name starts with P"},
        {"label", Kind::kRepeated, "K=V", "only keys with this label, repeatable"},
        {"purpose", Kind::kValue, "PURPOSE", "only keys of this purpose"}},
       0, 0, RunKeyList},
      {"key show", "NAME", "show a key's metadata", {}, 1, 1, RunKeyShow},
      {"key rotate", "NAME", "add a new primary version", {}, 1, 1, RunKeyRotate},
      {"key update", "NAME", "change a key's mutable settings",
       {{"rotation-period", Kind::kValue, "DURATION", "0 stops automatic rotation"},
        {"min-decrypt-version", Kind::kValue, "N", "versions below N stop verifying/decrypting"},
        {"min-encrypt-version", Kind::kValue, "N", "versions below N cannot be named to sign/encrypt"},
        {"label", Kind::kRepeated, "K=V", "labels (replace all), repeatable"},
        {"clear-labels", Kind::kBool, "", "remove all labels"},
        {"description", Kind::kValue, "TEXT", "free text"},
        {"jwt-issuer", Kind::kValue, "ISS", "JWT keys: the fixed \"iss\""},
        {"jwt-max-ttl", Kind::kValue, "DURATION", "JWT keys: longest token lifetime"},
        {"jwt-default-ttl", Kind::kValue, "DURATION", "JWT keys: default token lifetime"}},
       1, 1, RunKeyUpdate},
      {"key versions", "NAME", "list a key's versions", {}, 1, 1, RunKeyVersions},
      {"key disable-version", "NAME VERSION", "make a version unusable (reversible)", {}, 2,
       2, RunKeyDisable},
      {"key enable-version", "NAME VERSION", "make a disabled version usable again", {}, 2,
       2, RunKeyEnable},
      {"key destroy-version", "NAME VERSION",
       "wipe a disabled version's material, irreversibly", {}, 2, 2, RunKeyDestroy},
      {"key import", "NAME --in FILE", "import key material as a new key or version",
       [] {
         std::vector<FlagSpec> f = KeyTemplateFlags(true);
         f.push_back({"in", Kind::kValue, "FILE", "the key material (required)"});
         f.push_back({"format", Kind::kValue, "FMT",
                      "pem, der, raw, public-pem, public-der, public-jwk (default: "
                      "guessed from the material)"});
         f.push_back({"passphrase-file", Kind::kValue, "FILE",
                      "passphrase of an encrypted PKCS#8 (mode 0600)"});
         f.push_back({"new-version", Kind::kBool, "", "add a version to existing key NAME"});
         f.push_back({"kid", Kind::kValue, "KID", "JOSE kid for the new version"});
         return f;
       }(),
       1, 1, RunKeyImport},
      {"key export", "NAME --out FILE", "export an exportable key's private material",
       {Version(), Out(),
        {"format", Kind::kValue, "FMT", "pem, der or raw (default by type)"},
        {"passphrase-file", Kind::kValue, "FILE", "encrypt the PKCS#8 with this passphrase"}},
       1, 1, RunKeyExport},
      {"key public", "NAME", "print a public key",
       {Version(), Out(), {"format", Kind::kValue, "FMT", "pem (default), der or jwk"}}, 1, 1,
       RunKeyPublic},

      {"sign", "NAME", "sign data from stdin (or --in)",
       {In(), Out(), Version(),
        {"algorithm", Kind::kValue, "ALG", "one of the key's algorithms (default: its first)"},
        {"raw", Kind::kBool, "", "write the bare signature, not the self-describing one"},
        {"digest", Kind::kBool, "", "the input is a digest, not the message"}},
       1, 1, RunSign,
       "Writes the self-describing signature (for `keyward verify`) by default."},
      {"verify", "NAME --signature FILE", "verify a signature over data from stdin (or --in)",
       {In(), Version(),
        {"signature", Kind::kValue, "FILE", "the signature (required)"},
        {"algorithm", Kind::kValue, "ALG", "the algorithm"},
        {"raw", Kind::kBool, "", "the signature is bare: give --version"},
        {"digest", Kind::kBool, "", "the input is a digest"}},
       1, 1, RunVerify, "Exit code 0 valid, 1 invalid, 2 error."},
      {"encrypt", "NAME", "encrypt data from stdin (or --in)",
       {In(), Out(), Version(), AadFlag(), AadFile()}, 1, 1, RunEncrypt},
      {"decrypt", "NAME", "decrypt a ciphertext from stdin (or --in)",
       {In(), Out(), Version(), AadFlag(), AadFile(),
        {"raw", Kind::kBool, "", "bare RSA-OAEP ciphertext: give --version"}},
       1, 1, RunDecrypt},
      {"mac", "NAME", "compute a MAC over data from stdin (or --in)",
       {In(), Out(), Version(),
        {"raw", Kind::kBool, "", "write the bare tag, not the self-describing MAC"}},
       1, 1, RunMac},
      {"verify-mac", "NAME --mac FILE", "check a MAC over data from stdin (or --in)",
       {In(), Version(), {"mac", Kind::kValue, "FILE", "the MAC (required)"},
        {"raw", Kind::kBool, "", "the MAC is a bare tag: give --version"}},
       1, 1, RunVerifyMac, "Exit code 0 valid, 1 invalid, 2 error."},
      {"datakey", "NAME", "make a data key wrapped by an AES key",
       {Version(), AadFlag(), AadFile(),
        {"length", Kind::kValue, "BYTES", "16, 32 (default) or 64"},
        {"wrapped-only", Kind::kBool, "", "return only the wrapped key"},
        {"plaintext-out", Kind::kValue, "FILE", "write the plain data key here (mode 0600)"},
        {"ciphertext-out", Kind::kValue, "FILE", "write the wrapped data key here"}},
       1, 1, RunDataKey,
       "Prints the response as JSON (keys base64), or writes two files with "
       "--plaintext-out and --ciphertext-out."},
      {"reencrypt", "NAME", "move a ciphertext from stdin to the primary version",
       {In(), Out(), AadFlag(), AadFile(),
        {"to", Kind::kValue, "KEY", "re-encrypt under another key"},
        {"to-aad", Kind::kValue, "TEXT", "new associated data (default: --aad)"},
        {"to-aad-file", Kind::kValue, "FILE", "new associated data from a file"}},
       1, 1, RunReEncrypt},

      {"policy grant", "PRINCIPAL OPERATION... --key NAME|PREFIX*|*",
       "grant a principal operations on keys",
       {{"key", Kind::kValue, "RESOURCE", "a key, 'PREFIX*', or '*' (required)"},
        {"id", Kind::kValue, "ID", "policy id (default: generated)"},
        {"description", Kind::kValue, "TEXT", "free text"},
        {"expires-in", Kind::kValue, "DURATION", "grant ends after this long"}},
       2, kMany, RunPolicyGrant,
       "PRINCIPAL: unix:uid:N, unix:gid:N, spiffe://..., x509:..., apikey:ID.\n"
       "OPERATION: read sign verify encrypt decrypt mac mac-verify jwt-sign jwt-verify "
       "jwe-encrypt jwe-decrypt token-read token-revoke rotate admin audit-read."},
      {"policy revoke", "ID", "delete a policy", {}, 1, 1, RunPolicyRevoke},
      {"policy list", "", "list policies you administer",
       {{"principal", Kind::kValue, "P", "only this principal's"},
        {"key", Kind::kValue, "NAME", "only those covering this key"}},
       0, 0, RunPolicyList},

      {"apikey create", "ID", "make an API key; prints its secret once",
       {Out(), {"description", Kind::kValue, "TEXT", "free text"},
        {"expires-in", Kind::kValue, "DURATION", "key stops working after this long"}},
       1, 1, RunApiKeyCreate},
      {"apikey revoke", "ID", "disable an API key for good", {}, 1, 1, RunApiKeyRevoke},
      {"apikey list", "", "list API keys", {}, 0, 0, RunApiKeyList},
      {"login", "", "exchange an API key secret for a session token",
       {Out(), {"api-key-file", Kind::kValue, "FILE", "the secret (mode 0600; default: prompt)"},
        {"ttl", Kind::kValue, "DURATION", "session lifetime"}},
       0, 0, RunLogin, "Pass the token to later commands with --token-file."},

      {"jwt sign", "NAME", "issue a signed JWT", SignJwtFlags(), 1, 1, RunJwtSign},
      {"jwt verify", "", "verify a JWT from stdin (or --in)",
       {In(), {"key", Kind::kValue, "NAME", "pin the key (default: by kid)"},
        {"issuer", Kind::kValue, "ISS", "required iss"},
        {"audience", Kind::kValue, "AUD", "required aud"},
        {"typ", Kind::kValue, "TYP", "required header typ"},
        {"leeway", Kind::kValue, "DURATION", "clock skew allowed"}},
       0, 0, RunJwtVerify, "Exit code 0 valid, 1 invalid, 2 error."},
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
      {"jwks", "NAME...", "print the JWK Set of JWT/JWE keys", {Out()}, 1, kMany, RunJwks},
      {"jwe encrypt", "NAME", "encrypt stdin (or a nested JWT) into a compact JWE",
       [] {
         std::vector<FlagSpec> f = SignJwtFlags();
         f.push_back(In());
         f.push_back(Out());
         f.push_back({"enc", Kind::kValue, "ENC", "A256GCM (default), A128GCM, A128CBC-HS256, "
                                                  "A256CBC-HS512"});
         f.push_back({"content-type", Kind::kValue, "CTY", "header cty of a raw payload"});
         f.push_back({"nested-key", Kind::kValue, "KEY", "sign a JWT with KEY and encrypt it"});
         return f;
       }(),
       1, 1, RunJweEncrypt},
      {"jwe decrypt", "", "decrypt a compact JWE from stdin (or --in)",
       {In(), Out(), {"key", Kind::kValue, "NAME", "pin the key (default: by kid)"},
        {"verify-nested", Kind::kBool, "", "verify the nested JWT (exit 1 if invalid)"},
        {"nested-key", Kind::kValue, "NAME", "pin the nested JWT's key"},
        {"issuer", Kind::kValue, "ISS", "nested: required iss"},
        {"audience", Kind::kValue, "AUD", "nested: required aud"}},
       0, 0, RunJweDecrypt},

      {"seal", "", "wipe the root key from the daemon's memory", {}, 0, 0, RunSeal},
      {"unseal", "", "unlock the daemon with the passphrase",
       {{"passphrase-file", Kind::kValue, "FILE", "the passphrase (mode 0600; default: prompt)"},
        {"initialize", Kind::kBool, "", "create a new keystore with this passphrase"}},
       0, 0, RunUnseal},
      {"passphrase change", "", "re-wrap the root key under a new passphrase",
       {{"old-file", Kind::kValue, "FILE", "current passphrase (default: prompt)"},
        {"new-file", Kind::kValue, "FILE", "new passphrase (default: prompt twice)"}},
       0, 0, RunPassphraseChange},
      {"backup", "FILE", "write an encrypted backup of the keystore (or --out FILE)",
       {Out()}, 0, 1, RunBackup},
      {"restore", "FILE", "replace the keystore with a backup (seals the daemon)",
       {{"in", Kind::kValue, "FILE", "the backup (required)"},
        {"passphrase-file", Kind::kValue, "FILE",
         "passphrase the backup was made under (default: prompt)"},
        {"replace", Kind::kBool, "", "replace an existing keystore"}},
       0, 1, RunRestore},
      {"audit tail", "", "print audit records",
       {{"follow", Kind::kBool, "", "keep printing new records"},
        {"from", Kind::kValue, "SEQ", "first sequence number"},
        {"max", Kind::kValue, "N", "stop after N records"},
        {"principal", Kind::kValue, "P", "only this principal's"},
        {"resource-prefix", Kind::kValue, "R", "only resources starting with R"}},
       0, 0, RunAuditTail, "With --json, one JSON object per line."},
      {"audit verify", "", "check the audit log's hash chain",
       {{"from", Kind::kValue, "SEQ", "first sequence"}, {"to", Kind::kValue, "SEQ", "last"}},
       0, 0, RunAuditVerify,
       "Checks every file: the rotated ones kept (compressed or not), then the live one.\n"
       "Exit code 0 intact, 1 broken (naming the file and offset), 2 error."},
      {"audit rotate", "", "rotate the audit log now (as SIGHUP does)", {}, 0, 0,
       RunAuditRotate,
       "The live file becomes AUDIT_PATH.N; the new one starts with a header record\n"
       "chained to the old file's last record. Mark a rotated file as shipped (so that\n"
       "retention with audit.require_shipped may remove it) with an empty file\n"
       "AUDIT_PATH.N.shipped, e.g. `touch /var/lib/keyward/audit.log.7.shipped`."},
      {"doctor", "[--config FILE]", "check this host's keywardd setup and say what to fix",
       {{"config", Kind::kValue, "FILE",
         "the daemon's config (default /etc/keyward/keywardd.textproto)"}},
       0, 0, RunDoctor,
       "Checks the config against the recommendations, the data dir, passphrase\n"
       "file and socket permissions, free space for the keystore and the audit\n"
       "log, the clock, and the running daemon (via the config's socket unless\n"
       "--addr). Never reads or prints a secret. Exit code 0 when no check\n"
       "fails, 1 when one does, 2 on a usage error."},
  };
  return *commands;
}

std::string FlagLine(const FlagSpec& f) {
  std::string left = absl::StrCat("  --", f.name);
  if (f.kind != Kind::kBool) absl::StrAppend(&left, " ", f.value_name);
  if (f.kind == Kind::kRepeated) absl::StrAppend(&left, " ...");
  if (left.size() < 30) left.append(30 - left.size(), ' ');
  else left.append("  ");
  return absl::StrCat(left, f.help, "\n");
}

void PrintCommandHelp(const Command& c) {
  std::string text = absl::StrCat("usage: keyward ", c.path,
                                  *c.synopsis ? " " : "", c.synopsis,
                                  c.flags.empty() ? "" : " [flags]", "\n\n", c.summary,
                                  ".\n");
  if (*c.details) absl::StrAppend(&text, c.details, "\n");
  if (!c.flags.empty()) {
    absl::StrAppend(&text, "\nflags:\n");
    for (const FlagSpec& f : c.flags) absl::StrAppend(&text, FlagLine(f));
  }
  absl::StrAppend(&text, "\nglobal flags:\n");
  for (const FlagSpec& f : GlobalFlags()) absl::StrAppend(&text, FlagLine(f));
  std::cout << text;
}

void PrintTopHelp(absl::string_view group) {
  std::string text;
  if (group.empty()) {
    text = "usage: keyward [--addr TARGET] [--json] [--timeout D] COMMAND [args]\n\n"
           "Talks to keywardd, the key-custody daemon. Secrets come from files or a\n"
           "prompt, never from arguments. Exit codes: 0 ok, 1 invalid (verify*),\n"
           "2 error.\n\ncommands:\n";
  } else {
    text = absl::StrCat("usage: keyward ", group, " SUBCOMMAND [args]\n\nsubcommands:\n");
  }
  for (const Command& c : Commands()) {
    if (!group.empty() && !absl::StartsWith(c.path, absl::StrCat(group, " "))) continue;
    std::string left = absl::StrCat("  ", c.path, *c.synopsis ? " " : "", c.synopsis);
    if (left.size() < 44) left.append(44 - left.size(), ' ');
    else left.append("  ");
    absl::StrAppend(&text, left, c.summary, "\n");
  }
  absl::StrAppend(&text, "\n`keyward COMMAND --help` explains a command.\n");
  std::cout << text;
}

// FindCommand matches the leading words of `words` against the table.
const Command* FindCommand(const std::vector<std::string>& words, size_t* used) {
  for (const Command& c : Commands()) {
    std::vector<std::string> parts = absl::StrSplit(c.path, ' ');
    if (parts.size() > words.size()) continue;
    if (std::equal(parts.begin(), parts.end(), words.begin())) {
      *used = parts.size();
      return &c;
    }
  }
  return nullptr;
}

bool IsGroup(absl::string_view word) {
  for (const Command& c : Commands()) {
    if (absl::StartsWith(c.path, absl::StrCat(word, " "))) return true;
  }
  return false;
}

int Main(int argc, char** argv) {
  std::vector<std::string> all(argv + 1, argv + argc);
  // Global flags may come before the command's words.
  std::vector<std::string> leading;
  size_t i = 0;
  while (i < all.size() && absl::StartsWith(all[i], "-") && all[i] != "-") {
    std::string name = all[i].substr(all[i].find_first_not_of('-'));
    name = name.substr(0, name.find('='));
    std::replace(name.begin(), name.end(), '_', '-');
    auto spec = std::find_if(GlobalFlags().begin(), GlobalFlags().end(),
                             [&](const FlagSpec& f) { return f.name == name; });
    bool takes_value = spec != GlobalFlags().end() && spec->kind != Kind::kBool &&
                       !absl::StrContains(all[i], '=');
    leading.push_back(all[i++]);
    if (takes_value && i < all.size()) leading.push_back(all[i++]);
  }
  std::vector<std::string> words(all.begin() + i, all.end());
  bool help_first = std::find(leading.begin(), leading.end(), "--help") != leading.end() ||
                    std::find(leading.begin(), leading.end(), "-h") != leading.end();
  if (words.empty() || words[0] == "help") {
    if (words.size() >= 2) {
      size_t used = 0;
      std::vector<std::string> rest(words.begin() + 1, words.end());
      if (const Command* c = FindCommand(rest, &used)) {
        PrintCommandHelp(*c);
        return kExitOk;
      }
      if (IsGroup(rest[0])) {
        PrintTopHelp(rest[0]);
        return kExitOk;
      }
    }
    PrintTopHelp("");
    return words.empty() && !help_first ? kExitError : kExitOk;
  }
  size_t used = 0;
  const Command* command = FindCommand(words, &used);
  if (command == nullptr) {
    if (IsGroup(words[0])) {
      bool wants_help = help_first || (words.size() >= 2 &&
                                       (words[1] == "--help" || words[1] == "-h"));
      if (wants_help) {
        PrintTopHelp(words[0]);
        return kExitOk;
      }
      std::cerr << "keyward: unknown " << words[0] << " subcommand"
                << (words.size() >= 2 ? absl::StrCat(" \"", words[1], "\"") : "")
                << " (see `keyward " << words[0] << " --help`)" << std::endl;
      return kExitError;
    }
    std::cerr << "keyward: unknown command \"" << words[0] << "\" (see `keyward help`)"
              << std::endl;
    return kExitError;
  }
  std::vector<FlagSpec> flags = command->flags;
  flags.insert(flags.end(), GlobalFlags().begin(), GlobalFlags().end());
  std::vector<std::string> args = leading;
  args.insert(args.end(), words.begin() + used, words.end());
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(flags, args);
  if (!parsed.ok()) {
    std::cerr << "keyward: " << command->path << ": " << parsed.status().message()
              << std::endl;
    return kExitError;
  }
  if (parsed->Has("help")) {
    PrintCommandHelp(*command);
    return kExitOk;
  }
  Ctx ctx(command, *std::move(parsed));
  size_t n = ctx.pos().size();
  if (n < command->min_args || n > command->max_args) {
    return ctx.Usage(absl::StrCat("expects ",
                                  *command->synopsis ? command->synopsis : "no arguments",
                                  n > command->max_args ? " (too many arguments)" : ""));
  }
  return command->run(ctx);
}

}  // namespace
}  // namespace keyward::cli

int main(int argc, char** argv) { return keyward::cli::Main(argc, argv); }
