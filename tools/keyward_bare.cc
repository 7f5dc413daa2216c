// keyward-bare: the floor under keyward-bench's figures. A gRPC server with
// keywardd's contract, its gRPC callback API and its Unix-socket listener,
// whose handlers do only the cryptography of keyward-bench's raw baseline
// (a): no caller identification, no policy, no audit record, no keystore
// (keys live in a map, in memory, in the clear). It is NOT a product: it
// exists so that `keyward-bench --compare` run against it shows what
// gRPC itself costs on the machine, and so what share of the distance to
// issue 7's bars is Keyward's own.
//
//   keyward-bare --socket /tmp/bare.sock &
//   keyward-bench --target unix:///tmp/bare.sock --op sign --key-type ed25519 --compare
//
// Served: SystemService/GetStatus, KeyService/CreateKey (ed25519,
// ecdsa-p256, rsa-2048, aes256-gcm), AccessService/WhoAmI (noop),
// CryptoService/Sign, Encrypt, Decrypt, BatchSign, JwtService/SignJwt, and
// grpc.health.v1.Health. Everything else answers UNIMPLEMENTED. With
// --async_threads, of AccessService and CryptoService only WhoAmI and Sign.
// SignResponse.signature holds the raw signature (keywardd's holds its
// envelope).

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "daemon/unix_listener.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jws.h"
#include "keystore/jose/jwt.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/jwt_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "openssl/crypto.h"

ABSL_FLAG(std::string, socket, "", "the Unix socket to listen on");
ABSL_FLAG(int, async_threads, 0,
          "serve AccessService and CryptoService on gRPC's async API instead, "
          "with this many threads, one completion queue each: WhoAmI and Sign "
          "only (their other methods are never answered: calls wait for their "
          "deadline); 0: the callback API, as keywardd");

namespace {

namespace pb = ::keyward::v1;
namespace crypto = ::keyward::crypto;
namespace jose = ::keyward::jose;

// A key as keyward-bench uses it: the signer with the algorithm keywardd
// gives the type by default, the JWS key (ES256 for P-256), or the AEAD.
struct Key {
  std::shared_ptr<const crypto::Signer> signer;
  std::optional<jose::JwsSigningKey> jws;
  std::unique_ptr<crypto::Aead> aead;
};

class Keys {
 public:
  grpc::Status Create(const pb::CreateKeyRequest& request) {
    auto key = std::make_shared<Key>();
    const pb::KeyType proto = request.key().key_type();
    const bool jwt = request.key().purpose() == pb::KEY_PURPOSE_JWT;
    if (proto == pb::KEY_TYPE_AES256_GCM) {
      auto aead = crypto::AesGcm::Create(crypto::SecretData::Random(32));
      if (!aead.ok()) return Internal(aead.status());
      key->aead = std::move(*aead);
    } else {
      crypto::KeyType type;
      crypto::SignatureAlgorithm alg;
      switch (proto) {
        case pb::KEY_TYPE_ED25519:
          type = crypto::KeyType::kEd25519;
          alg = crypto::SignatureAlgorithm::kEd25519;
          break;
        case pb::KEY_TYPE_ECDSA_P256:
          type = crypto::KeyType::kEcdsaP256;
          alg = jwt ? crypto::SignatureAlgorithm::kEcdsaP256Sha256P1363
                    : crypto::SignatureAlgorithm::kEcdsaP256Sha256Der;
          break;
        case pb::KEY_TYPE_RSA_2048:
          type = crypto::KeyType::kRsa2048;
          alg = jwt ? crypto::SignatureAlgorithm::kRsaPkcs1Sha256
                    : crypto::SignatureAlgorithm::kRsaPssSha256;
          break;
        default:
          return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                              "keyward-bare makes ed25519, ecdsa-p256, "
                              "rsa-2048 and aes256-gcm keys only");
      }
      auto material = crypto::GenerateKeyMaterial(type);
      if (!material.ok()) return Internal(material.status());
      auto signer = crypto::NewSigner(alg, *material);
      if (!signer.ok()) return Internal(signer.status());
      key->signer = std::move(*signer);
      if (auto jws_alg = jose::JwsAlgorithmForSignature(alg); jwt && jws_alg) {
        auto jws = jose::JwsSigningKey::ForSigner(
            *jws_alg, key->signer, absl::StrCat(request.key_id(), ":v1"));
        if (!jws.ok()) return Internal(jws.status());
        key->jws = std::move(*jws);
      }
    }
    absl::MutexLock lock(&mu_);
    keys_["keys/" + request.key_id()] = std::move(key);
    return grpc::Status::OK;
  }

