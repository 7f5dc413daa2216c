// ResponseStream: a server-streaming reactor that writes responses made in
// advance, one by one, or answers with a status (SystemService's
// CreateBackup and ReadAuditLog without follow).
#ifndef KEYWARD_DAEMON_RESPONSE_STREAM_H_
#define KEYWARD_DAEMON_RESPONSE_STREAM_H_

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "daemon/rpc.h"
#include "grpcpp/support/server_callback.h"

namespace keyward::daemon {

// Streams responses made in advance, one by one, or answers with `status`.
template <typename Response>
class ResponseStream final : public grpc::ServerWriteReactor<Response> {
 public:
  ResponseStream(const absl::Status& status, std::vector<Response> responses)
      : responses_(std::move(responses)) {
    if (!status.ok()) {
      this->Finish(ToGrpc(status));
      return;
    }
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ == responses_.size()) {
      this->Finish(grpc::Status::OK);
      return;
    }
    this->StartWrite(&responses_[next_++]);
  }

  std::vector<Response> responses_;
  size_t next_ = 0;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_RESPONSE_STREAM_H_
