// Rpc: what every call goes through, once, in this order: identify the
// caller (UNAUTHENTICATED), refuse if sealed (UNAVAILABLE), authorize the
// operation on the resource (PERMISSION_DENIED), run the body, write the
// audit record (UNAVAILABLE and no result if that fails), answer. A body
// that changes the keystore has its record written inside the change's
// transaction, so that a change and its record commit together or not at
// all (audited_change.h).
#ifndef KEYWARD_DAEMON_RPC_H_
#define KEYWARD_DAEMON_RPC_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/status/statusor.h"
#include "daemon/access.h"
#include "daemon/audit_log.h"
#include "daemon/convert.h"
#include "daemon/follower.h"
#include "daemon/maintenance.h"
#include "daemon/metrics.h"
#include "daemon/unix_listener.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "keystore/keystore.h"
#include "keyward/v1/common.pb.h"
#include "keyward/v1/system_service.pb.h"

namespace keyward::daemon {

// What the services share. All pointers outlive the services.
struct ServiceEnv {
  keystore::Keystore* keystore = nullptr;
  Authorizer* authorizer = nullptr;
  AuditLog* audit = nullptr;
  const PeerTable* peers = nullptr;
  SessionTable* sessions = nullptr;
  FailureLimiter* failures = nullptr;
  RequestLimiter* requests = nullptr;
  // Longest session a Login may ask for.
  absl::Duration session_ttl = absl::Minutes(15);
  // Told when the daemon is sealed (false) or unsealed (true), so that
  // health reports NOT_SERVING while sealed. May be empty.
  std::function<void(bool unsealed)>* on_seal_change = nullptr;
  // Set on SIGTERM: new calls get UNAVAILABLE while those in flight
  // (counted in `in_flight`) finish, before gRPC itself shuts down.
  std::atomic<bool>* draining = nullptr;
  std::atomic<int>* in_flight = nullptr;
  // Prometheus metrics; null when off.
  Metrics* metrics = nullptr;
  // A replica on PostgreSQL: its feed follower (follower.h) and staleness
  // bound; calls that need authorization are UNAVAILABLE while the
  // follower's lag is past it. Null on SQLite.
  const Follower* follower = nullptr;
  absl::Duration max_staleness = absl::Seconds(2);
  // This replica's id (DaemonConfig.replica_id) and its maintenance (whose
  // lease GetStatus reports; null: none), for GetStatus.replica.
  std::string replica_id;
  const Maintenance* maintenance = nullptr;
};

// FillReplicaStatus: GetStatusResponse.replica from `env` (replica_status.cc;
// reads the feed's head from the database on PostgreSQL).
void FillReplicaStatus(const ServiceEnv& env, keyward::v1::ReplicaStatus* out);

// One authorized, audited unit of work: a call, or one item of a batch.
class Rpc {
 public:
  // `method` names the call in audit records, e.g. "CryptoService/Sign".
  Rpc(const ServiceEnv& env, grpc::CallbackServerContext* context,
      absl::string_view method)
      : env_(env), context_(context), method_(method) {
    if (env_.in_flight) env_.in_flight->fetch_add(1, std::memory_order_relaxed);
  }
  ~Rpc() {
    if (env_.metrics) {
      env_.metrics->Record(method_, answer_.code(), absl::Now() - start_);
    }
    if (env_.in_flight) env_.in_flight->fetch_sub(1, std::memory_order_release);
  }
  Rpc(const Rpc&) = delete;
  Rpc& operator=(const Rpc&) = delete;

  // Identify establishes the caller; call first. Later steps use it.
  absl::Status Identify();

  // Run authorizes `operation` on `resource` (a status from parsing the
  // request is passed through as the answer), runs `body` (which may set
  // `version` for the audit record), and audits the outcome. `body` is not
  // run if anything before it failed. Returns the answer.
  // kAnyCaller: any identified caller, sealed or not (status, whoami).
  // kAnyone: even unidentified callers (Login, which is how they get an
  // identity). kInBody: every check but the grant, which `body` makes with
  // Authorize once it knows the key (token records name theirs).
  // kAnyCallerEvenUnaudited: as kAnyCaller, and answered even if its audit
  // record cannot be written. kAnonymousToo: any identified caller, and a
  // caller that sent no credentials at all ("anonymous", as common.proto
  // allows for WhoAmI); a bad session token is still UNAUTHENTICATED.
  // kAnonymousTooEvenUnaudited: both (GetStatus, so that an audit outage
  // can be seen; it reads no key).
  enum class Access {
    kGranted,
    kAnyCaller,
    kAnyCallerEvenUnaudited,
    kAnonymousToo,
    kAnonymousTooEvenUnaudited,
    kAnyone,
    kInBody
  };

  template <typename Body>
  absl::Status Run(keyward::v1::Operation operation,
                   const absl::StatusOr<std::string>& resource, Body body,
                   Access access = Access::kGranted) {
    const bool anonymous_ok = access == Access::kAnonymousToo ||
                              access == Access::kAnonymousTooEvenUnaudited;
    absl::Status status =
        access == Access::kGranted     ? Prepare(operation, resource, true)
        : access == Access::kInBody    ? Prepare(operation, resource, false)
        : access == Access::kAnyone    ? absl::OkStatus()
        : anonymous_ok && anonymous_   ? absl::OkStatus()
                                       : identified_;
    answer_ = Complete(operation, resource.ok() ? *resource : "", status,
                       body,
                       access != Access::kAnyCallerEvenUnaudited &&
                           access != Access::kAnonymousTooEvenUnaudited);
    return answer_;
  }

  // Authorize checks a further operation on another resource, for calls
  // that touch two keys (ReEncrypt to another key).
  absl::Status Authorize(keyward::v1::Operation operation,
                         const std::string& resource) const {
    return env_.authorizer->Check(caller_, operation, resource);
  }

