// keyward-bench's side of the daemon (keyward_bench_workloads.h).
#include "tools/keyward_bench_workloads.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/client_interface.h"
#include "client/stream_mux.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "keyward/v1/data_plane_service.pb.h"
#include "tools/keyward_bench_machine.h"
#include "tools/keyward_bench_raw.h"

// The libcrypto this binary runs with, for the report. Both OpenSSL 3 and
// BoringSSL export it (OPENSSL_VERSION is 0 in both); declared here so that
// only keystore/crypto includes <openssl/...>.
extern "C" const char* OpenSSL_version(int type);

namespace keyward::bench {

std::string ResolveTarget() {
  std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    const char* env = std::getenv("KEYWARD_ADDR");
    if (env != nullptr) target = env;
  }
  if (target.empty()) Die("no --target (and $KEYWARD_ADDR is not set)");
  if (absl::StartsWith(target, "/")) target = "unix://" + target;
  return target;
}

std::string UnixPath(const std::string& target) {
  absl::string_view t = target;
  if (absl::ConsumePrefix(&t, "unix://") || absl::ConsumePrefix(&t, "unix:")) {
    return std::string(t);
  }
  return "";
}

std::unique_ptr<Stubs> Connect(const std::string& target, int channels) {
  auto stubs = std::make_unique<Stubs>();
  stubs->target = target;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // own connection
    args.SetInt("keyward.bench.channel", i);
    args.SetMaxReceiveMessageSize(64 << 20);
    auto channel = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    stubs->channels.push_back(channel);
    stubs->crypto.push_back(pb::CryptoService::NewStub(channel));
    stubs->access.push_back(pb::AccessService::NewStub(channel));
    stubs->system.push_back(pb::SystemService::NewStub(channel));
    stubs->jwt.push_back(pb::JwtService::NewStub(channel));
  }
  stubs->keys = pb::KeyService::NewStub(stubs->channels[0]);
  return stubs;
}

namespace {

void SetDeadline(grpc::ClientContext* ctx, absl::Duration d) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(d));
}

std::string Describe(const grpc::Status& s) {
  return absl::StrCat(CodeName(s.error_code()), ": ", s.error_message());
}

std::string CreateKey(Stubs& stubs, Op op, const KeyTypeInfo& type) {
  std::string id = absl::StrFormat(
      "kwb-%s-%s-%d-%d", NameOf(op), type.name(), getpid(),
      absl::ToUnixMillis(absl::Now()));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, absl::Seconds(60));
  pb::CreateKeyRequest req;
  req.set_key_id(id);
  req.mutable_key()->set_key_type(type.proto);
  req.mutable_key()->set_purpose(PurposeFor(op));
  req.mutable_key()->set_description("made by keyward-bench");
  pb::CreateKeyResponse resp;
  grpc::Status s = stubs.keys->CreateKey(&ctx, req, &resp);
  if (!s.ok()) Die(absl::StrCat("CreateKey ", id, ": ", Describe(s)));
  return "keys/" + id;
}

// --- methods and their workloads ---------------------------------------------

template <typename Response>
using Check = std::function<Outcome(const Response&)>;

// Method: one RPC as the bench makes it in each mode.
template <typename Stub, typename Request, typename Response>
struct Method {
  // The stubs of its service, one per channel.
  std::vector<std::unique_ptr<Stub>> Stubs::*stubs;
  // Starts the unary call on the callback API.
  void (*start)(Stub*, grpc::ClientContext*, const Request*, Response*,
                std::function<void(grpc::Status)>);
  // Its request in a StreamItem and its answer in a StreamResult; null if
  // the stream does not carry it.
  Request* (pb::StreamItem::*item)();
  const Response& (pb::StreamResult::*result)() const;
  // keyward::Client's call; null if the bench does not make it that way.
  absl::StatusOr<Response> (ClientInterface::*client)(const Request&);
};

// The callback-API call `Rpc` of whichever stub it is given.
#define KEYWARD_BENCH_START_(Rpc)                                         \
  [](auto* stub, grpc::ClientContext* ctx, const auto* req, auto* resp,   \
     std::function<void(grpc::Status)> cb) {                              \
    stub->async()->Rpc(ctx, req, resp, std::move(cb));                    \
  }
