// SystemService's audit-log reading: ReadAuditLog, once or following.
#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/response_stream.h"
#include "daemon/system_service.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace keyward::daemon {

namespace pb = keyward::v1;
using google::protobuf::util::TimeUtil;

namespace {

// Parses one audit line into the API's record.
bool ToRecord(const std::string& line, pb::AuditRecord* out) {
  google::protobuf::Struct json;
  if (!google::protobuf::util::JsonStringToMessage(line, &json).ok()) {
    return false;
  }
  const auto& f = json.fields();
  auto str = [&](const char* name) {
    auto it = f.find(name);
    return it == f.end() ? std::string() : it->second.string_value();
  };
  auto num = [&](const char* name) {
    auto it = f.find(name);
    return it == f.end() ? 0.0 : it->second.number_value();
  };
  out->set_sequence(static_cast<uint64_t>(num("seq")));
  google::protobuf::Timestamp time;
  if (TimeUtil::FromString(str("time"), &time)) *out->mutable_time() = time;
  out->set_principal(str("principal"));
  out->set_method(str("method"));
  pb::Operation op;
  if (ParseOperation(str("operation"), &op)) out->set_operation(op);
  out->set_resource(str("resource"));
  const std::string code = str("code");
  for (int c = 0; c <= 16; ++c) {
    if (absl::StatusCodeToString(static_cast<absl::StatusCode>(c)) == code) {
      out->set_code(c);
    }
  }
  if (num("version") > 0) {
    (*out->mutable_details())["version"] =
        absl::StrCat(static_cast<int64_t>(num("version")));
  }
  (*out->mutable_details())["request_id"] = str("request_id");
  if (!str("note").empty()) (*out->mutable_details())["note"] = str("note");
  out->set_prev_hash(absl::HexStringToBytes(str("prev")));
  out->set_hash(absl::HexStringToBytes(str("hash")));
  return true;
}

// FollowStream sends the audit records from a start sequence, then each new
// one as it is written, until the client cancels, max_records are sent, or
// the daemon shuts down. Each follower has its own thread, which waits on
// the log (AuditLog::WaitForNew) between batches.
class FollowStream final
    : public grpc::ServerWriteReactor<pb::ReadAuditLogResponse> {
 public:
  FollowStream(const ServiceEnv& env, pb::ReadAuditLogRequest request,
               std::atomic<int>* followers)
      : env_(env), request_(std::move(request)), followers_(followers) {
    thread_ = std::thread([this] { Finish(Loop()); });
  }
  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    write_ok_ = ok;
    writing_ = false;
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  void OnDone() override {
    // The thread has called Finish, its last act. gRPC may run OnDone on
    // that very thread, inside Finish: then it cannot join itself.
    if (std::this_thread::get_id() == thread_.get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
    followers_->fetch_sub(1);
    delete this;
  }

 private:
  bool Cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  grpc::Status Loop() {
    constexpr size_t kBatch = 100;
    const uint64_t start = std::max<uint64_t>(1, request_.start_sequence());
    // From the file that holds `start` (a rotated one, if need be), and on
    // across rotations.
    AuditTail tail(env_.audit->path(), start);
    uint64_t seen = 0;  // the last sequence read from the file
    uint64_t sent = 0;
    while (true) {
      if (Cancelled()) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled");
      }
      if (env_.draining && env_.draining->load(std::memory_order_relaxed)) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "keywardd is shutting down; follow again from "
                            "the next sequence number");
      }
      // Only accepted records: one past accepted_size may yet be cut off.
      auto lines = tail.Next(kBatch, env_.audit->position());
      if (!lines.ok()) return ToGrpc(lines.status());
      pb::ReadAuditLogResponse batch;
      for (const std::string& line : *lines) {
        pb::AuditRecord record;
        if (!ToRecord(line, &record)) {
          return grpc::Status(grpc::StatusCode::DATA_LOSS,
                              "an audit record cannot be parsed; run "
                              "`keyward audit verify`");
        }
        seen = record.sequence();
        if (record.sequence() < start ||
            (!request_.principal().empty() &&
             record.principal() != request_.principal()) ||
            !absl::StartsWith(record.resource(), request_.resource_prefix())) {
          continue;
        }
        *batch.add_records() = std::move(record);
        if (++sent == request_.max_records()) break;
      }
      if (batch.records_size() > 0) {
        absl::MutexLock lock(&mu_);
        writing_ = true;
        StartWrite(&batch);
        mu_.Await(absl::Condition(
            +[](bool* writing) { return !*writing; }, &writing_));
        if (!write_ok_) {
          return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
        }
      }
      if (request_.max_records() != 0 && sent >= request_.max_records()) {
        return grpc::Status::OK;
      }
      if (lines->size() < kBatch) {
        // Caught up: wait for the next record (or, each second, look again
        // at cancellation and shutdown).
        env_.audit->WaitForNew(seen, absl::Seconds(1));
      }
    }
  }

  const ServiceEnv& env_;
  const pb::ReadAuditLogRequest request_;
  std::atomic<int>* const followers_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_ok_ ABSL_GUARDED_BY(mu_) = true;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace

grpc::ServerWriteReactor<pb::ReadAuditLogResponse>*
SystemServiceImpl::ReadAuditLog(grpc::CallbackServerContext* context,
                                const pb::ReadAuditLogRequest* request) {
  Rpc rpc(env_, context, "SystemService/ReadAuditLog");
  rpc.Identify().IgnoreError();
  std::vector<pb::ReadAuditLogResponse> batches;
  bool follow = false;
  absl::Status status = rpc.Run(
      pb::OPERATION_AUDIT_READ, std::string("*"), [&](int32_t*) -> absl::Status {
        if (request->follow()) {
          if (followers_.fetch_add(1) >= kMaxFollowers) {
            followers_.fetch_sub(1);
            return absl::ResourceExhaustedError(absl::StrCat(
                kMaxFollowers, " callers already follow the audit log; "
                "follow from one place and fan out"));
          }
          follow = true;
          return absl::OkStatus();
        }
        const size_t max = request->max_records() == 0
                               ? 10000
                               : std::min<uint64_t>(request->max_records(), 100000);
        auto lines = AuditLog::Read(rpc.env().audit->path(),
                                    std::max<uint64_t>(1, request->start_sequence()),
                                    max * 4, rpc.env().audit->accepted_size());
        if (!lines.ok()) return lines.status();
        size_t sent = 0;
        for (const std::string& line : *lines) {
          pb::AuditRecord record;
          if (!ToRecord(line, &record)) {
            return absl::DataLossError(
                "an audit record cannot be parsed; run `keyward audit verify`");
          }
          if (!request->principal().empty() &&
              record.principal() != request->principal()) {
            continue;
          }
          if (!absl::StartsWith(record.resource(), request->resource_prefix())) {
            continue;
          }
          if (batches.empty() || batches.back().records_size() == 100) {
            batches.emplace_back();
          }
          *batches.back().add_records() = std::move(record);
          if (++sent == max) break;
        }
        return absl::OkStatus();
      });
  if (status.ok() && follow) {
    return new FollowStream(env_, *request, &followers_);
  }
  return new ResponseStream<pb::ReadAuditLogResponse>(status, std::move(batches));
}

}  // namespace keyward::daemon
