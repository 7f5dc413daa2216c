#include "client/cli_doctor.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/timex.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli.h"
#include "daemon/config.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace keyward::cli {
namespace {

using google::protobuf::util::TimeUtil;

// Report collects results in order.
class Report {
 public:
  void Ok(std::string check, std::string detail) {
    results_.push_back({CheckLevel::kOk, std::move(check), std::move(detail), ""});
  }
  void Warn(std::string check, std::string detail, std::string fix) {
    results_.push_back(
        {CheckLevel::kWarn, std::move(check), std::move(detail), std::move(fix)});
  }
  void Fail(std::string check, std::string detail, std::string fix) {
    results_.push_back(
        {CheckLevel::kFail, std::move(check), std::move(detail), std::move(fix)});
  }
  size_t size() const { return results_.size(); }
  std::vector<CheckResult> Take() { return std::move(results_); }

 private:
  std::vector<CheckResult> results_;
};

std::string Mode(mode_t mode) { return absl::StrFormat("0%o", mode & 07777); }

std::string UserName(uid_t uid) {
  passwd* pw = getpwuid(uid);
  return pw != nullptr ? pw->pw_name : absl::StrCat("uid ", uid);
}

std::string GroupName(gid_t gid) {
  group* gr = getgrgid(gid);
  return gr != nullptr ? gr->gr_name : absl::StrCat("gid ", gid);
}

std::string Bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 30)) return absl::StrFormat("%.1f GiB", n / 1073741824.0);
  return absl::StrFormat("%.1f MiB", n / 1048576.0);
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool IsLoopback(absl::string_view address) {
  return absl::StartsWith(address, "127.") || absl::StartsWith(address, "[::1]") ||
         absl::StartsWith(address, "localhost:");
}

// CheckSecretFile stats (never opens) a file holding a secret: it must be
// a regular file, not empty, of mode 0600 or stricter, owned by `owner`
// (the daemon's uid), as keywardd itself requires at start.
void CheckSecretFile(Report& r, const std::string& check, const std::string& path,
                     const struct stat* data_dir) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    r.Fail(check, absl::StrCat(path, ": ", strerror(errno)),
           "create it (mode 0600, owned by the daemon's user) or fix the path "
           "in the config");
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    r.Fail(check, absl::StrCat(path, " is not a regular file"),
           "point the config at a regular file");
    return;
  }
  if ((st.st_mode & 077) != 0) {
    r.Fail(check,
           absl::StrCat(path, " has mode ", Mode(st.st_mode),
                        ": group or others can read it (keywardd refuses it)"),
           absl::StrCat("chmod 600 ", path));
    return;
  }
  if (data_dir != nullptr && st.st_uid != data_dir->st_uid) {
    r.Fail(check,
           absl::StrCat(path, " is owned by ", UserName(st.st_uid),
                        ", the daemon runs as ", UserName(data_dir->st_uid),
                        " (the data dir's owner)"),
           absl::StrCat("chown ", UserName(data_dir->st_uid), " ", path));
    return;
  }
  if (st.st_size == 0) {
    r.Fail(check, absl::StrCat(path, " is empty"), "write the passphrase into it");
    return;
  }
  r.Ok(check, absl::StrCat(path, ": mode ", Mode(st.st_mode), ", owner ",
                           UserName(st.st_uid), " (contents not read)"));
}

// CheckConfigValues compares values that are valid but not advised.
void CheckConfigValues(Report& r, const v1::DaemonConfig& c) {
  const std::string check = "config values";
  const size_t before = r.size();
  if (c.audit().fsync() == v1::AUDIT_FSYNC_INTERVAL) {
    r.Warn(check,
           absl::StrCat("audit.fsync is AUDIT_FSYNC_INTERVAL: a power loss can "
                        "drop up to ",
                        FormatDuration(c.audit().fsync_interval()),
                        " of acknowledged audit records"),
           "use audit { fsync: AUDIT_FSYNC_EVERY_RECORD } unless the sync rate "
           "limits you (BENCHMARKS.md)");
  }
  if (!c.metrics_address().empty() && !IsLoopback(c.metrics_address())) {
    r.Warn(check,
           absl::StrCat("metrics_address \"", c.metrics_address(),
                        "\" is not loopback: metrics carry key names"),
           "bind it to 127.0.0.1 and scrape through a proxy, or firewall it");
  }
  for (const auto& tcp : c.tcp_listeners()) {
    if (tcp.has_tls() && tcp.tls().client_ca_file().empty()) {
      r.Warn(check,
             absl::StrCat("tcp listener ", tcp.address(),
                          " has TLS without client certificates: callers are "
                          "anonymous until they log in"),
             "set tls.client_ca_file and require_client_cert: true (mutual TLS)");
    }
  }
  if ((c.unix_socket().mode() & 07) != 0) {
    r.Fail(check,
           absl::StrCat("unix_socket.mode is ", Mode(c.unix_socket().mode()),
                        ": any local user can connect"),
           "set unix_socket { mode: 0660 } and add callers to the socket's group");
  }
  if (c.key_cache_size() < 64) {
    r.Warn(check,
           absl::StrCat("key_cache_size is ", c.key_cache_size(),
                        ": keys outside the cache are decrypted per call"),
           "use the default (1024) or at least the number of keys in use");
  }
  if (c.rate_limits().auth_failures_per_minute() > 100) {
    r.Warn(check,
           absl::StrCat("rate_limits.auth_failures_per_minute is ",
                        c.rate_limits().auth_failures_per_minute(),
                        ": passphrases and API keys can be guessed faster"),
           "use the default (10)");
  }
  if (TimeUtil::DurationToSeconds(c.session_token_ttl()) > 3600) {
    r.Warn(check,
           absl::StrCat("session_token_ttl is ", FormatDuration(c.session_token_ttl()),
                        ": a leaked token stays usable that long"),
           "use 1 hour or less (default 15 minutes)");
  }
  if (TimeUtil::DurationToSeconds(c.shutdown_grace_period()) == 0) {
    r.Warn(check, "shutdown_grace_period is 0: a stop cuts calls in flight",
           "use the default (10s)");
  }
  if (r.size() == before) r.Ok(check, "as recommended");
}