  // Find returns the key named `name` ("keys/ID"), or null.
  std::shared_ptr<const Key> Find(const std::string& name) const {
    absl::ReaderMutexLock lock(&mu_);
    auto it = keys_.find(name);
    return it == keys_.end() ? nullptr : it->second;
  }

  static grpc::Status Internal(const absl::Status& s) {
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(s.message()));
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Key>> keys_
      ABSL_GUARDED_BY(mu_);
};

// Finish answers `context` with `status` on its default reactor.
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status NotFound(const std::string& name) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("no key '", name, "' of that kind"));
}

grpc::Status SignWith(const Keys& keys, const pb::SignRequest& request,
                      pb::SignResponse* response) {
  auto key = keys.Find(request.name());
  if (key == nullptr || key->signer == nullptr) return NotFound(request.name());
  auto sig = key->signer->Sign(request.data());
  if (!sig.ok()) return Keys::Internal(sig.status());
  response->set_signature(*sig);
  response->set_raw_signature(*std::move(sig));
  return grpc::Status::OK;
}

class System final : public pb::SystemService::CallbackService {
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const pb::GetStatusRequest*,
                                      pb::GetStatusResponse* response) override {
    response->set_version("keyward-bare");
    response->set_build_flavor(pb::BUILD_FLAVOR_OPENSSL);
    response->set_crypto_library(OpenSSL_version(OPENSSL_VERSION));
    response->set_initialized(true);
    return Finish(context, grpc::Status::OK);
  }
};

class KeyAdmin final : public pb::KeyService::CallbackService {
 public:
  explicit KeyAdmin(Keys* keys) : keys_(keys) {}
  grpc::ServerUnaryReactor* CreateKey(grpc::CallbackServerContext* context,
                                      const pb::CreateKeyRequest* request,
                                      pb::CreateKeyResponse*) override {
    return Finish(context, keys_->Create(*request));
  }

 private:
  Keys* keys_;
};

class Access final : public pb::AccessService::CallbackService {
  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* context,
                                   const pb::WhoAmIRequest*,
                                   pb::WhoAmIResponse* response) override {
    response->set_principal("bare");
    return Finish(context, grpc::Status::OK);
  }
};

class Crypto final : public pb::CryptoService::CallbackService {
 public:
  explicit Crypto(const Keys* keys) : keys_(keys) {}

  grpc::ServerUnaryReactor* Sign(grpc::CallbackServerContext* context,
                                 const pb::SignRequest* request,
                                 pb::SignResponse* response) override {
    return Finish(context, SignWith(*keys_, *request, response));
  }

  grpc::ServerUnaryReactor* BatchSign(grpc::CallbackServerContext* context,
                                      const pb::BatchSignRequest* request,
                                      pb::BatchSignResponse* response) override {
    for (const pb::SignRequest& item : request->requests()) {
      auto* result = response->add_results();
      grpc::Status s = SignWith(*keys_, item, result->mutable_response());
      if (!s.ok()) return Finish(context, s);
    }
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* Encrypt(grpc::CallbackServerContext* context,
                                    const pb::EncryptRequest* request,
                                    pb::EncryptResponse* response) override {
    auto key = keys_->Find(request->name());
    if (key == nullptr || key->aead == nullptr) {
      return Finish(context, NotFound(request->name()));
    }
    auto ct = key->aead->Encrypt(request->plaintext(),
                                 request->associated_data());
    if (!ct.ok()) return Finish(context, Keys::Internal(ct.status()));
    response->set_ciphertext(*std::move(ct));
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* Decrypt(grpc::CallbackServerContext* context,
                                    const pb::DecryptRequest* request,
                                    pb::DecryptResponse* response) override {
    auto key = keys_->Find(request->name());
    if (key == nullptr || key->aead == nullptr) {
      return Finish(context, NotFound(request->name()));
    }
    auto pt = key->aead->Decrypt(request->ciphertext(),
                                 request->associated_data());
    if (!pt.ok()) {
      return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                          "the ciphertext is not authentic"));
    }
    response->set_plaintext(*std::move(pt));
    return Finish(context, grpc::Status::OK);
  }

