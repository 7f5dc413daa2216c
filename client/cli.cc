#include "client/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace keyward::cli {
namespace {

using google::protobuf::EnumDescriptor;

// Normalize makes user-typed enum text comparable: lower case, '_' -> '-'.
std::string Normalize(absl::string_view text) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

// EnumText is an enum value's name without `prefix`, in kebab case:
// KEY_TYPE_ECDSA_P256 -> "ecdsa-p256".
std::string EnumText(const EnumDescriptor* d, int value,
                     absl::string_view prefix) {
  const google::protobuf::EnumValueDescriptor* v = d->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat("unknown(", value, ")");
  return Normalize(absl::StripPrefix(v->name(), prefix));
}

// EnumTexts is the EnumText of every value but UNSPECIFIED (number 0), in
// declaration order.
std::vector<std::string> EnumTexts(const EnumDescriptor* d,
                                   absl::string_view prefix) {
  std::vector<std::string> names;
  for (int i = 0; i < d->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* v = d->value(i);
    if (v->number() != 0) names.push_back(EnumText(d, v->number(), prefix));
  }
  return names;
}

// ParseEnumText finds the value whose EnumText is `text`; UNSPECIFIED
// (number 0) is never accepted.
absl::StatusOr<int> ParseEnumText(const EnumDescriptor* d,
                                  absl::string_view prefix,
                                  absl::string_view text,
                                  absl::string_view what) {
  std::string want = Normalize(text);
  for (int i = 0; i < d->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* v = d->value(i);
    if (v->number() != 0 && EnumText(d, v->number(), prefix) == want) {
      return v->number();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ", what, " \"", text, "\"; one of: ",
                   absl::StrJoin(EnumTexts(d, prefix), ", ")));
}

}  // namespace

// --- Exit codes and errors ---

int ExitCodeForStatus(const absl::Status& status) {
  return status.ok() ? kExitOk : kExitError;
}

int ExitCodeForVerdict(const absl::StatusOr<bool>& verdict) {
  if (!verdict.ok()) return kExitError;
  return *verdict ? kExitOk : kExitInvalid;
}

std::string Hint(const absl::Status& status, absl::string_view target) {
  const std::string msg = absl::AsciiStrToLower(status.message());
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      if (absl::StrContains(msg, "sealed")) {
        return "the daemon is sealed: run `keyward unseal`";
      }
      if (absl::StrContains(msg, "connect") ||
          absl::StrContains(msg, "no such file") ||
          absl::StrContains(msg, "refused") ||
          absl::StrContains(msg, "unreachable") || msg.empty()) {
        return absl::StrCat("is keywardd running at ", target,
                            "? set KEYWARD_ADDR or --addr");
      }
      return "";
    case absl::StatusCode::kDeadlineExceeded:
      return absl::StrCat("no answer from ", target,
                          " in time; is keywardd running? raise --timeout");
    case absl::StatusCode::kPermissionDenied:
      return "`keyward whoami` shows who you are; an admin grants access "
             "with `keyward policy grant`";
    case absl::StatusCode::kUnauthenticated:
      return "log in with `keyward login` and pass --token-file";
    default:
      return "";
  }
}

std::string ErrorLine(absl::string_view what, const absl::Status& status,
                      absl::string_view target) {
  std::string message(status.message());
  if (message.empty()) message = absl::StatusCodeToString(status.code());
  std::string line = absl::StrCat("keyward: ", what, ": ", message);
  std::string hint = Hint(status, target);
  if (!hint.empty()) absl::StrAppend(&line, " (", hint, ")");
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\r', ' ');
  return line;
}

// --- Arguments ---

bool ParsedArgs::Has(absl::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return false;
  return it->second.back() != "false";
}

std::string ParsedArgs::Get(absl::string_view name,
                            absl::string_view fallback) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

