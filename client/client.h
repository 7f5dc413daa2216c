// keyward::Client: the C++ client library of Keyward, a thin, thread-safe
// layer over the generated keyward.v1 gRPC stubs.
//
// What it adds to the stubs, and nothing more:
//   - target resolution (explicit target, else $KEYWARD_ADDR, else the
//     default socket), with plaintext allowed only on a Unix socket or
//     loopback TCP;
//   - a deadline on every call (10 s by default);
//   - retries with exponential backoff, only on UNAVAILABLE and only for
//     calls that change no state (reads and pure crypto: Sign, Verify,
//     Encrypt, Decrypt, Mac, ...); never for CreateKey, RotateKey, version
//     state changes, policies, API keys, Login, Unseal or anything else that
//     changes state;
//   - grpc::Status converted to absl::Status with the same code and message.
//
// It holds no key material: requests and responses pass through, nothing is
// cached. Secrets a caller passes in (passphrases, API key secrets, imported
// key material) live only in the request messages the caller owns.
//
// Usage:
//
//   keyward::ClientOptions options;           // target from $KEYWARD_ADDR or
//   options.target = "unix:///run/kw.sock";   // the default socket if empty
//   auto client = keyward::Client::Create(options);
//   if (!client.ok()) return client.status();
//
//   keyward::v1::SignRequest req;
//   req.set_name("keys/release-signing");
//   req.set_data(artifact_bytes);
//   absl::StatusOr<keyward::v1::SignResponse> sig = (*client)->Sign(req);
//   if (!sig.ok()) return sig.status();       // e.g. NOT_FOUND, PERMISSION_DENIED
//   Store(sig->signature());                  // self-describing; pass to Verify
//
// Thread safety: a Client is safe to use from many threads at once; calls
// share one gRPC channel.
#ifndef KEYWARD_CLIENT_CLIENT_H_
#define KEYWARD_CLIENT_CLIENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/client_interface.h"
#include "client/stream_mux.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/jwt_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"