 private:
  const Keys* keys_;
};

class Jwt final : public pb::JwtService::CallbackService {
 public:
  explicit Jwt(const Keys* keys) : keys_(keys) {}

  grpc::ServerUnaryReactor* SignJwt(grpc::CallbackServerContext* context,
                                    const pb::SignJwtRequest* request,
                                    pb::SignJwtResponse* response) override {
    auto key = keys_->Find(request->name());
    if (key == nullptr || !key->jws) {
      return Finish(context, NotFound(request->name()));
    }
    auto claims = jose::ParseJsonObject(request->claims_json());
    if (!claims.ok()) {
      return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                          std::string(claims.status().message())));
    }
    jose::JwtSignOptions options;
    options.now = absl::Now();
    options.ttl = absl::Seconds(request->ttl().seconds());
    auto jwt = jose::SignJwt(*claims, *key->jws, options);
    if (!jwt.ok()) return Finish(context, Keys::Internal(jwt.status()));
    response->set_token(std::move(jwt->token));
    response->set_jti(std::move(jwt->jti));
    return Finish(context, grpc::Status::OK);
  }

 private:
  const Keys* keys_;
};

// --- the async-API variant (--async_threads) ---------------------------------

// Whole services on the async API: gRPC cannot turn one method of a
// callback service into an async one (the callback handler stays). Their
// other methods are never requested, so the async variant serves WhoAmI and
// Sign only.
using AsyncAccess = pb::AccessService::AsyncService;
using AsyncCrypto = pb::CryptoService::AsyncService;

// A completion queue and the thread that serves it. Nothing may be added to
// a queue after its Shutdown: calls add work only under `mu` with
// `shutting_down` false, and main sets it under `mu` before the Shutdown.
struct Queue {
  std::unique_ptr<grpc::ServerCompletionQueue> cq;
  absl::Mutex mu;
  bool shutting_down ABSL_GUARDED_BY(mu) = false;
  std::thread thread;
};

// One call in flight on a completion queue: requested, then answered, then
// done. Each call asks for the next before it is handled.
class AsyncCall {
 public:
  virtual ~AsyncCall() = default;
  // Proceed handles the queue's event for this call; false: delete it.
  virtual bool Proceed(bool ok) = 0;
};

template <typename Request, typename Response>
class AsyncUnary final : public AsyncCall {
 public:
  using Handler = std::function<grpc::Status(const Request&, Response*)>;
  using Requester = std::function<void(grpc::ServerContext*, Request*,
                                       grpc::ServerAsyncResponseWriter<Response>*,
                                       grpc::ServerCompletionQueue*, void*)>;
  // Requests the call on `queue`; the caller holds queue->mu.
  AsyncUnary(Requester request, Handler handle, Queue* queue)
      : request_(std::move(request)), handle_(std::move(handle)), queue_(queue) {
    request_(&context_, &request_message_, &responder_, queue_->cq.get(), this);
  }
  bool Proceed(bool ok) override {
    if (answered_ || !ok) return false;
    absl::MutexLock lock(&queue_->mu);
    if (queue_->shutting_down) return false;
    new AsyncUnary(request_, handle_, queue_);
    answered_ = true;
    Response response;
    grpc::Status status = handle_(request_message_, &response);
    responder_.Finish(response, status, this);
    return true;
  }

