// keywardd: the Keyward daemon.
//
//   keywardd init  --data-dir DIR --passphrase-file FILE   create a keystore
//   keywardd restore [--config FILE] --data-dir DIR --passphrase-file FILE
//            --in BACKUP     (into the config's storage, which must be empty)
//   keywardd migrate --from CONFIG-OR-SQLITE-FILE --to CONFIG-OR-SQLITE-FILE
//            copy a keystore between backends, checked record by record
//   keywardd [--config FILE] [--data-dir DIR] [--passphrase-file FILE]
//            [--socket PATH] [--listen-tcp HOST:PORT --tls-cert-file F
//            --tls-key-file F [--tls-client-ca-file F]]    serve
// (Flags may be spelled with dashes or underscores.)
//
// Flags override the config file (a text-format keyward.v1.DaemonConfig).
// The config's `storage` chooses the keystore's database (SQLite at
// {data_dir}/keystore.db by default, or PostgreSQL) for every command.
// SIGTERM or SIGINT drains calls in flight and exits 0; SIGHUP reloads
// policies and rotates the audit log. Under systemd (Type=notify) it sends
// READY=1 once serving, RELOADING=1/READY=1 around a SIGHUP reload,
// STOPPING=1 on shutdown, and WATCHDOG=1 while healthy when the unit sets
// WatchdogSec= (daemon/sd_notify.h).
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "daemon/access.h"
#include "daemon/audit_log.h"
#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/follower.h"
#include "daemon/log.h"
#include "daemon/maintenance.h"
#include "daemon/metrics.h"
#include "daemon/passphrase.h"
#include "daemon/replica.h"
#include "daemon/sd_notify.h"
#include "daemon/server.h"
#include "daemon/services.h"
#include "daemon/tls.h"
#include "daemon/version.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "keystore/crypto/signature.h"
#include "keystore/keystore.h"
#include "keystore/postgres_storage.h"

ABSL_FLAG(std::string, config, "", "Config file (text-format DaemonConfig).");
ABSL_FLAG(std::string, data_dir, "", "Data directory (overrides the config).");
ABSL_FLAG(std::string, passphrase_file, "",
          "File holding the operator passphrase, mode 0600 (overrides the "
          "config).");
ABSL_FLAG(std::string, socket, "",
          "Unix socket path (overrides the config; default "
          "{data_dir}/keyward.sock).");
ABSL_FLAG(int32_t, key_cache_size, 0,
          "Keys held decrypted in memory (overrides the config).");
ABSL_FLAG(std::string, in, "", "Backup file, for `keywardd restore`.");
ABSL_FLAG(std::string, replica_id, "",
          "This replica's id among those sharing the keystore's database "
          "(overrides the config's replica_id).");
ABSL_FLAG(std::string, from, "",
          "For `keywardd migrate`: the source keystore, as a config file "
          "(its `storage`) or a SQLite keystore file.");
ABSL_FLAG(std::string, to, "",
          "For `keywardd migrate`: the target, as a config file (its "
          "`storage`, which must hold no keystore) or a new SQLite file.");
ABSL_FLAG(std::string, metrics_address, "",
          "Serve Prometheus metrics on HOST:PORT (loopback advised; off by "
          "default).");
ABSL_FLAG(std::string, listen_tcp, "",
          "Also listen on HOST:PORT (TLS with --tls_cert_file/--tls_key_file; "
          "plaintext only on loopback).");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate for --listen_tcp.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key for --listen_tcp.");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA that client certificates must chain to (mutual TLS).");

namespace keyward::daemon {
namespace {

// Keeps secrets out of core dumps and swap as far as the OS allows: no core
// file, no ptrace by other processes of the same uid, and pages locked as
// they are touched where the limit permits (root or CAP_IPC_LOCK).
void HardenProcess() {
  umask(077);  // files the daemon makes are its own
  rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#ifdef MCL_ONFAULT
  if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) {
    LogInfo("memory_not_locked", {{"reason", "mlockall refused (needs CAP_IPC_LOCK)"}});
  }
#endif
}

// SelfCheck asks the daemon's own gRPC health service, over its Unix
// socket, for the watchdog: any answer within 5 s (SERVING, or NOT_SERVING
// while sealed or draining) means the listener and gRPC's threads work; a
// daemon that cannot answer itself stops WATCHDOG=1 and systemd restarts
// it. With the Unix socket disabled (TCP only, maybe TLS) there is nothing
// to ask without credentials, and it reports healthy while the process runs.
class SelfCheck {
 public:
  explicit SelfCheck(const std::string& unix_socket_path) {
    if (unix_socket_path.empty()) return;
    stub_ = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
        "unix:" + unix_socket_path, grpc::InsecureChannelCredentials()));
  }
  bool Answers() {
    if (stub_ == nullptr) return true;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub_->Check(&context, request, &response);
    if (!status.ok()) {
      LogWarning("self_check_failed", {{"error", status.error_message()}});
    }
    return status.ok();
  }

 private:
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
};

