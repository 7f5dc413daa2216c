// Fuzzes what daemon/access.h reads from callers: session tokens
// (SessionTable::Find, as Identify calls it on "authorization: Bearer ..."),
// API key secrets (ApiKeyIdOfSecret, as Login calls it), policy resources
// (ValidateResource) and operation names (ParseOperation).
// Asserts, beyond "no crash":
// - Find returns a session only for the exact live token Create made,
//   never for an expired one or any other input;
// - ApiKeyIdOfSecret's id is what lies between "kw_ak_" and the first ':';
// - ValidateResource refuses only with INVALID_ARGUMENT, and accepts
//   exactly "*", "keys/NAME" and "keys/PREFIX*" of [a-z0-9._-];
// - a parsed operation's name parses back to it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/access.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;
namespace daemon = keyward::daemon;

struct Sessions {
  daemon::SessionTable table;
  std::string live;
  std::string expired;
};

Sessions& TheSessions() {
  static Sessions* s = [] {
    auto* s = new Sessions;
    s->live = *s->table.Create("live", absl::InfiniteFuture(), 0);
    s->expired = *s->table.Create("expired", absl::Now() - absl::Hours(1), 0);
    return s;
  }();
  return *s;
}

bool ResourceShape(absl::string_view r) {
  if (r == "*") return true;
  if (!absl::ConsumePrefix(&r, "keys/") || r.empty()) return false;
  absl::ConsumeSuffix(&r, "*");
  for (char c : r) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' ||
          c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  Sessions& s = TheSessions();

  auto session = s.table.Find(input);
  Require(session.has_value() == (input == s.live),
          "Find answered for a token other than the live one");
  if (session) Require(session->api_key_id == "live", "the wrong session");
  // The live token with the input appended or prepended is another token.
  if (!input.empty()) {
    Require(!s.table.Find(absl::StrCat(s.live, input)).has_value() &&
                !s.table.Find(absl::StrCat(input, s.live)).has_value(),
            "Find accepted an extended token");
  }
  Require(!s.table.Find(s.expired).has_value(), "an expired session was found");

  std::optional<std::string> id = daemon::ApiKeyIdOfSecret(input);
  absl::string_view rest = input;
  const bool shaped = absl::ConsumePrefix(&rest, "kw_ak_") &&
                      rest.find(':') != absl::string_view::npos;
  Require(id.has_value() == shaped, "ApiKeyIdOfSecret's verdict");
  if (id) {
    Require(*id == rest.substr(0, rest.find(':')), "ApiKeyIdOfSecret's id");
  }

  absl::Status resource = daemon::ValidateResource(input);
  RequireCode(resource, {absl::StatusCode::kInvalidArgument},
              "ValidateResource");
  Require(resource.ok() == ResourceShape(input), "ValidateResource's verdict");

  keyward::v1::Operation op;
  if (daemon::ParseOperation(input, &op)) {
    keyward::v1::Operation back;
    Require(daemon::ParseOperation(daemon::OperationName(op), &back) &&
                back == op,
            "an operation's name does not parse back to it");
  }
  return 0;
}