void CheckDataDir(Report& r, const std::string& dir, struct stat* st, bool* found) {
  *found = false;
  if (stat(dir.c_str(), st) != 0) {
    r.Fail("data dir", absl::StrCat(dir, ": ", strerror(errno)),
           "create the keystore: keywardd init --config FILE (the package does "
           "this on first start)");
    return;
  }
  if (!S_ISDIR(st->st_mode)) {
    r.Fail("data dir", absl::StrCat(dir, " is not a directory"),
           "point data_dir at a directory");
    return;
  }
  *found = true;
  if ((st->st_mode & 077) != 0) {
    r.Fail("data dir",
           absl::StrCat(dir, " has mode ", Mode(st->st_mode),
                        ": group or others can enter it"),
           absl::StrCat("chmod 700 ", dir));
    return;
  }
  r.Ok("data dir", absl::StrCat(dir, ": mode ", Mode(st->st_mode), ", owner ",
                                UserName(st->st_uid)));
}

void CheckSocket(Report& r, const v1::UnixSocketConfig& sock) {
  if (sock.disabled()) {
    r.Ok("socket", "disabled in the config (TCP only)");
    return;
  }
  const std::string& path = sock.path();
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    r.Fail("socket", absl::StrCat(path, ": ", strerror(errno)),
           "start the daemon (systemctl start keywardd) or fix unix_socket.path");
    return;
  }
  if (!S_ISSOCK(st.st_mode)) {
    r.Fail("socket", absl::StrCat(path, " is not a socket"),
           "remove it; keywardd makes its socket at start");
    return;
  }
  const std::string seen = absl::StrCat(path, ": mode ", Mode(st.st_mode), ", owner ",
                                        UserName(st.st_uid), ", group ",
                                        GroupName(st.st_gid));
  if ((st.st_mode & 07) != 0) {
    r.Fail("socket", absl::StrCat(seen, ": any local user can connect"),
           absl::StrCat("chmod o-rwx ", path, " and set unix_socket { mode: 0660 }"));
    return;
  }
  struct stat dir;
  if ((st.st_mode & 060) != 0 && stat(DirOf(path).c_str(), &dir) == 0 &&
      dir.st_gid == st.st_gid && (dir.st_mode & 010) == 0) {
    r.Warn("socket",
           absl::StrCat(seen, "; its directory ", DirOf(path), " (mode ",
                        Mode(dir.st_mode), ") keeps the group out"),
           absl::StrCat("chmod g+x ", DirOf(path)));
    return;
  }
  if ((st.st_mode & 0777) != sock.mode()) {
    r.Warn("socket",
           absl::StrCat(seen, "; the config says ", Mode(sock.mode())),
           "restart the daemon, or change unix_socket.mode");
    return;
  }
  r.Ok("socket", absl::StrCat(seen, " (callers: members of ",
                              GroupName(st.st_gid), ")"));
}

void CheckAuditFile(Report& r, const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    r.Warn("audit log", absl::StrCat(path, ": ", strerror(errno)),
           "it is made at the daemon's first start; if it ran before, restore "
           "the log from your shipped copies");
    return;
  }
  if ((st.st_mode & 077) != 0) {
    r.Fail("audit log",
           absl::StrCat(path, " has mode ", Mode(st.st_mode),
                        ": group or others can read who did what"),
           absl::StrCat("chmod 600 ", path));
    return;
  }
  r.Ok("audit log", absl::StrCat(path, ": mode ", Mode(st.st_mode), ", ",
                                 Bytes(static_cast<uint64_t>(st.st_size))));
}

