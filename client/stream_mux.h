// keyward::StreamMux: many concurrent data-plane calls over one
// DataPlaneService.Stream (proto/keyward/v1/data_plane_service.proto), so
// that callers with many operations in flight do not pay a unary call each.
//
// Coalescing: an item submitted while the stream's previous write is in
// flight waits for that write and goes out with every other item submitted
// meanwhile, in one StreamRequest of at most kMaxItemsPerMessage items; an
// item submitted while no write is in flight goes out at once, unless the
// results of a message are being handed to their callbacks: an item
// submitted then (typically by one of those callbacks, a caller with a
// fixed number of calls in flight) goes out when the last of them has
// returned, with every other item submitted meanwhile. So the latency it
// adds is at most one write or one message's callbacks (no timer), and
// under load the daemon runs many items per message (without the second
// rule, a closed loop of 32 sent ~1.4 items per message). From kSplitFrom
// items queued on, a message carries half of them and the rest go in the
// next write, right after: the daemon answers a message once all of its
// items have run, so two messages let it run one while this side hands
// out the other's answers (one message of everything leaves each side
// idle while the other works).
//
// Errors: each call's callback gets the item's result (its status is the
// one the unary RPC would have returned); if the stream itself ends
// (daemon gone, stream refused), every call waiting and every later call
// gets the stream's status (the mux does not reconnect: make a new one).
// At most kMaxOutstanding items should be in flight (the daemon's
// per-stream bound); Call sends beyond it and the daemon answers those
// RESOURCE_EXHAUSTED; CallSync with a deadline waits for room instead.
#ifndef KEYWARD_CLIENT_STREAM_MUX_H_
#define KEYWARD_CLIENT_STREAM_MUX_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "keyward/v1/data_plane_service.grpc.pb.h"

namespace keyward {

class StreamMux final
    : private grpc::ClientBidiReactor<v1::StreamRequest, v1::StreamResponse> {
 public:
  static constexpr int kMaxItemsPerMessage = 256;
  static constexpr int kSplitFrom = 32;
  static constexpr size_t kMaxOutstanding = 256;  // the daemon's per stream
  using Callback = std::function<void(absl::StatusOr<v1::StreamResult>)>;

  // Opens the stream on `channel`, with "authorization: Bearer
  // <session_token>" if `session_token` is not empty.
  explicit StreamMux(std::shared_ptr<grpc::Channel> channel,
                     const std::string& session_token = "");
  // Half-closes the stream and waits until every call has been answered
  // (or failed) and the stream has ended. Not from a callback.
  ~StreamMux() override;
  StreamMux(const StreamMux&) = delete;
  StreamMux& operator=(const StreamMux&) = delete;

  // Call sends `item` (its id is replaced by one of the mux's own) and
  // calls `done` once with its result (id restored), on a gRPC thread or
  // inline if the stream has already ended. Thread-safe.
  void Call(v1::StreamItem item, Callback done);

  // CallSync: Call, waiting for the result. Thread-safe.
  absl::StatusOr<v1::StreamResult> CallSync(v1::StreamItem item);

  // CallSync with a deadline: waits until fewer than kMaxOutstanding items
  // are outstanding, sends `item`, and waits for its result; past
  // `deadline`, DEADLINE_EXCEEDED (an item already sent still runs in the
  // daemon; its result is then dropped). Thread-safe.
  absl::StatusOr<v1::StreamResult> CallSync(v1::StreamItem item,
                                            absl::Time deadline);

  // ended is true once the stream has failed or closed: every later call
  // gets its status. Make a new StreamMux to go on.
  bool ended() const;

  // Messages and items sent so far, for tests and benchmarks.
  uint64_t messages_sent() const;
  uint64_t items_sent() const;

 private:
  struct Pending {
    uint64_t caller_id;
    Callback done;
  };
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;
  void MaybeWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Enqueue registers `done` for `item` and queues it unless the stream
  // has ended; false (nothing registered) once done_.
  bool Enqueue(v1::StreamItem& item, Callback& done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<v1::DataPlaneService::Stub> stub_;
  grpc::ClientContext context_;
  v1::StreamResponse in_;  // the read in flight

  mutable absl::Mutex mu_;
  v1::StreamRequest queued_ ABSL_GUARDED_BY(mu_);   // not yet written
  v1::StreamRequest writing_ ABSL_GUARDED_BY(mu_);  // the write in flight
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // Results being handed to their callbacks (OnReadDone): writes wait.
  bool dispatching_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status ended_ ABSL_GUARDED_BY(mu_);  // set when the stream broke
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t messages_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t items_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keyward

#endif  // KEYWARD_CLIENT_STREAM_MUX_H_
