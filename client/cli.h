// Building blocks of the `keyward` command-line tool: exit codes, the
// one-line error format with hints, a small argument parser for subcommand
// flags, parsers and names for the API's enums, and binary-safe input and
// output (client/cli_io.cc). No gRPC calls happen here.
//
// Flags themselves (which command takes which) are declared in the command
// table, beside each command's handler (client/cli_command.h); this file
// only parses them.
#ifndef KEYWARD_CLIENT_CLI_H_
#define KEYWARD_CLIENT_CLI_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "keyward/v1/access_service.pb.h"
#include "keyward/v1/common.pb.h"
#include "keyward/v1/key_service.pb.h"

namespace keyward::cli {

// Exit codes of every command.
inline constexpr int kExitOk = 0;
// A verdict was "no": signature, MAC or token invalid; audit chain broken.
inline constexpr int kExitInvalid = 1;
// Anything went wrong: bad usage, unreadable file, daemon error.
inline constexpr int kExitError = 2;

// ExitCodeForStatus is kExitOk for OK and kExitError otherwise.
int ExitCodeForStatus(const absl::Status& status);

// ExitCodeForVerdict maps a verification outcome to an exit code: valid
// kExitOk, invalid kExitInvalid, an error (the call failed) kExitError.
int ExitCodeForVerdict(const absl::StatusOr<bool>& verdict);

// Hint returns advice for a failed call when the fix is obvious (daemon not
// reachable, no grant, sealed, deadline), or "" when there is none.
// `target` is the address the client used, shown in connection hints.
std::string Hint(const absl::Status& status, absl::string_view target);

// ErrorLine formats the single line printed on failure:
// "keyward: <what>: <message>" plus " (<hint>)" when Hint has one. The line
// ends without a newline and never spans several lines (newlines in the
// message become spaces).
std::string ErrorLine(absl::string_view what, const absl::Status& status,
                      absl::string_view target);

// FlagSpec declares one "--name" flag of a command.
struct FlagSpec {
  enum class Kind {
    kBool,      // --name (also --name=true|false)
    kValue,     // --name V or --name=V; the last one given wins
    kRepeated,  // --name V ...; every value kept in order
  };
  std::string name;        // without dashes, e.g. "rotation-period"
  Kind kind = Kind::kValue;
  std::string value_name;  // for help, e.g. "DURATION"
  std::string help;
};

// ParsedArgs are a command line parsed against a list of FlagSpecs.
class ParsedArgs {
 public:
  // Has reports whether the flag was given (for kBool: given and true).
  bool Has(absl::string_view name) const;
  // Get returns the flag's last value, or `fallback` if it was not given.
  std::string Get(absl::string_view name,
                  absl::string_view fallback = "") const;
  // GetAll returns every value of a flag, in order (empty if not given).
  std::vector<std::string> GetAll(absl::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<ParsedArgs> ParseArgs(
      const std::vector<FlagSpec>& flags,
      const std::vector<std::string>& args);
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
};

// ParseArgs parses `args` (the words after the command's name): "--name",
// "--name=V", "--name V", and positional words anywhere; "--" ends flags.
// '_' and '-' are the same in flag names. A word with one dash is
// positional (a JWT id may start with '-'), except "-h" (help) and what
// looks like a mistyped flag: two characters ("-v") or a flag's name after
// one dash ("-json"). INVALID_ARGUMENT names an unknown flag or a missing
// value.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<FlagSpec>& flags,
                                     const std::vector<std::string>& args);

// --- Enum values as typed on the command line and shown in tables ---

// Key type names come from the proto enum, never from a list here:
// KeyTypeName(KEY_TYPE_ECDSA_P256) is "ecdsa-p256" (the value's name
// without "KEY_TYPE_", lower case, '_' -> '-'). ParseKeyType takes any
// value's name but UNSPECIFIED ('_' also accepted, any case);
// INVALID_ARGUMENT naming every type otherwise.
absl::StatusOr<v1::KeyType> ParseKeyType(absl::string_view text);
std::string KeyTypeName(v1::KeyType type);
// KeyTypeNames is every type's KeyTypeName but UNSPECIFIED, in the enum's
// order, comma-separated ("aes256-gcm, hmac-sha256, ..."): help texts and
// messages.
std::string KeyTypeNames();

// ParsePurpose takes "encrypt" (or "encrypt-decrypt"), "sign" (or
// "sign-verify"), "mac", "jwt", "jwe".
absl::StatusOr<v1::KeyPurpose> ParsePurpose(absl::string_view text);
std::string PurposeName(v1::KeyPurpose purpose);

// DefaultPurpose is the purpose a type implies when --purpose is absent:
// AES encrypt, HMAC mac, Ed25519/ECDSA sign, ECDH jwe. RSA keys can sign or
// encrypt, so they have none: INVALID_ARGUMENT asking for --purpose.
absl::StatusOr<v1::KeyPurpose> DefaultPurpose(v1::KeyType type);

// ParseSignatureAlgorithm takes the enum's suffix in kebab case
// ("ecdsa-sha256-p1363", "rsa-pss-sha256", "ed25519") or a JWS name
// ("ES256", "PS384", "RS512", "EdDSA").
absl::StatusOr<v1::SignatureAlgorithm> ParseSignatureAlgorithm(
    absl::string_view text);
std::string SignatureAlgorithmName(v1::SignatureAlgorithm algorithm);

// ParseOperation takes "read", "sign", "verify", "encrypt", "decrypt",
// "mac", "mac-verify", "jwt-sign", "jwt-verify", "jwe-encrypt",
// "jwe-decrypt", "token-read", "token-revoke", "rotate", "admin",
// "audit-read".
absl::StatusOr<v1::Operation> ParseOperation(absl::string_view text);
std::string OperationName(v1::Operation operation);

std::string VersionStateName(v1::VersionState state);
std::string OriginName(v1::VersionOrigin origin);

// ParseImportFormat takes "pem", "der", "raw", "public-pem", "public-der",
// "public-jwk" (or "jwk").
absl::StatusOr<v1::KeyMaterialFormat> ParseImportFormat(
    absl::string_view text);

// GuessImportFormat picks a format from the material when --format is
// absent: PEM armour ("PUBLIC KEY" -> public-pem, other -> pem), a JSON
// object -> public-jwk, a symmetric `type` -> raw, else der.
v1::KeyMaterialFormat GuessImportFormat(absl::string_view material,
                                        v1::KeyType type);

// ParsePublicKeyFormat takes "pem", "der", "jwk".
absl::StatusOr<v1::PublicKeyFormat> ParsePublicKeyFormat(
    absl::string_view text);

// ParseLabel splits "k=v" (value may be empty; key must not be).
absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(
    absl::string_view text);

// ParseDurationFlag takes Go-style durations ("720h", "90m", "1h30m",
// "45s") plus whole days ("30d"). Negative durations are INVALID_ARGUMENT.
absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view text);

