#include "daemon/data_plane_service.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "daemon/crypto_service.h"
#include "daemon/wipe.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;

// The method an item's audit record and metrics name.
absl::string_view MethodOf(const pb::StreamItem& item) {
  switch (item.request_case()) {
    case pb::StreamItem::kSign:
      return "DataPlaneService/Stream/Sign";
    case pb::StreamItem::kVerify:
      return "DataPlaneService/Stream/Verify";
    case pb::StreamItem::kEncrypt:
      return "DataPlaneService/Stream/Encrypt";
    case pb::StreamItem::kDecrypt:
      return "DataPlaneService/Stream/Decrypt";
    case pb::StreamItem::kMac:
      return "DataPlaneService/Stream/Mac";
    case pb::StreamItem::kVerifyMac:
      return "DataPlaneService/Stream/VerifyMac";
    case pb::StreamItem::kSignJwt:
      return "DataPlaneService/Stream/SignJwt";
    case pb::StreamItem::kVerifyJwt:
      return "DataPlaneService/Stream/VerifyJwt";
    default:
      return "DataPlaneService/Stream";
  }
}

void SetStatus(const absl::Status& status, pb::StreamResult* result) {
  result->mutable_status()->set_code(static_cast<int>(status.code()));
  result->mutable_status()->set_message(std::string(status.message()));
}

