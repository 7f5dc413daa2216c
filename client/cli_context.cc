// Context, the global flags, and the helpers shared by the command groups
// of the `keyward` CLI (declared in client/cli_command.h).
#include <stdlib.h>

#include <algorithm>
#include <ostream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/cli_command.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

// A status carrying this payload was printed already (a connection
// failure): Fail does not print it again.
constexpr char kReportedPayload[] = "keyward.cli/already-reported";

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"addr", Kind::kValue, "TARGET",
       "daemon address: unix:///path, unix:/path or host:port (default "
       "$KEYWARD_ADDR, else $XDG_RUNTIME_DIR/keyward/keyward.sock, else "
       "/var/lib/keyward/keyward.sock)"},
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

// --- Context ---

Context::Context(const Command& command, ParsedArgs args,
                 const Environment& env)
    : command_(command), args_(std::move(args)), env_(env) {}

Context::~Context() = default;

absl::Status Context::AlreadyReported() {
  absl::Status status = absl::CancelledError("already reported");
  status.SetPayload(kReportedPayload, absl::Cord("1"));
  return status;
}

ClientInterface* Context::Connect() {
  if (client_ != nullptr) return client_.get();
  ClientOptions options;
  options.target = args_.Get("addr");
  target_ = SelectTarget(options.target, EnvOrEmpty("KEYWARD_ADDR"),
                         EnvOrEmpty("XDG_RUNTIME_DIR"));
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
  if (token_file.empty()) token_file = EnvOrEmpty("KEYWARD_TOKEN_FILE");
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
  absl::StatusOr<std::unique_ptr<ClientInterface>> client =
      env_.connect(options);
  Wipe(&options.session_token);
  if (!client.ok()) {
    Fail("cannot use the daemon address", client.status());
    return nullptr;
  }
  client_ = *std::move(client);
  return client_.get();
}

int Context::Fail(absl::string_view what, const absl::Status& status) {
  if (!status.GetPayload(kReportedPayload).has_value()) {
    err() << ErrorLine(what, status, target_) << std::endl;
  }
  return ExitCodeForStatus(status);
}

int Context::Usage(absl::string_view problem) {
  err() << "keyward: " << command_.name << ": " << problem << " (see `keyward "
        << command_.name << " --help`)" << std::endl;
  return kExitError;
}

void Context::Print(absl::string_view text) { out() << text << std::flush; }

void Context::PrintJson(const google::protobuf::Message& message) {
  Print(ToJson(message));
}

int Context::Output(absl::string_view what, absl::string_view data,
                    bool binary, mode_t mode) {
  std::string file = args_.Get("out");
  if (file.empty() || file == "-") {
    if (binary && StdoutIsTerminal()) {
      return Fail(what, absl::InvalidArgumentError(
                            "refusing to write binary output to a terminal; "
                            "use --out FILE, redirect stdout, or --json"));
    }
    out().write(data.data(), static_cast<std::streamsize>(data.size()));
    out().flush();
    if (!out()) return Fail(what, absl::InternalError("cannot write stdout"));
    return kExitOk;
  }
  absl::Status s = WriteOutput(file, data, mode);
  if (!s.ok()) return Fail(what, s);
  return kExitOk;
}

absl::StatusOr<std::string> Context::Input() const {
  return ReadInput(args_.Get("in"));
}

// --- Shared flags and helpers ---

FlagSpec InFlag() {
  return {"in", Kind::kValue, "FILE", "read input from FILE (default stdin)"};
}
FlagSpec OutFlag() {
  return {"out", Kind::kValue, "FILE", "write output to FILE (default stdout)"};
}
FlagSpec VersionFlag() {
  return {"version", Kind::kValue, "N",
          "use key version N (default: the primary)"};
}
FlagSpec AadFlag() {
  return {"aad", Kind::kValue, "TEXT",
          "associated data (must match at decrypt)"};
}
FlagSpec AadFileFlag() {
  return {"aad-file", Kind::kValue, "FILE", "associated data from a file"};
}

absl::StatusOr<std::string> NameWithVersion(const Context& ctx,
                                            const std::string& text) {
  uint32_t version = 0;
  if (ctx.Has("version")) {
    absl::StatusOr<uint32_t> v =
        ParsePositiveInt(ctx.Flag("version"), "--version");
    if (!v.ok()) return v.status();
    version = *v;
  }
  return KeyOrVersionName(text, version);
}

absl::StatusOr<std::string> Aad(const Context& ctx, absl::string_view flag) {
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

absl::Status ParseCountFlags(
    const Context& ctx,
    std::initializer_list<std::pair<absl::string_view, uint64_t*>> flags) {
  for (const auto& [flag, out] : flags) {
    if (ctx.Has(flag) && !absl::SimpleAtoi(ctx.Flag(flag), out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, " must be a number"));
    }
  }
  return absl::OkStatus();
}

absl::Status OnlyWith(const Context& ctx, absl::string_view flag,
                      absl::string_view required) {
  if (!ctx.Has(flag) || ctx.Has(required)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " goes with --", required,
                   " (without it, it would be ignored)"));
}

int Refuse(Context& ctx, absl::string_view what, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    return ctx.Usage(status.message());
  }
  return ctx.Fail(what, status);
}

absl::Status ReadInputInto(const Context& ctx, std::string* field) {
  absl::StatusOr<std::string> data = ctx.Input();
  if (!data.ok()) return data.status();
  *field = *std::move(data);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadToken(const Context& ctx) {
  absl::StatusOr<std::string> token = ctx.Input();
  if (!token.ok()) return token.status();
  return std::string(absl::StripAsciiWhitespace(*token));
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

std::string LabelsText(
    const google::protobuf::Map<std::string, std::string>& labels) {
  std::vector<std::string> sorted;
  for (const auto& [k, v] : labels) sorted.push_back(absl::StrCat(k, "=", v));
  std::sort(sorted.begin(), sorted.end());
  return sorted.empty() ? "-" : absl::StrJoin(sorted, ",");
}

std::string EnumWord(const std::string& name, absl::string_view prefix) {
  return absl::AsciiStrToLower(absl::StripPrefix(name, prefix));
}

int PrintVerdict(Context& ctx, const google::protobuf::Message& response,
                 bool valid, absl::string_view detail) {
  if (ctx.json()) {
    ctx.PrintJson(response);
  } else {
    ctx.Print(absl::StrCat(valid ? "valid" : "invalid",
                           detail.empty() ? "" : absl::StrCat(" (", detail, ")"),
                           "\n"));
  }
  return ExitCodeForVerdict(valid);
}

}  // namespace keyward::cli