namespace keyward {

// kDefaultSystemSocket is the socket used when no target is given, neither
// $KEYWARD_ADDR nor $XDG_RUNTIME_DIR is set: the packaged daemon's
// (/etc/keyward/keywardd.textproto; keywardd.service's RuntimeDirectory).
inline constexpr char kDefaultSystemSocket[] = "/run/keyward/keyward.sock";

// TlsOptions configure TLS / mutual TLS to a remote daemon over TCP (the
// default build; the BoringSSL build answers UNIMPLEMENTED).
struct TlsOptions {
  // PEM file of the CA certificates that sign the daemon's certificate.
  // Empty: the system roots.
  std::string ca_file;
  // PEM file of the client certificate chain, for mTLS (the daemon takes
  // the identity from its spiffe:// URI SAN or subject). Empty: server-only
  // TLS, and the caller is anonymous unless it logs in.
  std::string cert_file;
  // PEM file of the client certificate's private key; required with
  // cert_file.
  std::string key_file;
  // Name to check the daemon's certificate against instead of the target's
  // host. Empty: the host.
  std::string server_name;
};

// RetryPolicy is how idempotent calls are retried on UNAVAILABLE. The delay
// before attempt n+1 is initial_backoff * multiplier^(n-1), capped at
// max_backoff; no retry is started that could not finish before the call's
// deadline.
struct RetryPolicy {
  // Total attempts, first one included; 1 disables retries.
  int max_attempts = 3;
  absl::Duration initial_backoff = absl::Milliseconds(50);
  double multiplier = 2.0;
  absl::Duration max_backoff = absl::Seconds(1);
};

// ClientOptions configure Client::Create.
struct ClientOptions {
  // Where the daemon listens: "unix:///abs/path", "unix:/abs/path",
  // "unix:rel/path", an absolute path "/abs/path" (a Unix socket), or
  // "host:port" ("[::1]:port" for IPv6). Empty: $KEYWARD_ADDR, else
  // $XDG_RUNTIME_DIR/keyward/keyward.sock if XDG_RUNTIME_DIR is set, else
  // kDefaultSystemSocket. Plaintext TCP is allowed to loopback hosts only
  // (localhost, 127.0.0.0/8, ::1).
  std::string target;
  // Deadline of each unary call, retries included. Must be positive.
  absl::Duration timeout = absl::Seconds(10);
  // Deadline of CreateBackup and RestoreBackup streams, and of
  // ReadAuditLog unless it follows (a following read has none).
  absl::Duration stream_timeout = absl::Minutes(10);
  RetryPolicy retry;
  // TLS for TCP targets; see TlsOptions.
  std::optional<TlsOptions> tls;
  // A session token from Login, sent as "authorization: Bearer <token>" on
  // every call; calls then run as "apikey:{id}". Empty: none.
  std::string session_token;
  // Coalescing: when true, Sign, Verify, Encrypt, Decrypt, Mac, VerifyMac,
  // SignJwt and VerifyJwt travel as items of one shared
  // DataPlaneService.Stream (keyward::StreamMux, opened on first use and
  // replaced when it fails) instead of one unary call each, so that calls
  // made concurrently from many threads go out together (no timer: an item
  // waits at most for the write before it, or for the callbacks of the
  // results just read; see stream_mux.h). Results, error codes and the
  // retry rule are the unary calls'; the daemon authorizes and audits each
  // item as its unary call (audit method "DataPlaneService/Stream/Sign",
  // ...). At most 256 items are outstanding (the daemon's per-stream
  // bound): a call beyond waits for room within its deadline. The deadline
  // bounds the wait for the answer, not an item already sent. A daemon
  // without the stream (UNIMPLEMENTED) gets unary calls from then on.
  bool coalesce = false;
};

// Target is a parsed, validated daemon address.
struct Target {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  // The address as handed to gRPC, e.g. "unix:/run/kw.sock" or
  // "127.0.0.1:7443".
  std::string grpc_target;
  // Unix: the socket path. TCP: empty.
  std::string unix_path;
  // TCP: the host (without IPv6 brackets) and port. Unix: empty and 0.
  std::string host;
  int port = 0;
  // TCP: true if host is loopback.
  bool loopback = false;
};

// ParseTarget parses and validates `target` (forms as ClientOptions.target,
// which must be non-empty here). Returns INVALID_ARGUMENT naming what is
// wrong (empty path, bad port, unknown scheme).
absl::StatusOr<Target> ParseTarget(absl::string_view target);

// SelectTarget picks the target string: `explicit_target` if non-empty,
// else `keyward_addr_env` if non-empty, else
// "unix://{xdg_runtime_dir_env}/keyward/keyward.sock" if that is non-empty,
// else "unix://" + kDefaultSystemSocket. Pure, for tests; Create passes the
// environment.
std::string SelectTarget(absl::string_view explicit_target,
                         absl::string_view keyward_addr_env,
                         absl::string_view xdg_runtime_dir_env);

// FromGrpcStatus converts a gRPC status to an absl::Status with the same
// code and message (OK stays OK).
absl::Status FromGrpcStatus(const grpc::Status& status);

// Idempotency says whether a call may be repeated without changing state.
enum class Idempotency { kIdempotent, kStateChanging };

// ShouldRetry reports whether attempt number `attempt` (from 1) that failed
// with `code` is retried under `policy`: only idempotent calls, only on
// UNAVAILABLE, and only while attempt < policy.max_attempts.
bool ShouldRetry(Idempotency idempotency, absl::StatusCode code, int attempt,
                 const RetryPolicy& policy);

// BackoffDelay is the pause after failed attempt `attempt` (from 1):
// initial_backoff * multiplier^(attempt-1), capped at max_backoff.
absl::Duration BackoffDelay(const RetryPolicy& policy, int attempt);

// Client talks to one keywardd; it implements ClientInterface (see
// client/client_interface.h for the contract of every call) over one gRPC
// channel. Transport failures are UNAVAILABLE (daemon not running, wrong
// socket path) or DEADLINE_EXCEEDED (no answer within the timeout).
//
// Retries (on UNAVAILABLE only, see RetryPolicy): CheckHealth, GetStatus,
// VerifyAuditLog, the KeyService reads (GetKey, ListKeys, ListKeyVersions,
// GetKeyVersion), every CryptoService call (none changes state), VerifyJwt,
// GetJwks, DecryptJwe, GetTokenRecord, ListTokenRecords, SignJwt and
// EncryptJwe without a token record, ListPolicies, ListApiKeys and WhoAmI.
// Never: anything that changes state (CreateKey, RotateKey, version state
// changes, ImportKey, ExportKey, policies, API keys, Login, Unseal, Seal,
// ChangePassphrase, RevokeToken, backups).
//
// CreateBackup and RestoreBackup have options.stream_timeout as deadline;
// ReadAuditLog too, unless request.follow() (then it has none).
class Client : public ClientInterface {
 public:
  // Create validates `options` and builds the channel; it does not connect
  // (the first call does). Errors: INVALID_ARGUMENT (bad target, timeout not
  // positive, max_attempts < 1); FAILED_PRECONDITION (plaintext TCP to a
  // non-loopback host); UNIMPLEMENTED (options.tls set in the BoringSSL
  // build).
  static absl::StatusOr<std::unique_ptr<Client>> Create(
      ClientOptions options = ClientOptions());

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() override;

  // target is where this client connects.
  const Target& target() const { return target_; }
  const ClientOptions& options() const { return options_; }

