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
                     [from](const v1::VerifyAuditLogResponse& r) {
                       return r.ok() ? absl::StrCat(
                                           "ok: ", r.records_checked(),
                                           " records intact up to ",
                                           r.last_sequence(), " across ",
                                           r.files_checked(), " file",
                                           r.files_checked() == 1 ? "" : "s",
                                           r.first_sequence() > 1 &&
                                                   r.first_sequence() != from
                                               ? absl::StrCat(
                                                     ", from record ",
                                                     r.first_sequence(),
                                                     " (older files removed "
                                                     "by retention)")
                                               : "",
                                           "\n")
                                     : absl::StrCat("BROKEN at record ",
                                                    r.first_bad_sequence(), ": ",
                                                    r.problem(), "\n");
                     });
  if (rc != kExitOk) return rc;
  return ExitCodeForVerdict(resp->ok());
}

int RunAuditRotate(Context& ctx) {
  return ctx.Reply(
      "cannot rotate the audit log", ctx.Call(&ClientInterface::RotateAuditLog),
      [](const v1::RotateAuditLogResponse& r) {
        return absl::StrCat("rotated: ", r.rotated_file(), " ends with record ",
                            r.last_sequence(),
                            "; the live log goes on from record ",
                            r.first_sequence(), "\n");
      });
}

}  // namespace

std::vector<Command> AuditCommands() {
  return {
      AuditTail(),
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
  };
}

}  // namespace keyward::cli
