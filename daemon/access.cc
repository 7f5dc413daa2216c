#include "daemon/access.h"

#include <functional>
#include "daemon/wipe.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keystore/crypto/digest.h"
#include "keystore/crypto/random.h"
#include "absl/strings/strip.h"

namespace keyward::daemon {
namespace {

using keyward::v1::Operation;

bool ResourceMatches(absl::string_view pattern, absl::string_view resource) {
  if (pattern == "*") return true;
  if (absl::EndsWith(pattern, "*")) {
    pattern.remove_suffix(1);
    return absl::StartsWith(resource, pattern) && resource != "*";
  }
  return pattern == resource;
}

// Whether holding `granted` allows `wanted` (ADMIN: READ and ROTATE too;
// anything key-scoped: READ).
bool Implies(Operation granted, Operation wanted) {
  if (granted == wanted) return true;
  if (wanted == keyward::v1::OPERATION_READ) return true;
  return granted == keyward::v1::OPERATION_ADMIN &&
         wanted == keyward::v1::OPERATION_ROTATE;
}

}  // namespace

uint64_t SessionTable::epoch() const {
  absl::ReaderMutexLock lock(&mu_);
  return epoch_;
}

std::optional<std::string> SessionTable::Create(const std::string& api_key_id,
                                                absl::Time expires,
                                                uint64_t epoch) {
  std::string token = RandomSecret("kws_", 32);
  std::string hash = crypto::Sha256(token);
  absl::MutexLock lock(&mu_);
  if (epoch != epoch_ || revoked_.contains(api_key_id)) return std::nullopt;
  if (by_hash_.size() >= purge_at_) {
    const absl::Time now = absl::Now();
    absl::erase_if(by_hash_,
                   [&](const auto& entry) { return entry.second.expires <= now; });
    purge_at_ = std::max(kMinPurgeSize, 2 * by_hash_.size());
  }
  by_hash_[std::move(hash)] = Session{api_key_id, expires};
  return token;
}

std::optional<SessionTable::Session> SessionTable::Find(
    absl::string_view token) const {
  const std::string hash = crypto::Sha256(token);
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end() || it->second.expires <= absl::Now()) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<std::string> ApiKeyIdOfSecret(absl::string_view secret) {
  absl::string_view rest = secret;
  if (!absl::ConsumePrefix(&rest, "kw_ak_")) return std::nullopt;
  const size_t colon = rest.find(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  return std::string(rest.substr(0, colon));
}

void SessionTable::Revoke(const std::string& api_key_id) {
  absl::MutexLock lock(&mu_);
  revoked_.insert(api_key_id);
  EndSessionsOfLocked(api_key_id);
}

void SessionTable::EndSessionsOf(const std::string& api_key_id) {
  absl::MutexLock lock(&mu_);
  EndSessionsOfLocked(api_key_id);
}

void SessionTable::EndSessionsOfLocked(const std::string& api_key_id) {
  absl::erase_if(by_hash_, [&](const auto& entry) {
    return entry.second.api_key_id == api_key_id;
  });
}

void SessionTable::End(absl::string_view token) {
  absl::MutexLock lock(&mu_);
  by_hash_.erase(crypto::Sha256(token));
}

void SessionTable::Clear() {
  absl::MutexLock lock(&mu_);
  by_hash_.clear();
  purge_at_ = kMinPurgeSize;
  ++epoch_;
}

void SessionTable::Restored() {
  absl::MutexLock lock(&mu_);
  by_hash_.clear();
  revoked_.clear();
  purge_at_ = kMinPurgeSize;
  ++epoch_;
}

size_t SessionTable::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return by_hash_.size();
}

bool FailureLimiter::Over(const Entry& entry, absl::Time now) const {
  return entry.times.size() >= static_cast<size_t>(per_minute_) &&
         entry.times.front() > now - absl::Minutes(1);
}

absl::Status FailureLimiter::Check(const std::vector<std::string>& keys) const {
  const absl::Time now = absl::Now();
  absl::ReaderMutexLock lock(&mu_);
  for (const std::string& key : keys) {
    auto it = failures_.find(key);
    if (it == failures_.end() || !Over(it->second, now)) continue;
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many failed authentications for ", key,
        " in the last minute; wait a minute and check the credentials"));
  }
  return absl::OkStatus();
}

