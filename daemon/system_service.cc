#include "daemon/system_service.h"

#include <string.h>

#include <atomic>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "keystore/backup.h"
#include "keystore/crypto/random.h"
#include "daemon/log.h"
#include "daemon/version.h"
#include "daemon/wipe.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace keyward::daemon {

namespace pb = keyward::v1;
using google::protobuf::util::TimeUtil;

grpc::ServerUnaryReactor* SystemServiceImpl::GetStatus(
    grpc::CallbackServerContext* context, const pb::GetStatusRequest* request,
    pb::GetStatusResponse* response) {
  return Unary(
      env_, context, "SystemService/GetStatus", pb::OPERATION_READ,
      std::string(""),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        response->set_version(kVersion);
        response->set_build_flavor(BuildFlavor() == "boringssl"
                                       ? pb::BUILD_FLAVOR_BORINGSSL
                                       : pb::BUILD_FLAVOR_OPENSSL);
        response->set_crypto_library(BuildFlavor() == "boringssl"
                                         ? "BoringSSL"
                                         : "OpenSSL 3");
        response->set_sealed(rpc.keystore().sealed());
        response->set_initialized(true);
        auto count = rpc.keystore().CountKeys();
        if (count.ok()) response->set_key_count(*count);
        *response->mutable_uptime() = TimeUtil::MicrosecondsToDuration(
            absl::ToInt64Microseconds(absl::Now() - start_));
        *response->mutable_start_time() =
            TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(start_));
        response->set_audit_last_sequence(rpc.env().audit->last_sequence());
        // Retry the log first, so that a freed disk shows without waiting
        // for another call.
        rpc.env().audit->Probe();
        const AuditHealth health = rpc.env().audit->health();
        pb::AuditLogState* audit = response->mutable_audit();
        audit->set_writable(health.writable);
        if (health.failing_since != absl::InfinitePast()) {
          *audit->mutable_failing_since() = TimeUtil::MicrosecondsToTimestamp(
              absl::ToUnixMicros(health.failing_since));
        }
        audit->set_error(health.error);
        audit->set_refused_calls(health.refused);
        audit->set_outages(health.outages);
        FillReplicaStatus(rpc.env(), response->mutable_replica());
        return absl::OkStatus();
      },
      Rpc::Access::kAnonymousTooEvenUnaudited);
}

// The failure-throttling key of the keystore passphrase (Unseal,
// ChangePassphrase).
constexpr char kPassphraseCredential[] = "keystore-passphrase";

grpc::ServerUnaryReactor* SystemServiceImpl::ChangePassphrase(
    grpc::CallbackServerContext* context,
    const pb::ChangePassphraseRequest* request,
    pb::ChangePassphraseResponse* response) {
  return Unary(env_, context, "SystemService/ChangePassphrase",
               pb::OPERATION_ADMIN, std::string("*"),
               [&](Rpc& rpc, int32_t*) -> absl::Status {
    if (request->new_passphrase().size() < 12 ||
        request->new_passphrase().size() > 1024) {
      return absl::InvalidArgumentError(
          "new_passphrase must be 12 to 1024 bytes");
    }
    if (request->new_passphrase() == request->old_passphrase()) {
      return absl::InvalidArgumentError(
          "new_passphrase is the old one: choose a different passphrase");
    }
    const std::vector<std::string> who =
        FailureKeys(*context, *rpc.env().peers,
                    rpc.caller().transport_principal, kPassphraseCredential);
    absl::Status limited = rpc.env().failures->Check(who);
    if (!limited.ok()) return limited;
    crypto::SecretData old_passphrase(request->old_passphrase());
    crypto::SecretData new_passphrase(request->new_passphrase());
    WipeRequestField(request->old_passphrase());
    WipeRequestField(request->new_passphrase());
    // Two scrypt runs at the keystore's cost, each one uninterruptible call.
    auto slot = costly_.Begin(*context);
    if (!slot.ok()) return slot.status();
    absl::Status changed =
        rpc.keystore().ChangePassphrase(old_passphrase, new_passphrase);
    if (absl::IsUnauthenticated(changed)) rpc.env().failures->RecordFailure(who);
    return changed;
  });
}