// StreamReactor serves one Stream call (see the proto's contract). Each
// request message is run after the next read is started, so that messages
// of one stream may run concurrently, and a message of several items is
// split into chunks run at once (as many as the stream leaves threads
// idle), one on the gRPC thread that read it and the others on the
// service's WorkPool. A message's answers queue in `pending_` once its
// last chunk finishes, while a write is in flight, and go out together in
// the next one.
class StreamReactor final
    : public grpc::ServerBidiReactor<pb::StreamRequest, pb::StreamResponse> {
 public:
  StreamReactor(DataPlaneServiceImpl& service,
                grpc::CallbackServerContext* context)
      : service_(service), context_(context) {
    // The identity at the start: refused (and audited) as a unary call
    // would be, the stream ends at once.
    Rpc rpc(service_.env(), context_, "DataPlaneService/Stream");
    absl::Status identified = rpc.Identify();
    if (!identified.ok()) {
      absl::Status refused = rpc.Run(
          pb::OPERATION_UNSPECIFIED, std::string(""),
          [](int32_t*) { return absl::OkStatus(); });
      absl::MutexLock lock(&mu_);
      finished_ = true;
      Finish(ToGrpc(refused));
      return;
    }
    principal_ = rpc.caller().principal;
    stream_id_ = rpc.request_id();
    absl::MutexLock lock(&mu_);
    StartRead(reading_->message);
  }

  void OnReadDone(bool ok) override {
    std::shared_ptr<MessageRun> run;
    int admitted = 0;
    int chunks = 1;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        reads_done_ = true;
        MaybeFinish();
        return;
      }
      run = std::move(reading_);
      reading_ = std::make_shared<MessageRun>();
      const int n = run->message->items_size();
      if (n == 0 || n > static_cast<int>(kMaxBatchItems)) {
        end_ = absl::InvalidArgumentError(absl::StrCat(
            "a StreamRequest carries 1 to ", kMaxBatchItems, " items, not ",
            n));
        reads_done_ = true;
        MaybeFinish();
        return;
      }
      const int room = std::max(0, kMaxStreamOutstanding - outstanding_);
      admitted = service_.outstanding().Take(principal_, std::min(n, room));
      outstanding_ += n;
      // Split only onto threads this stream leaves idle.
      chunks = std::min(service_.pool().ChunksFor(n, kMinItemsPerChunk),
                        std::max(1, service_.pool().size() - running_));
      running_ += chunks;
      run->answers.resize(chunks);
      run->chunks_left = chunks;
      const auto* draining = service_.env().draining;
      if (draining && draining->load(std::memory_order_relaxed)) {
        end_ = absl::UnavailableError(
            "keywardd is shutting down; open a new stream against it once "
            "it is back, or against another instance");
        reads_done_ = true;
      } else if (outstanding_ < kMaxStreamOutstanding) {
        StartRead(reading_->message);
      } else {
        read_paused_ = true;
      }
    }
    // Chunk c holds items [n*c/chunks, n*(c+1)/chunks); all but the first
    // run on the pool, the first on this thread.
    const int n = run->message->items_size();
    for (int c = 1; c < chunks; ++c) {
      service_.pool().Schedule([this, run, c, admitted, lo = n * c / chunks,
                                hi = n * (c + 1) / chunks] {
        RunChunk(*run, c, lo, hi, admitted);
      });
    }
    RunChunk(*run, 0, 0, n / chunks, admitted);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    outstanding_ -= written_.results_size();
    WipeDecryptOutputs(&written_);
    written_.Clear();
    if (!ok) {
      broken_ = true;  // the caller went away
    } else {
      MaybeWrite();
    }
    if (read_paused_ && outstanding_ < kMaxStreamOutstanding && !broken_ &&
        !cancelled_) {
      read_paused_ = false;
      StartRead(reading_->message);
    }
    MaybeFinish();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    MaybeFinish();
  }

  void OnDone() override {
    WipeDecryptOutputs(&pending_);
    delete this;
  }

 private:
  // MessageRun is one request message being run in chunks: the last chunk
  // to finish queues every chunk's answers for the next write, so that the
  // message is answered together (a caller with a fixed number of items in
  // flight sends its next message as answers come: answering each chunk
  // apart would shrink the messages both ways, ~6 items a message in a
  // closed loop of 32, and each message costs both sides a read and a
  // write). The message is parsed onto the run's own arena, so that its
  // items' fields are one allocation, freed at once. The last owner wipes
  // the message's plaintexts.
  struct MessageRun {
    MessageRun() : arena(ArenaOptions()) {
      message = google::protobuf::Arena::CreateMessage<pb::StreamRequest>(&arena);
    }
    ~MessageRun() { WipeEncryptInputs(message); }
    static google::protobuf::ArenaOptions ArenaOptions() {
      google::protobuf::ArenaOptions options;
      options.start_block_size = 4096;  // about 16 small items
      return options;
    }
    google::protobuf::Arena arena;
    pb::StreamRequest* message;  // on `arena`
    std::vector<pb::StreamResponse> answers;  // chunk c's in answers[c]
    int chunks_left = 0;                      // guarded by the reactor's mu_
  };

  // RunChunk runs items [lo, hi) of `run`'s message (of which the first
  // `admitted` may run; the rest are refused for the bounds) as its chunk
  // `c`.
  void RunChunk(MessageRun& run, int c, int lo, int hi, int admitted) {
    Run(*run.message, lo, hi, admitted, &run.answers[c]);
    service_.outstanding().Release(
        principal_, std::max(0, std::min(hi, admitted) - lo));
    absl::MutexLock lock(&mu_);
    --running_;
    if (--run.chunks_left == 0) {
      for (auto& answers : run.answers) {
        for (auto& result : *answers.mutable_results()) {
          pending_.add_results()->Swap(&result);
        }
      }
    }
    MaybeWrite();
    MaybeFinish();
  }

  // Run runs items [lo, hi) of `message` into `answers` (refusing those
  // at or past `admitted`), appending the records of those it may together
  // before any is answered.
  void Run(const pb::StreamRequest& message, int lo, int hi, int admitted,
           pb::StreamResponse* answers) {
    std::vector<AuditEntry> records;
    std::vector<int> deferred;  // results whose record is in `records`
    for (int i = lo; i < hi; ++i) {
      const pb::StreamItem& item = message.items(i);
      pb::StreamResult* result = answers->add_results();
      result->set_id(item.id());
      if (i >= admitted) {
        SetStatus(absl::ResourceExhaustedError(absl::StrCat(
                      "too many items outstanding (at most ",
                      kMaxStreamOutstanding, " per stream, ",
                      kMaxPrincipalOutstanding,
                      " per principal): wait for answers before sending more")),
                  result);
        continue;
      }
      Rpc rpc(service_.env(), context_, MethodOf(item));
      rpc.Identify().IgnoreError();  // Run reports it, audited
      rpc.set_request_id(absl::StrCat(stream_id_, "/", item.id()));
      // A token record commits with its audit record (RunAudited), so that
      // item is audited on its own.
      if (!(item.has_sign_jwt() && item.sign_jwt().has_record())) {
        rpc.DeferAudit(&records);
        deferred.push_back(answers->results_size() - 1);
      }
      service_.RunItem(rpc, item, result);
    }
    if (records.empty()) return;
    auto appended = service_.env().audit->AppendAll(records);
    if (appended.ok()) return;
    for (int i : deferred) {
      pb::StreamResult* result = answers->mutable_results(i);
      WipeDecryptOutput(result);
      result->clear_response();
      SetStatus(appended.status(), result);
    }
  }

  static void WipeEncryptInputs(pb::StreamRequest* message) {
    for (auto& item : *message->mutable_items()) {
      if (item.has_encrypt()) {
        crypto::WipeString(item.mutable_encrypt()->mutable_plaintext());
      }
    }
  }
  static void WipeDecryptOutput(pb::StreamResult* result) {
    if (result->has_decrypt()) {
      crypto::WipeString(result->mutable_decrypt()->mutable_plaintext());
    }
  }
  static void WipeDecryptOutputs(pb::StreamResponse* response) {
    for (auto& result : *response->mutable_results()) {
      WipeDecryptOutput(&result);
    }
  }

  // MaybeWrite sends what is pending if no write is in flight.
  void MaybeWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || broken_ || cancelled_ ||
        pending_.results_size() == 0) {
      return;
    }
    written_.Swap(&pending_);
    writing_ = true;
    StartWrite(&written_);
  }

  // MaybeFinish ends the stream once nothing runs or is being written: at
  // once if the caller went away, else once every answer is written.
  void MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || running_ > 0 || writing_) return;
    if (cancelled_ || broken_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                          "the stream was cancelled"));
      return;
    }
    if (!reads_done_ || pending_.results_size() > 0) return;
    finished_ = true;
    Finish(ToGrpc(end_));
  }

  DataPlaneServiceImpl& service_;
  grpc::CallbackServerContext* const context_;
  std::string principal_;
  std::string stream_id_;

  absl::Mutex mu_;
  std::shared_ptr<MessageRun> reading_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<MessageRun>();  // the message being read
  pb::StreamResponse pending_ ABSL_GUARDED_BY(mu_);  // answers not yet sent
  pb::StreamResponse written_ ABSL_GUARDED_BY(mu_);  // the write in flight
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // read, answer not written
  int running_ ABSL_GUARDED_BY(mu_) = 0;      // chunks being run
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_ ABSL_GUARDED_BY(mu_);  // the status to end with
};

}  // namespace