  absl::StatusOr<grpc::health::v1::HealthCheckResponse> CheckHealth(
      const std::string& service = "") override;
  absl::StatusOr<v1::GetStatusResponse> GetStatus() override;
  absl::StatusOr<v1::SealResponse> Seal() override;
  absl::StatusOr<v1::RotateAuditLogResponse> RotateAuditLog() override;
  absl::StatusOr<v1::WhoAmIResponse> WhoAmI() override;
  absl::StatusOr<v1::BackupInfo> CreateBackup(
      const std::function<absl::Status(absl::string_view chunk)>& sink)
      override;
  absl::StatusOr<v1::RestoreBackupResponse> RestoreBackup(
      const std::string& passphrase, bool replace_existing,
      const std::function<absl::StatusOr<std::string>()>& next_chunk)
      override;
  absl::Status ReadAuditLog(
      const v1::ReadAuditLogRequest& request,
      const std::function<bool(const v1::ReadAuditLogResponse&)>& on_records)
      override;
#define KEYWARD_CLIENT_DECLARE_OVERRIDE_(Method) \
  absl::StatusOr<v1::Method##Response> Method(    \
      const v1::Method##Request& request) override;
  KEYWARD_CLIENT_UNARY_RPCS(KEYWARD_CLIENT_DECLARE_OVERRIDE_)
#undef KEYWARD_CLIENT_DECLARE_OVERRIDE_

 private:
  Client(ClientOptions options, Target target,
         std::shared_ptr<grpc::Channel> channel);

  // Unary makes one unary call through `method` of `stub`, with the
  // deadline, metadata and retry policy above.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Unary(
      Stub* stub,
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                   Response*),
      const Request& request, Idempotency idempotency);

  // Coalesced makes one attempt of a streamed call (options.coalesce) over
  // the shared stream: the item's status or the stream's.
  template <typename Request, typename Response>
  absl::Status Coalesced(const Request& request, absl::Time deadline,
                         Response* response);
  // Mux is the shared stream, opened (or replaced, if it ended) here.
  std::shared_ptr<StreamMux> Mux();

  // PrepareContext sets the deadline and the session token on `context`.
  void PrepareContext(grpc::ClientContext* context, absl::Time deadline) const;

  const ClientOptions options_;
  const Target target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::unique_ptr<v1::SystemService::Stub> system_;
  std::unique_ptr<v1::KeyService::Stub> keys_;
  std::unique_ptr<v1::CryptoService::Stub> crypto_;
  std::unique_ptr<v1::JwtService::Stub> jwt_;
  std::unique_ptr<v1::AccessService::Stub> access_;
  // options.coalesce: the shared stream, and whether the daemon lacks it.
  absl::Mutex mux_mu_;
  std::shared_ptr<StreamMux> mux_ ABSL_GUARDED_BY(mux_mu_);
  std::atomic<bool> stream_unsupported_{false};
};

// --- Paging ---
//
// Every List* call (ListKeys, ListKeyVersions, ListPolicies, ListApiKeys,
// ListTokenRecords) returns one page and a next_page_token; the helpers
// below drain them. `list` is any callable taking `const Request&` and
// returning absl::StatusOr<Response>, e.g.
//
//   absl::StatusOr<v1::ListKeysResponse> all = keyward::ListAll(
//       request, [&](const v1::ListKeysRequest& r) { return api.ListKeys(r); });

// kMaxPages bounds how many pages a helper fetches: a daemon that keeps
// answering with new page tokens cannot make it loop forever.
inline constexpr int kMaxPages = 100000;

// ForEachPage calls `list(request)`, hands the page to `on_page`, and then
// calls again with the page's next_page_token set as request.page_token,
// until a page has an empty next_page_token or `on_page` returns false.
// `request.page_token()` is where it starts (usually empty). Returns OK, the
// first failed call's status, or INTERNAL if the daemon hands back the
// token it was given or more than kMaxPages pages come.
template <typename Request, typename List, typename OnPage>
absl::Status ForEachPage(Request request, List&& list, OnPage&& on_page) {
  for (int pages = 1;; ++pages) {
    auto page = list(static_cast<const Request&>(request));
    if (!page.ok()) return page.status();
    std::string next = page->next_page_token();
    if (!on_page(*page) || next.empty()) return absl::OkStatus();
    if (next == request.page_token() || pages >= kMaxPages) {
      return absl::InternalError("the daemon repeated a page token");
    }
    request.set_page_token(std::move(next));
  }
}

// ListAll drains every page (as ForEachPage) into one response: the
// repeated fields of all pages in order, next_page_token empty. Errors as
// ForEachPage; no partial result is returned.
template <typename Request, typename List>
auto ListAll(Request request, List&& list)
    -> std::decay_t<decltype(list(request))> {
  using Response = typename std::decay_t<decltype(list(request))>::value_type;
  Response all;
  absl::Status status = ForEachPage(std::move(request), list,
                                    [&](Response& page) {
                                      page.clear_next_page_token();
                                      all.MergeFrom(page);
                                      return true;
                                    });
  if (!status.ok()) return status;
  return all;
}

}  // namespace keyward

#endif  // KEYWARD_CLIENT_CLIENT_H_