  // HoldsAny: whether the caller holds any operation on `resource`.
  bool HoldsAny(const std::string& resource) const {
    return env_.authorizer->HoldsAny(caller_, resource);
  }

  // DeferAudit makes later Runs collect their audit records in `records`
  // instead of appending each; the caller appends them all (AppendAll)
  // before answering, and answers nothing if that fails (Batch does).
  void DeferAudit(std::vector<AuditEntry>* records) { deferred_ = records; }

  // OnRefused sets what reverts the body's in-memory change (an Unseal, a
  // Login's session) if the call's record then cannot be written, so that
  // a refused call has changed nothing (RunAudited's `undo`).
  void OnRefused(std::function<void()> undo) { undo_ = std::move(undo); }

  // SetAuditNote gives the call's audit record a note (a fact for a person,
  // never secret), e.g. that an import accepted a legacy short secret.
  void SetAuditNote(std::string note) { note_ = std::move(note); }

  // Finish answers the call with `status` and returns its reactor.
  grpc::ServerUnaryReactor* Finish(const absl::Status& status);

  // request_id: the id audit records carry (x-request-id if the caller sent
  // one, else generated once per Rpc); set_request_id sets it instead (a
  // stream's items: "<stream's id>/<item id>").
  const std::string& request_id();
  void set_request_id(std::string id) { request_id_ = std::move(id); }

  const Caller& caller() const { return caller_; }
  // anonymous: the caller sent no credentials and has no transport
  // identity (principal "anonymous", method ANONYMOUS).
  bool anonymous() const { return anonymous_; }
  keystore::Keystore& keystore() const { return *env_.keystore; }
  const ServiceEnv& env() const { return env_; }

 private:
  absl::Status Prepare(keyward::v1::Operation operation,
                       const absl::StatusOr<std::string>& resource,
                       bool authorize);
  // Complete runs `body` if `status` is OK and audits the outcome: a
  // change the body commits is recorded in its transaction (RunAudited,
  // audited_change.h); deferred (batch) items are collected instead.
  absl::Status Complete(keyward::v1::Operation operation,
                        const std::string& resource, absl::Status status,
                        absl::FunctionRef<absl::Status(int32_t*)> body,
                        bool record_required);
  AuditEntry Entry(keyward::v1::Operation operation,
                   const std::string& resource);

  const ServiceEnv& env_;
  grpc::CallbackServerContext* const context_;
  const absl::string_view method_;
  // Read only for metrics.
  const absl::Time start_ =
      env_.metrics != nullptr ? absl::Now() : absl::InfinitePast();
  absl::Status answer_;  // the last answer, for metrics
  absl::Status identified_ = absl::UnknownError("caller not identified");
  bool anonymous_ = false;
  Caller caller_;
  std::vector<AuditEntry>* deferred_ = nullptr;
  std::string request_id_;
  std::function<void()> undo_;
  std::string note_;
};

// Unary runs a whole single-item call: Identify, then Run, then Finish.
template <typename Body>
grpc::ServerUnaryReactor* Unary(const ServiceEnv& env,
                                grpc::CallbackServerContext* context,
                                absl::string_view method,
                                keyward::v1::Operation operation,
                                const absl::StatusOr<std::string>& resource,
                                Body body,
                                Rpc::Access access = Rpc::Access::kGranted) {
  Rpc rpc(env, context, method);
  rpc.Identify().IgnoreError();  // Run reports it, audited
  return rpc.Finish(rpc.Run(
      operation, resource,
      [&](int32_t* version) { return body(rpc, version); }, access));
}

inline constexpr size_t kMaxBatchItems = 1000;

// Batch runs each item of a batch call through its own Rpc::Run (one audit
// record per item), with the caller identified once. The call fails as a
// whole only for a bad item count, no identity, or an audit failure.
template <typename Request, typename Response, typename Item>
grpc::ServerUnaryReactor* Batch(const ServiceEnv& env,
                                grpc::CallbackServerContext* context,
                                absl::string_view method,
                                const Request& request, Response* response,
                                Item item) {
  Rpc rpc(env, context, method);
  absl::Status status = rpc.Identify();
  const size_t n = request.requests_size();
  if (status.ok() && (n == 0 || n > kMaxBatchItems)) {
    status = absl::InvalidArgumentError(absl::StrCat(
        "a batch holds 1 to ", kMaxBatchItems, " items, not ", n));
  }
  // One audit append (one write, one fdatasync) for the whole batch, made
  // before anything is answered.
  std::vector<AuditEntry> records;
  records.reserve(n);
  rpc.DeferAudit(&records);
  for (size_t i = 0; status.ok() && i < n; ++i) {
    auto* result = response->add_results();
    absl::Status s = item(rpc, request.requests(i), result->mutable_response());
    if (absl::IsUnavailable(s)) status = s;  // sealed
    result->mutable_status()->set_code(static_cast<int>(s.code()));
    result->mutable_status()->set_message(std::string(s.message()));
    if (!s.ok()) result->clear_response();
  }
  if (!records.empty()) {
    auto appended = env.audit->AppendAll(records);
    if (!appended.ok()) status = appended.status();
  }
  if (!status.ok()) response->Clear();
  return rpc.Finish(status);
}

// Limits on request sizes shared by the services.
inline constexpr size_t kMaxDataBytes = 1 << 20;        // Sign/Verify/Mac
inline constexpr size_t kMaxPlaintextBytes = 64 << 10;  // Encrypt
inline constexpr size_t kMaxCiphertextBytes = 128 << 10;

// TooLarge: INVALID_ARGUMENT "<field> is N bytes; at most M".
absl::Status TooLarge(absl::string_view field, size_t size, size_t limit);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_RPC_H_
