#include "client/client.h"
#include "client/tls_credentials.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace keyward {
namespace {

// Longest Unix socket path the kernel takes (sun_path less the NUL).
constexpr size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;

absl::StatusOr<Target> UnixTarget(absl::string_view path,
                                  absl::string_view original) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target \"", original, "\" names no socket path; use unix:///path"));
  }
  if (path.size() > kMaxUnixPath) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path \"", path, "\" is ", path.size(),
                     " bytes; Unix sockets allow at most ", kMaxUnixPath));
  }
  Target t;
  t.kind = Target::Kind::kUnix;
  t.unix_path = std::string(path);
  t.grpc_target = absl::StrCat("unix:", path);
  return t;
}

bool IsLoopbackHost(const std::string& host) {
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

absl::StatusOr<Target> TcpTarget(absl::string_view hostport,
                                 absl::string_view original) {
  std::string host;
  absl::string_view port_text;
  if (absl::StartsWith(hostport, "[")) {
    size_t close = hostport.find(']');
    if (close == absl::string_view::npos || close + 1 >= hostport.size() ||
        hostport[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat(
          "target \"", original, "\" is not [ipv6]:port"));
    }
    host = std::string(hostport.substr(1, close - 1));
    port_text = hostport.substr(close + 2);
  } else {
    size_t colon = hostport.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "target \"", original,
          "\" is neither unix:///path nor host:port (no port)"));
    }
    host = std::string(hostport.substr(0, colon));
    port_text = hostport.substr(colon + 1);
    if (absl::StrContains(host, ':')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "target \"", original, "\": write IPv6 hosts as [addr]:port"));
    }
  }
  int port = 0;
  if (host.empty() || !absl::SimpleAtoi(port_text, &port) || port < 1 ||
      port > 65535 || port_text.empty() ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return absl::ascii_isdigit(c); })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target \"", original, "\" needs a host and a port from 1 to 65535"));
  }
  Target t;
  t.kind = Target::Kind::kTcp;
  t.host = host;
  t.port = port;
  t.loopback = IsLoopbackHost(host);
  t.grpc_target = absl::StrContains(host, ':')
                      ? absl::StrCat("[", host, "]:", port)
                      : absl::StrCat(host, ":", port);
  return t;
}

const char* EnvOrEmpty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

absl::StatusOr<Target> ParseTarget(absl::string_view target) {
  absl::string_view t = absl::StripAsciiWhitespace(target);
  if (t.empty()) return absl::InvalidArgumentError("empty target");
  if (absl::StartsWith(t, "unix://")) {
    absl::string_view path = t.substr(strlen("unix://"));
    if (!path.empty() && path[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat(
          "target \"", target,
          "\": unix:// takes an absolute path (unix:///run/x.sock); use "
          "unix:rel/path for a relative one"));
    }
    return UnixTarget(path, target);
  }
  if (absl::StartsWith(t, "unix:")) {
    return UnixTarget(t.substr(strlen("unix:")), target);
  }
  if (t[0] == '/') return UnixTarget(t, target);
  if (absl::StartsWith(t, "dns:///")) {
    return TcpTarget(t.substr(strlen("dns:///")), target);
  }
  size_t scheme = t.find("://");
  if (scheme != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target \"", target, "\" has an unsupported scheme \"",
        t.substr(0, scheme), "\"; use unix:///path or host:port"));
  }
  return TcpTarget(t, target);
}

std::string SelectTarget(absl::string_view explicit_target,
                         absl::string_view keyward_addr_env,
                         absl::string_view xdg_runtime_dir_env) {
  if (!explicit_target.empty()) return std::string(explicit_target);
  if (!keyward_addr_env.empty()) return std::string(keyward_addr_env);
  if (!xdg_runtime_dir_env.empty()) {
    return absl::StrCat("unix://", xdg_runtime_dir_env,
                        "/keyward/keyward.sock");
  }
  return absl::StrCat("unix://", kDefaultSystemSocket);
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

bool ShouldRetry(Idempotency idempotency, absl::StatusCode code, int attempt,
                 const RetryPolicy& policy) {
  return idempotency == Idempotency::kIdempotent &&
         code == absl::StatusCode::kUnavailable &&
         attempt < policy.max_attempts;
}

absl::Duration BackoffDelay(const RetryPolicy& policy, int attempt) {
  double factor = std::pow(policy.multiplier, std::max(0, attempt - 1));
  absl::Duration d = policy.initial_backoff * factor;
  return std::min(d, policy.max_backoff);
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout must be positive");
  }
  if (options.stream_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("stream timeout must be positive");
  }
  if (options.retry.max_attempts < 1) {
    return absl::InvalidArgumentError("retry.max_attempts must be at least 1");
  }
  std::string chosen = SelectTarget(options.target, EnvOrEmpty("KEYWARD_ADDR"),
                                    EnvOrEmpty("XDG_RUNTIME_DIR"));
  absl::StatusOr<Target> target = ParseTarget(chosen);
  if (!target.ok()) return target.status();
  grpc::ChannelArguments args;
  // The API's own message limit (common.proto); the default receive limit.
  args.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (options.tls.has_value()) {
    if (target->kind != Target::Kind::kTcp) {
      return absl::InvalidArgumentError(
          "TLS options apply to host:port targets, not Unix sockets");
    }
    auto tls = TlsChannelCredentials(*options.tls, &args);
    if (!tls.ok()) return tls.status();
    credentials = *tls;
  } else if (target->kind == Target::Kind::kTcp && !target->loopback) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plaintext TCP is allowed only to loopback hosts; ", target->host,
        " needs TLS (--tls-ca, and --tls-cert/--tls-key for mutual TLS)"));
  }
  options.target = chosen;
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target->grpc_target, credentials, args);
  return std::unique_ptr<Client>(
      new Client(std::move(options), *std::move(target), std::move(channel)));
}