// A data-plane method: unary, streamed (StreamItem field `field`) and
// through keyward::Client.
#define KEYWARD_BENCH_DATA_METHOD_(Service, stubs, Rpc, field)              \
  Method<pb::Service::Stub, pb::Rpc##Request, pb::Rpc##Response> {          \
    &Stubs::stubs, KEYWARD_BENCH_START_(Rpc),                               \
        &pb::StreamItem::mutable_##field, &pb::StreamResult::field,         \
        &ClientInterface::Rpc                                               \
  }

const auto kSign = KEYWARD_BENCH_DATA_METHOD_(CryptoService, crypto, Sign, sign);
const auto kVerify = KEYWARD_BENCH_DATA_METHOD_(CryptoService, crypto, Verify, verify);
const auto kEncrypt = KEYWARD_BENCH_DATA_METHOD_(CryptoService, crypto, Encrypt, encrypt);
const auto kDecrypt = KEYWARD_BENCH_DATA_METHOD_(CryptoService, crypto, Decrypt, decrypt);
const auto kMac = KEYWARD_BENCH_DATA_METHOD_(CryptoService, crypto, Mac, mac);
const auto kSignJwt = KEYWARD_BENCH_DATA_METHOD_(JwtService, jwt, SignJwt, sign_jwt);
const auto kVerifyJwt = KEYWARD_BENCH_DATA_METHOD_(JwtService, jwt, VerifyJwt, verify_jwt);
const Method<pb::CryptoService::Stub, pb::BatchSignRequest, pb::BatchSignResponse>
    kBatchSign = {&Stubs::crypto, KEYWARD_BENCH_START_(BatchSign), nullptr,
                  nullptr, nullptr};
const Method<pb::AccessService::Stub, pb::WhoAmIRequest, pb::WhoAmIResponse>
    kWhoAmI = {&Stubs::access, KEYWARD_BENCH_START_(WhoAmI), nullptr, nullptr,
               nullptr};
const Method<pb::SystemService::Stub, pb::GetStatusRequest, pb::GetStatusResponse>
    kGetStatus = {&Stubs::system, KEYWARD_BENCH_START_(GetStatus), nullptr,
                  nullptr, nullptr};
#undef KEYWARD_BENCH_DATA_METHOD_
#undef KEYWARD_BENCH_START_

// UnaryWorkload: one callback-API call of `method` per operation, on the
// channels in turn (--mode=unary).
template <typename Stub, typename Request, typename Response>
class UnaryWorkload final : public Workload {
 public:
  UnaryWorkload(Stubs* stubs, const Method<Stub, Request, Response>& method,
                Request request, Check<Response> check, absl::Duration deadline)
      : stubs_(stubs), method_(method), request_(std::move(request)),
        check_(std::move(check)), deadline_(deadline) {}

  void Issue(Done done) override {
    struct State {
      grpc::ClientContext ctx;
      Response response;
    };
    Stub* stub = (stubs_->*method_.stubs)[stubs_->Pick()].get();
    auto* state = new State;
    state->ctx.set_deadline(std::chrono::system_clock::now() +
                            absl::ToChronoNanoseconds(deadline_));
    method_.start(stub, &state->ctx, &request_, &state->response,
                  [this, state, done = std::move(done)](grpc::Status s) {
                    Outcome o = s.ok() ? check_(state->response) : Failed(s);
                    delete state;
                    done(std::move(o));
                  });
  }

 private:
  Stubs* const stubs_;
  const Method<Stub, Request, Response> method_;
  const Request request_;
  const Check<Response> check_;
  const absl::Duration deadline_;
};

// StreamWorkload: one item per operation over a StreamMux per channel
// (--mode=stream).
template <typename Response>
class StreamWorkload final : public Workload {
 public:
  using Result = const Response& (pb::StreamResult::*)() const;
  StreamWorkload(Stubs* stubs, pb::StreamItem item, Result result,
                 Check<Response> check)
      : item_(std::move(item)), result_(result), check_(std::move(check)) {
    for (const auto& channel : stubs->channels) {
      muxes_.push_back(std::make_unique<StreamMux>(channel));
    }
  }