std::vector<std::string> ParsedArgs::GetAll(absl::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  return it->second;
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<FlagSpec>& flags,
                                     const std::vector<std::string>& args) {
  ParsedArgs parsed;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg == "-" || !absl::StartsWith(arg, "-")) {
      parsed.positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "-h") {
      parsed.values_["help"].push_back("true");
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      // One dash: flags are --long-names, so a longer word is a value that
      // starts with '-' (a JWT id is base64url: "-jY9e..."), unless it is
      // a flag's name with one dash missing.
      std::string name(absl::string_view(arg).substr(1, arg.find('=') - 1));
      std::replace(name.begin(), name.end(), '_', '-');
      const bool is_flag_name =
          std::any_of(flags.begin(), flags.end(),
                      [&](const FlagSpec& f) { return f.name == name; });
      if (arg.size() > 2 && !is_flag_name) {
        parsed.positional_.push_back(arg);
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown flag \"", arg,
          "\" (flags are --long-names; put a value that starts with '-' "
          "after \"--\")"));
    }
    absl::string_view body = absl::string_view(arg).substr(2);
    std::string name;
    std::optional<std::string> value;
    size_t eq = body.find('=');
    if (eq == absl::string_view::npos) {
      name = std::string(body);
    } else {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
    }
    std::replace(name.begin(), name.end(), '_', '-');
    auto spec = std::find_if(flags.begin(), flags.end(),
                             [&](const FlagSpec& f) { return f.name == name; });
    if (spec == flags.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (spec->kind == FlagSpec::Kind::kBool) {
      if (value.has_value() && *value != "true" && *value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value (or =true/=false)"));
      }
      parsed.values_[name].push_back(value.value_or("true"));
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", name, " needs a value (", spec->value_name, ")"));
      }
      value = args[++i];
    }
    parsed.values_[name].push_back(*std::move(value));
  }
  return parsed;
}

// --- Enums ---

absl::StatusOr<v1::KeyType> ParseKeyType(absl::string_view text) {
  absl::StatusOr<int> v =
      ParseEnumText(v1::KeyType_descriptor(), "KEY_TYPE_", text, "key type");
  if (!v.ok()) return v.status();
  return static_cast<v1::KeyType>(*v);
}

std::string KeyTypeName(v1::KeyType type) {
  return EnumText(v1::KeyType_descriptor(), type, "KEY_TYPE_");
}

std::string KeyTypeNames() {
  return absl::StrJoin(EnumTexts(v1::KeyType_descriptor(), "KEY_TYPE_"), ", ");
}

absl::StatusOr<v1::KeyPurpose> ParsePurpose(absl::string_view text) {
  std::string t = Normalize(text);
  if (t == "encrypt") return v1::KEY_PURPOSE_ENCRYPT_DECRYPT;
  if (t == "sign") return v1::KEY_PURPOSE_SIGN_VERIFY;
  absl::StatusOr<int> v = ParseEnumText(v1::KeyPurpose_descriptor(),
                                        "KEY_PURPOSE_", text, "key purpose");
  if (!v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown key purpose \"", text, "\"; one of: encrypt, sign, mac, "
        "jwt, jwe"));
  }
  return static_cast<v1::KeyPurpose>(*v);
}

std::string PurposeName(v1::KeyPurpose purpose) {
  switch (purpose) {
    case v1::KEY_PURPOSE_ENCRYPT_DECRYPT:
      return "encrypt";
    case v1::KEY_PURPOSE_SIGN_VERIFY:
      return "sign";
    default:
      return EnumText(v1::KeyPurpose_descriptor(), purpose, "KEY_PURPOSE_");
  }
}

absl::StatusOr<v1::KeyPurpose> DefaultPurpose(v1::KeyType type) {
  switch (type) {
    case v1::KEY_TYPE_AES256_GCM:
    case v1::KEY_TYPE_X25519:
    case v1::KEY_TYPE_XSALSA20_POLY1305:
    case v1::KEY_TYPE_XCHACHA20_POLY1305:
      return v1::KEY_PURPOSE_ENCRYPT_DECRYPT;
    case v1::KEY_TYPE_HMAC_SHA256:
    case v1::KEY_TYPE_HMAC_SHA384:
    case v1::KEY_TYPE_HMAC_SHA512:
      return v1::KEY_PURPOSE_MAC;
    case v1::KEY_TYPE_ED25519:
    case v1::KEY_TYPE_ECDSA_P256:
    case v1::KEY_TYPE_ECDSA_P384:
    case v1::KEY_TYPE_ECDSA_P521:
      return v1::KEY_PURPOSE_SIGN_VERIFY;
    case v1::KEY_TYPE_ECDH_P256:
      return v1::KEY_PURPOSE_JWE;
    case v1::KEY_TYPE_RSA_2048:
    case v1::KEY_TYPE_RSA_3072:
    case v1::KEY_TYPE_RSA_4096:
      return absl::InvalidArgumentError(
          "RSA keys sign or encrypt: give --purpose sign or --purpose encrypt "
          "(or jwt, jwe)");
    default:
      return absl::InvalidArgumentError("give --type");
  }
}

