#include "daemon/system_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "keystore/crypto/random.h"
#include "daemon/log.h"
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
        response->set_version("0.1.0");
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
        return absl::OkStatus();
      },
      Rpc::Access::kAnyCaller);
}

grpc::ServerUnaryReactor* SystemServiceImpl::ChangePassphrase(
    grpc::CallbackServerContext* context,
    const pb::ChangePassphraseRequest* request,
    pb::ChangePassphraseResponse* response) {
  return Unary(env_, context, "SystemService/ChangePassphrase",
               pb::OPERATION_ADMIN, std::string("*"),
               [&](Rpc& rpc, int32_t*) -> absl::Status {
    if (request->new_passphrase().empty() ||
        request->new_passphrase().size() > 1024) {
      return absl::InvalidArgumentError(
          "new_passphrase must be 1 to 1024 bytes");
    }
    return rpc.keystore().ChangePassphrase(
        crypto::SecretData(request->old_passphrase()),
        crypto::SecretData(request->new_passphrase()));
  });
}

grpc::ServerUnaryReactor* SystemServiceImpl::VerifyAuditLog(
    grpc::CallbackServerContext* context,
    const pb::VerifyAuditLogRequest* request,
    pb::VerifyAuditLogResponse* response) {
  return Unary(env_, context, "SystemService/VerifyAuditLog",
               pb::OPERATION_AUDIT_READ, std::string("*"),
               [&](Rpc& rpc, int32_t*) -> absl::Status {
    auto verdict = AuditLog::Verify(rpc.env().audit->path());
    if (!verdict.ok()) return verdict.status();
    response->set_ok(verdict->first_bad == 0);
    response->set_records_checked(verdict->records_checked);
    response->set_last_sequence(rpc.env().audit->last_sequence());
    response->set_first_bad_sequence(verdict->first_bad);
    response->set_problem(verdict->problem);
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
        const std::string& who = rpc.caller().transport_principal;
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
        const bool was_sealed = rpc.keystore().sealed();
        absl::Status s =
            rpc.keystore().Unseal(crypto::SecretData(request->passphrase()));
        if (absl::IsUnauthenticated(s)) rpc.env().failures->RecordFailure(who);
        if (!s.ok()) return s;
        if (was_sealed) {
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

// Streams a finished backup in 1 MiB chunks, the first with its info.
class BackupWriter final
    : public grpc::ServerWriteReactor<pb::CreateBackupResponse> {
 public:
  BackupWriter(const absl::Status& status, std::string data,
               pb::BackupInfo info)
      : data_(std::move(data)) {
    if (!status.ok()) {
      Finish(ToGrpc(status));
      return;
    }
    *response_.mutable_info() = std::move(info);
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    constexpr size_t kChunk = 1 << 20;
    if (offset_ >= data_.size() && offset_ > 0) {
      Finish(grpc::Status::OK);
      return;
    }
    response_.set_data(data_.substr(offset_, kChunk));
    offset_ += kChunk;
    StartWrite(&response_);
    response_.clear_info();
  }

  const std::string data_;
  size_t offset_ = 0;
  pb::CreateBackupResponse response_;
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
  out->set_prev_hash(absl::HexStringToBytes(str("prev")));
  out->set_hash(absl::HexStringToBytes(str("hash")));
  return true;
}

// Sends records in batches of 100.
class AuditWriter final
    : public grpc::ServerWriteReactor<pb::ReadAuditLogResponse> {
 public:
  AuditWriter(const absl::Status& status, std::vector<pb::AuditRecord> records)
      : records_(std::move(records)) {
    if (!status.ok()) {
      Finish(ToGrpc(status));
      return;
    }
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ >= records_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();
    for (size_t end = std::min(records_.size(), next_ + 100); next_ < end; ++next_) {
      *response_.add_records() = std::move(records_[next_]);
    }
    StartWrite(&response_);
  }

  std::vector<pb::AuditRecord> records_;
  size_t next_ = 0;
  pb::ReadAuditLogResponse response_;
};

// Answers a client-streaming call at once.
class RefuseRestore final
    : public grpc::ServerReadReactor<pb::RestoreBackupRequest> {
 public:
  RefuseRestore() {
    Finish(grpc::Status(
        grpc::StatusCode::UNIMPLEMENTED,
        "online restore is not served by this build; stop keywardd and run "
        "`keywardd restore --data-dir DIR --passphrase-file FILE --in BACKUP`"));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<pb::CreateBackupResponse>*
SystemServiceImpl::CreateBackup(grpc::CallbackServerContext* context,
                                const pb::CreateBackupRequest* request) {
  Rpc rpc(env_, context, "SystemService/CreateBackup");
  rpc.Identify().IgnoreError();
  std::string data;
  pb::BackupInfo info;
  absl::Status status = rpc.Run(
      pb::OPERATION_ADMIN, std::string("*"), [&](int32_t*) -> absl::Status {
        const std::string id = absl::BytesToHexString(crypto::RandomBytes(8));
        auto backup = rpc.keystore().CreateBackup(
            absl::StrCat(scratch_dir_, "/backup-", id, ".tmp"));
        if (!backup.ok()) return backup.status();
        data = std::move(*backup);
        info.set_format_version(1);
        info.set_backup_id(id);
        *info.mutable_create_time() =
            TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now()));
        info.set_daemon_version("0.1.0");
        auto count = rpc.keystore().CountKeys();
        if (count.ok()) info.set_key_count(*count);
        return absl::OkStatus();
      });
  return new BackupWriter(status, std::move(data), std::move(info));
}

grpc::ServerWriteReactor<pb::ReadAuditLogResponse>*
SystemServiceImpl::ReadAuditLog(grpc::CallbackServerContext* context,
                                const pb::ReadAuditLogRequest* request) {
  Rpc rpc(env_, context, "SystemService/ReadAuditLog");
  rpc.Identify().IgnoreError();
  std::vector<pb::AuditRecord> records;
  absl::Status status = rpc.Run(
      pb::OPERATION_AUDIT_READ, std::string("*"), [&](int32_t*) -> absl::Status {
        if (request->follow()) {
          return absl::UnimplementedError(
              "follow is not served by this build yet; poll with "
              "start_sequence instead");
        }
        const size_t max = request->max_records() == 0
                               ? 10000
                               : std::min<uint64_t>(request->max_records(), 100000);
        auto lines = AuditLog::Read(rpc.env().audit->path(),
                                    std::max<uint64_t>(1, request->start_sequence()),
                                    max * 4);
        if (!lines.ok()) return lines.status();
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
          records.push_back(std::move(record));
          if (records.size() == max) break;
        }
        return absl::OkStatus();
      });
  return new AuditWriter(status, std::move(records));
}

grpc::ServerReadReactor<pb::RestoreBackupRequest>*
SystemServiceImpl::RestoreBackup(grpc::CallbackServerContext* context,
                                 pb::RestoreBackupResponse* response) {
  return new RefuseRestore();
}

}  // namespace keyward::daemon