void FailureLimiter::RecordFailure(const std::vector<std::string>& keys) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  for (const std::string& key : keys) {
    auto [it, fresh] = failures_.try_emplace(key);
    Entry& entry = it->second;
    if (fresh) {
      lru_.push_front(key);
    } else {
      lru_.splice(lru_.begin(), lru_, entry.lru);
    }
    entry.lru = lru_.begin();
    // Only the last per_minute_ failures matter: the oldest of them tells
    // whether all fall within the minute.
    if (entry.times.size() >= static_cast<size_t>(per_minute_)) {
      entry.times.erase(entry.times.begin());
    }
    entry.times.push_back(now);
  }
  // Bounded memory under a flood of distinct peers: forget the keys whose
  // last failure is oldest (never the ones just recorded).
  while (failures_.size() > max_keys_ && failures_.size() > keys.size()) {
    failures_.erase(lru_.back());
    lru_.pop_back();
  }
}

size_t FailureLimiter::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return failures_.size();
}

std::string PeerKey(const grpc::ServerContextBase& context,
                    const PeerTable& peers) {
  const std::string peer = context.peer();
  if (auto creds = peers.Find(peer)) return absl::StrCat("unix:uid:", creds->uid);
  absl::string_view address = peer;
  if (absl::StartsWith(address, "ipv4:")) {
    const size_t colon = address.rfind(':');
    if (colon > 4) address = address.substr(0, colon);
    return std::string(address);
  }
  if (absl::ConsumePrefix(&address, "ipv6:[")) {
    const size_t end = address.find(']');
    in6_addr ip;
    if (end != absl::string_view::npos &&
        inet_pton(AF_INET6, std::string(address.substr(0, end)).c_str(), &ip) == 1) {
      std::memset(ip.s6_addr + 8, 0, 8);  // the /64
      char text[INET6_ADDRSTRLEN];
      if (inet_ntop(AF_INET6, &ip, text, sizeof(text)) != nullptr) {
        return absl::StrCat("ipv6:[", text, "]/64");
      }
    }
  }
  return peer;  // unix-abstract:, or a form we do not know: as it is
}

std::vector<std::string> FailureKeys(const grpc::ServerContextBase& context,
                                     const PeerTable& peers,
                                     absl::string_view transport_principal,
                                     absl::string_view credential) {
  std::vector<std::string> keys = {PeerKey(context, peers)};
  // A session caller's transport principal may be the raw peer string
  // (with its port): PeerKey covers it.
  if (!transport_principal.empty() && transport_principal != keys[0] &&
      transport_principal != context.peer()) {
    keys.push_back(absl::StrCat("principal:", transport_principal));
  }
  if (!credential.empty()) keys.push_back(absl::StrCat("credential:", credential));
  return keys;
}

void RequestLimiter::Reload(RequestLimits limits) {
  bool any = limits.defaults.per_second != 0;
  for (const auto& entry : limits.overrides) any |= entry.second.per_second != 0;
  absl::MutexLock lock(&mu_);
  limits_ = std::move(limits);
  any_limit_.store(any, std::memory_order_release);
}

absl::Status RequestLimiter::Allow(const std::string& principal) {
  if (!any_limit_.load(std::memory_order_acquire)) return absl::OkStatus();
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  const RequestLimit limit = limits_.For(principal);
  if (limit.per_second == 0) return absl::OkStatus();
  const double burst = limit.burst == 0 ? limit.per_second : limit.burst;
  if (buckets_.size() > 100000) buckets_.clear();  // bound memory
  auto [it, fresh] = buckets_.try_emplace(principal, Bucket{burst, now});
  Bucket& b = it->second;
  b.tokens = std::min<double>(
      burst, b.tokens + absl::ToDoubleSeconds(now - b.refilled) * limit.per_second);
  b.refilled = now;
  if (b.tokens < 1) {
    return absl::ResourceExhaustedError(absl::StrCat(
        principal, " is over its limit of ", limit.per_second,
        " requests per second; slow down and retry"));
  }
  b.tokens -= 1;
  return absl::OkStatus();
}

