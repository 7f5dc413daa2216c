#include "daemon/config.h"

#include "daemon/request_limits.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"

namespace keyward::daemon {
namespace {

using google::protobuf::util::TimeUtil;

// Collects the parser's first complaint with its position.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (message_.empty()) {
      message_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

absl::Status Bad(absl::string_view field, absl::string_view value,
                 absl::string_view allowed) {
  return absl::InvalidArgumentError(absl::StrCat(
      "config: ", field, " = ", value, " is not valid: ", allowed));
}

absl::Status CheckDuration(absl::string_view field,
                           const google::protobuf::Duration& d,
                           absl::Duration min, absl::Duration max) {
  absl::Duration v = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (v < min || v > max) {
    return Bad(field, absl::FormatDuration(v),
               absl::StrCat("use ", absl::FormatDuration(min), " to ",
                            absl::FormatDuration(max)));
  }
  return absl::OkStatus();
}

// FinalizeAuditRotation checks audit's rotation and retention fields
// (config.proto); they have no defaults to fill.
absl::Status FinalizeAuditRotation(keyward::v1::AuditConfig* audit) {
  if (audit->rotate_bytes() != 0 &&
      (audit->rotate_bytes() < (uint64_t{16} << 10) ||
       audit->rotate_bytes() > (uint64_t{1} << 40))) {
    return Bad("audit.rotate_bytes", absl::StrCat(audit->rotate_bytes()),
               "use 0 (never by size) or 16384 (16 KiB) to 1099511627776 "
               "(1 TiB)");
  }
  if (audit->has_rotate_interval()) {
    absl::Status s = CheckDuration("audit.rotate_interval",
                                   audit->rotate_interval(), absl::Minutes(1),
                                   absl::Hours(24 * 366));
    if (!s.ok()) return s;
  }
  if (audit->keep_files() > 1000000) {
    return Bad("audit.keep_files", absl::StrCat(audit->keep_files()),
               "use 0 (no limit) to 1000000");
  }
  if (audit->has_keep_age()) {
    absl::Status s = CheckDuration("audit.keep_age", audit->keep_age(),
                                   absl::Minutes(1), absl::Hours(24 * 3660));
    if (!s.ok()) return s;
  }
  if (audit->require_shipped() && audit->keep_files() == 0 &&
      !audit->has_keep_age()) {
    return Bad("audit.require_shipped", "true",
               "it only guards removals, and with neither keep_files nor "
               "keep_age no rotated file is ever removed; set one of them");
  }
  return absl::OkStatus();
}

// DefaultDuration sets `d` to `seconds` if it is unset, then checks it.
absl::Status DefaultDuration(absl::string_view field,
                             google::protobuf::Duration* d, double seconds,
                             absl::Duration min, absl::Duration max) {
  if (d->seconds() == 0 && d->nanos() == 0) {
    *d = TimeUtil::NanosecondsToDuration(static_cast<int64_t>(seconds * 1e9));
  }
  return CheckDuration(field, *d, min, max);
}

// FinalizeDeadlines: the PostgreSQL session timeouts (config.proto).
absl::Status FinalizeDeadlines(keyward::v1::PostgresStorageConfig* pg) {
  absl::Status s = DefaultDuration(
      "storage.postgres.statement_timeout", pg->mutable_statement_timeout(),
      10, absl::Milliseconds(100), absl::Minutes(10));
  if (!s.ok()) return s;
  s = DefaultDuration("storage.postgres.lock_timeout",
                      pg->mutable_lock_timeout(), 5, absl::Milliseconds(10),
                      absl::Minutes(10));
  if (!s.ok()) return s;
  if (TimeUtil::DurationToMilliseconds(pg->lock_timeout()) >
      TimeUtil::DurationToMilliseconds(pg->statement_timeout())) {
    return Bad("storage.postgres.lock_timeout",
               TimeUtil::ToString(pg->lock_timeout()),
               "use at most storage.postgres.statement_timeout");
  }
  return DefaultDuration(
      "storage.postgres.idle_in_transaction_session_timeout",
      pg->mutable_idle_in_transaction_session_timeout(), 10, absl::Seconds(1),
      absl::Hours(1));
}

bool ReplicaIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::StrContains("._-:/@", c);
}

// DefaultReplicaId: "{hostname}:{data_dir}", made a valid replica_id (so
// that finalizing again keeps it): other characters become '_', and past
// 200 characters the end is a stable hash (FNV-1a) of the whole.
std::string DefaultReplicaId(absl::string_view data_dir) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::string id = absl::StrCat(host, ":", data_dir);
  for (char& c : id) {
    if (!ReplicaIdChar(c)) c = '_';
  }
  if (id.size() > 200) {
    uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : id) hash = (hash ^ c) * 1099511628211ull;
    id = absl::StrCat(id.substr(0, 183), "-", absl::Hex(hash, absl::kZeroPad16));
  }
  return id;
}