grpc::ServerUnaryReactor* SystemServiceImpl::VerifyAuditLog(
    grpc::CallbackServerContext* context,
    const pb::VerifyAuditLogRequest* request,
    pb::VerifyAuditLogResponse* response) {
  return Unary(env_, context, "SystemService/VerifyAuditLog",
               pb::OPERATION_AUDIT_READ, std::string("*"),
               [&](Rpc& rpc, int32_t*) -> absl::Status {
    const uint64_t start = request->start_sequence();
    const uint64_t end = request->end_sequence();
    if (end != 0 && end < std::max<uint64_t>(start, 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "end_sequence ", end, " is below start_sequence ",
          std::max<uint64_t>(start, 1)));
    }
    // Up to the last accepted record: one being written is not torn.
    const uint64_t accepted = rpc.env().audit->accepted_size();
    const uint64_t last = rpc.env().audit->last_sequence();
    if (start > last) {
      return absl::OutOfRangeError(absl::StrCat(
          "start_sequence ", start, " is after the last record written (",
          last, ")"));
    }
    auto verdict =
        AuditLog::Verify(rpc.env().audit->path(), accepted, start, end);
    if (!verdict.ok()) return verdict.status();
    response->set_ok(verdict->first_bad == 0);
    response->set_records_checked(verdict->records_checked);
    response->set_last_sequence(
        verdict->records_checked == 0
            ? 0
            : verdict->first_sequence + verdict->records_checked - 1);
    response->set_first_bad_sequence(verdict->first_bad);
    response->set_problem(verdict->problem);
    response->set_torn_offset(verdict->torn_offset);
    response->set_torn_bytes(verdict->torn_bytes);
    response->set_files_checked(verdict->files_checked);
    response->set_bad_file(verdict->file);
    response->set_bad_offset(verdict->offset);
    response->set_first_sequence(verdict->first_sequence);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SystemServiceImpl::RotateAuditLog(
    grpc::CallbackServerContext* context,
    const pb::RotateAuditLogRequest* request,
    pb::RotateAuditLogResponse* response) {
  return Unary(env_, context, "SystemService/RotateAuditLog",
               pb::OPERATION_ADMIN, std::string("*"),
               [&](Rpc& rpc, int32_t*) -> absl::Status {
    // The rotation writes its own header record; this call's record
    // follows it, in the new file.
    auto rotated = rpc.env().audit->Rotate();
    if (!rotated.ok()) return rotated.status();
    response->set_rotated_file(rotated->rotated_file);
    response->set_last_sequence(rotated->last_sequence);
    response->set_first_sequence(rotated->first_sequence);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SystemServiceImpl::Seal(
    grpc::CallbackServerContext* context, const pb::SealRequest* request,
    pb::SealResponse* response) {
  // Sealing an already sealed daemon is fine, so this skips the usual
  // "refuse while sealed" step but still needs global ADMIN.
  return Unary(
      env_, context, "SystemService/Seal", pb::OPERATION_ADMIN,
      std::string("*"),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        absl::Status allowed = rpc.Authorize(pb::OPERATION_ADMIN, "*");
        if (!allowed.ok()) return allowed;
        rpc.keystore().Seal();
        rpc.env().sessions->Clear();
        if (rpc.env().on_seal_change && *rpc.env().on_seal_change) {
          (*rpc.env().on_seal_change)(false);
        }
        LogInfo("sealed", {{"by", rpc.caller().principal}});
        return absl::OkStatus();
      },
      Rpc::Access::kAnyCaller);
}

grpc::ServerUnaryReactor* SystemServiceImpl::Unseal(
    grpc::CallbackServerContext* context, const pb::UnsealRequest* request,
    pb::UnsealResponse* response) {
  return Unary(
      env_, context, "SystemService/Unseal", pb::OPERATION_ADMIN,
      std::string("*"),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        // Failures count under the peer, the caller and the passphrase
        // itself (one secret, guessed from anywhere).
        const std::vector<std::string> who =
            FailureKeys(*context, *rpc.env().peers,
                        rpc.caller().transport_principal, kPassphraseCredential);
        absl::Status limited = rpc.env().failures->Check(who);
        if (!limited.ok()) return limited;
        if (request->initialize()) {
          return absl::FailedPreconditionError(
              "this daemon already has a keystore; `keywardd init` creates "
              "new ones");
        }
        if (request->passphrase().empty() ||
            request->passphrase().size() > 1024) {
          return absl::InvalidArgumentError("passphrase must be 1 to 1024 bytes");
        }
        crypto::SecretData passphrase(request->passphrase());
        WipeRequestField(request->passphrase());
        // scrypt at the keystore's cost (bounded by ValidateKdfParams) is one
        // uninterruptible call: start it only for a caller still waiting.
        auto slot = costly_.Begin(*context);
        if (!slot.ok()) return slot.status();
        const bool was_sealed = rpc.keystore().sealed();
        absl::Status s = rpc.keystore().Unseal(passphrase);
        if (absl::IsUnauthenticated(s)) rpc.env().failures->RecordFailure(who);
        if (!s.ok()) return s;
        if (was_sealed) {
          // Unsealed only if the call's record is written.
          rpc.OnRefused([&rpc] {
            rpc.keystore().Seal();
            rpc.env().sessions->Clear();
            if (rpc.env().on_seal_change && *rpc.env().on_seal_change) {
              (*rpc.env().on_seal_change)(false);
            }
            LogWarning("unseal_undone",
                       {{"by", rpc.caller().principal},
                        {"reason", "its audit record could not be written"}});
          });
          auto policies = rpc.keystore().ListPolicies();
          if (policies.ok()) rpc.env().authorizer->Reload(std::move(*policies));
          if (rpc.env().on_seal_change && *rpc.env().on_seal_change) {
            (*rpc.env().on_seal_change)(true);
          }
          LogInfo("unsealed", {{"by", rpc.caller().principal}});
        }
        response->set_already_unsealed(!was_sealed);
        return absl::OkStatus();
      },
      Rpc::Access::kAnyCaller);
}

namespace {

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

// RestoreReactor stages a RestoreBackup stream in memory, then has the
// keystore check it and swap it in (Keystore::Restore), all or nothing.
class RestoreReactor final
    : public grpc::ServerReadReactor<pb::RestoreBackupRequest> {
 public:
  static constexpr size_t kMaxChunk = 1 << 20;
  static constexpr uint64_t kMaxTotal = uint64_t{4} << 30;

  RestoreReactor(const ServiceEnv& env, grpc::CallbackServerContext* context,
                 std::string scratch_dir, pb::RestoreBackupResponse* response,
                 CostlyWork* costly)
      : env_(env),
        costly_(*costly),
        context_(context),
        scratch_dir_(std::move(scratch_dir)),
        response_(response) {
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      refused_ = Take();
      if (refused_.ok()) {
        StartRead(&message_);
        return;
      }
    }
    // The stream ended (or was refused): answer once, audited.
    Rpc rpc(env_, context_, "SystemService/RestoreBackup");
    rpc.Identify().IgnoreError();
    absl::Status status = rpc.Run(
        pb::OPERATION_ADMIN, std::string("*"),
        [&](int32_t*) { return Restore(rpc); }, Rpc::Access::kAnyCaller);
    backup_.clear();
    backup_.shrink_to_fit();
    Finish(ToGrpc(status));
  }
  void OnDone() override { delete this; }

 private:
  // Take adds one message to the staged backup.
  absl::Status Take() {
    if (first_) {
      if (message_.passphrase().empty() || message_.passphrase().size() > 1024) {
        return absl::InvalidArgumentError(
            "the first message must carry the backup's passphrase (1 to 1024 "
            "bytes)");
      }
      passphrase_ = crypto::SecretData(message_.passphrase());
      replace_existing_ = message_.replace_existing();
      first_ = false;
    } else if (!message_.passphrase().empty()) {
      return absl::InvalidArgumentError(
          "the passphrase goes in the first message only");
    }
    if (message_.data().size() > kMaxChunk) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a message carries at most ", kMaxChunk, " bytes of data"));
    }
    if (backup_.size() + message_.data().size() > kMaxTotal) {
      return absl::ResourceExhaustedError("a backup is at most 4 GiB");
    }
    backup_.append(message_.data());
    std::string* passphrase = message_.mutable_passphrase();
    explicit_bzero(passphrase->data(), passphrase->size());
    message_.Clear();
    return absl::OkStatus();
  }

  absl::Status Restore(Rpc& rpc) {
    absl::Status allowed = rpc.Authorize(pb::OPERATION_ADMIN, "*");
    if (!allowed.ok()) return allowed;
    if (!refused_.ok()) return refused_;
    if (first_) {
      return absl::InvalidArgumentError(
          "the stream was empty: send the passphrase and the backup's bytes");
    }
    if (!replace_existing_) {
      return absl::FailedPreconditionError(
          "this daemon has a keystore: set replace_existing to replace it "
          "with the backup (`keyward restore --replace`)");
    }
    // scrypt with the backup's parameters and a full keystore check: start
    // them only for a caller still waiting, in a costly slot.
    auto slot = costly_.Begin(*context_);
    if (!slot.ok()) return slot.status();
    const std::string scratch = absl::StrCat(
        scratch_dir_, "/restore-",
        absl::BytesToHexString(crypto::RandomBytes(8)), ".db");
    absl::Status restored =
        rpc.keystore().Restore(backup_, passphrase_, scratch);
    if (absl::IsUnauthenticated(restored)) {
      // The caller is who they say; the backup's passphrase is wrong.
      return absl::InvalidArgumentError(restored.message());
    }
    if (!restored.ok()) return restored;
    // The keystore is sealed now: sessions end, policies are the backup's.
    rpc.env().sessions->Clear();
    auto policies = rpc.keystore().ListPolicies();
    if (policies.ok()) rpc.env().authorizer->Reload(std::move(*policies));
    if (rpc.env().on_seal_change && *rpc.env().on_seal_change) {
      (*rpc.env().on_seal_change)(false);
    }
    pb::BackupInfo& info = *response_->mutable_info();
    auto header = keystore::ParseBackupHeader(backup_);
    info.set_format_version(header.ok() ? header->format : 0);
    auto count = rpc.keystore().CountKeys();
    if (count.ok()) info.set_key_count(*count);
    LogInfo("restored a backup; sealed until unsealed with its passphrase",
            {{"by", rpc.caller().principal}});
    return absl::OkStatus();
  }

  const ServiceEnv& env_;
  CostlyWork& costly_;
  grpc::CallbackServerContext* const context_;
  const std::string scratch_dir_;
  pb::RestoreBackupResponse* const response_;
  pb::RestoreBackupRequest message_;
  bool first_ = true;
  bool replace_existing_ = false;
  crypto::SecretData passphrase_;
  std::string backup_;
  absl::Status refused_;
};

}  // namespace

grpc::ServerWriteReactor<pb::CreateBackupResponse>*
SystemServiceImpl::CreateBackup(grpc::CallbackServerContext* context,
                                const pb::CreateBackupRequest* request) {
  Rpc rpc(env_, context, "SystemService/CreateBackup");
  rpc.Identify().IgnoreError();
  std::vector<pb::CreateBackupResponse> chunks;
  absl::Status status = rpc.Run(
      pb::OPERATION_ADMIN, std::string("*"), [&](int32_t*) -> absl::Status {
        const std::string id = absl::BytesToHexString(crypto::RandomBytes(8));
        auto backup = rpc.keystore().CreateBackup(
            absl::StrCat(scratch_dir_, "/backup-", id, ".tmp"));
        if (!backup.ok()) return backup.status();
        constexpr size_t kChunk = 1 << 20;
        for (size_t at = 0; at < backup->size(); at += kChunk) {
          chunks.emplace_back().set_data(backup->substr(at, kChunk));
        }
        pb::BackupInfo& info = *chunks.front().mutable_info();
        info.set_format_version(keystore::kBackupFormat);
        info.set_backup_id(id);
        *info.mutable_create_time() =
            TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now()));
        info.set_daemon_version(kVersion);
        auto count = rpc.keystore().CountKeys();
        if (count.ok()) info.set_key_count(*count);
        return absl::OkStatus();
      });
  return new ResponseStream<pb::CreateBackupResponse>(status, std::move(chunks));
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

grpc::ServerReadReactor<pb::RestoreBackupRequest>*
SystemServiceImpl::RestoreBackup(grpc::CallbackServerContext* context,
                                 pb::RestoreBackupResponse* response) {
  return new RestoreReactor(env_, context, scratch_dir_, response, &costly_);
}

}  // namespace keyward::daemon