// CheckDisks checks free space and inodes where the keystore and the audit
// log are written (one line if they share a file system).
void CheckDisks(Report& r, const DoctorOptions& o, const std::string& data_dir,
                const std::string& audit_dir) {
  struct Disk {
    std::string what, dir;
    struct statvfs vfs;
  };
  std::vector<Disk> disks;
  for (const auto& [what, dir] : {std::pair<std::string, std::string>{"data dir", data_dir},
                                  {"audit log", audit_dir}}) {
    Disk d{what, dir, {}};
    if (statvfs(dir.c_str(), &d.vfs) != 0) {
      r.Fail(absl::StrCat("disk space (", what, ")"),
             absl::StrCat(dir, ": ", strerror(errno)), "create the directory");
      continue;
    }
    if (!disks.empty() && disks[0].vfs.f_fsid == d.vfs.f_fsid) {
      disks[0].what = "data dir and audit log";
      continue;
    }
    disks.push_back(d);
  }
  for (const Disk& d : disks) {
    const std::string check = absl::StrCat("disk space (", d.what, ")");
    const uint64_t free_bytes = uint64_t{d.vfs.f_bavail} * d.vfs.f_frsize;
    const uint64_t total = uint64_t{d.vfs.f_blocks} * d.vfs.f_frsize;
    const std::string seen = absl::StrCat(d.dir, ": ", Bytes(free_bytes), " free of ",
                                          Bytes(total));
    const std::string fix =
        "free space or grow the disk: when the audit log cannot be written, "
        "every call is refused (UNAVAILABLE) until it can (README: Runbook, "
        "disk full)";
    if (free_bytes < o.fail_free_bytes ||
        (d.vfs.f_files > 0 && d.vfs.f_favail < 1000)) {
      r.Fail(check, absl::StrCat(seen, ", ", d.vfs.f_favail, " inodes free"), fix);
    } else if (free_bytes < o.warn_free_bytes) {
      r.Warn(check, seen, fix);
    } else {
      r.Ok(check, seen);
    }
  }
}

void CheckLocalClock(Report& r, absl::Time now) {
  if (now < absl::FromCivil(absl::CivilDay(2024, 1, 1), absl::UTCTimeZone())) {
    r.Fail("clock", absl::StrCat("the clock says ", absl::FormatTime(now)),
           "set the time (timedatectl set-ntp true): JWT lifetimes, rotation "
           "and the audit log's times depend on it");
    return;
  }
  timex tx{};
  const int state = ntp_adjtime(&tx);
  if (state == TIME_ERROR || (tx.status & STA_UNSYNC) != 0) {
    r.Warn("clock",
           absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now, absl::UTCTimeZone()),
                        ", not synchronized (the kernel's NTP state)"),
           "enable time sync: timedatectl set-ntp true (systemd-timesyncd or "
           "chrony); JWT exp/nbf checks and rotation use this clock");
    return;
  }
  r.Ok("clock", absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now,
                                              absl::UTCTimeZone()),
                             ", synchronized"));
}

void CheckDaemon(Report& r, const DoctorOptions& o, const v1::DaemonConfig& c,
                 const std::string& target) {
  absl::StatusOr<v1::GetStatusResponse> status = o.get_status(target);
  if (!status.ok()) {
    r.Fail("daemon", absl::StrCat(target, ": ", status.status().message()),
           "start it (systemctl start keywardd; journalctl -u keywardd says "
           "why it stopped)");
    r.Ok("key cache", absl::StrCat("key_cache_size ", c.key_cache_size(),
                                   " (key count unknown: the daemon did not answer)"));
    return;
  }
  const std::string seen = absl::StrCat(target, ": version ", status->version(),
                                        ", ", status->key_count(), " keys");
  if (status->sealed()) {
    r.Warn("daemon", absl::StrCat(seen, ", SEALED"),
           "unseal it: keyward unseal (or give it a passphrase_file)");
  } else {
    r.Ok("daemon", absl::StrCat(seen, ", unsealed"));
  }
  if (!status->audit().writable() || status->audit().has_failing_since()) {
    r.Fail("daemon audit log",
           absl::StrCat("not writable (", status->audit().error(), "); ",
                        status->audit().refused_calls(), " calls refused"),
           "free space on the audit log's disk; the daemon resumes by itself");
  }
  if (status->key_count() > c.key_cache_size()) {
    r.Warn("key cache",
           absl::StrCat("key_cache_size ", c.key_cache_size(), " < ",
                        status->key_count(), " keys: keys beyond it are "
                        "decrypted again on use"),
           absl::StrCat("raise key_cache_size to at least ", status->key_count(),
                        " (each cached version stays locked in memory)"));
  } else {
    r.Ok("key cache", absl::StrCat("key_cache_size ", c.key_cache_size(), " >= ",
                                   status->key_count(), " keys"));
  }
  // The daemon's clock against ours (both on this host unless --addr).
  absl::Time daemon_now =
      absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(status->start_time()) +
                          TimeUtil::DurationToNanoseconds(status->uptime()));
  absl::Duration skew = absl::AbsDuration(o.now() - daemon_now);
  if (skew > absl::Seconds(60)) {
    r.Fail("daemon clock", absl::StrCat("differs from this host's by ", absl::FormatDuration(skew)),
           "synchronize both clocks (NTP)");
  } else if (skew > absl::Seconds(5)) {
    r.Warn("daemon clock", absl::StrCat("differs from this host's by ", absl::FormatDuration(skew)),
           "synchronize both clocks (NTP)");
  }
}

}  // namespace

