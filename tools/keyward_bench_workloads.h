// keyward-bench's side of the daemon: the connection, the key, and the
// Workload of an operation in each --mode. Every operation is one
// Method (its unary RPC, its stream item, its keyward::Client call) and a
// check of its answer; the workloads are templates over it.
#ifndef KEYWARD_TOOLS_KEYWARD_BENCH_WORKLOADS_H_
#define KEYWARD_TOOLS_KEYWARD_BENCH_WORKLOADS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/channel.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/jwt_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "tools/keyward_bench_flags.h"
#include "tools/keyward_bench_load.h"
#include "tools/keyward_bench_report.h"

namespace keyward::bench {

// The stubs of each service, one per channel (--channels), and the
// address they reach.
struct Stubs {
  std::string target;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<pb::CryptoService::Stub>> crypto;
  std::vector<std::unique_ptr<pb::AccessService::Stub>> access;
  std::vector<std::unique_ptr<pb::SystemService::Stub>> system;
  std::vector<std::unique_ptr<pb::JwtService::Stub>> jwt;
  std::unique_ptr<pb::KeyService::Stub> keys;
  std::atomic<uint64_t> next{0};

  // Pick spreads calls over the channels, round robin.
  size_t Pick() { return next.fetch_add(1, std::memory_order_relaxed) % crypto.size(); }
};

// --target (or $KEYWARD_ADDR) as gRPC takes it; Die if there is none.
std::string ResolveTarget();
// The socket path of a unix: target, or "".
std::string UnixPath(const std::string& target);
// `channels` connections of their own to `target` (not connected yet).
std::unique_ptr<Stubs> Connect(const std::string& target, int channels);

// Describe asks the daemon (GetStatus, waiting for it up to 10 s) what it
// runs and finds its pid (--daemon-pid, else SO_PEERCRED on a Unix
// socket); Die if it does not answer or is sealed.
Machine Describe(Stubs& stubs);

// JwtServed probes a JWT RPC: true if the daemon serves it.
bool JwtServed(Stubs& stubs, Op op);

// MakeWorkload prepares the requests of `op` (creating the key unless --key
// names one, and making one call of it so that a setup failure is clear)
// and returns its workload in `mode`; `key_name` gets the key's name.
// Die on a mode `op` does not travel in (stream and coalesced carry sign,
// verify, encrypt, decrypt, mac, jwt-sign, jwt-verify).
std::unique_ptr<Workload> MakeWorkload(Stubs& stubs, Op op, Mode mode,
                                       const KeyTypeInfo& type,
                                       const std::string& payload,
                                       std::string* key_name);

// The noop workload of --compare's (b): WhoAmI, or GetStatus if `status`.
std::unique_ptr<Workload> MakeNoopWorkload(Stubs& stubs, bool status);

}  // namespace keyward::bench

#endif  // KEYWARD_TOOLS_KEYWARD_BENCH_WORKLOADS_H_