absl::StatusOr<v1::SignatureAlgorithm> ParseSignatureAlgorithm(
    absl::string_view text) {
  static const std::pair<const char*, v1::SignatureAlgorithm> kJws[] = {
      {"eddsa", v1::SIGNATURE_ALGORITHM_ED25519},
      {"es256", v1::SIGNATURE_ALGORITHM_ECDSA_SHA256_P1363},
      {"es384", v1::SIGNATURE_ALGORITHM_ECDSA_SHA384_P1363},
      {"es512", v1::SIGNATURE_ALGORITHM_ECDSA_SHA512_P1363},
      {"ps256", v1::SIGNATURE_ALGORITHM_RSA_PSS_SHA256},
      {"ps384", v1::SIGNATURE_ALGORITHM_RSA_PSS_SHA384},
      {"ps512", v1::SIGNATURE_ALGORITHM_RSA_PSS_SHA512},
      {"rs256", v1::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA256},
      {"rs384", v1::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA384},
      {"rs512", v1::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512},
  };
  std::string t = Normalize(text);
  for (const auto& [name, value] : kJws) {
    if (t == name) return value;
  }
  absl::StatusOr<int> v =
      ParseEnumText(v1::SignatureAlgorithm_descriptor(),
                    "SIGNATURE_ALGORITHM_", text, "signature algorithm");
  if (!v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        v.status().message(), " (or a JWS name: EdDSA, ES256, PS256, ...)"));
  }
  return static_cast<v1::SignatureAlgorithm>(*v);
}

std::string SignatureAlgorithmName(v1::SignatureAlgorithm algorithm) {
  return EnumText(v1::SignatureAlgorithm_descriptor(), algorithm,
                  "SIGNATURE_ALGORITHM_");
}

absl::StatusOr<v1::Operation> ParseOperation(absl::string_view text) {
  absl::StatusOr<int> v = ParseEnumText(v1::Operation_descriptor(),
                                        "OPERATION_", text, "operation");
  if (!v.ok()) return v.status();
  return static_cast<v1::Operation>(*v);
}

std::string OperationName(v1::Operation operation) {
  return EnumText(v1::Operation_descriptor(), operation, "OPERATION_");
}

std::string VersionStateName(v1::VersionState state) {
  return EnumText(v1::VersionState_descriptor(), state, "VERSION_STATE_");
}

std::string OriginName(v1::VersionOrigin origin) {
  return EnumText(v1::VersionOrigin_descriptor(), origin, "VERSION_ORIGIN_");
}

absl::StatusOr<v1::KeyMaterialFormat> ParseImportFormat(
    absl::string_view text) {
  std::string t = Normalize(text);
  if (t == "pem") return v1::KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM;
  if (t == "der") return v1::KEY_MATERIAL_FORMAT_PRIVATE_KEY_DER;
  if (t == "raw") return v1::KEY_MATERIAL_FORMAT_RAW_SECRET;
  if (t == "public-pem") return v1::KEY_MATERIAL_FORMAT_PUBLIC_KEY_PEM;
  if (t == "public-der") return v1::KEY_MATERIAL_FORMAT_PUBLIC_KEY_DER;
  if (t == "public-jwk" || t == "jwk") {
    return v1::KEY_MATERIAL_FORMAT_PUBLIC_KEY_JWK;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown key material format \"", text,
                   "\"; one of: pem, der, raw, public-pem, public-der, "
                   "public-jwk"));
}