Client::Client(ClientOptions options, Target target,
               std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      target_(std::move(target)),
      channel_(std::move(channel)),
      health_(grpc::health::v1::Health::NewStub(channel_)),
      system_(v1::SystemService::NewStub(channel_)),
      keys_(v1::KeyService::NewStub(channel_)),
      crypto_(v1::CryptoService::NewStub(channel_)),
      jwt_(v1::JwtService::NewStub(channel_)),
      access_(v1::AccessService::NewStub(channel_)) {}

Client::~Client() = default;

void Client::PrepareContext(grpc::ClientContext* context,
                            absl::Time deadline) const {
  if (deadline != absl::InfiniteFuture()) {
    context->set_deadline(absl::ToChronoTime(deadline));
  }
  if (!options_.session_token.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", options_.session_token));
  }
}

namespace {

// Streamed<Request>: how a unary request travels as a StreamItem under
// ClientOptions.coalesce (kYes), and its answer comes back; kYes is false
// for every other request.
template <typename Request>
struct Streamed {
  static constexpr bool kYes = false;
};

#define KEYWARD_CLIENT_STREAMED_(Method, field)                            \
  template <>                                                              \
  struct Streamed<v1::Method##Request> {                                   \
    static constexpr bool kYes = true;                                     \
    static void Put(const v1::Method##Request& request,                    \
                    v1::StreamItem* item) {                                \
      *item->mutable_##field() = request;                                  \
    }                                                                      \
    static bool Take(v1::StreamResult* result,                             \
                     v1::Method##Response* response) {                     \
      if (!result->has_##field()) return false;                            \
      response->Swap(result->mutable_##field());                           \
      return true;                                                         \
    }                                                                      \
  };
KEYWARD_CLIENT_STREAMED_(Sign, sign)
KEYWARD_CLIENT_STREAMED_(Verify, verify)
KEYWARD_CLIENT_STREAMED_(Encrypt, encrypt)
KEYWARD_CLIENT_STREAMED_(Decrypt, decrypt)
KEYWARD_CLIENT_STREAMED_(Mac, mac)
KEYWARD_CLIENT_STREAMED_(VerifyMac, verify_mac)
KEYWARD_CLIENT_STREAMED_(SignJwt, sign_jwt)
KEYWARD_CLIENT_STREAMED_(VerifyJwt, verify_jwt)
#undef KEYWARD_CLIENT_STREAMED_

}  // namespace

std::shared_ptr<StreamMux> Client::Mux() {
  std::shared_ptr<StreamMux> ended;  // destroyed outside the lock
  absl::MutexLock lock(&mux_mu_);
  if (mux_ == nullptr || mux_->ended()) {
    ended = std::move(mux_);
    mux_ = std::make_shared<StreamMux>(channel_, options_.session_token);
  }
  return mux_;
}

template <typename Request, typename Response>
absl::Status Client::Coalesced(const Request& request, absl::Time deadline,
                               Response* response) {
  v1::StreamItem item;
  Streamed<Request>::Put(request, &item);
  absl::StatusOr<v1::StreamResult> result =
      Mux()->CallSync(std::move(item), deadline);
  if (!result.ok()) {  // the stream's status (or the deadline)
    if (result.status().code() == absl::StatusCode::kUnimplemented) {
      stream_unsupported_.store(true);
    }
    return result.status();
  }
  if (result->status().code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(result->status().code()),
                        result->status().message());
  }
  if (!Streamed<Request>::Take(&*result, response)) {
    return absl::InternalError(
        "the daemon answered a stream item with a result of another kind");
  }
  return absl::OkStatus();
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Client::Unary(
    Stub* stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    const Request& request, Idempotency idempotency) {
  const absl::Time deadline = absl::Now() + options_.timeout;
  for (int attempt = 1;; ++attempt) {
    Response response;
    absl::Status status;
    bool sent = false;
    if constexpr (Streamed<Request>::kYes) {
      if (options_.coalesce && !stream_unsupported_.load()) {
        status = Coalesced(request, deadline, &response);
        sent = !stream_unsupported_.load();  // else: unary below
      }
    }
    if (!sent) {
      grpc::ClientContext context;
      PrepareContext(&context, deadline);
      status = FromGrpcStatus((stub->*method)(&context, request, &response));
    }
    if (status.ok()) return response;
    if (!ShouldRetry(idempotency, status.code(), attempt, options_.retry)) {
      return status;
    }
    absl::Duration pause = BackoffDelay(options_.retry, attempt);
    if (absl::Now() + pause >= deadline) return status;
    absl::SleepFor(pause);
  }
}

// --- health ---

absl::StatusOr<grpc::health::v1::HealthCheckResponse> Client::CheckHealth(
    const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  return Unary(health_.get(), &grpc::health::v1::Health::Stub::Check, request,
               Idempotency::kIdempotent);
}

// --- SystemService ---

absl::StatusOr<v1::GetStatusResponse> Client::GetStatus() {
  return Unary(system_.get(), &v1::SystemService::Stub::GetStatus,
               v1::GetStatusRequest(), Idempotency::kIdempotent);
}

absl::StatusOr<v1::SealResponse> Client::Seal() {
  return Unary(system_.get(), &v1::SystemService::Stub::Seal,
               v1::SealRequest(), Idempotency::kStateChanging);
}

absl::StatusOr<v1::RotateAuditLogResponse> Client::RotateAuditLog() {
  return Unary(system_.get(), &v1::SystemService::Stub::RotateAuditLog,
               v1::RotateAuditLogRequest(), Idempotency::kStateChanging);
}

// Unary calls whose retry rule depends on nothing but the method. Comments
// say why a call that changes nothing is still not retried.
#define KEYWARD_CLIENT_UNARY_(stub, Service, Method, idempotency)         \
  absl::StatusOr<v1::Method##Response> Client::Method(                   \
      const v1::Method##Request& request) {                              \
    return Unary(stub.get(), &v1::Service::Stub::Method, request,        \
                 Idempotency::idempotency);                              \
  }

// Not retried: failures count against the auth-failure rate limit.
KEYWARD_CLIENT_UNARY_(system_, SystemService, Unseal, kStateChanging)
KEYWARD_CLIENT_UNARY_(system_, SystemService, ChangePassphrase, kStateChanging)
KEYWARD_CLIENT_UNARY_(system_, SystemService, VerifyAuditLog, kIdempotent)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, CreateKey, kStateChanging)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, GetKey, kIdempotent)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, ListKeys, kIdempotent)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, UpdateKey, kStateChanging)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, RotateKey, kStateChanging)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, ListKeyVersions, kIdempotent)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, GetKeyVersion, kIdempotent)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, DisableKeyVersion, kStateChanging)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, EnableKeyVersion, kStateChanging)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, DestroyKeyVersion, kStateChanging)
KEYWARD_CLIENT_UNARY_(keys_, KeyService, ImportKey, kStateChanging)
// Changes no key, but each export is an audited disclosure: do it once.
KEYWARD_CLIENT_UNARY_(keys_, KeyService, ExportKey, kStateChanging)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, Sign, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, Verify, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, Encrypt, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, Decrypt, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, Mac, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, VerifyMac, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, GenerateDataKey, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, ReEncrypt, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, GetPublicKey, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, Box, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, BoxOpen, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, BatchSign, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, BatchVerify, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, BatchEncrypt, kIdempotent)
KEYWARD_CLIENT_UNARY_(crypto_, CryptoService, BatchDecrypt, kIdempotent)
KEYWARD_CLIENT_UNARY_(jwt_, JwtService, VerifyJwt, kIdempotent)
KEYWARD_CLIENT_UNARY_(jwt_, JwtService, GetJwks, kIdempotent)
KEYWARD_CLIENT_UNARY_(jwt_, JwtService, DecryptJwe, kIdempotent)
KEYWARD_CLIENT_UNARY_(jwt_, JwtService, GetTokenRecord, kIdempotent)
KEYWARD_CLIENT_UNARY_(jwt_, JwtService, RevokeToken, kStateChanging)
KEYWARD_CLIENT_UNARY_(jwt_, JwtService, ListTokenRecords, kIdempotent)
KEYWARD_CLIENT_UNARY_(access_, AccessService, CreatePolicy, kStateChanging)
KEYWARD_CLIENT_UNARY_(access_, AccessService, DeletePolicy, kStateChanging)
KEYWARD_CLIENT_UNARY_(access_, AccessService, ListPolicies, kIdempotent)
KEYWARD_CLIENT_UNARY_(access_, AccessService, CreateApiKey, kStateChanging)
KEYWARD_CLIENT_UNARY_(access_, AccessService, RevokeApiKey, kStateChanging)
KEYWARD_CLIENT_UNARY_(access_, AccessService, ListApiKeys, kIdempotent)
// Not retried: it makes a session, and failures are rate-limited.
KEYWARD_CLIENT_UNARY_(access_, AccessService, Login, kStateChanging)
#undef KEYWARD_CLIENT_UNARY_

