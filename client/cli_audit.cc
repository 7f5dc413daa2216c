// The "audit" commands of the `keyward` CLI: audit tail, audit verify
// (through the daemon, or of several replicas' chains on this host), audit
// rotate.
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include <algorithm>
#include <ostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli_command.h"
#include "daemon/audit_log.h"
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

// VerdictText: one chain's verdict as a line.
std::string VerdictText(const v1::VerifyAuditLogResponse& r, uint64_t from) {
  return r.ok() ? absl::StrCat(
                      "ok: ", r.records_checked(), " records intact up to ",
                      r.last_sequence(), " across ", r.files_checked(),
                      " file", r.files_checked() == 1 ? "" : "s",
                      r.first_sequence() > 1 && r.first_sequence() != from
                          ? absl::StrCat(", from record ", r.first_sequence(),
                                         " (older files removed by retention)")
                          : "",
                      "\n")
                : absl::StrCat("BROKEN at record ", r.first_bad_sequence(),
                               ": ", r.problem(),
                               r.bad_file().empty()
                                   ? ""
                                   : absl::StrCat(" (", r.bad_file(),
                                                  ", offset ", r.bad_offset(),
                                                  ")"),
                               "\n");
}

// ChainPaths: the chains named by --file, then those found by --dir (the
// live files in DIR: names ending in ".log"), sorted.
absl::StatusOr<std::vector<std::string>> ChainPaths(const Context& ctx) {
  std::vector<std::string> paths = ctx.args().GetAll("file");
  for (const std::string& dir : ctx.args().GetAll("dir")) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("cannot read the directory ", dir, ": ", strerror(errno)));
    }
    std::vector<std::string> found;
    while (struct dirent* entry = readdir(d)) {
      const std::string name = entry->d_name;
      if (absl::EndsWith(name, ".log")) found.push_back(dir + "/" + name);
    }
    closedir(d);
    std::sort(found.begin(), found.end());
    if (found.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no audit log (*.log) in ", dir));
    }
    paths.insert(paths.end(), found.begin(), found.end());
  }
  return paths;
}

// RunAuditVerifyChains checks audit logs on this host, offline (no daemon
// needed): each chain named by --file or found by --dir, one line each.
int RunAuditVerifyChains(Context& ctx, uint64_t from, uint64_t to) {
  absl::StatusOr<std::vector<std::string>> paths = ChainPaths(ctx);
  if (!paths.ok()) return ctx.Fail("cannot find the audit logs", paths.status());
  int broken = 0, unreadable = 0;
  for (const std::string& path : *paths) {
    absl::StatusOr<daemon::AuditLog::Verdict> v =
        daemon::AuditLog::Verify(path, UINT64_MAX, from, to);
    if (!v.ok()) {
      ++unreadable;
      ctx.out() << path << ": ERROR: " << v.status().message() << "\n";
      continue;
    }
    v1::VerifyAuditLogResponse r;
    r.set_ok(v->first_bad == 0);
    r.set_records_checked(v->records_checked);
    r.set_last_sequence(v->records_checked == 0
                            ? 0
                            : v->first_sequence + v->records_checked - 1);
    r.set_first_bad_sequence(v->first_bad);
    r.set_problem(v->problem);
    r.set_files_checked(v->files_checked);
    r.set_first_sequence(v->first_sequence);
    r.set_bad_file(v->file);
    r.set_bad_offset(v->offset);
    if (!r.ok()) ++broken;
    ctx.out() << path << ": " << VerdictText(r, from);
  }
  ctx.out() << paths->size() << " chain" << (paths->size() == 1 ? "" : "s")
            << ": " << paths->size() - broken - unreadable << " ok, " << broken
            << " broken, " << unreadable << " unreadable\n";
  if (unreadable > 0) return kExitError;
  return ExitCodeForVerdict(broken == 0);
}

int RunAuditVerify(Context& ctx) {
  v1::VerifyAuditLogRequest req;
  uint64_t from = 0, to = 0;
  absl::Status s = ParseCountFlags(ctx, {{"from", &from}, {"to", &to}});
  if (!s.ok()) return ctx.Usage(s.message());
  if (ctx.Has("file") || ctx.Has("dir")) {
    return RunAuditVerifyChains(ctx, from, to);
  }
  req.set_start_sequence(from);
  req.set_end_sequence(to);
  absl::StatusOr<v1::VerifyAuditLogResponse> resp =
      ctx.Call(&ClientInterface::VerifyAuditLog, req);
  int rc = ctx.Reply(
      "cannot verify the audit log", resp,
      [from](const v1::VerifyAuditLogResponse& r) { return VerdictText(r, from); });
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
       {{"from", Kind::kValue, "SEQ", "first sequence"}, {"to", Kind::kValue, "SEQ", "last"},
        {"file", Kind::kRepeated, "PATH", "check this log on this host (no daemon)"},
        {"dir", Kind::kRepeated, "DIR", "check every log (*.log) in DIR on this host"}},
       0, 0, RunAuditVerify,
       "Checks every file: the rotated ones kept (compressed or not), then the live one.\n"
       "Without --file or --dir, the daemon checks its own log. With them, each chain\n"
       "(one per replica: audit.path \"audit-{replica_id}.log\") is checked here,\n"
       "offline, and reported on its own line, then a count.\n"
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
