// The command table of the `keyward` CLI and what a command's handler works
// with.
//
// A command is a Command: its words ("key create"), its flags with their
// help, and its handler, an `int (*)(Context&)` that returns the exit code.
// Each command group lives in one file (client/cli_key.cc, cli_crypto.cc,
// cli_policy.cc, cli_apikey.cc, cli_jwt.cc, cli_audit.cc, cli_system.cc,
// cli_completion.cc) where every command's Command entry, flags included,
// sits right after its handler. The one table, CommandGroups() in
// client/cli_table.cc, lists the groups; help, argument checking and shell
// completion are all generated from it.
//
// Handlers reach the daemon only through Context::Call / Context::ListAll,
// i.e. through a ClientInterface, so that tests run them against a fake
// (client/mock_client.h) with RunCli below.
#ifndef KEYWARD_CLIENT_CLI_COMMAND_H_
#define KEYWARD_CLIENT_CLI_COMMAND_H_

#include <stdint.h>
#include <sys/types.h>

#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "client/cli.h"
#include "client/client.h"
#include "client/client_interface.h"
#include "google/protobuf/map.h"
#include "google/protobuf/message.h"

namespace keyward::cli {

class Context;

// Handler runs one command and returns its exit code (kExitOk,
// kExitInvalid or kExitError), having printed its output or one error line.
using Handler = int (*)(Context& ctx);

// kManyArgs as Command::max_args: no limit.
inline constexpr size_t kManyArgs = static_cast<size_t>(-1);

// Command is one entry of the command table.
struct Command {
  // The words that select it, e.g. "key create" or "sign".
  std::string name;
  // Its positional arguments and main flags, for help: "NAME --type TYPE".
  std::string synopsis;
  // One line for help listings (no final period).
  std::string summary;
  // Its own flags, with their help (the global flags come on top).
  std::vector<FlagSpec> flags;
  // How many positional arguments it takes.
  size_t min_args = 0;
  size_t max_args = 0;
  Handler run = nullptr;
  // More help text, shown by `keyward NAME --help`.
  std::string details;
  // Flags the daemon does not honour yet. They appear in no help and no
  // completion; giving one is refused before any call, with the flag's
  // `help` as the reason. To offer one again, move it to `flags` and handle
  // it in the handler.
  std::vector<FlagSpec> withheld = {};
  // The command group, set by the table (CommandGroups) from its entry.
  std::string group = "";
};

// CommandGroup is one entry of the table: a group and its commands.
struct CommandGroup {
  // "key", "crypto", "policy", "apikey", "jwt", "audit", "system", "shell".
  std::string name;
  // Heading of the group in `keyward help`.
  std::string title;
  // Returns the group's commands, in help order.
  std::vector<Command> (*commands)();
};

// CommandGroups is THE command table (client/cli_table.cc).
const std::vector<CommandGroup>& CommandGroups();

// Commands is every command of every group, in table order, with `group`
// set.
const std::vector<Command>& Commands();

// The groups, one function each, defined in their files.
std::vector<Command> SystemCommands();      // client/cli_system.cc
std::vector<Command> KeyCommands();         // client/cli_key.cc
std::vector<Command> CryptoCommands();      // client/cli_crypto.cc
std::vector<Command> PolicyCommands();      // client/cli_policy.cc
std::vector<Command> ApiKeyCommands();      // client/cli_apikey.cc
std::vector<Command> JwtCommands();         // client/cli_jwt.cc
std::vector<Command> AuditCommands();       // client/cli_audit.cc
std::vector<Command> CompletionCommands();  // client/cli_completion.cc
std::vector<Command> DoctorCommands();      // client/cli_doctor_command.cc

// GlobalFlags are accepted by every command, before or after its name:
// --addr, --json, --timeout, --token-file, --tls-*, --help.
const std::vector<FlagSpec>& GlobalFlags();

// Environment is what one run of the CLI talks to.
struct Environment {
  // Makes the client for the options the global flags give. main() passes
  // a function calling Client::Create; tests pass one returning a fake.
  std::function<absl::StatusOr<std::unique_ptr<ClientInterface>>(
      const ClientOptions&)>
      connect;
  // Where output and error lines go (stdout and stderr in main()).
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

// RunCli runs the command line `args` (argv without the program name) and
// returns the exit code: help, dispatch through the table, argument
// checks, then the command's handler.
int RunCli(const std::vector<std::string>& args, const Environment& env);

// Context is what a handler works with: its parsed arguments, the client,
// and output. Not thread-safe; one per run.
class Context {
 public:
  Context(const Command& command, ParsedArgs args, const Environment& env);
  ~Context();