// ParsePositiveInt parses a decimal number >= 1 (a version number, a
// count), naming `what` in the error.
absl::StatusOr<uint32_t> ParsePositiveInt(absl::string_view text,
                                          absl::string_view what);

// KeyName turns "foo" or "keys/foo" into "keys/foo". INVALID_ARGUMENT for
// an empty name or a version name.
absl::StatusOr<std::string> KeyName(absl::string_view text);

// KeyOrVersionName accepts "foo", "keys/foo" and "keys/foo/versions/3";
// with `version` >= 1 it returns that version of the key (the text must
// then not name another version).
absl::StatusOr<std::string> KeyOrVersionName(absl::string_view text,
                                             uint32_t version = 0);

// KeyIdOf returns "foo" for "foo", "keys/foo" or "keys/foo/versions/n".
std::string KeyIdOf(absl::string_view name);

// --- Protobuf values as text ---

std::string FormatTimestamp(const google::protobuf::Timestamp& ts);
std::string FormatDuration(const google::protobuf::Duration& d);
void SetDuration(absl::Duration d, google::protobuf::Duration* out);
void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out);

// ToJson prints `message` with protobuf's JSON printer: indented,
// primitive fields always printed (so "valid": false shows), lowerCamelCase
// names, bytes in base64. Ends with a newline.
std::string ToJson(const google::protobuf::Message& message);

// Table renders rows as left-aligned columns separated by two spaces; the
// first row is the header.
std::string Table(const std::vector<std::vector<std::string>>& rows);

// --- Binary-safe input and output ---

// ReadInput returns every byte of `path`, or of stdin for "" or "-".
absl::StatusOr<std::string> ReadInput(const std::string& path);

// WriteOutput writes `data` to `path` (stdout for "" or "-"). A file is
// written whole or not at all: to a temporary file in the same folder with
// `mode`, fsynced, then renamed over `path`.
absl::Status WriteOutput(const std::string& path, absl::string_view data,
                         mode_t mode = 0644);

// StdoutIsTerminal reports whether stdout is a terminal.
bool StdoutIsTerminal();

// ReadSecret reads a secret (passphrase, API key secret) from `file` if it
// is non-empty, else from a prompt on the controlling terminal with echo
// off. One trailing newline is dropped (as keywardd does for its
// passphrase file). The file must not be readable or writable by group or
// others (FAILED_PRECONDITION naming the chmod fix). Without a file and
// without a terminal: INVALID_ARGUMENT naming `flag`. Never from argv.
absl::StatusOr<std::string> ReadSecret(const std::string& file,
                                       absl::string_view prompt,
                                       absl::string_view flag);

// Wipe overwrites a string's bytes with zeros, then clears it.
void Wipe(std::string* secret);

}  // namespace keyward::cli

#endif  // KEYWARD_CLIENT_CLI_H_