// NotifyOrLog tells systemd `state` (a no-op outside systemd); a failure
// is logged, never fatal: the daemon serves the same either way.
void NotifyOrLog(absl::string_view state) {
  absl::Status s = SdNotify(state);
  if (!s.ok()) LogWarning("sd_notify_failed", {{"error", s.message()}});
}

// ReloadRequestLimits re-reads rate_limits from the config file at `path`
// (SIGHUP). A file that does not load or check is logged and the limits in
// force are kept; without a config file there is nothing to re-read.
void ReloadRequestLimits(const std::string& path, RequestLimiter& requests) {
  if (path.empty()) return;
  auto loaded = LoadConfigFile(path);
  absl::StatusOr<RequestLimits> limits =
      loaded.ok() ? RequestLimitsFromConfig(loaded->rate_limits())
                  : absl::StatusOr<RequestLimits>(loaded.status());
  if (!limits.ok()) {
    LogWarning("reload_failed", {{"what", "rate_limits"},
                                 {"error", limits.status().message()}});
    return;
  }
  requests.Reload(*std::move(limits));
  LogInfo("reloaded", {{"what", "rate_limits"}});
}

int Serve(const keyward::v1::DaemonConfig& config) {
  // Signals go to the thread that waits for them, not to gRPC's threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A file-size limit (RLIMIT_FSIZE) reached while writing the audit log or
  // the keystore fails that write (EFBIG), which is handled like a full disk
  // (refused, then resumed), instead of killing the daemon.
  signal(SIGXFSZ, SIG_IGN);

  absl::Status s = MakeDataDir(config.data_dir());
  if (!s.ok()) return Fail(s);

  // With no passphrase file (or start_sealed), serve sealed: Unseal with
  // the passphrase unlocks the keys.
  absl::StatusOr<std::unique_ptr<keystore::Keystore>> ks;
  if (!config.passphrase_file().empty() && !config.start_sealed()) {
    auto passphrase = ReadPassphraseFile(config.passphrase_file());
    if (!passphrase.ok()) return Fail(passphrase.status());
    ks = keystore::Keystore::Open(StorageSpecFrom(config), *passphrase,
                                  KeystoreOptionsFrom(config));
  } else {
    ks = keystore::Keystore::OpenSealed(StorageSpecFrom(config),
                                        KeystoreOptionsFrom(config));
  }
  if (!ks.ok()) return Fail(ks.status(), StorageFailCode(config));
  // On PostgreSQL (replicas): one live process per replica id on the
  // database, and one per audit log (replica.h). SQLite is one daemon's.
  const std::string instance =
      absl::StrCat(config.replica_id(), "#", Maintenance::NewHolderName());
  std::unique_ptr<ReplicaClaim> claim;
  std::unique_ptr<AuditPathLock> audit_lock;
  if (config.storage().has_postgres()) {
    auto claimed = ReplicaClaim::Claim(ks->get(), config.replica_id(),
                                       instance,
                                       ToDuration(config.replica_ttl()));
    if (!claimed.ok()) return Fail(claimed.status(), kExitUsage);
    claim = std::move(*claimed);
    claim->Start();
    auto locked =
        AuditPathLock::Lock(config.audit().path(), config.replica_id());
    if (!locked.ok()) {
      return Fail(locked.status(),
                  absl::IsFailedPrecondition(locked.status()) ? kExitUsage : 1);
    }
    audit_lock = std::move(*locked);
  }
  auto audit = AuditLog::Open(config.audit().path(), AuditLogOptionsFrom(config));
  if (!audit.ok()) return Fail(audit.status());

  // Bootstrap admins: the config's list if it has one; else root, the
  // daemon's own uid and the data dir's owner, so that a new install is
  // usable by whoever set it up.
  absl::flat_hash_set<uint32_t> admins(config.bootstrap_admin_uids().begin(),
                                       config.bootstrap_admin_uids().end());
  if (admins.empty()) {
    admins = {0, static_cast<uint32_t>(geteuid())};
    struct stat dir;
    if (stat(config.data_dir().c_str(), &dir) == 0) admins.insert(dir.st_uid);
  }
  Authorizer authorizer(std::move(admins));
  auto policies = (*ks)->ListPolicies();
  if (!policies.ok()) return Fail(policies.status(), StorageFailCode(config));
  authorizer.Reload(std::move(*policies));

  std::unique_ptr<Metrics> metrics;
  if (!config.metrics_address().empty()) {
    auto started = Metrics::Start(config.metrics_address());
    if (!started.ok()) return Fail(started.status());
    metrics = std::move(*started);
  }

  PeerTable peers;
  SessionTable sessions;
  FailureLimiter failures(config.rate_limits().auth_failures_per_minute() == 0
                              ? 10
                              : config.rate_limits().auth_failures_per_minute());
  std::function<void(bool)> on_seal_change;  // bound once the server runs
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
  // FinalizeConfig has checked them.
  RequestLimiter requests(*RequestLimitsFromConfig(config.rate_limits()));
  ServiceEnv env{ks->get(), &authorizer, audit->get(), &peers, &sessions,
                 &failures, &requests,
                 absl::Seconds(config.session_token_ttl().seconds()),
                 &on_seal_change, &draining, &in_flight, metrics.get()};
  // On PostgreSQL other replicas may share the database: follow its change
  // feed (follower.h) and refuse to decide from memory older than the
  // staleness bound.
  std::unique_ptr<Follower> follower;
  if (config.storage().has_postgres()) {
    follower = std::make_unique<Follower>(ks->get(), &authorizer, &sessions,
                                          absl::Milliseconds(100));
    env.follower = follower.get();
    env.max_staleness = ToDuration(config.storage().postgres().max_staleness());
    if (metrics != nullptr) follower->ExportLag(metrics.get());
    follower->Start();
  }
  Maintenance maintenance(ks->get(), audit->get(),
                          ToDuration(config.maintenance_interval()), instance);
  env.replica_id = config.replica_id();
  env.maintenance = &maintenance;
  CostlyWork costly(static_cast<int>(config.limits().max_concurrent_costly_calls()));
  Services services(env, config.data_dir(),
                    absl::Seconds(config.jwt().default_leeway().seconds()),
                    config.jwt().max_token_bytes(), &costly);
  ServerOptions options;
  if (!config.unix_socket().disabled()) {
    options.unix_socket_path = config.unix_socket().path();
  }
  for (const auto& tcp : config.tcp_listeners()) {
    auto credentials = ListenerCredentials(tcp);
    if (!credentials.ok()) return Fail(credentials.status());
    options.tcp.push_back({tcp.address(), *credentials});
  }
  options.unix_socket_mode = config.unix_socket().mode();
  options.services = services.List();
  options.peers = &peers;
  auto server = Server::Start(options);
  if (!server.ok()) return Fail(server.status());
  on_seal_change = [&server](bool unsealed) { (*server)->SetServing(unsealed); };
  (*server)->SetServing(!(*ks)->sealed());
  LogInfo("serving", {{"socket", options.unix_socket_path},
                      {"sealed", (*ks)->sealed() ? "true" : "false"},
                      {"replica_id", config.replica_id()},
                      {"flavor", BuildFlavor()}});
  maintenance.Start();

  // systemd (Type=notify): serving now. The watchdog pings only while the
  // daemon answers its own health check on its socket (SelfCheck). An audit
  // outage (full disk) or a sealed keystore is not a reason to restart: the
  // health check still answers, and the daemon resumes by itself.
  NotifyOrLog("READY=1\nSTATUS=serving");
  SelfCheck self_check(options.unix_socket_path);
  SdWatchdog watchdog(SdWatchdogInterval(), [&self_check] { return self_check.Answers(); });

  while (true) {
    int signo = 0;
    sigwait(&signals, &signo);
    if (signo == SIGHUP) {
      // Policies are re-read from the keystore; TLS certificates are
      // watched and reload by themselves (tls_openssl.cc); the audit log
      // is rotated (in the background, audit_log.h).
      NotifyOrLog("RELOADING=1\nSTATUS=reloading policies");
      (*audit)->RequestRotate();
      auto reloaded = (*ks)->ListPolicies();
      if (reloaded.ok()) {
        authorizer.Reload(std::move(*reloaded));
        LogInfo("reloaded", {{"what", "policies"}});
      } else {
        LogWarning("reload_failed", {{"error", reloaded.status().message()}});
      }
      ReloadRequestLimits(absl::GetFlag(FLAGS_config), requests);
      NotifyOrLog("READY=1\nSTATUS=serving");
      continue;
    }
    LogInfo("shutting_down", {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
    watchdog.Stop();
    NotifyOrLog("STOPPING=1\nSTATUS=draining calls in flight");
    // Refuse new calls with UNAVAILABLE and let those in flight finish,
    // then stop gRPC (which waits out the rest of the grace period).
    const auto& grace_pb = config.shutdown_grace_period();
    const absl::Duration grace =
        absl::Seconds(grace_pb.seconds()) + absl::Nanoseconds(grace_pb.nanos());
    const absl::Time deadline = absl::Now() + grace;
    (*server)->SetServing(false);
    draining = true;
    maintenance.Stop();
    if (follower != nullptr) follower->Stop();
    absl::SleepFor(absl::Milliseconds(200));  // let queued calls be refused
    while (in_flight.load(std::memory_order_acquire) > 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    (*server)->Shutdown(std::max(absl::ZeroDuration(), deadline - absl::Now()));
    if (claim != nullptr) claim->Release();
    LogInfo("stopped", {});
    return 0;
  }
}

// VerifyAudit checks the audit log offline, across its rotated files (the
// daemon need not run, nor be able to start): exit 0 if intact, 1 with what
// is wrong and where (file and offset).
int VerifyAudit(const std::string& path) {
  auto verdict = AuditLog::Verify(path);
  if (!verdict.ok()) return Fail(verdict.status());
  const std::string range = absl::StrCat(
      verdict->files_checked, " file", verdict->files_checked == 1 ? "" : "s",
      verdict->first_sequence > 1
          ? absl::StrCat(", from record ", verdict->first_sequence,
                         " (older files removed by retention)")
          : "");
  if (verdict->first_bad == 0) {
    std::printf("ok: %llu records, chain intact (%s; %s)\n",
                static_cast<unsigned long long>(verdict->records_checked),
                path.c_str(), range.c_str());
    return 0;
  }
  std::printf("NOT OK: %llu records intact (%s), then %s\n",
              static_cast<unsigned long long>(verdict->records_checked),
              range.c_str(), verdict->problem.c_str());
  return 1;
}

int Main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's libabsl is built without NDEBUG, so by default every
  // absl::Mutex (ours and gRPC's) feeds a process-wide lock-order graph,
  // under a global lock, on every Lock: about 5% of the daemon's CPU per
  // call in the profile (GraphCycles::GetId, InsertEdge, RemoveNode).
  // Optimized builds turn that debugging aid off, as Abseil's own release
  // builds do; test builds keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  absl::FlagsUsageConfig usage_config;
  usage_config.version_string = [] {
    return absl::StrCat("keywardd ", kVersion, " (", BuildFlavor(), " flavor)\n");
  };
  // --help lists this file's flags (Abseil's default looks for a file
  // named after the program, so it listed none).
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "daemon/main.cc");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  absl::SetProgramUsageMessage(
      "the Keyward key-custody daemon.\n"
      "  keywardd init --data_dir DIR --passphrase_file FILE\n"
      "  keywardd restore --data_dir DIR --passphrase_file FILE --in BACKUP\n"
      "  keywardd migrate --from CONFIG|SQLITE_FILE --to CONFIG|SQLITE_FILE\n"
      "  keywardd verify-audit [--config FILE] [--data_dir DIR]\n"
      "  keywardd [--config FILE] [--data_dir DIR] [--passphrase_file FILE] "
      "[--socket PATH]");
  // Accept --data-dir as well as --data_dir.
  std::vector<std::string> spelled(argv, argv + argc);
  for (std::string& arg : spelled) {
    if (arg.rfind("--", 0) != 0) continue;
    for (size_t i = 2; i < arg.size() && arg[i] != '='; ++i) {
      if (arg[i] == '-') arg[i] = '_';
    }
  }
  std::vector<char*> respelled;
  for (std::string& arg : spelled) respelled.push_back(arg.data());
  std::vector<char*> args =
      absl::ParseCommandLine(static_cast<int>(respelled.size()), respelled.data());
  std::string command;
  if (args.size() == 2 && (std::string(args[1]) == "init" ||
                           std::string(args[1]) == "restore" ||
                           std::string(args[1]) == "migrate" ||
                           std::string(args[1]) == "verify-audit")) {
    command = args[1];
  } else if (args.size() > 1) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
                    "unexpected argument '", args[1],
                    "'; the commands are `init`, `restore`, `migrate` and "
                    "`verify-audit` "
                    "(see --help)")),
                kExitUsage);
  }

  keyward::v1::DaemonConfig config;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    auto loaded = LoadConfigFile(absl::GetFlag(FLAGS_config));
    if (!loaded.ok()) return Fail(loaded.status(), kExitUsage);
    config = std::move(*loaded);
  }
  if (!absl::GetFlag(FLAGS_data_dir).empty()) {
    config.set_data_dir(absl::GetFlag(FLAGS_data_dir));
  }
  if (!absl::GetFlag(FLAGS_passphrase_file).empty()) {
    config.set_passphrase_file(absl::GetFlag(FLAGS_passphrase_file));
  }
  if (!absl::GetFlag(FLAGS_socket).empty()) {
    config.mutable_unix_socket()->set_path(absl::GetFlag(FLAGS_socket));
  }
  if (!absl::GetFlag(FLAGS_replica_id).empty()) {
    config.set_replica_id(absl::GetFlag(FLAGS_replica_id));
  }
  if (!absl::GetFlag(FLAGS_metrics_address).empty()) {
    config.set_metrics_address(absl::GetFlag(FLAGS_metrics_address));
  }
  if (!absl::GetFlag(FLAGS_listen_tcp).empty()) {
    auto* tcp = config.add_tcp_listeners();
    tcp->set_address(absl::GetFlag(FLAGS_listen_tcp));
    if (!absl::GetFlag(FLAGS_tls_cert_file).empty()) {
      tcp->mutable_tls()->set_cert_file(absl::GetFlag(FLAGS_tls_cert_file));
      tcp->mutable_tls()->set_key_file(absl::GetFlag(FLAGS_tls_key_file));
      tcp->mutable_tls()->set_client_ca_file(
          absl::GetFlag(FLAGS_tls_client_ca_file));
      tcp->mutable_tls()->set_require_client_cert(
          !absl::GetFlag(FLAGS_tls_client_ca_file).empty());
    }
  }
  if (absl::GetFlag(FLAGS_key_cache_size) < 0) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
                    "--key_cache_size=", absl::GetFlag(FLAGS_key_cache_size),
                    " is not valid: use 1 to 1000000")),
                kExitUsage);
  }
  if (absl::GetFlag(FLAGS_key_cache_size) > 0) {
    config.set_key_cache_size(absl::GetFlag(FLAGS_key_cache_size));
  }
  absl::Status s = FinalizeConfig(&config);
  if (!s.ok()) return Fail(s, kExitUsage);
  if (config.storage().has_postgres() &&
      !keystore::PostgresStorage::Available() && command != "verify-audit" &&
      command != "migrate") {
    return Fail(absl::FailedPreconditionError(
                    "config: storage.postgres is set, but this build (the "
                    "BoringSSL flavor) has no PostgreSQL: libpq links OpenSSL "
                    "3; use the default build, or remove storage.postgres to "
                    "keep the keystore in SQLite"),
                kExitUsage);
  }

  HardenProcess();
  if (config.no_ecdsa_nonces_ahead()) crypto::DisableEcdsaNoncesAhead();
  if (command == "verify-audit") return VerifyAudit(config.audit().path());
  if (command == "init") return Init(config);
  if (command == "restore") return Restore(config, absl::GetFlag(FLAGS_in));
  if (command == "migrate") {
    return Migrate(absl::GetFlag(FLAGS_from), absl::GetFlag(FLAGS_to));
  }
  return Serve(config);
}

}  // namespace
}  // namespace keyward::daemon

int main(int argc, char** argv) { return keyward::daemon::Main(argc, argv); }