namespace {

// The transport's idea of the caller: the Unix peer or the TLS client.
std::optional<Caller> TransportCaller(const grpc::ServerContextBase& context,
                                      const PeerTable& peers) {
  Caller caller;
  if (auto creds = peers.Find(context.peer())) {
    caller.principal = absl::StrCat("unix:uid:", creds->uid);
    caller.also_matches.push_back(absl::StrCat("unix:gid:", creds->gid));
    caller.method = keyward::v1::AUTHENTICATION_METHOD_UNIX_PEER;
    caller.unix_peer = true;
    caller.uid = creds->uid;
  } else if (auto auth = context.auth_context();
             auth != nullptr && auth->IsPeerAuthenticated()) {
    auto spiffe = auth->FindPropertyValues("peer_spiffe_id");
    auto subject = auth->FindPropertyValues("x509_subject");
    if (!spiffe.empty()) {
      caller.principal = std::string(spiffe[0].data(), spiffe[0].size());
    } else if (!subject.empty()) {
      caller.principal =
          absl::StrCat("x509:", absl::string_view(subject[0].data(), subject[0].size()));
    } else {
      return std::nullopt;
    }
    caller.method = keyward::v1::AUTHENTICATION_METHOD_MTLS;
  } else {
    return std::nullopt;
  }
  caller.transport_principal = caller.principal;
  return caller;
}

}  // namespace

absl::StatusOr<Caller> Identify(const grpc::ServerContextBase& context,
                                const PeerTable& peers,
                                const SessionTable& sessions,
                                FailureLimiter& failures) {
  std::optional<Caller> transport = TransportCaller(context, peers);
  const auto& metadata = context.client_metadata();
  auto auth = metadata.find("authorization");
  if (auth != metadata.end()) {
    const std::string who =
        transport ? transport->principal : std::string(context.peer());
    // A session token names nothing to count under: peer and transport.
    const std::vector<std::string> keys = FailureKeys(
        context, peers, transport ? transport->principal : "", "");
    absl::Status limited = failures.Check(keys);
    if (!limited.ok()) return limited;
    absl::string_view value(auth->second.data(), auth->second.size());
    // The scheme is case-insensitive (RFC 7235 2.1).
    const size_t space = value.find(' ');
    const absl::string_view scheme =
        value.substr(0, space == absl::string_view::npos ? 0 : space);
    if (!absl::EqualsIgnoreCase(scheme, "Bearer")) {
      // Not a wrong secret: a client sending another scheme (Token, Basic)
      // would otherwise be told its token is unknown. Counted as a failure
      // all the same. The scheme is named only if it looks like one, so that
      // a bare secret sent without a scheme is never echoed.
      failures.RecordFailure(keys);
      const bool nameable =
          !scheme.empty() && scheme.size() <= 16 &&
          std::all_of(scheme.begin(), scheme.end(),
                      [](char c) { return absl::ascii_isalpha(c); });
      return absl::UnauthenticatedError(absl::StrCat(
          "the authorization metadata ",
          nameable ? absl::StrCat("uses the scheme '", scheme, "'")
                   : std::string("has no scheme Keyward knows"),
          "; send \"authorization: Bearer <session token>\" with a token "
          "from `keyward login`"));
    }
    value.remove_prefix(space + 1);
    std::optional<SessionTable::Session> session = sessions.Find(value);
    if (!session) {
      failures.RecordFailure(keys);
      return absl::UnauthenticatedError(
          "the session token is unknown or expired; log in again with "
          "`keyward login`");
    }
    Caller caller;
    caller.principal = absl::StrCat("apikey:", session->api_key_id);
    caller.transport_principal = transport ? transport->principal : who;
    caller.method = keyward::v1::AUTHENTICATION_METHOD_SESSION_TOKEN;
    caller.session_expires = session->expires;
    return caller;
  }
  if (transport) return std::move(*transport);
  return absl::UnauthenticatedError(
      "this call carries no identity Keyward accepts: connect over the Unix "
      "socket (your uid is your identity), with a client certificate, or "
      "with a session token from `keyward login`");
}

Authorizer::Authorizer(absl::flat_hash_set<uint32_t> bootstrap_admin_uids)
    : bootstrap_(std::move(bootstrap_admin_uids)),
      policies_(std::make_shared<const Snapshot>()) {}

