// The "system" commands of the `keyward` CLI: status, whoami, seal,
// unseal, passphrase change, backup, restore.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli_command.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

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

// Replica lines for `status`: the replica id, its place in the change feed
// and the maintenance lease (system_service.proto, ReplicaStatus).
std::string ReplicaLine(const v1::ReplicaStatus& r) {
  return r.single_node()
             ? absl::StrCat(r.replica_id(), " (single node: SQLite)")
             : r.replica_id();
}

std::string FeedLine(const v1::ReplicaStatus& r) {
  if (r.single_node()) return "- (no change feed on SQLite)";
  const std::string lag = absl::StrCat(
      "lag ", absl::FormatDuration(absl::Seconds(r.lag().seconds()) +
                                   absl::Nanoseconds(r.lag().nanos())),
      " (bound ", FormatDuration(r.max_staleness()), ")");
  if (!r.feed_error().empty()) {
    return absl::StrCat("applied ", r.applied_seq(),
                        ", head unknown (", r.feed_error(), "), ", lag);
  }
  return absl::StrCat("applied ", r.applied_seq(), ", head ", r.head_seq(),
                      " (", r.lag_seq(), " change", r.lag_seq() == 1 ? "" : "s",
                      " behind), ", lag);
}

std::string LeaseLine(const v1::ReplicaStatus& r) {
  if (r.lease_holder().empty()) return "not seen yet";
  return absl::StrCat(r.lease_held() ? "held by this replica"
                                     : "held by another replica",
                      ": ", r.lease_holder(), ", epoch ", r.lease_epoch());
}

std::string StatusText(const v1::GetStatusResponse& status) {
  const char* flavor = status.build_flavor() == v1::BUILD_FLAVOR_BORINGSSL
                           ? "boringssl"
                           : "openssl";
  return Table({
      {"version:", status.version()},
      {"flavor:", flavor},
      {"crypto library:", status.crypto_library()},
      {"sealed:", YesNo(status.sealed())},
      {"initialized:", YesNo(status.initialized())},
      {"keys:", absl::StrCat(status.key_count())},
      {"uptime:", FormatDuration(status.uptime())},
      {"started:", FormatTimestamp(status.start_time())},
      {"audit sequence:", absl::StrCat(status.audit_last_sequence())},
      {"audit log:", AuditLogStateLine(status.audit())},
      {"replica:", ReplicaLine(status.replica())},
      {"feed:", FeedLine(status.replica())},
      {"lease:", LeaseLine(status.replica())},
  });
}

int RunStatus(Context& ctx) {
  absl::StatusOr<v1::GetStatusResponse> status =
      ctx.Call(&ClientInterface::GetStatus);
  if (status.status().code() != absl::StatusCode::kUnimplemented) {
    return ctx.Reply("cannot get the daemon status", status, StatusText);
  }
  // An older daemon: fall back to the standard health check.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> health =
      ctx.Call(&ClientInterface::CheckHealth, std::string());
  int rc = ctx.Reply("cannot check the daemon's health", health,
                     [](const grpc::health::v1::HealthCheckResponse& h) {
                       return absl::StrCat(
                           grpc::health::v1::HealthCheckResponse::
                               ServingStatus_Name(h.status()),
                           "\n");
                     });
  if (rc != kExitOk) return rc;
  return health->status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? kExitOk
             : kExitError;
}

std::string WhoAmIText(const v1::WhoAmIResponse& me) {
  std::vector<std::vector<std::string>> rows = {
      {"principal:", me.principal()},
      {"also matches:", me.additional_principals().empty()
                            ? "-"
                            : absl::StrJoin(me.additional_principals(), ", ")},
      {"authentication:",
       EnumWord(v1::AuthenticationMethod_Name(me.authentication()),
                "AUTHENTICATION_METHOD_")},
      {"peer:", me.peer_address()},
      {"global admin:", YesNo(me.global_admin())},
  };
  if (!me.transport_principal().empty()) {
    rows.push_back({"transport principal:", me.transport_principal()});
  }
  if (me.has_session_expire_time()) {
    rows.push_back(
        {"session expires:", FormatTimestamp(me.session_expire_time())});
  }
  return Table(rows);
}

int RunWhoAmI(Context& ctx) {
  return ctx.Reply("cannot ask who you are", ctx.Call(&ClientInterface::WhoAmI),
                   WhoAmIText);
}

int RunSeal(Context& ctx) {
  return ctx.Reply("cannot seal the daemon", ctx.Call(&ClientInterface::Seal),
                   [](const v1::SealResponse&) { return "sealed\n"; });
}