absl::StatusOr<v1::BackupInfo> Client::CreateBackup(
    const std::function<absl::Status(absl::string_view chunk)>& sink) {
  grpc::ClientContext context;
  PrepareContext(&context, absl::Now() + options_.stream_timeout);
  std::unique_ptr<grpc::ClientReader<v1::CreateBackupResponse>> reader =
      system_->CreateBackup(&context, v1::CreateBackupRequest());
  v1::CreateBackupResponse message;
  v1::BackupInfo info;
  bool first = true;
  while (reader->Read(&message)) {
    if (first) {
      info = message.info();
      first = false;
    }
    absl::Status s = sink(message.data());
    if (!s.ok()) {
      context.TryCancel();
      reader->Finish();
      return s;
    }
  }
  absl::Status status = FromGrpcStatus(reader->Finish());
  if (!status.ok()) return status;
  if (first) {
    return absl::DataLossError("the daemon sent an empty backup stream");
  }
  return info;
}

absl::StatusOr<v1::RestoreBackupResponse> Client::RestoreBackup(
    const std::string& passphrase, bool replace_existing,
    const std::function<absl::StatusOr<std::string>()>& next_chunk) {
  grpc::ClientContext context;
  PrepareContext(&context, absl::Now() + options_.stream_timeout);
  v1::RestoreBackupResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::RestoreBackupRequest>> writer =
      system_->RestoreBackup(&context, &response);
  v1::RestoreBackupRequest message;
  message.set_passphrase(passphrase);
  message.set_replace_existing(replace_existing);
  bool first = true;
  while (true) {
    absl::StatusOr<std::string> chunk = next_chunk();
    if (!chunk.ok()) {
      context.TryCancel();
      writer->Finish();
      return chunk.status();
    }
    if (chunk->empty() && !first) break;
    *message.mutable_data() = *std::move(chunk);
    bool written = writer->Write(message);
    if (first) {
      // The passphrase goes in the first message only; wipe our copy.
      std::string* p = message.mutable_passphrase();
      explicit_bzero(p->data(), p->size());
      message.clear_passphrase();
      message.clear_replace_existing();
      first = false;
    }
    if (!written || message.data().empty()) break;  // stream broken, or EOF
  }
  writer->WritesDone();
  absl::Status status = FromGrpcStatus(writer->Finish());
  if (!status.ok()) return status;
  return response;
}