  const Command& command() const { return command_; }
  const ParsedArgs& args() const { return args_; }
  const std::vector<std::string>& pos() const { return args_.positional(); }
  bool json() const { return args_.Has("json"); }
  bool Has(absl::string_view flag) const { return args_.Has(flag); }
  std::string Flag(absl::string_view flag,
                   absl::string_view fallback = "") const {
    return args_.Get(flag, fallback);
  }
  std::ostream& out() { return *env_.out; }
  std::ostream& err() { return *env_.err; }

  // Connect returns the client, creating it on first use from the global
  // flags (and $KEYWARD_TOKEN_FILE); on failure it prints the error line
  // and returns null.
  ClientInterface* Connect();

  // Call connects and makes one call. If connecting failed (already
  // reported), it returns a status that Fail does not print again.
  template <typename Response, typename Request>
  absl::StatusOr<Response> Call(
      absl::StatusOr<Response> (ClientInterface::*method)(const Request&),
      const Request& request) {
    ClientInterface* client = Connect();
    if (client == nullptr) return AlreadyReported();
    return (client->*method)(request);
  }
  template <typename Response>
  absl::StatusOr<Response> Call(
      absl::StatusOr<Response> (ClientInterface::*method)()) {
    ClientInterface* client = Connect();
    if (client == nullptr) return AlreadyReported();
    return (client->*method)();
  }

  // ListAll connects and drains every page of a List* call (keyward::ListAll).
  template <typename Response, typename Request>
  absl::StatusOr<Response> ListAll(
      absl::StatusOr<Response> (ClientInterface::*method)(const Request&),
      Request request) {
    ClientInterface* client = Connect();
    if (client == nullptr) return AlreadyReported();
    return keyward::ListAll(std::move(request), [&](const Request& r) {
      return (client->*method)(r);
    });
  }

  // Reply finishes a command whose result is one response: on failure one
  // error line "<what>: <message>" (exit 2); on success the response as
  // JSON with --json, else `text` of it. Returns the exit code.
  template <typename Response, typename Text>
  int Reply(absl::string_view what, const absl::StatusOr<Response>& response,
            Text&& text) {
    if (!response.ok()) return Fail(what, response.status());
    if (json()) {
      PrintJson(*response);
    } else {
      Print(text(*response));
    }
    return kExitOk;
  }

  // Fail prints one error line (unless the status was already reported)
  // and returns kExitError.
  int Fail(absl::string_view what, const absl::Status& status);

  // Usage prints a usage error naming the command's help; kExitError.
  int Usage(absl::string_view problem);

  // Print writes text to the output stream.
  void Print(absl::string_view text);
  // PrintJson prints `message` as JSON (ToJson).
  void PrintJson(const google::protobuf::Message& message);

  // Output writes bytes to --out (a file written whole, with `mode`) or to
  // the output stream. Binary output is refused on a terminal.
  int Output(absl::string_view what, absl::string_view data, bool binary,
             mode_t mode = 0644);

  // Input reads --in (or stdin).
  absl::StatusOr<std::string> Input() const;

 private:
  static absl::Status AlreadyReported();