int RunUnseal(Context& ctx) {
  absl::StatusOr<std::string> pass =
      ReadSecret(ctx.Flag("passphrase-file"), "passphrase", "--passphrase-file");
  if (!pass.ok()) return ctx.Fail("cannot read the passphrase", pass.status());
  v1::UnsealRequest req;
  req.set_passphrase(*pass);
  Wipe(&*pass);
  req.set_initialize(ctx.Has("initialize"));
  absl::StatusOr<v1::UnsealResponse> resp =
      ctx.Call(&ClientInterface::Unseal, req);
  Wipe(req.mutable_passphrase());
  return ctx.Reply("cannot unseal the daemon", resp,
                   [](const v1::UnsealResponse& r) {
                     return r.created() ? "keystore created; unsealed\n"
                            : r.already_unsealed()
                                ? "already unsealed (passphrase correct)\n"
                                : "unsealed\n";
                   });
}

// ReadNewPassphrase reads the new passphrase from --new-file, or twice from
// the terminal (INVALID_ARGUMENT if the two differ).
absl::StatusOr<std::string> ReadNewPassphrase(const Context& ctx) {
  absl::StatusOr<std::string> pass =
      ReadSecret(ctx.Flag("new-file"), "new passphrase", "--new-file");
  if (!pass.ok() || ctx.Has("new-file")) return pass;
  absl::StatusOr<std::string> again =
      ReadSecret("", "new passphrase again", "--new-file");
  bool same = again.ok() && *again == *pass;
  if (again.ok()) Wipe(&*again);
  if (same) return pass;
  Wipe(&*pass);
  return absl::InvalidArgumentError("the two new passphrases differ");
}

int RunPassphraseChange(Context& ctx) {
  absl::StatusOr<std::string> old_pass =
      ReadSecret(ctx.Flag("old-file"), "current passphrase", "--old-file");
  if (!old_pass.ok()) {
    return ctx.Fail("cannot read the current passphrase", old_pass.status());
  }
  v1::ChangePassphraseRequest req;
  req.set_old_passphrase(*old_pass);
  Wipe(&*old_pass);
  absl::StatusOr<std::string> new_pass = ReadNewPassphrase(ctx);
  if (!new_pass.ok()) {
    Wipe(req.mutable_old_passphrase());
    return ctx.Fail("cannot read the new passphrase", new_pass.status());
  }
  req.set_new_passphrase(*new_pass);
  Wipe(&*new_pass);
  absl::StatusOr<v1::ChangePassphraseResponse> resp =
      ctx.Call(&ClientInterface::ChangePassphrase, req);
  Wipe(req.mutable_old_passphrase());
  Wipe(req.mutable_new_passphrase());
  return ctx.Reply("cannot change the passphrase", resp,
                   [](const v1::ChangePassphraseResponse&) {
                     return "passphrase changed; update the daemon's "
                            "passphrase file before its next restart\n";
                   });
}

// FileArg is the file a command names positionally or with `flag` (not
// both).
absl::StatusOr<std::string> FileArg(const Context& ctx, absl::string_view flag) {
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

// BackupToFile streams a backup into `out`, staged beside it as
// "<out>.partial" (mode 0600) and renamed when complete, so that a failed
// backup leaves no partial file.
absl::StatusOr<v1::BackupInfo> BackupToFile(ClientInterface& client,
                                            const std::string& out) {
  std::string staged = absl::StrCat(out, ".partial");
  FILE* file = fopen(staged.c_str(), "wbx");
  if (file == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create ", staged, ": ", strerror(errno), " (remove a stale ",
        staged, "?)"));
  }
  fchmod(fileno(file), 0600);
  absl::StatusOr<v1::BackupInfo> info =
      client.CreateBackup([&](absl::string_view chunk) -> absl::Status {
        if (fwrite(chunk.data(), 1, chunk.size(), file) != chunk.size()) {
          return absl::InternalError(absl::StrCat("cannot write: ", strerror(errno)));
        }
        return absl::OkStatus();
      });
  bool ok = info.ok() && fflush(file) == 0 && fsync(fileno(file)) == 0;
  ok = (fclose(file) == 0) && ok;
  if (ok && rename(staged.c_str(), out.c_str()) != 0) ok = false;
  if (!ok) unlink(staged.c_str());
  if (!info.ok()) return info.status();
  if (!ok) return absl::InternalError(strerror(errno));
  return info;
}