  void Issue(Done done) override {
    StreamMux& mux =
        *muxes_[next_.fetch_add(1, std::memory_order_relaxed) % muxes_.size()];
    mux.Call(item_, [this, done = std::move(done)](
                        absl::StatusOr<pb::StreamResult> r) {
      if (!r.ok()) return done(Failed(r.status()));
      if (r->status().code() != 0) {
        return done(Failed(absl::Status(
            static_cast<absl::StatusCode>(r->status().code()), r->status().message())));
      }
      if (r->response_case() == pb::StreamResult::RESPONSE_NOT_SET) {
        return done(BadResult("no response"));
      }
      done(check_(((*r).*result_)()));
    });
  }

  std::string Transport() const override {
    uint64_t messages = 0, items = 0;
    for (const auto& mux : muxes_) {
      messages += mux->messages_sent();
      items += mux->items_sent();
    }
    return absl::StrFormat("%d items in %d stream messages (%.2f per message), "
                           "warm-up included",
                           items, messages,
                           messages > 0 ? static_cast<double>(items) / messages : 0.0);
  }

 private:
  const pb::StreamItem item_;
  const Result result_;
  const Check<Response> check_;
  std::vector<std::unique_ptr<StreamMux>> muxes_;
  std::atomic<uint64_t> next_{0};
};

// CoalescedWorkload: keyward::Client's call, one Client (coalesce = true,
// no retries) per channel, from RunLoad's --inflight threads
// (--mode=coalesced).
template <typename Request, typename Response>
class CoalescedWorkload final : public Workload {
 public:
  using Call = absl::StatusOr<Response> (ClientInterface::*)(const Request&);
  CoalescedWorkload(const Stubs& stubs, Request request, Call call,
                    Check<Response> check, absl::Duration deadline)
      : request_(std::move(request)), call_(call), check_(std::move(check)) {
    ClientOptions options;
    options.target = stubs.target;
    options.timeout = deadline;
    options.retry.max_attempts = 1;
    options.coalesce = true;
    for (size_t i = 0; i < stubs.channels.size(); ++i) {
      absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
      if (!client.ok()) Die(absl::StrCat("--mode=coalesced: ", client.status().ToString()));
      clients_.push_back(std::move(*client));
    }
  }

  bool blocking() const override { return true; }

  void Issue(Done done) override {
    Client& client =
        *clients_[next_.fetch_add(1, std::memory_order_relaxed) % clients_.size()];
    absl::StatusOr<Response> r = (client.*call_)(request_);
    done(r.ok() ? check_(*r) : Failed(r.status()));
  }

 private:
  const Request request_;
  const Call call_;
  const Check<Response> check_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::atomic<uint64_t> next_{0};
};

// Build: the workload of `method` with `request` in `mode`.
template <typename Stub, typename Request, typename Response>
std::unique_ptr<Workload> Build(Stubs& stubs, Mode mode,
                                const Method<Stub, Request, Response>& method,
                                Request request, Check<Response> check) {
  const absl::Duration deadline = absl::GetFlag(FLAGS_deadline);
  if (mode != Mode::kUnary && method.item == nullptr) {
    Die(absl::StrCat("--mode=", NameOf(mode),
                     " carries sign, verify, encrypt, decrypt, mac, jwt-sign "
                     "and jwt-verify"));
  }
  switch (mode) {
    case Mode::kUnary:
      break;
    case Mode::kStream: {
      pb::StreamItem item;
      *(item.*method.item)() = std::move(request);
      return std::make_unique<StreamWorkload<Response>>(
          &stubs, std::move(item), method.result, std::move(check));
    }
    case Mode::kCoalesced:
      return std::make_unique<CoalescedWorkload<Request, Response>>(
          stubs, std::move(request), method.client, std::move(check), deadline);
  }
  return std::make_unique<UnaryWorkload<Stub, Request, Response>>(
      &stubs, method, std::move(request), std::move(check), deadline);
}