absl::Status Client::ReadAuditLog(
    const v1::ReadAuditLogRequest& request,
    const std::function<bool(const v1::ReadAuditLogResponse&)>& on_records) {
  grpc::ClientContext context;
  PrepareContext(&context, request.follow()
                               ? absl::InfiniteFuture()
                               : absl::Now() + options_.stream_timeout);
  std::unique_ptr<grpc::ClientReader<v1::ReadAuditLogResponse>> reader =
      system_->ReadAuditLog(&context, request);
  v1::ReadAuditLogResponse message;
  while (reader->Read(&message)) {
    if (!on_records(message)) {
      context.TryCancel();
      reader->Finish();
      return absl::OkStatus();
    }
  }
  return FromGrpcStatus(reader->Finish());
}

// --- JwtService ---

absl::StatusOr<v1::SignJwtResponse> Client::SignJwt(
    const v1::SignJwtRequest& request) {
  return Unary(jwt_.get(), &v1::JwtService::Stub::SignJwt, request,
               request.has_record() ? Idempotency::kStateChanging
                                    : Idempotency::kIdempotent);
}

absl::StatusOr<v1::EncryptJweResponse> Client::EncryptJwe(
    const v1::EncryptJweRequest& request) {
  bool records = request.has_nested_jwt() && request.nested_jwt().has_record();
  return Unary(jwt_.get(), &v1::JwtService::Stub::EncryptJwe, request,
               records ? Idempotency::kStateChanging
                       : Idempotency::kIdempotent);
}

absl::StatusOr<v1::WhoAmIResponse> Client::WhoAmI() {
  return Unary(access_.get(), &v1::AccessService::Stub::WhoAmI,
               v1::WhoAmIRequest(), Idempotency::kIdempotent);
}

}  // namespace keyward
