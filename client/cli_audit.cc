// The "audit" commands of the `keyward` CLI: audit tail, audit verify.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "client/cli_command.h"
#include "google/protobuf/util/json_util.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

// RecordLine is one audit record as a line of text (or of JSON).
std::string RecordLine(const v1::AuditRecord& r, bool json) {
  if (json) {
    google::protobuf::util::JsonPrintOptions one_line;
    one_line.always_print_primitive_fields = true;
    std::string line;
    (void)google::protobuf::util::MessageToJsonString(r, &line, one_line);
    return absl::StrCat(line, "\n");
  }
  return absl::StrCat(
      r.sequence(), "  ", FormatTimestamp(r.time()), "  ", r.principal(), "  ",
      r.method(), "  ", r.resource().empty() ? "-" : r.resource(), "  ",
      r.code() == 0
          ? "OK"
          : absl::StatusCodeToString(static_cast<absl::StatusCode>(r.code())),
      r.message().empty() ? "" : absl::StrCat("  ", r.message()), "\n");
}

int RunAuditTail(Context& ctx) {
  v1::ReadAuditLogRequest req;
  req.set_follow(ctx.Has("follow"));
  uint64_t from = 0, max = 0;
  absl::Status s = ParseCountFlags(ctx, {{"from", &from}, {"max", &max}});
  if (!s.ok()) return ctx.Usage(s.message());
  req.set_start_sequence(from);
  req.set_max_records(max);
  req.set_principal(ctx.Flag("principal"));
  req.set_resource_prefix(ctx.Flag("resource-prefix"));
  ClientInterface* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  s = client->ReadAuditLog(req, [&](const v1::ReadAuditLogResponse& batch) {
    std::string out;
    for (const v1::AuditRecord& r : batch.records()) {
      absl::StrAppend(&out, RecordLine(r, ctx.json()));
    }
    ctx.out() << out << std::flush;
    return static_cast<bool>(ctx.out());
  });
  if (!s.ok()) return ctx.Fail("cannot read the audit log", s);
  return kExitOk;
}

Command AuditTail() {
  return {"audit tail", "", "print audit records",
          {{"follow", Kind::kBool, "", "keep printing new records"},
           {"from", Kind::kValue, "SEQ", "first sequence number"},
           {"max", Kind::kValue, "N", "stop after N records"},
           {"principal", Kind::kValue, "P", "only this principal's"},
           {"resource-prefix", Kind::kValue, "R", "only resources starting with R"}},
          0, 0, RunAuditTail, "With --json, one JSON object per line."};
}

int RunAuditVerify(Context& ctx) {
  v1::VerifyAuditLogRequest req;
  uint64_t from = 0, to = 0;
  absl::Status s = ParseCountFlags(ctx, {{"from", &from}, {"to", &to}});
  if (!s.ok()) return ctx.Usage(s.message());
  req.set_start_sequence(from);
  req.set_end_sequence(to);
  absl::StatusOr<v1::VerifyAuditLogResponse> resp =
      ctx.Call(&ClientInterface::VerifyAuditLog, req);
  int rc = ctx.Reply("cannot verify the audit log", resp,
                     [](const v1::VerifyAuditLogResponse& r) {
                       return r.ok() ? absl::StrCat("ok: ", r.records_checked(),
                                                    " records intact up to ",
                                                    r.last_sequence(), "\n")
                                     : absl::StrCat("BROKEN at record ",
                                                    r.first_bad_sequence(), ": ",
                                                    r.problem(), "\n");
                     });
  if (rc != kExitOk) return rc;
  return ExitCodeForVerdict(resp->ok());
}

}  // namespace

std::vector<Command> AuditCommands() {
  return {
      AuditTail(),
      {"audit verify", "", "check the audit log's hash chain",
       {{"from", Kind::kValue, "SEQ", "first sequence"}, {"to", Kind::kValue, "SEQ", "last"}},
       0, 0, RunAuditVerify, "Exit code 0 intact, 1 broken, 2 error."},
  };
}

}  // namespace keyward::cli