// Once makes one call of `method` (a setup step; Die with `what` if it
// fails) and returns its answer.
template <typename Stub, typename Request, typename Response>
Response Once(Stubs& stubs, const Method<Stub, Request, Response>& method,
              const Request& request, const std::string& what) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, absl::Seconds(30));
  Response response;
  std::promise<grpc::Status> status;
  method.start((stubs.*method.stubs)[0].get(), &ctx, &request, &response,
               [&status](grpc::Status s) { status.set_value(std::move(s)); });
  grpc::Status s = status.get_future().get();
  if (!s.ok()) Die(absl::StrCat(what, " setup: ", Describe(s)));
  return response;
}

// NotEmpty: the check of an answer whose `field` must not be empty.
template <typename Response>
Check<Response> NotEmpty(const std::string& (Response::*field)() const,
                         const char* what) {
  return [field, what](const Response& r) {
    return (r.*field)().empty() ? BadResult(absl::StrCat("empty ", what))
                                : Succeeded(1);
  };
}

}  // namespace

Machine Describe(Stubs& stubs) {
  const std::string& target = stubs.target;
  Machine m;
  m.cores = Cores();
  m.cpu = CpuModel();
  m.bench_library = OpenSSL_version(0);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, absl::Seconds(10));
  ctx.set_wait_for_ready(true);
  pb::GetStatusResponse status;
  grpc::Status s = stubs.system[0]->GetStatus(&ctx, pb::GetStatusRequest(), &status);
  if (!s.ok()) Die(absl::StrCat("GetStatus on ", target, ": ", Describe(s)));
  if (status.sealed()) Die("the daemon is sealed");
  m.flavor = status.build_flavor() == pb::BUILD_FLAVOR_BORINGSSL ? "boringssl"
                                                                   : "openssl";
  m.daemon_library = status.crypto_library();
  m.daemon_version = status.version();
  m.daemon_pid = absl::GetFlag(FLAGS_daemon_pid);
  if (m.daemon_pid == 0) {
    std::string path = UnixPath(target);
    if (!path.empty()) m.daemon_pid = ListenerPid(path);
  }
  return m;
}

bool JwtServed(Stubs& stubs, Op op) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, absl::Seconds(10));
  grpc::Status s;
  if (op == Op::kJwtSign) {
    pb::SignJwtRequest req;
    req.set_name("keys/kwb-probe-no-such-key");
    req.set_claims_json("{}");
    pb::SignJwtResponse resp;
    s = stubs.jwt[0]->SignJwt(&ctx, req, &resp);
  } else {
    pb::VerifyJwtRequest req;
    req.set_token("e30.e30.AA");
    pb::VerifyJwtResponse resp;
    s = stubs.jwt[0]->VerifyJwt(&ctx, req, &resp);
  }
  return s.error_code() != grpc::StatusCode::UNIMPLEMENTED;
}

std::unique_ptr<Workload> MakeNoopWorkload(Stubs& stubs, bool status) {
  if (status) {
    return Build(stubs, Mode::kUnary, kGetStatus, pb::GetStatusRequest(),
                 Check<pb::GetStatusResponse>(
                     [](const pb::GetStatusResponse&) { return Succeeded(1); }));
  }
  return Build(stubs, Mode::kUnary, kWhoAmI, pb::WhoAmIRequest(),
               Check<pb::WhoAmIResponse>([](const pb::WhoAmIResponse& r) {
                 return r.principal().empty() || r.principal() == "anonymous"
                            ? BadResult("WhoAmI: not identified")
                            : Succeeded(1);
               }));
}