int OutstandingItems::Take(const std::string& principal, int n) {
  if (n <= 0) return 0;
  absl::MutexLock lock(&mu_);
  int& held = held_[principal];
  const int taken = std::min(n, std::max(0, limit_ - held));
  held += taken;
  if (held == 0) held_.erase(principal);
  return taken;
}

void OutstandingItems::Release(const std::string& principal, int n) {
  if (n <= 0) return;
  absl::MutexLock lock(&mu_);
  auto it = held_.find(principal);
  if (it == held_.end()) return;
  it->second -= n;
  if (it->second <= 0) held_.erase(it);
}

void DataPlaneServiceImpl::RunItem(Rpc& rpc, const pb::StreamItem& item,
                                   pb::StreamResult* result) const {
  absl::Status status;
  switch (item.request_case()) {
    case pb::StreamItem::kSign:
      status = DoSign(rpc, item.sign(), result->mutable_sign());
      break;
    case pb::StreamItem::kVerify:
      status = DoVerify(rpc, item.verify(), result->mutable_verify());
      break;
    case pb::StreamItem::kEncrypt:
      status = DoEncrypt(rpc, item.encrypt(), result->mutable_encrypt());
      break;
    case pb::StreamItem::kDecrypt:
      status = DoDecrypt(rpc, item.decrypt(), result->mutable_decrypt());
      break;
    case pb::StreamItem::kMac:
      status = DoMac(rpc, item.mac(), result->mutable_mac());
      break;
    case pb::StreamItem::kVerifyMac:
      status = DoVerifyMac(rpc, item.verify_mac(), result->mutable_verify_mac());
      break;
    case pb::StreamItem::kSignJwt:
      status = jwt_.RunSignJwt(rpc, item.sign_jwt(), result->mutable_sign_jwt());
      break;
    case pb::StreamItem::kVerifyJwt:
      status =
          jwt_.RunVerifyJwt(rpc, item.verify_jwt(), result->mutable_verify_jwt());
      break;
    default:
      // Refused as a unary call with a bad request is: audited.
      status = rpc.Run(
          pb::OPERATION_UNSPECIFIED,
          absl::InvalidArgumentError(
              "a StreamItem carries one request: set sign, verify, encrypt, "
              "decrypt, mac, verify_mac, sign_jwt or verify_jwt"),
          [](int32_t*) { return absl::OkStatus(); });
      break;
  }
  SetStatus(status, result);
  if (!status.ok()) {
    if (result->has_decrypt()) {
      crypto::WipeString(result->mutable_decrypt()->mutable_plaintext());
    }
    result->clear_response();
  }
}

grpc::ServerBidiReactor<pb::StreamRequest, pb::StreamResponse>*
DataPlaneServiceImpl::Stream(grpc::CallbackServerContext* context) {
  return new StreamReactor(*this, context);
}

}  // namespace keyward::daemon
