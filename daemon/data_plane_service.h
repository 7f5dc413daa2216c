// DataPlaneService (proto/keyward/v1/data_plane_service.proto): the data
// plane's operations over one bidirectional stream, each item run by the
// same code as its unary RPC (crypto_service.h's Do* functions,
// JwtServiceImpl's RunSignJwt/RunVerifyJwt) through its own Rpc.
#ifndef KEYWARD_DAEMON_DATA_PLANE_SERVICE_H_
#define KEYWARD_DAEMON_DATA_PLANE_SERVICE_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "daemon/jwt_service.h"
#include "daemon/rpc.h"
#include "daemon/work_pool.h"
#include "keyward/v1/data_plane_service.grpc.pb.h"

namespace keyward::daemon {

// The bounds of the proto's contract.
inline constexpr int kMaxStreamOutstanding = 256;
inline constexpr int kMaxPrincipalOutstanding = 1024;

// A message's items are run in up to one chunk per core, each of at least
// this many items. A pipelining caller (StreamMux, keyward.aio) keeps two or
// more messages in flight, which already run on as many threads; splitting
// its 16-item messages too only added handoffs (a futex wake and a context
// switch each): on 2 cores with 4 per chunk, streamed HS256 SignJwt cost
// 15.1 us of daemon CPU per item against 12.0 unsplit, and P-256 Sign 36.5
// against 34.0. A big batch sent alone (64 items and up) is still split.
inline constexpr int kMinItemsPerChunk = 32;

// OutstandingItems counts the items each principal has being run across
// its streams. Thread-safe.
class OutstandingItems {
 public:
  explicit OutstandingItems(int limit) : limit_(limit) {}
  // Take takes up to `n` items for `principal` within the limit and
  // returns how many it took (0 to n).
  int Take(const std::string& principal, int n);
  // Release gives back `n` items taken for `principal`.
  void Release(const std::string& principal, int n);

 private:
  const int limit_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> held_ ABSL_GUARDED_BY(mu_);
};

class DataPlaneServiceImpl final
    : public keyward::v1::DataPlaneService::CallbackService {
 public:
  // `env` and `jwt` must outlive it.
  DataPlaneServiceImpl(const ServiceEnv* env, const JwtServiceImpl* jwt)
      : env_(*env), jwt_(*jwt) {}

  grpc::ServerBidiReactor<keyward::v1::StreamRequest,
                          keyward::v1::StreamResponse>*
  Stream(grpc::CallbackServerContext* context) override;

  // RunItem runs one item through `rpc` (identified) into `result` (its
  // id, status and, if OK, response). Thread-safe.
  void RunItem(Rpc& rpc, const keyward::v1::StreamItem& item,
               keyward::v1::StreamResult* result) const;

  const ServiceEnv& env() const { return env_; }
  OutstandingItems& outstanding() { return outstanding_; }
  // Runs the chunks of a message but the one its reading thread runs.
  WorkPool& pool() { return pool_; }

 private:
  const ServiceEnv& env_;
  const JwtServiceImpl& jwt_;
  OutstandingItems outstanding_{kMaxPrincipalOutstanding};
  WorkPool pool_{WorkPool::DefaultSize()};
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_DATA_PLANE_SERVICE_H_