std::unique_ptr<Workload> MakeWorkload(Stubs& stubs, Op op, Mode mode,
                                       const KeyTypeInfo& type,
                                       const std::string& payload,
                                       std::string* key_name) {
  if (op == Op::kNoop) {
    if (mode != Mode::kUnary) Die("--op noop is unary only");
    const std::string noop = absl::GetFlag(FLAGS_noop_call);
    if (noop != "whoami" && noop != "status") {
      Die("--noop-call must be whoami or status");
    }
    return MakeNoopWorkload(stubs, noop == "status");
  }
  std::string name = absl::GetFlag(FLAGS_key);
  if (!name.empty() && !absl::StartsWith(name, "keys/")) name = "keys/" + name;
  if (name.empty()) name = CreateKey(stubs, op, type);
  *key_name = name;
  const std::string what = absl::StrCat(NameOf(op), " on ", name);

  pb::SignRequest sign;
  sign.set_name(name);
  sign.set_data(payload);
  pb::EncryptRequest encrypt;
  encrypt.set_name(name);
  encrypt.set_plaintext(payload);
  pb::SignJwtRequest sign_jwt;
  sign_jwt.set_name(name);
  sign_jwt.set_claims_json(JwtClaims(payload.size()));  // about --payload bytes
  sign_jwt.mutable_ttl()->set_seconds(3600);

  switch (op) {
    case Op::kSign:
      Once(stubs, kSign, sign, what);
      return Build(stubs, mode, kSign, sign,
                   NotEmpty(&pb::SignResponse::raw_signature, "signature"));
    case Op::kVerify: {
      pb::VerifyRequest req;
      req.set_name(name);
      req.set_data(payload);
      req.set_signature(Once(stubs, kSign, sign, what).signature());
      return Build(stubs, mode, kVerify, req,
                   Check<pb::VerifyResponse>([](const pb::VerifyResponse& r) {
                     return r.valid() ? Succeeded(1)
                                      : BadResult("valid = false for a good signature");
                   }));
    }
    case Op::kEncrypt:
      Once(stubs, kEncrypt, encrypt, what);
      return Build(stubs, mode, kEncrypt, encrypt,
                   NotEmpty(&pb::EncryptResponse::ciphertext, "ciphertext"));
    case Op::kDecrypt: {
      pb::DecryptRequest req;
      req.set_name(name);
      req.set_ciphertext(Once(stubs, kEncrypt, encrypt, what).ciphertext());
      return Build(stubs, mode, kDecrypt, req,
                   Check<pb::DecryptResponse>(
                       [n = payload.size()](const pb::DecryptResponse& r) {
                         return r.plaintext().size() == n
                                    ? Succeeded(1)
                                    : BadResult("plaintext of the wrong size");
                       }));
    }
    case Op::kMac: {
      pb::MacRequest req;
      req.set_name(name);
      req.set_data(payload);
      Once(stubs, kMac, req, what);
      return Build(stubs, mode, kMac, req,
                   NotEmpty(&pb::MacResponse::raw_mac, "MAC"));
    }
    case Op::kSignBatch: {
      const int n = absl::GetFlag(FLAGS_batch);
      if (n < 1) Die("--batch must be at least 1");
      pb::BatchSignRequest req;
      for (int i = 0; i < n; ++i) *req.add_requests() = sign;
      Once(stubs, kBatchSign, req, what);
      return Build(stubs, mode, kBatchSign, req,
                   Check<pb::BatchSignResponse>([n](const pb::BatchSignResponse& r) {
                     Outcome o;
                     for (const auto& result : r.results()) {
                       if (result.status().code() == 0 &&
                           !result.response().raw_signature().empty()) {
                         ++o.items_ok;
                       } else {
                         o.errors.emplace_back(
                             result.status().code() == 0
                                 ? "BAD_RESULT"
                                 : absl::StatusCodeToString(static_cast<absl::StatusCode>(
                                       result.status().code())),
                             result.status().message());
                       }
                     }
                     if (r.results_size() != n) {
                       o.errors.emplace_back("BAD_RESULT", "fewer results than items");
                     }
                     return o;
                   }));
    }
    case Op::kJwtSign:
      Once(stubs, kSignJwt, sign_jwt, what);
      return Build(stubs, mode, kSignJwt, sign_jwt,
                   NotEmpty(&pb::SignJwtResponse::token, "token"));
    case Op::kJwtVerify: {
      pb::VerifyJwtRequest req;
      req.set_token(Once(stubs, kSignJwt, sign_jwt, what).token());
      req.set_name(name);
      return Build(stubs, mode, kVerifyJwt, req,
                   Check<pb::VerifyJwtResponse>([](const pb::VerifyJwtResponse& r) {
                     return r.valid() ? Succeeded(1)
                                      : BadResult(absl::StrCat("token not valid: ",
                                                               r.failure_detail()));
                   }));
    }
    case Op::kNoop:
      break;
  }
  return nullptr;
}

}  // namespace keyward::bench