int RunBackup(Context& ctx) {
  absl::StatusOr<std::string> out = FileArg(ctx, "out");
  if (!out.ok()) return ctx.Usage(out.status().message());
  bool to_stdout = out->empty() || *out == "-";
  if (to_stdout && StdoutIsTerminal()) {
    return ctx.Usage("refusing to write a backup to a terminal; give --out FILE");
  }
  ClientInterface* client = ctx.Connect();
  if (client == nullptr) return kExitError;
  if (to_stdout) {
    absl::StatusOr<v1::BackupInfo> info =
        client->CreateBackup([&](absl::string_view chunk) -> absl::Status {
          ctx.out().write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
          if (!ctx.out()) return absl::InternalError("cannot write stdout");
          return absl::OkStatus();
        });
    ctx.out().flush();
    return info.ok() ? kExitOk : ctx.Fail("cannot back up", info.status());
  }
  return ctx.Reply("cannot back up", BackupToFile(*client, *out),
                   [&](const v1::BackupInfo& info) {
                     return absl::StrCat("backup ", info.backup_id(), " of ",
                                         info.key_count(), " keys written to ",
                                         *out, "\n");
                   });
}

int RunRestore(Context& ctx) {
  absl::StatusOr<std::string> in = FileArg(ctx, "in");
  if (!in.ok()) return ctx.Usage(in.status().message());
  if (in->empty() || *in == "-") {
    return ctx.Usage("give the backup file: keyward restore FILE");
  }
  absl::StatusOr<std::string> pass = ReadSecret(
      ctx.Flag("passphrase-file"), "passphrase of the backup", "--passphrase-file");
  if (!pass.ok()) return ctx.Fail("cannot read the passphrase", pass.status());
  FILE* file = fopen(in->c_str(), "rb");
  if (file == nullptr) {
    Wipe(&*pass);
    return ctx.Fail(absl::StrCat("cannot open ", *in),
                    absl::NotFoundError(strerror(errno)));
  }
  ClientInterface* client = ctx.Connect();
  absl::StatusOr<v1::RestoreBackupResponse> resp = absl::CancelledError();
  if (client != nullptr) {
    resp = client->RestoreBackup(
        *pass, ctx.Has("replace"), [&]() -> absl::StatusOr<std::string> {
          std::string chunk(1 << 20, '\0');
          size_t n = fread(chunk.data(), 1, chunk.size(), file);
          if (n == 0 && ferror(file)) {
            return absl::InternalError(absl::StrCat("cannot read ", *in));
          }
          chunk.resize(n);
          return chunk;
        });
  }
  Wipe(&*pass);
  fclose(file);
  if (client == nullptr) return kExitError;
  return ctx.Reply("cannot restore", resp, [](const v1::RestoreBackupResponse& r) {
    return absl::StrCat("restored the backup (", r.info().key_count(),
                        " keys); the daemon is sealed: run `keyward unseal` "
                        "with the backup's passphrase\n");
  });
}

}  // namespace

std::vector<Command> SystemCommands() {
  return {
      {"status", "", "show the daemon's version, flavor, seal state and counters",
       {}, 0, 0, RunStatus},
      {"whoami", "", "show your identity as the daemon sees it", {}, 0, 0,
       RunWhoAmI},
      {"seal", "", "wipe the root key from the daemon's memory", {}, 0, 0, RunSeal},
      {"unseal", "", "unlock the daemon with the passphrase",
       {{"passphrase-file", Kind::kValue, "FILE",
         "the passphrase (mode 0600; default: prompt)"},
        {"initialize", Kind::kBool, "",
         "create a new keystore with this passphrase"}},
       0, 0, RunUnseal},
      {"passphrase change", "", "re-wrap the root key under a new passphrase",
       {{"old-file", Kind::kValue, "FILE", "current passphrase (default: prompt)"},
        {"new-file", Kind::kValue, "FILE",
         "new passphrase (default: prompt twice)"}},
       0, 0, RunPassphraseChange},
      {"backup", "FILE",
       "write an encrypted backup of the keystore (or --out FILE)", {OutFlag()},
       0, 1, RunBackup},
      {"restore", "FILE", "replace the keystore with a backup (seals the daemon)",
       {{"in", Kind::kValue, "FILE", "the backup (or give it as FILE)"},
        {"passphrase-file", Kind::kValue, "FILE",
         "passphrase the backup was made under (default: prompt)"},
        {"replace", Kind::kBool, "", "replace an existing keystore"}},
       0, 1, RunRestore},
  };
}

}  // namespace keyward::cli
