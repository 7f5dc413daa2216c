// Caller identity and authorization.
//
// Identity: on the Unix socket the caller is its uid (and primary gid) as
// the kernel reported it at connect (SO_PEERCRED), never a claim. Principals
// are strings: "unix:uid:1000" (a Unix caller also matches "unix:gid:N" for
// its gid). A caller with no identity is UNAUTHENTICATED.
//
// Authorization: default deny. A policy grants a principal operations on
// "keys/{id}" (exact), "keys/{prefix}*" (prefix) or "*" (everything).
// Any key-scoped grant implies READ; ADMIN implies READ and ROTATE but not
// the data-plane operations (separation of duties). Bootstrap admins (the
// uid that owns the data dir, root, and the config's bootstrap_admin_uids)
// hold every operation on "*" through built-in policies.
#ifndef KEYWARD_DAEMON_ACCESS_H_
#define KEYWARD_DAEMON_ACCESS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "daemon/unix_listener.h"
#include "grpcpp/server_context.h"
#include "keystore/records.h"
#include "keyward/v1/access_service.pb.h"
#include "keyward/v1/common.pb.h"
#include "daemon/request_limits.h"

namespace keyward::daemon {

// Caller is who made a call, as the daemon established it.
struct Caller {
  std::string principal;  // "unix:uid:1000", "spiffe://...", "apikey:ci"
  std::vector<std::string> also_matches;  // "unix:gid:1000"
  // Who the transport says connected (differs from `principal` with a
  // session token); failed logins are counted against it.
  std::string transport_principal;
  keyward::v1::AuthenticationMethod method =
      keyward::v1::AUTHENTICATION_METHOD_ANONYMOUS;
  bool unix_peer = false;  // `uid` is kernel-verified
  uint32_t uid = 0;
  absl::Time session_expires = absl::InfiniteFuture();
};

// SessionTable: live session tokens from Login, in memory only (a restart
// ends them). Tokens are kept as SHA-256 hashes. Thread-safe.
//
// Revocation is for good, so the table remembers the API keys revoked while
// it runs and refuses them new sessions: a Login reads its key before it
// makes the session, and without that memory a Login that read the key just
// before its revocation committed (on this replica, or on another one whose
// change the Follower applies here) could make its session after the key's
// sessions were ended, and keep it. Likewise a Login in flight across a
// Clear (a seal) must not make its session after it: Login reads epoch()
// before it reads the key, and Create refuses if a Clear came since.
class SessionTable {
 public:
  struct Session {
    std::string api_key_id;
    absl::Time expires;
  };
  // epoch counts the Clears and Restoreds so far.
  uint64_t epoch() const;
  // Create returns a new random token for `api_key_id`, valid until
  // `expires`; nullopt if `api_key_id` was revoked (Revoke) since the last
  // Restored, or if epoch() is no longer `epoch` (what the caller read
  // before it read the key). Sessions past their expiry are dropped as the
  // table grows, so that logins do not grow it without bound.
  std::optional<std::string> Create(const std::string& api_key_id,
                                    absl::Time expires, uint64_t epoch);
  // Find returns the live session of `token`, or nullopt.
  std::optional<Session> Find(absl::string_view token) const;
  // Revoke ends every session of `api_key_id` and refuses it new ones until
  // Restored. EndSessionsOf ends them without refusing new ones (a key that
  // could not be read: a later Login reads it again). End ends the session
  // of `token`. Clear ends all (a seal) and keeps the revocations; Restored
  // ends all and forgets them (a restore: the backup's keys are the truth
  // now). Both bump epoch().
  void Revoke(const std::string& api_key_id);
  void EndSessionsOf(const std::string& api_key_id);
  void End(absl::string_view token);
  void Clear();
  void Restored();
  // Sessions held, expired ones not yet dropped included; for tests.
  size_t size() const;

 private:
  void EndSessionsOfLocked(const std::string& api_key_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Session> by_hash_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> revoked_ ABSL_GUARDED_BY(mu_);
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // Create drops expired sessions when the table reaches this size, then
  // sets it to twice what is left (at least kMinPurgeSize).
  size_t purge_at_ ABSL_GUARDED_BY(mu_) = kMinPurgeSize;
  static constexpr size_t kMinPurgeSize = 1024;
};

// ApiKeyIdOfSecret returns the API key id that an API key secret
// ("kw_ak_{id}:{43 base64url chars}", as CreateApiKey makes it) names, or
// nullopt if `secret` is not of that form. It proves nothing: Login then
// compares the SHA-256 of the whole secret with the key's stored hash.
// Thread-safe.
std::optional<std::string> ApiKeyIdOfSecret(absl::string_view secret);

// FailureLimiter: at most `per_minute` failed authentications per key in
// any sliding minute. A failure is counted under several keys at once (see
// FailureKeys): the peer (its address without the port, or its uid), the
// transport identity if any, and the credential being guessed (an API key
// id, the keystore passphrase). A call is refused while ANY of its keys is
// over the limit, so that many connections from one host and one key
// attacked from many hosts are both throttled, and a right secret from a
// throttled peer is refused too. Memory is bounded: at most `max_keys`
// keys are tracked; beyond that the key whose last failure is oldest is
// forgotten first. Thread-safe.
class FailureLimiter {
 public:
  explicit FailureLimiter(int per_minute, size_t max_keys = 65536)
      : per_minute_(per_minute < 1 ? 1 : per_minute),
        max_keys_(max_keys < 1 ? 1 : max_keys) {}
  // Check: RESOURCE_EXHAUSTED naming the first of `keys` that is over the
  // limit, else OK.
  absl::Status Check(const std::vector<std::string>& keys) const;
  // RecordFailure counts one failure under each of `keys`.
  void RecordFailure(const std::vector<std::string>& keys);
  // Tracked keys, for tests.
  size_t size() const;