 private:
  Requester request_;
  Handler handle_;
  Queue* queue_;
  grpc::ServerContext context_;
  Request request_message_;
  grpc::ServerAsyncResponseWriter<Response> responder_{&context_};
  bool answered_ = false;
};

void ServeQueue(Queue* queue, AsyncAccess* access, AsyncCrypto* crypto,
                const Keys* keys) {
  absl::MutexLock lock(&queue->mu);
  for (int i = 0; i < 64 && !queue->shutting_down; ++i) {
    new AsyncUnary<pb::WhoAmIRequest, pb::WhoAmIResponse>(
        [access](auto* ctx, auto* req, auto* resp, auto* q, void* tag) {
          access->RequestWhoAmI(ctx, req, resp, q, q, tag);
        },
        [](const pb::WhoAmIRequest&, pb::WhoAmIResponse* r) {
          r->set_principal("bare");
          return grpc::Status::OK;
        },
        queue);
    new AsyncUnary<pb::SignRequest, pb::SignResponse>(
        [crypto](auto* ctx, auto* req, auto* resp, auto* q, void* tag) {
          crypto->RequestSign(ctx, req, resp, q, q, tag);
        },
        [keys](const pb::SignRequest& req, pb::SignResponse* r) {
          return SignWith(*keys, req, r);
        },
        queue);
  }
}

// Handles `cq`'s events until it is shut down and drained.
void Drain(grpc::ServerCompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
    auto* call = static_cast<AsyncCall*>(tag);
    if (!call->Proceed(ok)) delete call;
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_socket);
  if (path.empty()) {
    fprintf(stderr, "keyward-bare: --socket PATH is required\n");
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Keys keys;
  System system;
  KeyAdmin admin(&keys);
  Jwt jwt(&keys);
  const int async_threads = absl::GetFlag(FLAGS_async_threads);
  AsyncAccess async_access;
  AsyncCrypto async_crypto;
  Access callback_access;
  Crypto callback_crypto(&keys);
  grpc::Service* access = &callback_access;
  grpc::Service* crypto = &callback_crypto;
  if (async_threads > 0) {
    access = &async_access;
    crypto = &async_crypto;
  }
  // As in keywardd: the health service (tests wait for it) and the same
  // gRPC server; only the handlers differ.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.RegisterService(&system);
  builder.RegisterService(&admin);
  builder.RegisterService(access);
  builder.RegisterService(crypto);
  builder.RegisterService(&jwt);
  std::vector<std::unique_ptr<Queue>> queues;
  for (int i = 0; i < async_threads; ++i) {
    queues.push_back(std::make_unique<Queue>());
    queues.back()->cq = builder.AddCompletionQueue();
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    fprintf(stderr, "keyward-bare: the gRPC server did not start\n");
    return 1;
  }
  // Stops the server, then the queues (after the server, as gRPC requires).
  auto stop = [&]() {
    server->Shutdown(std::chrono::system_clock::now());
    server->Wait();
    for (auto& queue : queues) {
      {
        absl::MutexLock lock(&queue->mu);
        queue->shutting_down = true;
      }
      queue->cq->Shutdown();
      if (queue->thread.joinable()) {
        queue->thread.join();
      } else {
        Drain(queue->cq.get());
      }
    }
  };
  keyward::daemon::PeerTable peers;
  auto listener =
      keyward::daemon::UnixListener::Listen(path, 0600, server.get(), &peers);
  if (!listener.ok()) {
    fprintf(stderr, "keyward-bare: %s\n",
            std::string(listener.status().message()).c_str());
    stop();
    return 1;
  }
  for (auto& queue : queues) {
    queue->thread = std::thread([&, q = queue.get()]() {
      ServeQueue(q, &async_access, &async_crypto, &keys);
      Drain(q->cq.get());
    });
  }
  fprintf(stderr, "keyward-bare: serving on %s (pid %d)\n", path.c_str(),
          getpid());
  int signal = 0;
  sigwait(&signals, &signal);
  listener->reset();
  stop();
  return 0;
}