  const Command& command_;
  ParsedArgs args_;
  const Environment& env_;
  std::unique_ptr<ClientInterface> client_;
  std::string target_;
};

// --- Shared by handlers (client/cli_context.cc) ---

// Flags several commands take.
FlagSpec InFlag();       // --in FILE
FlagSpec OutFlag();      // --out FILE
FlagSpec VersionFlag();  // --version N
FlagSpec AadFlag();      // --aad TEXT
FlagSpec AadFileFlag();  // --aad-file FILE

// NameWithVersion is KeyOrVersionName(text, --version).
absl::StatusOr<std::string> NameWithVersion(const Context& ctx,
                                            const std::string& text);

// Aad returns --<flag> or the bytes of --<flag>-file (not both).
absl::StatusOr<std::string> Aad(const Context& ctx,
                                absl::string_view flag = "aad");

// AddLabels parses "k=v" words into `out`.
absl::Status AddLabels(const std::vector<std::string>& labels,
                       google::protobuf::Map<std::string, std::string>* out);

// ParseCountFlags parses each given flag as a number >= 0 into its
// variable (left alone if the flag is absent); INVALID_ARGUMENT naming the
// first flag that is not a number.
absl::Status ParseCountFlags(
    const Context& ctx,
    std::initializer_list<std::pair<absl::string_view, uint64_t*>> flags);

// OnlyWith refuses `flag` when `required` was not given: INVALID_ARGUMENT
// "--flag goes with --required" (a flag that would be ignored is refused).
absl::Status OnlyWith(const Context& ctx, absl::string_view flag,
                      absl::string_view required);

// ParseFlagInto parses --<flag> with `parse` (returning absl::StatusOr<T>)
// into `*out` if the flag was given; its error otherwise.
template <typename T, typename Parse>
absl::Status ParseFlagInto(const Context& ctx, absl::string_view flag,
                           Parse&& parse, T* out) {
  if (!ctx.Has(flag)) return absl::OkStatus();
  absl::StatusOr<T> value = parse(ctx.Flag(flag));
  if (!value.ok()) return value.status();
  *out = *std::move(value);
  return absl::OkStatus();
}

// SetKeyName sets request->name() from the first positional argument: a
// key (KeyName), or with `versioned` a key or version plus --version
// (NameWithVersion).
template <typename Request>
absl::Status SetKeyName(const Context& ctx, bool versioned, Request* request) {
  absl::StatusOr<std::string> name = versioned
                                         ? NameWithVersion(ctx, ctx.pos()[0])
                                         : KeyName(ctx.pos()[0]);
  if (!name.ok()) return name.status();
  request->set_name(*name);
  return absl::OkStatus();
}

// Refuse reports a request that could not be prepared: a usage error for
// INVALID_ARGUMENT (bad arguments), else "<what>: <message>". kExitError.
int Refuse(Context& ctx, absl::string_view what, const absl::Status& status);

// ReadInputInto reads --in (or stdin) into `*field`.
absl::Status ReadInputInto(const Context& ctx, std::string* field);

// kVerdictExitCodes is the help detail of commands that give a verdict.
inline constexpr char kVerdictExitCodes[] = "Exit code 0 valid, 1 invalid, 2 error.";

// ReadToken reads a compact token from --in or stdin, without the
// whitespace around it.
absl::StatusOr<std::string> ReadToken(const Context& ctx);

// RunRevoke is `keyward <group> revoke ID`: it names "<collection>/ID" in
// `request` (other fields already set), calls `method`, and prints
// "<name>: revoked".
template <typename Request, typename Response>
int RunRevoke(Context& ctx, absl::string_view collection,
              absl::StatusOr<Response> (ClientInterface::*method)(const Request&),
              Request request = Request()) {
  std::string prefix = absl::StrCat(collection, "/");
  request.set_name(
      absl::StrCat(prefix, absl::StripPrefix(ctx.pos()[0], prefix)));
  return ctx.Reply(absl::StrCat("cannot revoke ", request.name()),
                   ctx.Call(method, request), [&](const Response&) {
                     return absl::StrCat(request.name(), ": revoked\n");
                   });
}

std::string YesNo(bool b);
std::string LabelsText(
    const google::protobuf::Map<std::string, std::string>& labels);
// EnumWord is an enum value's name without `prefix`, in lower case:
// ("API_KEY_STATE_ACTIVE", "API_KEY_STATE_") -> "active".
std::string EnumWord(const std::string& name, absl::string_view prefix);

// PrintVerdict prints "valid"/"invalid" (with " (detail)"), or the
// response as JSON, and returns the verdict's exit code.
int PrintVerdict(Context& ctx, const google::protobuf::Message& response,
                 bool valid, absl::string_view detail);

// --- Help and completion (client/cli_run.cc, client/cli_completion.cc) ---

// CommandHelp is `keyward NAME --help`; TopHelp is `keyward help` (group
// empty) or `keyward GROUP --help` (the commands whose first word is
// `group`).
std::string CommandHelp(const Command& command);
std::string TopHelp(absl::string_view group);

// BashCompletion and ZshCompletion are the scripts `keyward completion
// bash|zsh` prints: they complete every command's words and flags, and
// file names after flags whose value is a FILE.
std::string BashCompletion(const std::vector<Command>& commands);
std::string ZshCompletion(const std::vector<Command>& commands);

}  // namespace keyward::cli

#endif  // KEYWARD_CLIENT_CLI_COMMAND_H_