// FinalizeReplica: replica_id (default DefaultReplicaId) and replica_ttl.
absl::Status FinalizeReplica(keyward::v1::DaemonConfig* config) {
  if (config->replica_id().empty()) {
    config->set_replica_id(DefaultReplicaId(config->data_dir()));
  }
  const std::string& id = config->replica_id();
  if (id.size() > 200 || !std::all_of(id.begin(), id.end(), ReplicaIdChar)) {
    return Bad("replica_id", absl::StrCat("\"", absl::CHexEscape(id), "\""),
               "use 1 to 200 letters, digits and . _ - : / @");
  }
  // "{replica_id}" in the audit log's path names each replica's chain, so
  // that replicas may share one directory (README "Running several
  // replicas"); characters other than letters, digits, '.', '_' and '-'
  // become '_' in the file name.
  std::string file_id = config->replica_id();
  for (char& c : file_id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        !absl::StrContains("._-", c)) {
      c = '_';
    }
  }
  config->mutable_audit()->set_path(absl::StrReplaceAll(
      config->audit().path(), {{"{replica_id}", file_id}}));
  return DefaultDuration("replica_ttl", config->mutable_replica_ttl(), 15,
                         absl::Seconds(1), absl::Minutes(10));
}

}  // namespace

absl::StatusOr<keyward::v1::DaemonConfig> LoadConfigFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read config file '", path, "'"));
  }
  std::stringstream text;
  text << in.rdbuf();
  keyward::v1::DaemonConfig config;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, ":", errors.message()));
  }
  return config;
}

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Status FinalizeConfig(keyward::v1::DaemonConfig* config) {
  if (config->data_dir().empty()) config->set_data_dir("/var/lib/keyward");
  if (config->data_dir().find('\0') != std::string::npos) {
    return Bad("data_dir", "(contains NUL)", "use a path");
  }
  auto* sock = config->mutable_unix_socket();
  if (sock->path().empty()) {
    sock->set_path(absl::StrCat(config->data_dir(), "/keyward.sock"));
  }
  if (sock->mode() == 0) sock->set_mode(0660);
  if (sock->mode() > 0777) {
    return Bad("unix_socket.mode", absl::StrFormat("0%o", sock->mode()),
               "use permission bits such as 0660 (at most 0777)");
  }
  if (sock->disabled() && config->tcp_listeners().empty()) {
    return Bad("unix_socket.disabled", "true",
               "with no tcp_listeners the daemon would have no listener");
  }
  for (int i = 0; i < config->tcp_listeners_size(); ++i) {
    const auto& tcp = config->tcp_listeners(i);
    if (tcp.address().empty() || tcp.address().rfind(':') == std::string::npos) {
      return Bad(absl::StrCat("tcp_listeners[", i, "].address"),
                 absl::StrCat("\"", tcp.address(), "\""),
                 "use host:port, e.g. \"127.0.0.1:7443\"");
    }
  }
  if (config->key_cache_size() == 0) config->set_key_cache_size(1024);
  if (config->key_cache_size() > 1000000) {
    return Bad("key_cache_size", absl::StrCat(config->key_cache_size()),
               "use 1 to 1000000");
  }
  auto* scrypt = config->mutable_scrypt();
  if (scrypt->log2_n() == 0) scrypt->set_log2_n(15);
  if (scrypt->r() == 0) scrypt->set_r(8);
  if (scrypt->p() == 0) scrypt->set_p(1);
  if (scrypt->log2_n() < 15 || scrypt->log2_n() > 20) {
    return Bad("scrypt.log2_n", absl::StrCat(scrypt->log2_n()),
               "use 15 to 20 (N = 2^15 .. 2^20)");
  }
  if (scrypt->r() > 32 || scrypt->p() > 16) {
    return Bad("scrypt.r/p", absl::StrCat(scrypt->r(), "/", scrypt->p()),
               "use r 1..32 and p 1..16");
  }
  if (!config->has_session_token_ttl()) {
    *config->mutable_session_token_ttl() = TimeUtil::SecondsToDuration(15 * 60);
  }
  absl::Status s = CheckDuration("session_token_ttl", config->session_token_ttl(),
                                 absl::Minutes(1), absl::Hours(24));
  if (!s.ok()) return s;
  if (!config->has_shutdown_grace_period()) {
    *config->mutable_shutdown_grace_period() = TimeUtil::SecondsToDuration(10);
  }
  s = CheckDuration("shutdown_grace_period", config->shutdown_grace_period(),
                    absl::ZeroDuration(), absl::Minutes(5));
  if (!s.ok()) return s;
  if (!config->has_maintenance_interval()) {
    *config->mutable_maintenance_interval() = TimeUtil::SecondsToDuration(60);
  }
  s = CheckDuration("maintenance_interval", config->maintenance_interval(),
                    absl::Seconds(1), absl::Hours(24));
  if (!s.ok()) return s;
  auto* jwt = config->mutable_jwt();
  if (!jwt->has_default_leeway()) {
    *jwt->mutable_default_leeway() = TimeUtil::SecondsToDuration(60);
  }
  s = CheckDuration("jwt.default_leeway", jwt->default_leeway(),
                    absl::ZeroDuration(), absl::Minutes(10));
  if (!s.ok()) return s;
  if (jwt->max_token_bytes() == 0) jwt->set_max_token_bytes(16 * 1024);
  auto* audit = config->mutable_audit();
  if (audit->path().empty()) {
    audit->set_path(absl::StrCat(config->data_dir(), "/audit.log"));
  }
  if (audit->fsync() == keyward::v1::AUDIT_FSYNC_UNSPECIFIED) {
    audit->set_fsync(keyward::v1::AUDIT_FSYNC_EVERY_RECORD);
  }
  if (audit->fsync() != keyward::v1::AUDIT_FSYNC_EVERY_RECORD &&
      audit->fsync() != keyward::v1::AUDIT_FSYNC_INTERVAL) {
    return Bad("audit.fsync", absl::StrCat(audit->fsync()),
               "use AUDIT_FSYNC_EVERY_RECORD or AUDIT_FSYNC_INTERVAL");
  }
  if (!audit->has_fsync_interval()) {
    *audit->mutable_fsync_interval() = TimeUtil::SecondsToDuration(1);
  }
  // config.proto: the interval is ignored unless fsync is INTERVAL.
  if (audit->fsync() == keyward::v1::AUDIT_FSYNC_INTERVAL) {
    s = CheckDuration("audit.fsync_interval", audit->fsync_interval(),
                      absl::Milliseconds(1), absl::Minutes(1));
    if (!s.ok()) return s;
  }
  s = FinalizeAuditRotation(audit);
  if (!s.ok()) return s;
  auto* limits = config->mutable_limits();
  if (limits->pbkdf2_max_iterations() == 0) {
    limits->set_pbkdf2_max_iterations(2000000);
  }
  if (limits->pbkdf2_max_iterations() < 1000 ||
      limits->pbkdf2_max_iterations() > 100000000) {
    return Bad("limits.pbkdf2_max_iterations",
               absl::StrCat(limits->pbkdf2_max_iterations()),
               "use 1000 to 100000000");
  }
  if (limits->scrypt_max_n() == 0) limits->set_scrypt_max_n(uint64_t{1} << 20);
  if (limits->scrypt_max_n() < 2 || limits->scrypt_max_n() > (uint64_t{1} << 20)) {
    return Bad("limits.scrypt_max_n", absl::StrCat(limits->scrypt_max_n()),
               "use 2 to 1048576 (2^20)");
  }
  if (limits->scrypt_max_r() == 0) limits->set_scrypt_max_r(32);
  if (limits->scrypt_max_r() > 32) {
    return Bad("limits.scrypt_max_r", absl::StrCat(limits->scrypt_max_r()),
               "use 1 to 32");
  }
  if (limits->scrypt_max_p() == 0) limits->set_scrypt_max_p(16);
  if (limits->scrypt_max_p() > 16) {
    return Bad("limits.scrypt_max_p", absl::StrCat(limits->scrypt_max_p()),
               "use 1 to 16");
  }
  if (limits->scrypt_max_memory_bytes() == 0) {
    limits->set_scrypt_max_memory_bytes(uint64_t{128} << 20);
  }
  if (limits->scrypt_max_memory_bytes() < (uint64_t{1} << 20) ||
      limits->scrypt_max_memory_bytes() > (uint64_t{1} << 30)) {
    return Bad("limits.scrypt_max_memory_bytes",
               absl::StrCat(limits->scrypt_max_memory_bytes()),
               "use 1048576 (1 MiB) to 1073741824 (1 GiB)");
  }
  if (limits->scrypt_max_work() == 0) limits->set_scrypt_max_work(uint64_t{1} << 20);
  if (limits->scrypt_max_work() < (uint64_t{1} << 10) ||
      limits->scrypt_max_work() > (uint64_t{1} << 26)) {
    return Bad("limits.scrypt_max_work", absl::StrCat(limits->scrypt_max_work()),
               "use 1024 (2^10) to 67108864 (2^26)");
  }
  if (limits->max_concurrent_costly_calls() == 0) {
    limits->set_max_concurrent_costly_calls(
        std::max(1u, std::thread::hardware_concurrency() / 2));
  }
  if (limits->max_concurrent_costly_calls() > 256) {
    return Bad("limits.max_concurrent_costly_calls",
               absl::StrCat(limits->max_concurrent_costly_calls()),
               "use 1 to 256");
  }
  if (config->storage().has_postgres()) {
    auto* pg = config->mutable_storage()->mutable_postgres();
    if (pg->dsn().empty()) {
      return Bad("storage.postgres.dsn", "\"\"",
                 "give a libpq connection string, e.g. \"host=/run/postgresql "
                 "dbname=keyward user=keyward\"");
    }
    if (pg->dsn().find('\0') != std::string::npos) {
      return Bad("storage.postgres.dsn", "(contains NUL)",
                 "give a libpq connection string");
    }
    if (pg->pool_size() == 0) pg->set_pool_size(4);
    if (pg->pool_size() > 64) {
      return Bad("storage.postgres.pool_size", absl::StrCat(pg->pool_size()),
                 "use 1 to 64");
    }
    if (!pg->has_connect_timeout()) {
      *pg->mutable_connect_timeout() = TimeUtil::SecondsToDuration(10);
    }
    s = CheckDuration("storage.postgres.connect_timeout",
                      pg->connect_timeout(), absl::Seconds(1),
                      absl::Minutes(5));
    if (!s.ok()) return s;
    if (!pg->has_max_staleness()) {
      *pg->mutable_max_staleness() = TimeUtil::SecondsToDuration(2);
    }
    s = CheckDuration("storage.postgres.max_staleness", pg->max_staleness(),
                      absl::Milliseconds(200), absl::Hours(1));
    if (!s.ok()) return s;
    s = FinalizeDeadlines(pg);
    if (!s.ok()) return s;
  }
  s = FinalizeReplica(config);
  if (!s.ok()) return s;
  if (config->log_level() == keyward::v1::LOG_LEVEL_UNSPECIFIED) {
    config->set_log_level(keyward::v1::LOG_LEVEL_INFO);
  }
  return RequestLimitsFromConfig(config->rate_limits()).status();
}

}  // namespace keyward::daemon