void Authorizer::Reload(std::vector<keystore::PolicyRecord> policies) {
  Snapshot grants;
  grants.reserve(policies.size());
  for (keystore::PolicyRecord& p : policies) {
    Grant grant{std::move(p.principal), std::move(p.resource), {}};
    for (const std::string& name : p.operations) {
      Operation operation;
      // Unknown names grant nothing (as when they were parsed per call).
      if (ParseOperation(name, &operation)) grant.operations.push_back(operation);
    }
    grants.push_back(std::move(grant));
  }
  auto next = std::make_shared<const Snapshot>(std::move(grants));
  absl::MutexLock lock(&mu_);
  policies_ = std::move(next);
}

bool Authorizer::Grants(
    const Caller& caller, absl::string_view resource,
    const std::function<bool(Operation granted)>& enough) const {
  if (caller.unix_peer && bootstrap_.contains(caller.uid)) return true;
  std::shared_ptr<const Snapshot> policies;
  {
    absl::ReaderMutexLock lock(&mu_);
    policies = policies_;
  }
  for (const Grant& p : *policies) {
    bool principal_matches = p.principal == caller.principal;
    for (const std::string& other : caller.also_matches) {
      principal_matches = principal_matches || p.principal == other;
    }
    if (!principal_matches || !ResourceMatches(p.resource, resource)) continue;
    for (Operation granted : p.operations) {
      if (enough(granted)) return true;
    }
  }
  return false;
}

absl::Status Authorizer::Check(const Caller& caller, Operation operation,
                               absl::string_view resource) const {
  if (Grants(caller, resource,
             [operation](Operation granted) { return Implies(granted, operation); })) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(caller.principal, " may not ", OperationName(operation),
                   " on ", resource == "*" ? "the daemon" : resource,
                   "; an admin can grant it with `keyward policy grant`"));
}

bool Authorizer::HoldsAny(const Caller& caller,
                          absl::string_view resource) const {
  return Grants(caller, resource, [](Operation) { return true; });
}

std::vector<keystore::PolicyRecord> Authorizer::BuiltinPolicies() const {
  std::vector<keystore::PolicyRecord> out;
  for (uint32_t uid : bootstrap_) {
    keystore::PolicyRecord p;
    p.id = absl::StrCat("bootstrap-uid-", uid);
    p.principal = absl::StrCat("unix:uid:", uid);
    p.resource = "*";
    for (int op = keyward::v1::Operation_MIN + 1; op <= keyward::v1::Operation_MAX;
         ++op) {
      if (keyward::v1::Operation_IsValid(op)) {
        p.operations.push_back(OperationName(static_cast<Operation>(op)));
      }
    }
    p.description = "bootstrap admin (built in)";
    p.created_by = "keywardd";
    out.push_back(std::move(p));
  }
  return out;
}

namespace {

std::string NameOf(Operation operation) {
  absl::string_view name = keyward::v1::Operation_Name(operation);
  absl::ConsumePrefix(&name, "OPERATION_");
  return std::string(name);
}

}  // namespace

std::string OperationName(Operation operation) {
  // Every call names its operation in its audit record: the names are made
  // once (Operation_Name goes through the enum's descriptor).
  static const auto* names = [] {
    auto* all = new std::vector<std::string>(keyward::v1::Operation_MAX + 1);
    for (int op = 0; op <= keyward::v1::Operation_MAX; ++op) {
      if (keyward::v1::Operation_IsValid(op)) {
        (*all)[op] = NameOf(static_cast<Operation>(op));
      }
    }
    return all;
  }();
  if (operation >= 0 && operation <= keyward::v1::Operation_MAX &&
      !(*names)[operation].empty()) {
    return (*names)[operation];
  }
  return NameOf(operation);
}

bool ParseOperation(absl::string_view name, Operation* operation) {
  return keyward::v1::Operation_Parse(
             absl::StrCat("OPERATION_", absl::AsciiStrToUpper(name)),
             operation) &&
         *operation != keyward::v1::OPERATION_UNSPECIFIED;
}

absl::Status ValidateResource(absl::string_view resource) {
  if (resource == "*") return absl::OkStatus();
  absl::string_view rest = resource;
  if (absl::ConsumePrefix(&rest, "keys/") && !rest.empty()) {
    absl::ConsumeSuffix(&rest, "*");
    bool ok = true;
    for (char c : rest) {
      ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) ||
                  c == '.' || c == '_' || c == '-');
    }
    if (ok) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "policy resource '", resource,
      "' is not valid: use \"keys/NAME\", \"keys/PREFIX*\" or \"*\""));
}

}  // namespace keyward::daemon