 private:
  struct Entry {
    // The last (at most per_minute_) failures, oldest first.
    std::vector<absl::Time> times;
    std::list<std::string>::iterator lru;
  };
  bool Over(const Entry& entry, absl::Time now) const;

  const int per_minute_;
  const size_t max_keys_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> failures_ ABSL_GUARDED_BY(mu_);
  // Keys, most recently failed first.
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);
};

// PeerKey is the throttling key of the peer of `context`: "unix:uid:N" on
// the Unix socket; over TCP the address without the port ("ipv4:10.0.0.7";
// for IPv6 its /64 prefix, "ipv6:[2001:db8:1:2::]/64", since one host
// commonly holds a whole /64).
std::string PeerKey(const grpc::ServerContextBase& context,
                    const PeerTable& peers);

// FailureKeys: the keys a failed authentication of `context` counts under:
// PeerKey, then "principal:<transport principal>" for an identified
// transport (mTLS, Unix uid), then "credential:<credential>" unless
// `credential` is empty.
std::vector<std::string> FailureKeys(const grpc::ServerContextBase& context,
                                     const PeerTable& peers,
                                     absl::string_view transport_principal,
                                     absl::string_view credential);

// RequestLimiter: a token bucket per principal, shaped by RequestLimits;
// with every limit 0 it takes no lock. Thread-safe.
class RequestLimiter {
 public:
  explicit RequestLimiter(RequestLimits limits) { Reload(std::move(limits)); }
  RequestLimiter(uint32_t per_second, uint32_t burst)
      : RequestLimiter(RequestLimits{{per_second, burst}, {}}) {}
  // Allow takes one token for `principal`: RESOURCE_EXHAUSTED if none.
  absl::Status Allow(const std::string& principal);
  // Reload replaces the limits (SIGHUP). Buckets are kept, so a reload
  // does not refill them; each is capped at its new burst on its next use.
  void Reload(RequestLimits limits);

 private:
  struct Bucket {
    double tokens;
    absl::Time refilled;
  };
  absl::Mutex mu_;
  std::atomic<bool> any_limit_{false};
  RequestLimits limits_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

// Identify establishes the caller of `context`: a session token
// ("authorization: Bearer ...") if sent, else the Unix peer's uid, else the
// TLS client certificate (SPIFFE URI SAN, else subject). UNAUTHENTICATED,
// saying how to connect, if none; RESOURCE_EXHAUSTED after too many bad
// tokens from one caller.
absl::StatusOr<Caller> Identify(const grpc::ServerContextBase& context,
                                const PeerTable& peers,
                                const SessionTable& sessions,
                                FailureLimiter& failures);

// Authorizer decides, from an in-memory snapshot of the policies (no
// storage read per call). Thread-safe; Reload swaps the snapshot.
class Authorizer {
 public:
  explicit Authorizer(absl::flat_hash_set<uint32_t> bootstrap_admin_uids);

  // Reload replaces the stored policies.
  void Reload(std::vector<keystore::PolicyRecord> policies);

  // Check: OK if `caller` may do `operation` on `resource` ("keys/{id}" or
  // "*"); PERMISSION_DENIED naming the principal, operation and resource
  // otherwise.
  absl::Status Check(const Caller& caller, keyward::v1::Operation operation,
                     absl::string_view resource) const;

  // HoldsAny: whether `caller` holds any operation on `resource` (ListKeys
  // shows only such keys).
  bool HoldsAny(const Caller& caller, absl::string_view resource) const;

  // Built-in policies (bootstrap admins), for listing.
  std::vector<keystore::PolicyRecord> BuiltinPolicies() const;

  const absl::flat_hash_set<uint32_t>& bootstrap_admin_uids() const {
    return bootstrap_;
  }

 private:
  // Grants: whether a grant of `caller` on `resource` has an operation for
  // which `enough` is true (bootstrap admins hold every one).
  bool Grants(const Caller& caller, absl::string_view resource,
              const std::function<bool(keyward::v1::Operation granted)>&
                  enough) const;

  // A policy as Check reads it: operation names parsed once, at Reload.
  struct Grant {
    std::string principal;
    std::string resource;
    std::vector<keyward::v1::Operation> operations;
  };
  using Snapshot = std::vector<Grant>;
  const absl::flat_hash_set<uint32_t> bootstrap_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> policies_ ABSL_GUARDED_BY(mu_);
};

// OperationName: "SIGN" for OPERATION_SIGN; ParseOperation is its inverse.
std::string OperationName(keyward::v1::Operation operation);
bool ParseOperation(absl::string_view name, keyward::v1::Operation* operation);

// ValidateResource: "*", "keys/{id}" or "keys/{prefix}*", else
// INVALID_ARGUMENT.
absl::Status ValidateResource(absl::string_view resource);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_ACCESS_H_