std::vector<CheckResult> RunDoctorChecks(const DoctorOptions& o) {
  Report r;
  v1::DaemonConfig config;
  std::string path = o.config_path;
  struct stat st;
  if (path.empty() && stat(kDefaultDaemonConfig, &st) == 0) path = kDefaultDaemonConfig;
  if (path.empty()) {
    r.Warn("config", absl::StrCat(kDefaultDaemonConfig, " not found; checking the built-in defaults"),
           "give the daemon's config: keyward doctor --config FILE");
  } else {
    absl::StatusOr<v1::DaemonConfig> loaded = daemon::LoadConfigFile(path);
    if (!loaded.ok()) {
      r.Fail("config", std::string(loaded.status().message()), "fix the config file");
      return r.Take();
    }
    config = *std::move(loaded);
  }
  absl::Status s = daemon::FinalizeConfig(&config);
  if (!s.ok()) {
    r.Fail("config", std::string(s.message()), "fix the config file (keywardd refuses it)");
    return r.Take();
  }
  if (!path.empty()) r.Ok("config", absl::StrCat(path, " loads and is valid"));
  CheckConfigValues(r, config);

  struct stat data_dir;
  bool have_data_dir = false;
  CheckDataDir(r, config.data_dir(), &data_dir, &have_data_dir);
  if (config.passphrase_file().empty()) {
    r.Ok("passphrase file", "none: the daemon starts sealed (keyward unseal)");
  } else {
    CheckSecretFile(r, "passphrase file", config.passphrase_file(),
                    have_data_dir ? &data_dir : nullptr);
  }
  if (config.storage().has_postgres() &&
      !config.storage().postgres().password_file().empty()) {
    CheckSecretFile(r, "postgres password file",
                    config.storage().postgres().password_file(),
                    have_data_dir ? &data_dir : nullptr);
  }
  CheckSocket(r, config.unix_socket());
  CheckAuditFile(r, config.audit().path());
  CheckDisks(r, o, config.data_dir(), DirOf(config.audit().path()));
  CheckLocalClock(r, o.now());
  if (o.get_status) {
    std::string target = o.target;
    if (target.empty() && !config.unix_socket().disabled()) {
      target = absl::StrCat("unix://", config.unix_socket().path());
    }
    if (!target.empty()) CheckDaemon(r, o, config, target);
  }
  return r.Take();
}

int PrintDoctorReport(const std::vector<CheckResult>& results, bool json,
                      std::ostream& out) {
  int failed = 0, warned = 0;
  google::protobuf::ListValue list;
  for (const CheckResult& c : results) {
    const char* level = c.level == CheckLevel::kOk     ? "ok"
                        : c.level == CheckLevel::kWarn ? "warn"
                                                       : "fail";
    failed += c.level == CheckLevel::kFail;
    warned += c.level == CheckLevel::kWarn;
    if (json) {
      auto* fields = list.add_values()->mutable_struct_value()->mutable_fields();
      (*fields)["check"].set_string_value(c.check);
      (*fields)["level"].set_string_value(level);
      (*fields)["detail"].set_string_value(c.detail);
      if (!c.fix.empty()) (*fields)["fix"].set_string_value(c.fix);
      continue;
    }
    std::string tag = c.level == CheckLevel::kOk     ? "ok  "
                      : c.level == CheckLevel::kWarn ? "WARN"
                                                     : "FAIL";
    out << tag << "  " << c.check << ": " << c.detail << "\n";
    if (!c.fix.empty()) out << "      fix: " << c.fix << "\n";
  }
  if (json) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(list, &text, options);
    out << text;
  } else {
    out << "doctor: " << failed << " failed, " << warned << " warnings, "
        << results.size() - failed - warned << " ok\n";
  }
  return failed > 0 ? kExitInvalid : kExitOk;
}

}  // namespace keyward::cli