v1::KeyMaterialFormat GuessImportFormat(absl::string_view material,
                                        v1::KeyType type) {
  absl::string_view m = absl::StripLeadingAsciiWhitespace(material);
  if (absl::StartsWith(m, "-----BEGIN PUBLIC KEY-----")) {
    return v1::KEY_MATERIAL_FORMAT_PUBLIC_KEY_PEM;
  }
  if (absl::StartsWith(m, "-----BEGIN ")) {
    return v1::KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM;
  }
  switch (type) {
    case v1::KEY_TYPE_AES256_GCM:
    case v1::KEY_TYPE_HMAC_SHA256:
    case v1::KEY_TYPE_HMAC_SHA384:
    case v1::KEY_TYPE_HMAC_SHA512:
      return v1::KEY_MATERIAL_FORMAT_RAW_SECRET;
    default:
      break;
  }
  if (absl::StartsWith(m, "{")) return v1::KEY_MATERIAL_FORMAT_PUBLIC_KEY_JWK;
  return v1::KEY_MATERIAL_FORMAT_PRIVATE_KEY_DER;
}

absl::StatusOr<v1::PublicKeyFormat> ParsePublicKeyFormat(
    absl::string_view text) {
  absl::StatusOr<int> v =
      ParseEnumText(v1::PublicKeyFormat_descriptor(), "PUBLIC_KEY_FORMAT_",
                    text, "public key format");
  if (!v.ok()) return v.status();
  return static_cast<v1::PublicKeyFormat>(*v);
}

absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(
    absl::string_view text) {
  size_t eq = text.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("label \"", text, "\" is not key=value"));
  }
  return std::make_pair(std::string(text.substr(0, eq)),
                        std::string(text.substr(eq + 1)));
}

absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  absl::Duration total = absl::ZeroDuration();
  // Leading whole days, "30d" or "1d12h".
  size_t d = t.find('d');
  if (d != absl::string_view::npos) {
    int64_t days = 0;
    if (!absl::SimpleAtoi(t.substr(0, d), &days) || days < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad duration \"", text, "\"; use e.g. 720h, 30d, 90m, 45s"));
    }
    total = absl::Hours(24 * days);
    t.remove_prefix(d + 1);
    if (t.empty()) return total;
  }
  absl::Duration rest;
  if (!absl::ParseDuration(t, &rest) || rest < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad duration \"", text, "\"; use e.g. 720h, 30d, 90m, 45s"));
  }
  return total + rest;
}

absl::StatusOr<uint32_t> ParsePositiveInt(absl::string_view text,
                                          absl::string_view what) {
  uint32_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " must be a whole number from 1, not \"", text, "\""));
  }
  return n;
}

std::string KeyIdOf(absl::string_view name) {
  absl::string_view n = absl::StripPrefix(name, "keys/");
  return std::string(n.substr(0, n.find('/')));
}

absl::StatusOr<std::string> KeyName(absl::string_view text) {
  absl::string_view id = absl::StripPrefix(text, "keys/");
  if (id.empty() || absl::StrContains(id, '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not a key name (NAME or keys/NAME)"));
  }
  return absl::StrCat("keys/", id);
}

absl::StatusOr<std::string> KeyOrVersionName(absl::string_view text,
                                             uint32_t version) {
  absl::string_view id = absl::StripPrefix(text, "keys/");
  std::vector<absl::string_view> parts = absl::StrSplit(id, '/');
  uint32_t named = 0;
  if (parts.size() == 3 && parts[1] == "versions") {
    if (!absl::SimpleAtoi(parts[2], &named) || named < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\" has a bad version number"));
    }
  } else if (parts.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text,
        "\" is not a key or version name (NAME, keys/NAME or "
        "keys/NAME/versions/N)"));
  }
  if (parts[0].empty()) {
    return absl::InvalidArgumentError("empty key name");
  }
  if (version != 0 && named != 0 && version != named) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" names version ", named, " but --version says ",
        version));
  }
  if (version == 0) version = named;
  if (version == 0) return absl::StrCat("keys/", parts[0]);
  return absl::StrCat("keys/", parts[0], "/versions/", version);
}

// --- Formatting ---

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string FormatDuration(const google::protobuf::Duration& d) {
  absl::Duration v = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (v == absl::ZeroDuration()) return "-";
  return absl::FormatDuration(v);
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  int64_t secs = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(secs);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  timespec ts = absl::ToTimespec(t);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    return absl::StrCat("{\"error\": \"cannot print JSON: ",
                        absl::StrReplaceAll(std::string(status.message()),
                                            {{"\"", "'"}}),
                        "\"}\n");
  }
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out;
}

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace keyward::cli
