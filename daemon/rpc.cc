#include "daemon/rpc.h"

#include <atomic>
#include <cstdint>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/audited_change.h"
#include "daemon/log.h"
#include "keystore/crypto/random.h"

namespace keyward::daemon {
namespace {

// A generated request id is 16 hex digits: a random 64-bit value drawn once
// per process plus a call counter. Ids are unique within a process and
// unlikely to repeat across restarts; they correlate records, they are not
// secrets (a caller may choose its own with x-request-id). Drawing 8 random
// bytes per call instead cost about 6% of the daemon's CPU per noop call
// (OpenSSL's DRBG, its locks and its fork check).
uint64_t NextGeneratedId() {
  static const uint64_t base = [] {
    const std::string seed = crypto::RandomBytes(sizeof(uint64_t));
    uint64_t value = 0;
    std::memcpy(&value, seed.data(), sizeof(value));
    return value;
  }();
  static std::atomic<uint64_t> counter{0};
  return base + counter.fetch_add(1, std::memory_order_relaxed);
}

std::string RequestId(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("x-request-id");
  if (it != metadata.end() && it->second.size() <= 128) {
    return std::string(it->second.data(), it->second.size());
  }
  uint64_t id = NextGeneratedId();
  std::string out(16, '0');
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, id >>= 4) out[i] = kHex[id & 0xf];
  return out;
}

}  // namespace

absl::Status Rpc::Identify() {
  auto caller = daemon::Identify(*context_, *env_.peers, *env_.sessions,
                                 *env_.failures);
  if (!caller.ok()) {
    caller_.principal = "anonymous";
    identified_ = caller.status();
    // No credentials at all (not a refused token, not a rate limit).
    anonymous_ = absl::IsUnauthenticated(caller.status()) &&
                 context_->client_metadata().count("authorization") == 0;
    if (anonymous_) {
      caller_.method = keyward::v1::AUTHENTICATION_METHOD_ANONYMOUS;
    }
  } else {
    caller_ = std::move(*caller);
    identified_ = absl::OkStatus();
  }
  // A connection that closed before we looked may have had its descriptor
  // reused; its calls are cancelled, so nothing is answered under another
  // identity (see unix_listener.h).
  if (identified_.ok() && context_->IsCancelled()) {
    identified_ = absl::CancelledError("the caller went away");
  }
  return identified_;
}

absl::Status Rpc::Prepare(keyward::v1::Operation operation,
                          const absl::StatusOr<std::string>& resource,
                          bool authorize) {
  if (!identified_.ok()) return identified_;
  if (env_.draining && env_.draining->load(std::memory_order_relaxed)) {
    return absl::UnavailableError(
        "keywardd is shutting down; retry in a moment or against another "
        "instance");
  }
  absl::Status allowed = env_.requests->Allow(caller_.principal);
  if (!allowed.ok()) return allowed;
  if (!resource.ok()) return resource.status();
  if (env_.keystore->sealed()) {
    return absl::UnavailableError(
        "keywardd is sealed: it holds no keys until it is unsealed with the "
        "passphrase (`keyward unseal`)");
  }
  if (env_.follower != nullptr) {
    const absl::Duration lag = env_.follower->Lag();
    if (lag > env_.max_staleness) {
      return absl::UnavailableError(absl::StrCat(
          "this keywardd replica has not caught up with the database's "
          "change feed for ",
          absl::FormatDuration(absl::Trunc(lag, absl::Milliseconds(1))),
          " (bound: ", absl::FormatDuration(env_.max_staleness),
          "), so it cannot tell whether another replica revoked what this "
          "call needs; retry, or use another replica"));
    }
  }
  if (!authorize) return absl::OkStatus();
  return env_.authorizer->Check(caller_, operation, *resource);
}

AuditEntry Rpc::Entry(keyward::v1::Operation operation,
                      const std::string& resource) {
  AuditEntry entry;
  entry.principal = caller_.principal;
  entry.method = std::string(method_);
  entry.operation = OperationName(operation);
  entry.resource = resource;
  // One id for the call: the items of a batch share it.
  entry.request_id = request_id();
  return entry;
}

const std::string& Rpc::request_id() {
  if (request_id_.empty()) request_id_ = RequestId(*context_);
  return request_id_;
}

absl::Status Rpc::Complete(keyward::v1::Operation operation,
                           const std::string& resource, absl::Status status,
                           absl::FunctionRef<absl::Status(int32_t*)> body,
                           bool record_required) {
  if (status.ok() && deferred_ == nullptr && record_required) {
    return RunAudited(*env_.audit, Entry(operation, resource), body, undo_,
                      &note_);
  }
  int32_t version = 0;
  if (status.ok()) status = body(&version);
  AuditEntry entry = Entry(operation, resource);
  if (deferred_ == nullptr) {
    if (!record_required) {
      // Answered either way; not counted among refused calls in an outage.
      if (env_.audit->health().writable) {
        AppendOutcome(*env_.audit, std::move(entry), version, status)
            .IgnoreError();
      }
      return status;
    }
    return AppendOutcome(*env_.audit, std::move(entry), version, status);
  }
  // A batch item: the data plane, which changes no storage; Batch appends
  // every item's record before answering.
  entry.version = version;
  entry.code = absl::StatusCodeToString(status.code());
  deferred_->push_back(std::move(entry));
  return status;
}

grpc::ServerUnaryReactor* Rpc::Finish(const absl::Status& status) {
  answer_ = status;
  // The database failed the call (down, or a statement or lock past its
  // timeout): say so in the log as well as to the caller.
  if (absl::IsUnavailable(status) &&
      absl::StrContains(status.message(), "PostgreSQL")) {
    LogWarning("storage_unavailable",
               {{"method", method_}, {"error", std::string(status.message())}});
  }
  grpc::ServerUnaryReactor* reactor = context_->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

absl::Status TooLarge(absl::string_view field, size_t size, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " is ", size, " bytes; at most ", limit, " allowed"));
}

}  // namespace keyward::daemon
